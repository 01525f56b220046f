import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTopics, DisksResponse, type Event, haIds, UpsResponse } from '@homelab/contracts'
import { HaConfig } from '@homelab/service-kit'
import { SysCollectorService } from '@homelab/sys-collector'
import { afterAll, expect, it } from 'vitest'
import { parseNutTarget } from '../services/sys-collector/src/nut.js'
import { SmartReader } from '../services/sys-collector/src/smart.js'
import { buildWeb, launchChromium } from './helpers/browser.js'
import { componentState, validateDeviceConfig } from './helpers/ha-validator.js'
import { chromiumPath, describeWith, which } from './helpers/infra.js'
import { type NutServer, nutAvailable, ONLINE, startNut } from './helpers/nut.js'
import {
  connectClient,
  HOST,
  startAlerter,
  startGateway,
  startRecorder,
  startTestBroker,
  TEST_PASSWORD,
  tempDir,
  testLog,
  waitFor,
} from './helpers/stack.js'

/**
 * Disk health and UPSes. smartctl is the real binary where it can be (this machine's virtual disk has no SMART: the
 * "no disk" path is real), and a stand-in answering smartctl's documented JSON where a disk with SMART is needed.
 * The UPS is a real NUT server (Debian's upsd with its dummy-ups driver), whose state the test changes from online
 * to on battery to low battery. Then the sys-collector on a real broker with the recorder, gateway and alerter:
 * readings, events, the default alerts firing and resolving, Home Assistant's configs, the API and the Overview.
 */
const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const c of cleanups.reverse()) await c()
})

const FIXTURES = join(import.meta.dirname, 'fixtures', 'smartctl')

describeWith(
  'smartctl (smartmontools)',
  which('smartctl') !== null,
  'apt install smartmontools',
)('the real smartctl', () => {
  it('finds no SMART-capable disk here, and says what that means', async () => {
    const r = await new SmartReader({ smartctl: 'smartctl', devices: [], timeoutMs: 30_000 }).read()
    expect(r.smartctl.available).toBe(true)
    expect(r.smartctl.version).toMatch(/^\d+\.\d+$/)
    expect(r.disks).toEqual([])
    expect(r.unknown).toBe(0)
    expect(r.smartctl.reason).toMatch(
      process.getuid?.() === 0 ? /found no SMART-capable disk/ : /found no disk it may open.*CAP_SYS_RAWIO/,
    )
  })

  it('reads a named device that has no SMART as an error of that disk, not a crash', async () => {
    const r = await new SmartReader({
      smartctl: 'smartctl',
      devices: ['/dev/null'],
      timeoutMs: 30_000,
    }).read()
    expect(r.smartctl.available).toBe(true)
    expect(r.disks).toHaveLength(1)
    expect(r.disks[0]).toMatchObject({ name: 'null', state: 'error', health: 'unknown' })
    expect(r.disks[0]?.message).toBeTruthy()
  })

  it('says what to install when smartctl is missing', async () => {
    const r = await new SmartReader({
      smartctl: '/nonexistent/smartctl',
      devices: [],
      timeoutMs: 5000,
    }).read()
    expect(r.smartctl).toEqual({
      available: false,
      version: null,
      reason: expect.stringMatching(/smartctl is not installed.*install smartmontools/),
    })
  })
})

describeWith(
  'a NUT server (nut-server)',
  nutAvailable(),
  'apt install nut-server nut-client',
)('disk health and a UPS on a real broker, with the recorder, gateway and alerter', () => {
  it('reports, raises events, fires and resolves the default alerts, and shows them', async () => {
    const data = tempDir('hl-hardware-')
    cleanups.push(data.remove)
    // The disks: a SATA disk and an NVMe disk, both healthy (smartctl's JSON through the stand-in).
    const smart = join(data.path, 'smartctl')
    mkdirSync(smart)
    const disk = (name: string, fixture: string) =>
      copyFileSync(join(FIXTURES, fixture), join(smart, `${name}.json`))
    disk('sda', 'sata.json')
    disk('nvme0', 'nvme.json')
    const scan = {
      json_format_version: [1, 0],
      smartctl: { version: [7, 3], exit_status: 0 },
      devices: [
        { name: '/dev/sda', info_name: '/dev/sda [SAT]', type: 'sat', protocol: 'ATA' },
        { name: '/dev/nvme0', info_name: '/dev/nvme0', type: 'nvme', protocol: 'NVMe' },
      ],
    }
    writeFileSync(join(smart, 'scan.json'), JSON.stringify(scan))
    process.env.FAKE_SMARTCTL_DIR = smart

    const nut: NutServer = await startNut(ONLINE)
    let nutClosed = false
    cleanups.push(() => (nutClosed ? undefined : nut.close()))

    const b = await startTestBroker(data.path)
    cleanups.push(() => b.broker.stop())
    const rec = startRecorder(data.path, b.url, 'recorder', b.credentials.recorder)
    cleanups.push(() => rec.stop())
    await rec.conn.whenConnected()
    const ADMIN = 'admin-token-for-hardware-tests-01'
    await buildWeb(join(data.path, 'web'))
    const gw = await startGateway(
      data.path,
      b.url,
      'gateway',
      b.credentials.gateway,
      ADMIN,
      join(data.path, 'web'),
    )
    await gw.start()
    cleanups.push(() => gw.stop())
    // The default rules (no rules file: the alerter writes its defaults).
    const alerter = startAlerter(data.path, b.url, b.credentials.alerter)
    cleanups.push(() => alerter.stop())

    // Home Assistant's side: discovery configs and state payloads.
    const ha = await connectClient(b.url, 'homeassistant', b.credentials.homeassistant)
    cleanups.push(() => ha.endAsync())
    const configs = new Map<string, string>()
    const payloads = new Map<string, string>()
    const events: Event[] = []
    ha.on('message', (topic, payload) => {
      const text = payload.toString()
      const m = /^homeassistant\/device\/([^/]+)\/config$/.exec(topic)
      if (m?.[1]) {
        if (text === '') configs.delete(m[1])
        else configs.set(m[1], text)
      } else if (/\/sys-collector\/event\//.test(topic)) events.push(JSON.parse(text) as Event)
      else if (text === '') payloads.delete(topic)
      else payloads.set(topic, text)
    })
    await ha.subscribeAsync(['homeassistant/device/+/config', 'homelab/#'], { qos: 1 })

    const sys = new SysCollectorService({
      url: b.url,
      username: 'sys-collector',
      password: b.credentials['sys-collector'],
      host: HOST,
      topics: createTopics('homelab'),
      intervalMs: 1000,
      paths: { proc: '/proc', sys: '/sys', rootfs: '' },
      log: testLog('sys-collector'),
      ha: HaConfig.parse({ HOMELAB_HA_BIRTH_DELAY_MS: '100' }),
      smart: {
        smartctl: join(FIXTURES, 'fake-smartctl.mjs'),
        devices: [],
        timeoutMs: 20_000,
        intervalMs: 3_600_000,
        required: false,
      },
      ups: {
        targets: [parseNutTarget(`fake@127.0.0.1:${nut.port}`)],
        auto: false,
        intervalMs: 500,
        timeoutMs: 2000,
      },
    })
    await sys.start()
    cleanups.push(() => sys.stop())

    const auth = { authorization: `Bearer ${ADMIN}` }
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${gw.port}${path}`, { headers: auth })
      return { status: res.status, body: (await res.json()) as unknown }
    }
    const upsNow = async () => UpsResponse.parse((await get(`/api/hosts/${HOST}/ups`)).body).ups[0]
    const alerts = async () =>
      (
        (await get('/api/alerts')).body as {
          alerts: Array<{ rule: string; state: string; labels: Record<string, string> }>
        }
      ).alerts
    const firing = (rule: string, label: string, value: string) => async () =>
      (await alerts()).find((a) => a.rule === rule && a.labels[label] === value && a.state === 'firing')

    // Online: the UPS as NUT reports it, through the API.
    const online = await waitFor(
      async () => {
        const u = await upsNow()
        return u?.online ? u : null
      },
      20_000,
      'the UPS online in the API',
    )
    expect(online).toMatchObject({
      ups: {
        name: 'fake',
        server: `127.0.0.1:${nut.port}`,
        description: 'Test UPS',
        model: 'Example Power Tower 1500',
      },
      reachable: true,
      status: 'OL CHRG',
      onBattery: false,
      lowBattery: false,
      chargePercent: 100,
      runtimeSec: 2400,
      loadPercent: 23,
      inputVoltage: 231.5,
    })
    // The disks, read at start.
    const disks = DisksResponse.parse(
      await waitFor(
        async () => {
          const r = await get(`/api/hosts/${HOST}/disks`)
          return r.status === 200 ? r.body : null
        },
        20_000,
        'disk health in the API',
      ),
    )
    expect(disks.smartctl).toEqual({ available: true, version: '7.3', reason: null })
    expect(disks.disks.map((d) => [d.name, d.health, d.temperatureC])).toEqual([
      ['sda', 'passed', 37],
      ['nvme0', 'passed', 41],
    ])
    expect((await get('/api/hosts/nosuchhost/disks')).status).toBe(404)

    // Home Assistant: the host device carries the disks, the UPS is its own device; every config is valid, and
    // the templates render the states from the retained documents.
    const hostId = haIds.host(HOST)
    const upsId = haIds.entity(HOST, 'ups', 'fake')
    await waitFor(
      () => {
        const host = configs.get(hostId)
        return host?.includes('smart_nvme0_problem') && configs.has(upsId)
      },
      15_000,
      'HA configs for disks and the UPS',
    ).catch((e) => {
      throw new Error(
        `${e.message}; counters ${JSON.stringify(sys.counters.snapshot())}; configs: ${[...configs.keys()].join(', ')}; host: ${configs.get(hostId)?.slice(0, 1500)}`,
      )
    })
    const haState = (id: string, key: string) => {
      const r = validateDeviceConfig(JSON.parse(configs.get(id)!), id)
      expect(r.errors).toEqual([])
      const c = r.config!.components[key]
      if (!c) throw new Error(`no component ${key} on ${id}`)
      return componentState(c, {}, payloads)?.value
    }
    expect(haState(hostId, 'smart_sda_problem')).toBe('OFF')
    expect(haState(hostId, 'smart_sda_temperature')).toBe('37')
    expect(haState(hostId, 'smart_sda_reallocated')).toBe('0')
    expect(haState(hostId, 'smart_nvme0_wear')).toBe('7')
    expect(haState(upsId, 'on_battery')).toBe('OFF')
    expect(haState(upsId, 'charge')).toBe('100')
    expect(haState(upsId, 'status')).toBe('OL CHRG')

    // Power lost: on battery, then the battery low. Events, the default alerts, Home Assistant.
    nut.set({ status: 'OB DISCHRG', charge: 80, runtime: 1500, load: 25, inputVoltage: 0 })
    await waitFor(() => events.find((e) => e.type === 'ups.on_battery'), 15_000, 'ups.on_battery')
    await waitFor(firing('ups-on-battery', 'ups', 'fake'), 20_000, 'the ups-on-battery alert firing')
    expect(haState(upsId, 'on_battery')).toBe('ON')
    nut.set({ status: 'OB DISCHRG LB', charge: 12, runtime: 180, load: 25, inputVoltage: 0 })
    const low = await waitFor(
      () => events.find((e) => e.type === 'ups.low_battery'),
      15_000,
      'ups.low_battery',
    )
    expect(low).toMatchObject({
      subject: 'fake',
      severity: 'critical',
      data: { chargePercent: 12, runtimeSec: 180 },
    })
    await waitFor(firing('ups-low-battery', 'ups', 'fake'), 20_000, 'the ups-low-battery alert firing')

    // A disk going bad: the next read finds sda FAILED with reallocated and pending sectors; nvme0 asleep.
    disk('sda', 'sata-failing.json')
    disk('nvme0', 'sata-standby.json')
    await sys.collector.disks?.read()
    const changed = await waitFor(
      () => events.find((e) => e.type === 'disk.health_changed' && e.subject === 'sda'),
      10_000,
      'disk.health_changed',
    )
    expect(changed).toMatchObject({ severity: 'critical', data: { from: 'passed', to: 'failed' } })
    expect(
      events.filter((e) => e.type === 'disk.sectors_rising').map((e) => (e.data as { field: string }).field),
    ).toEqual(['reallocatedSectors', 'pendingSectors', 'uncorrectableSectors'])
    await waitFor(firing('disk-unhealthy', 'disk', 'sda'), 20_000, 'the disk-unhealthy alert firing')
    await waitFor(
      async () => (await alerts()).find((a) => a.rule === 'disk-sectors-rising' && a.state === 'firing'),
      20_000,
      'the disk-sectors-rising alert firing',
    )
    const after = DisksResponse.parse((await get(`/api/hosts/${HOST}/disks`)).body)
    const nvme = after.disks.find((d) => d.name === 'nvme0')
    // Asleep: not woken, its last values kept and said to be so.
    expect(nvme).toMatchObject({ state: 'standby', health: 'passed', temperatureC: 41, usedPercent: 7 })
    expect(nvme?.message).toMatch(/standby: not woken/)
    await waitFor(() => haState(hostId, 'smart_sda_problem') === 'ON', 10_000, 'HA: sda has a problem')

    // The Overview in a real browser: the disk table and the UPS on battery with its charge.
    if (chromiumPath()) {
      await gw.auth.accounts.add('owner', 'admin', TEST_PASSWORD)
      const browser = await launchChromium()
      cleanups.push(() => browser.close())
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(String(e)))
      await page.goto(`http://127.0.0.1:${gw.port}/`)
      await page.fill('#username', 'owner')
      await page.fill('#password', TEST_PASSWORD)
      await page.click('button[type=submit]')
      await page.waitForSelector('[data-testid=disk-sda]', { timeout: 15_000 })
      expect(await page.textContent('[data-testid=disk-sda]')).toMatch(
        /sda.*WDC WD40EFRX.*FAILED.*SMART health FAILED · failing now: Reallocated_Sector_Ct · 16 pending sectors · 3 uncorrectable sectors.*37 °C.*28,731 h.*1872 realloc · 16 pending/,
      )
      expect(await page.textContent('[data-testid=disk-nvme0]')).toMatch(/nvme0.*PASSED.*standby.*7% used/)
      await page.waitForSelector('[data-testid=ups-fake-state]', { timeout: 10_000 })
      expect(await page.textContent('[data-testid=ups-fake-state]')).toBe('low battery')
      expect(await page.textContent('[data-testid=ups-fake-charge]')).toBe('12% · 3m left')
      // Power back: the page follows the live stream.
      nut.set(ONLINE)
      await page.waitForFunction(
        () => document.querySelector('[data-testid=ups-fake-state]')?.textContent === 'on line',
        undefined,
        { timeout: 15_000 },
      )
      expect(errors).toEqual([])
    } else nut.set(ONLINE)

    // Power back: the events, and both UPS alerts resolve.
    await waitFor(() => events.find((e) => e.type === 'ups.on_line'), 15_000, 'ups.on_line')
    await waitFor(() => events.find((e) => e.type === 'ups.battery_ok'), 15_000, 'ups.battery_ok')
    await waitFor(
      async () => !(await alerts()).some((a) => a.rule.startsWith('ups-')),
      20_000,
      'the UPS alerts resolved',
    )
    // The disk healthy again (replaced, say): the health event back to PASSED, and its alert resolves.
    disk('sda', 'sata.json')
    await sys.collector.disks?.read()
    const healed = await waitFor(
      () =>
        events.find((e) => e.type === 'disk.health_changed' && (e.data as { to: string }).to === 'passed'),
      10_000,
      'disk.health_changed back to passed',
    )
    expect(healed).toMatchObject({ subject: 'sda', severity: 'info' })
    await waitFor(
      async () => !(await alerts()).some((a) => a.rule === 'disk-unhealthy'),
      20_000,
      'the disk-unhealthy alert resolved',
    )

    // The NUT server goes away: the UPS is unreachable (last values kept), the collector degraded, saying which.
    await nut.close()
    nutClosed = true
    const gone = await waitFor(
      () => events.find((e) => e.type === 'ups.unreachable'),
      15_000,
      'ups.unreachable',
    )
    expect(gone.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${nut.port}`))
    const u = await waitFor(
      async () => {
        const x = await upsNow()
        return x && !x.reachable ? x : null
      },
      10_000,
      'the UPS unreachable in the API',
    )
    expect(u).toMatchObject({ reachable: false, status: 'OL CHRG', chargePercent: 100 })
    const hosts = (await get('/api/hosts')).body as {
      hosts: Array<{
        host: string
        services: Array<{ service: string; state: string | null; reason: string | null }>
      }>
    }
    const svc = hosts.hosts.find((h) => h.host === HOST)?.services.find((s) => s.service === 'sys-collector')
    expect(svc?.state).toBe('degraded')
    expect(svc?.reason).toContain(`UPS server 127.0.0.1:${nut.port}`)
    // History: the recorder stored the UPS's charge as it fell and rose, and the disk's sectors.
    // (Bucketed: each point has its min and max.)
    const series = async (name: string) => {
      const q = new URLSearchParams({
        host: HOST,
        series: name,
        from: String(Date.now() - 600_000),
        points: '600',
      })
      const r = await get(`/api/history?${q}`)
      expect(r.status).toBe(200)
      const cols = (r.body as { columns: Array<Array<number | null>> }).columns
      const vals = (i: number) => (cols[i] ?? []).filter((v): v is number => v !== null)
      return { min: Math.min(...vals(2)), max: Math.max(...vals(3)) }
    }
    expect(await series('ups.charge_percent{ups=fake}')).toEqual({ min: 12, max: 100 })
    expect(await series('disk.reallocated_sectors{disk=sda}')).toEqual({ min: 0, max: 1872 })
  }, 150_000)
})
