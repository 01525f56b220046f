import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildWeb, launchChromium } from './helpers/browser.js'
import { chromiumPath, describeWith } from './helpers/infra.js'
import {
  startAlerter,
  startGateway,
  startRecorder,
  startSysCollector,
  startTestBroker,
  tempDir,
} from './helpers/stack.js'

const exe = chromiumPath()
const ADMIN = 'admin-token-for-browser-tests-0001'
const PASSWORD = 'a password for the browser tests'
const cleanups: Array<() => Promise<void> | void> = []

describeWith(
  'Chromium',
  exe !== null,
  'Install it with `apt-get install -y chromium` (or set CHROMIUM_PATH).',
)('dashboard in a real browser', () => {
  let base = ''
  let browser: Browser
  const errors: string[] = []

  beforeAll(async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    // The web app as shipped, built into this test's folder.
    await buildWeb(join(dir.path, 'web'))
    const b = await startTestBroker(dir.path)
    cleanups.push(() => b.broker.stop())
    const rec = startRecorder(dir.path, b.url, 'recorder', b.credentials.recorder)
    cleanups.push(() => rec.stop())
    await rec.conn.whenConnected()
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
    await gw.auth.accounts.add('owner', 'admin', PASSWORD)
    base = `http://127.0.0.1:${gw.port}`
    const sys = await startSysCollector(b.url, 'sys-collector', b.credentials['sys-collector'], 1000)
    cleanups.push(() => sys.stop())
    // The alerter with its default rules, so the Alerts page has its full tables.
    const alerter = startAlerter(dir.path, b.url, b.credentials.alerter)
    cleanups.push(() => alerter.stop())
    browser = await launchChromium()
    cleanups.push(() => browser.close())
  })

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function loggedIn(width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 800 } })
    page.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} (${m.location().url})`))
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(base)
    await page.fill('#username', 'owner')
    await page.fill('#password', 'not the password')
    await page.click('button[type=submit]')
    await expect.poll(() => page.textContent('[role=alert]')).toContain('wrong user name or password')
    errors.length = 0 // the refused login is an expected 401
    await page.fill('#password', PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForSelector('[data-testid=tile-cpu-value]', { timeout: 20_000 })
    return page
  }

  it('logs in, shows live numbers that change, switches history ranges, and logs no console errors', async () => {
    const page = await loggedIn(1280)
    const read = () => page.$$eval('[data-testid$=-value]', (els) => els.map((e) => e.textContent).join('|'))
    const first = await read()
    expect(first).toMatch(/%/)
    expect(await page.textContent('[data-testid=tile-temperature-value]')).toMatch(/^(N\/A|\d+\.\d °C)$/)
    await expect.poll(read, { timeout: 15_000, interval: 500 }).not.toBe(first)
    await page.waitForSelector('[data-testid=live-chart] canvas')
    // The Overview: a bar per core, each filesystem's used/free/size, the summaries, the monitor as one line.
    const cores = await page.$$eval('[data-testid=cores] > span', (els) => els.length)
    expect(cores).toBe((await import('node:os')).cpus().length)
    expect(await page.textContent('[data-testid=filesystems]')).toMatch(/used.*free.*size/s)
    for (const id of ['containers-summary', 'units-summary', 'alerts-summary'])
      await page.waitForSelector(`[data-testid=${id}]`)
    await expect
      .poll(() => page.textContent('[data-testid=monitor-state]'))
      .toMatch(/services ok|need a look/)

    // The live numbers come straight from the broker; History needs the recorder to have stored its first reading
    // (under load it can lag the live stream by a moment, and a series not stored yet is a 404).
    await expect
      .poll(
        async () => {
          const r = await fetch(`${base}/api/series?prefix=`, {
            headers: { authorization: `Bearer ${ADMIN}` },
          })
          const { series } = (await r.json()) as { series: string[] }
          return ['cpu.usage', 'mem.percent'].every((n) => series.includes(n))
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe(true)
    await page.click('text=History')
    await page.waitForSelector('[data-testid=history-meta]')
    await expect.poll(() => page.textContent('[data-testid=history-meta]')).toMatch(/raw tier · \d+ points/)
    for (const r of ['6h', '24h', '7d', '30d', '1h']) {
      await page.click(`[data-testid=range-${r}]`)
      await expect.poll(() => page.getAttribute(`[data-testid=range-${r}]`, 'aria-pressed')).toBe('true')
      await expect.poll(() => page.textContent('[data-testid=history-meta]')).toMatch(/tier · \d+ points/)
    }
    await page.waitForSelector('[data-testid=history-chart] canvas')
    // Several series on one chart, the previous period beside them, all in a shareable address.
    await page.click('[data-testid=range-1h]')
    await page.selectOption('[data-testid=add-series]', 'mem.percent')
    await expect.poll(() => page.textContent('[data-testid=history-meta]')).toMatch(/· 2 lines$/)
    await page.check('[data-testid=compare]')
    await expect.poll(() => page.textContent('[data-testid=history-meta]')).toMatch(/· 4 lines$/)
    await expect.poll(() => new URL(page.url()).searchParams.get('compare')).toBe('1')
    const shared = new URL(page.url())
    expect(shared.searchParams.get('series')).toBe('cpu.usage,mem.percent')
    await page.goto(shared.href)
    await expect
      .poll(() => page.textContent('[data-testid=history-meta]'), { timeout: 10_000 })
      .toMatch(/· 4 lines$/)
    expect(await page.textContent('[data-testid=picked]')).toContain('Memory %')
    // Series are named, grouped, and only those this host has (no temperature without a sensor).
    const options = await page.$$eval('select[aria-label=series] option', (els) =>
      els.map((e) => e.textContent ?? ''),
    )
    expect(options).toContain('CPU %')
    expect(options.some((o) => o.startsWith('Network sent · '))).toBe(true)
    expect(options.some((o) => /\{|_bps/.test(o))).toBe(false)
    // Installable on a phone's home screen: the page names a manifest the gateway serves.
    const manifestHref = await page.getAttribute('link[rel=manifest]', 'href')
    const manifest = await fetch(new URL(manifestHref ?? '', `${base}/`))
    expect(manifest.headers.get('content-type')).toContain('application/manifest+json')
    expect(await manifest.json()).toMatchObject({ short_name: 'Homelab', display: 'standalone' })
    // An address the app does not have says so instead of showing the Overview.
    await page.goto(`${base}/no-such-page`)
    await page.waitForSelector('[data-testid=not-found]')
    expect(await page.getAttribute('[data-testid=theme]', 'aria-label')).toMatch(/^Theme: /)
    expect(errors).toStrictEqual([])
    await page.close()
  })

  it('fits every page on a 360 px wide phone screen without sideways scrolling, in the dark theme too', async () => {
    const page = await loggedIn(360)
    await page.emulateMedia({ colorScheme: 'dark' })
    const wide: Record<string, number> = {}
    for (const [path, ready] of [
      ['/', '[data-testid=tile-cpu-value]'],
      ['/history', '[data-testid=history-meta]'],
      ['/containers', 'main'],
      ['/services', 'main'],
      ['/ai', 'main'],
      ['/alerts', '[data-testid=rules] tbody tr'],
      ['/account', '[data-testid=tokens]'],
      ['/users', '[data-testid=users] tbody tr'],
      ['/health', '[data-testid=health-page] tbody tr'],
      ['/help', '[data-testid=endpoint]'],
      ['/probes', '[data-testid=probes-page] .card'],
    ] as const) {
      await page.goto(`${base}${path}`)
      await page.waitForSelector(ready, { timeout: 15_000 })
      await page.waitForTimeout(300)
      // A rule whose collector gives no data says so, not "ok" (no Docker collector runs in this stack).
      if (path === '/alerts')
        await expect
          .poll(() => page.textContent('[data-rule=container-crashed] [data-testid=rule-no-data]'))
          .toContain('docker-collector')
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      )
      if (overflow > 0) {
        wide[path] = overflow
        await page.screenshot({
          path: join(tmpdir(), `hl-360${path.replace(/\//g, '_')}.png`),
          fullPage: true,
        })
      }
    }
    expect(wide).toStrictEqual({})
    // On a phone the navigation sits behind a Menu button.
    expect(await page.isVisible('header nav')).toBe(false)
    await page.click('[data-testid=menu]')
    await page.click('header nav >> text=Alerts')
    await page.waitForSelector('[data-testid=alerts-page]')
    expect(await page.isVisible('header nav')).toBe(false)
    expect(await page.textContent('[data-testid=theme]')).toMatch(/Auto|Dark|Light/)
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    expect(bg).toBe('rgb(15, 17, 21)')
    expect(errors).toStrictEqual([])
    await page.close()
  })

  it('lists the processes live on the Overview, with one the test started, sortable and searchable', async () => {
    const marker = `hl-proc-marker-${process.pid}`
    // Busy on one core and holding 80 MB: at the top of both lists.
    const child = spawn(
      process.execPath,
      ['-e', `const b = Buffer.alloc(80e6, 1); for (;;) b[0]++ // ${marker}`],
      {
        stdio: 'ignore',
      },
    )
    cleanups.push(() => void child.kill('SIGKILL'))
    const page = await loggedIn(1280)
    const row = `[data-testid=proc-${child.pid}]`
    await page.waitForSelector(row, { timeout: 20_000 })
    await expect
      .poll(() => page.textContent(`${row} td[data-label=CPU]`), { timeout: 10_000 })
      .toMatch(/^(?:[5-9]\d|1\d\d)\.\d%$/)
    const vmRss =
      Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024
    const shown = (await page.textContent(`${row} td[data-label=memory]`)) ?? ''
    const mb = Number(/([\d.]+) MiB/.exec(shown)?.[1]) * 1024 * 1024
    expect(Math.abs(mb - vmRss) / vmRss, shown).toBeLessThan(0.05)
    expect(await page.textContent('[data-testid=process-counts]')).toMatch(/^\d+ processes · \d+ running/)
    // Search narrows to the command line's marker; sorting by PID puts the lowest first.
    await page.fill('input[aria-label="search processes"]', marker)
    await expect.poll(() => page.$$eval('[data-testid=processes] tbody tr', (els) => els.length)).toBe(1)
    await page.fill('input[aria-label="search processes"]', 'no-such-process-anywhere')
    await page.waitForSelector('[data-testid=processes-nomatch]')
    await page.fill('input[aria-label="search processes"]', '')
    await page.click('[data-testid=proc-sort-pid]')
    await page.click('[data-testid=proc-sort-pid]')
    const pids = await page.$$eval('[data-testid=processes] tbody td[data-label=pid]', (els) =>
      els.map((e) => Number(e.textContent)),
    )
    expect(pids.length).toBeGreaterThan(1)
    expect(pids).toStrictEqual([...pids].sort((a, b) => a - b))
    // History keeps the busiest names: node's CPU is a series.
    await expect
      .poll(
        async () => {
          const r = await fetch(`${base}/api/series?prefix=proc.`, {
            headers: { authorization: `Bearer ${ADMIN}` },
          })
          return ((await r.json()) as { series: string[] }).series
        },
        { timeout: 15_000 },
      )
      .toContain('proc.cpu{name=node}')
    expect(errors).toStrictEqual([])
    await page.close()
  })
})
