import { join } from 'node:path'
import { createTopics, type SystemReading } from '@homelab/contracts'
import type { MqttClient } from 'mqtt'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildWeb, launchChromium } from './helpers/browser.js'
import { chromiumPath, describeWith } from './helpers/infra.js'
import { syntheticContainerReading, syntheticReading, syntheticUnitReading } from './helpers/readings.js'
import {
  agentClient,
  connectClient,
  HOST,
  startAlerter,
  startGateway,
  startRecorder,
  startSysCollector,
  startTestBroker,
  TEST_PASSWORD,
  tempDir,
} from './helpers/stack.js'

const exe = chromiumPath()
const topics = createTopics('homelab')
const cleanups: Array<() => Promise<void> | void> = []
const AGENTS = ['nas-with-a-rather-long-host-name', 'pi-kitchen', 'backup-box']
const LONG = `the database ${'/var/lib/homelab/very/deep/path/'.repeat(6)}recorder.db cannot be written: SQLITE_FULL: database or disk is full (freed space is used again at once)`

/** A system reading as an agent's sys-collector publishes it, with 20 filesystems and many interfaces. */
function busyHost(host: string, i: number): SystemReading {
  const r = syntheticReading(Date.now(), i, host)
  return {
    ...r,
    cpu: { ...r.cpu, cores: Array.from({ length: 16 }, (_, c) => (c * 7 + i) % 100) },
    filesystems: Array.from({ length: 20 }, (_, f) => ({
      mount: f === 0 ? '/' : `/mnt/storage-pool-${f}/with/a/long/mount/point`,
      fsType: 'ext4',
      device: `/dev/sd${String.fromCharCode(97 + (f % 26))}1`,
      total: 4e12,
      used: (4e12 * ((f * 5) % 100)) / 100,
      available: 4e12 - (4e12 * ((f * 5) % 100)) / 100,
      percent: (f * 5) % 100,
    })),
    temperatures: [
      { sensor: 'coretemp Package id 0', celsius: 52 + (i % 5) },
      { sensor: 'nvme Composite', celsius: 41 },
      { sensor: 'thermal acpitz', celsius: 27.8 },
    ],
    network: Array.from({ length: 12 }, (_, n) => ({
      iface: n < 4 ? `enp${n}s0f${n}` : `veth${n}abcdef`,
      rxBytesPerSec: 1e6 * n,
      txBytesPerSec: 5e5 * n,
      rxBytes: 1e9 * (n + 1),
      txBytes: 1e9 * (n + 1),
    })),
  }
}

/**
 * Every page with the content a busy homelab has (4 hosts, 50 containers, 300 units, 20 filesystems, long error
 * texts), published on the bus as the collectors publish it, at 1440 and 360 px in both themes.
 */
describeWith(
  'Chromium',
  exe !== null,
  'Install it with `apt-get install -y chromium` (or set CHROMIUM_PATH).',
)('the dashboard with a busy homelab in a real browser', () => {
  let base = ''
  let browser: Browser
  const clients: MqttClient[] = []

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
      'admin-token-busy-homelab-000001',
      join(dir.path, 'web'),
    )
    await gw.start()
    cleanups.push(() => gw.stop())
    await gw.auth.accounts.add('owner', 'admin', TEST_PASSWORD)
    base = `http://127.0.0.1:${gw.port}`
    const sys = await startSysCollector(b.url, 'sys-collector', b.credentials['sys-collector'], 1000)
    cleanups.push(() => sys.stop())
    const alerter = startAlerter(dir.path, b.url, b.credentials.alerter)
    cleanups.push(() => alerter.stop())
    const json = (v: unknown) => JSON.stringify(v)
    const docker = await connectClient(b.url, 'docker-collector', b.credentials['docker-collector'])
    const systemd = await connectClient(b.url, 'systemd-collector', b.credentials['systemd-collector'])
    clients.push(docker, systemd)
    for (const [c, svc] of [
      [docker, 'docker-collector'],
      [systemd, 'systemd-collector'],
    ] as const)
      await c.publishAsync(topics.availability(HOST, svc), 'online', { qos: 1, retain: true })
    for (let i = 0; i < 50; i++) {
      const name = `compose-project-${i % 5}-service-with-a-long-name-${i}`
      const r = syntheticContainerReading(Date.now(), i, name)
      if (i % 7 === 0) r.container.health = 'unhealthy'
      await docker.publishAsync(topics.reading(HOST, 'docker-collector', 'container', name), json(r), {
        qos: 1,
        retain: true,
      })
    }
    for (let i = 0; i < 300; i++) {
      const name = `homelab-unit-${String(i).padStart(3, '0')}.service`
      const r = syntheticUnitReading(Date.now(), name)
      if (i % 50 === 0) {
        r.unit.activeState = 'failed'
        r.unit.result = 'exit-code'
      }
      await systemd.publishAsync(topics.reading(HOST, 'systemd-collector', 'unit', name), json(r), {
        qos: 1,
        retain: true,
      })
    }
    for (const host of AGENTS) {
      const c = await agentClient(b, dir.path, host)
      clients.push(c)
      await c.publishAsync(topics.availability(host, 'sys-collector'), 'online', { qos: 1, retain: true })
      await c.publishAsync(
        topics.status(host, 'sys-collector'),
        json({
          v: 1,
          ts: Date.now(),
          host,
          source: 'sys-collector',
          state: 'degraded',
          reason: LONG.slice(0, 1000),
          version: '0.1.0',
          startedAt: Date.now(),
          counters: {},
        }),
        { qos: 1, retain: true },
      )
      let i = 0
      const tick = () =>
        void c.publishAsync(topics.reading(host, 'sys-collector', 'system'), json(busyHost(host, i++)), {
          qos: 1,
          retain: true,
        })
      tick()
      const t = setInterval(tick, 1000)
      cleanups.push(() => clearInterval(t))
    }
    // A host whose reading has nothing to list: no filesystem, only a virtual interface that never carried traffic.
    const bare = await agentClient(b, dir.path, 'bare-box')
    clients.push(bare)
    await bare.publishAsync(
      topics.reading('bare-box', 'sys-collector', 'system'),
      json({
        ...syntheticReading(Date.now(), 0, 'bare-box'),
        filesystems: [],
        temperatures: [],
        network: [{ iface: 'veth0', rxBytesPerSec: 0, txBytesPerSec: 0, rxBytes: 0, txBytes: 0 }],
      }),
      { qos: 1, retain: true },
    )
    cleanups.push(async () => {
      for (const c of clients) await c.endAsync()
    })
    browser = await launchChromium()
    cleanups.push(() => browser.close())
  })

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('shows every page at 1440 and 360 px, light and dark, without sideways scrolling or console errors', async () => {
    const problems: string[] = []
    // Screenshots of what did not fit, to look at.
    const shots = tempDir('hl-wide-').path
    for (const width of [1440, 360])
      for (const scheme of ['light', 'dark'] as const) {
        const page = await browser.newPage({ viewport: { width, height: 900 }, colorScheme: scheme })
        page.on('pageerror', (e) => problems.push(`${width}/${scheme}: ${e}`))
        page.on(
          'console',
          (m) =>
            m.type() === 'error' && problems.push(`${width}/${scheme}: ${m.text()} (${m.location().url})`),
        )
        await page.goto(base)
        await page.fill('#username', 'owner')
        await page.fill('#password', TEST_PASSWORD)
        await page.click('button[type=submit]')
        await page.waitForSelector('[data-testid=fleet]')
        for (const [path, ready] of [
          ['/', '[data-testid=fleet-pi-kitchen]'],
          [`/?host=${HOST}`, '[data-testid=containers-summary] strong'],
          ['/?host=pi-kitchen', '[data-testid=filesystems] tbody tr:nth-child(20)'],
          ['/?host=backup-box', '[data-testid=temperatures] tbody tr:nth-child(3)'],
          ['/history', '[data-testid=history-meta]'],
          ['/history?series=cpu.usage&range=24h', '[data-testid=history-meta]'],
          ['/history?series=cpu.usage&range=30d', '[data-testid=history-meta]'],
          ['/containers', '[data-testid^=row-compose-project-4]'],
          ['/services', '[data-testid="unit-homelab-unit-299.service"]'],
          ['/alerts', '[data-testid=rules] tbody tr'],
          ['/account', '[data-testid=tokens]'],
          ['/users', '[data-testid=users] tbody tr'],
          ['/health', '[data-testid="health-pi-kitchen"] tbody tr'],
        ] as const) {
          await page.goto(`${base}${path}`)
          await page.waitForSelector(ready, { timeout: 20_000 }).catch(async (e) => {
            const shot = join(tempDir('hl-wait-').path, 'page.png')
            await page.screenshot({ path: shot, fullPage: true })
            throw new Error(`${width}/${scheme} ${path}: ${ready} did not appear (${shot}): ${e}`)
          })
          await page.waitForTimeout(200)
          // Time-axis labels never overlap (the charts say where they drew them: the labels are on a canvas).
          const overlapping = await page.$$eval('.uplot[data-x-overlap=true]', (els) =>
            els.map((e) => e.getAttribute('data-x-ticks')),
          )
          for (const ticks of overlapping)
            problems.push(`${width}/${scheme} ${path}: x labels overlap: ${ticks}`)
          const checked = await page.$$eval('.uplot[data-x-overlap]', (els) => els.length)
          if (path.startsWith('/history') && checked === 0)
            problems.push(`${width}/${scheme} ${path}: no chart checked`)
          const overflow = await page.evaluate(
            () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
          )
          if (overflow > 0) {
            problems.push(`${width}/${scheme} ${path}: ${overflow} px too wide (see ${shots})`)
            await page.screenshot({
              path: join(shots, `${width}-${scheme}${path.replace(/[/?=]/g, '_')}.png`),
              fullPage: true,
            })
          }
        }
        await page.close()
      }
    expect(problems).toStrictEqual([])
  }, 240_000)

  it('says what would appear and why a list is empty, instead of a bare table header', async () => {
    const page = await browser.newPage({ viewport: { width: 360, height: 900 } })
    await page.goto(base)
    await page.fill('#username', 'owner')
    await page.fill('#password', TEST_PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForSelector('[data-testid=fleet]')
    const shown = async (id: string) => page.isVisible(`[data-testid=${id}]`)

    await page.goto(`${base}/?host=bare-box`)
    await page.waitForSelector('[data-testid=filesystems-empty]')
    expect(await page.textContent('[data-testid=filesystems-empty]')).toContain('No filesystem reported')
    expect(await page.textContent('[data-testid=network-empty]')).toContain('None of the 1 interfaces')
    expect(await shown('filesystems')).toBe(false)
    expect(await shown('network')).toBe(false)
    // Listing every interface fills the table and the notice goes.
    await page.click('[data-testid=all-interfaces]')
    await page.waitForSelector('[data-testid=network] >> text=veth0')
    expect(await shown('network-empty')).toBe(false)

    await page.goto(`${base}/containers`)
    await page.waitForSelector('[data-testid^=row-compose-project-4]')
    await page.fill('input[aria-label=filter]', 'no-such-container')
    await page.waitForSelector('[data-testid=containers-nomatch]')
    expect(await shown('containers')).toBe(false)

    await page.goto(`${base}/services`)
    await page.waitForSelector('[data-testid="unit-homelab-unit-299.service"]')
    await page.fill('input[aria-label=search]', 'no-such-unit')
    expect(await page.textContent('[data-testid=units-nomatch]')).toContain('no-such-unit')
    expect(await shown('units')).toBe(false)
    await page.close()
  }, 60_000)
})
