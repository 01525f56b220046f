import { join } from 'node:path'
import { FleetResponse } from '@homelab/contracts'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildWeb, launchChromium } from './helpers/browser.js'
import { chromiumPath, describeWith } from './helpers/infra.js'
import {
  HOST,
  startAgentSysCollector,
  startGateway,
  startRecorder,
  startSysCollector,
  startTestBroker,
  TEST_PASSWORD,
  tempDir,
  waitFor,
} from './helpers/stack.js'

const exe = chromiumPath()
const ADMIN = 'admin-token-for-the-fleet-tests-01'
const cleanups: Array<() => Promise<void> | void> = []
const AGENTS = ['nas', 'pi-kitchen']

describeWith(
  'Chromium',
  exe !== null,
  'Install it with `apt-get install -y chromium` (or set CHROMIUM_PATH).',
)('the fleet view with several hosts (real sys-collectors, each with its own host id)', () => {
  let base = ''
  let browser: Browser

  beforeAll(async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    await buildWeb(join(dir.path, 'web'))
    const b = await startTestBroker(dir.path)
    cleanups.push(() => b.broker.stop())
    const rec = startRecorder(dir.path, b.url, 'recorder', b.credentials.recorder)
    cleanups.push(() => rec.stop())
    const gw = await startGateway(
      dir.path,
      b.url,
      'gateway',
      b.credentials.gateway,
      ADMIN,
      join(dir.path, 'web'),
    )
    await gw.start()
    cleanups.push(() => gw.stop())
    await gw.auth.accounts.add('owner', 'viewer', TEST_PASSWORD)
    base = `http://127.0.0.1:${gw.port}`
    const own = await startSysCollector(b.url, 'sys-collector', b.credentials['sys-collector'], 1000)
    cleanups.push(() => own.stop())
    for (const host of AGENTS) {
      const agent = await startAgentSysCollector(b, dir.path, host, 1000)
      cleanups.push(() => agent.stop())
    }
    browser = await launchChromium()
    cleanups.push(() => browser.close())
  })

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('answers one row per host with its live figures', async () => {
    const fleet = await waitFor(async () => {
      const r = FleetResponse.parse(
        await (await fetch(`${base}/api/fleet`, { headers: { authorization: `Bearer ${ADMIN}` } })).json(),
      )
      return r.hosts.filter((h) => h.cpu !== null).length === 3 ? r : null
    })
    expect(fleet.hosts.map((h) => h.host)).toStrictEqual([...AGENTS, HOST].sort())
    for (const h of fleet.hosts) {
      expect(h.silent).toBe(false)
      expect(h.memoryTotal).toBeGreaterThan(0)
      expect(h.disk?.percent).toBeGreaterThanOrEqual(0)
      expect(h.cores).toBeGreaterThan(0)
    }
  })

  it('is the home page with several hosts: sortable, one click to a host, and fits a phone', async () => {
    for (const width of [1440, 360]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } })
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(String(e)))
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
      await page.goto(base)
      await page.fill('#username', 'owner')
      await page.fill('#password', TEST_PASSWORD)
      await page.click('button[type=submit]')
      await page.waitForSelector('[data-testid=fleet]')
      await expect
        .poll(() => page.$$eval('[data-testid^=fleet-]', (els) => els.length), { timeout: 15_000 })
        .toBe(3)
      const order = () =>
        page.$$eval('[data-testid^=fleet-]', (els) => els.map((e) => e.getAttribute('data-testid')?.slice(6)))
      expect(await order()).toStrictEqual(['nas', 'pi-kitchen', HOST])
      // By a column's header on a screen; by the sort menu on a phone (the cards have no header).
      if (width > 640) await page.click('[data-testid=sort-host]')
      else await page.click('[data-testid=sort-direction]')
      expect(await order()).toStrictEqual([HOST, 'pi-kitchen', 'nas'])
      if (width > 640) await page.click('[data-testid=sort-cpu]')
      else await page.selectOption('[data-testid=sort-select]', 'cpu')
      const cpus = await page.$$eval('[data-testid^=fleet-] td[data-label=CPU] .num', (els) =>
        els.map((e) => Number.parseFloat(e.textContent ?? '')),
      )
      expect(cpus).toStrictEqual([...cpus].sort((a, b) => b - a))
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      )
      expect(overflow, `sideways scroll at ${width} px`).toBeLessThanOrEqual(0)
      if (width > 640) {
        // The same metric on every host in one chart.
        await page.goto(`${base}/history?series=cpu.usage&across=1`)
        await expect
          .poll(() => page.textContent('[data-testid=history-meta]'), { timeout: 10_000 })
          .toMatch(/· 3 lines$/)
        const legend = await page.$$eval('.u-legend .u-series th', (els) =>
          els.map((e) => e.textContent ?? ''),
        )
        for (const h of [...AGENTS, HOST]) expect(legend.some((l) => l.includes(`CPU % · ${h}`))).toBe(true)
        await page.goto(base)
        await page.waitForSelector('[data-testid=fleet]')
      }
      await page.click('[data-testid=fleet-nas] a')
      await page.waitForSelector('[data-testid=tile-cpu-value]')
      expect(new URL(page.url()).search).toBe('?host=nas')
      expect(await page.inputValue('select[aria-label=host]')).toBe('nas')
      expect(errors).toStrictEqual([])
      await page.close()
    }
  })
})
