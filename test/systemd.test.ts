import { join } from 'node:path'
import type { AlerterService } from '@homelab/alerter'
import type { CommandResult, Event, UnitView } from '@homelab/contracts'
import { createTopics, LogStreamEvent, LogsResponse } from '@homelab/contracts'
import { LogError } from '@homelab/service-kit'
import { JournalLogs, SystemdCollectorService } from '@homelab/systemd-collector'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildWeb, launchChromium } from './helpers/browser.js'
import { dockerAvailable, removeTestContainers } from './helpers/docker.js'
import { chromiumPath, describeWith } from './helpers/infra.js'
import { openSse } from './helpers/sse.js'
import {
  accountWithToken,
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
import { ensureSystemdImage, startSystemd } from './helpers/systemd.js'

const topics = createTopics('homelab')
const SVC = 'systemd-collector'

describeWith(
  'a Docker engine (to boot a real systemd)',
  await dockerAvailable(),
  'install Docker and debootstrap and start dockerd (apt-get install -y docker.io debootstrap; dockerd &), as .ci/run does',
)('systemd-collector against a real systemd over D-Bus', () => {
  const dir = tempDir('hl-systemd-')
  let sd: Awaited<ReturnType<typeof startSystemd>>
  let stack: Awaited<ReturnType<typeof startTestBroker>>
  let recorder: ReturnType<typeof startRecorder>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let svc: SystemdCollectorService
  let watcher: MqttClient
  let alerter: AlerterService
  let base: string
  let operator: string
  const events: Array<{ e: Event; at: number }> = []
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${operator}`, ...init.headers } })
  const unit = async (name: string): Promise<UnitView | undefined> =>
    ((await (await api('/api/services')).json()) as UnitView[]).find((u) => u.name === name)

  beforeAll(async () => {
    await ensureSystemdImage()
    sd = await startSystemd(`hl-sd-${process.pid}`)
    sd.writeUnit('hl-web.service', '[Service]\nExecStart=/bin/sleep infinity\n')
    sd.writeUnit('hl-other.service', '[Service]\nExecStart=/bin/sleep infinity\n')
    sd.writeUnit(
      'hl-flap.service',
      '[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/sh -c "sleep 1; exit 3"\nRestart=on-failure\nRestartSec=100ms\n',
    )
    sd.writeUnit('hl-broken.service', '[Service]\nType=oneshot\nExecStart=/bin/sh -c "exit 4"\n')
    // Writes to the journal: a first line, one at priority 3 (err, by the "<3>" prefix journald reads), then ticks.
    sd.writeUnit(
      'hl-talk.service',
      '[Service]\nExecStart=/bin/sh -c \'echo talk-start; echo "<3>disk on fire"; i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.3; done\'\n',
    )
    sd.systemctl('start hl-web.service hl-other.service')
    stack = await startTestBroker(dir.path)
    recorder = startRecorder(dir.path, stack.url, 'recorder', stack.credentials.recorder)
    await buildWeb(join(dir.path, 'web'))
    gw = await startGateway(
      dir.path,
      stack.url,
      'gateway',
      stack.credentials.gateway,
      'admin-token-systemd-0123456',
      join(dir.path, 'web'),
      10_000,
    )
    await gw.start()
    base = `http://127.0.0.1:${gw.port}`
    operator = await accountWithToken(gw, 'ops', 'operator')
    watcher = await connectClient(stack.url, 'homeassistant', 'ha-password-123')
    watcher.on('message', (topic, payload) => {
      if (topics.parse(topic)?.channel === 'event')
        events.push({ e: JSON.parse(payload.toString()) as Event, at: Date.now() })
    })
    await watcher.subscribeAsync([`homelab/${HOST}/${SVC}/event/#`, `homelab/${HOST}/alerter/event/#`], {
      qos: 1,
    })
    // The alerter with its default rules, as `npm start` runs it.
    alerter = startAlerter(dir.path, stack.url, stack.credentials.alerter)
    await alerter.conn.whenConnected()
    svc = new SystemdCollectorService({
      url: stack.url,
      username: SVC,
      password: stack.credentials[SVC],
      host: HOST,
      topics,
      busAddress: sd.address,
      units: ['*.service', '*.timer'],
      control: ['hl-web.service', 'hl-flap.service'],
      intervalMs: 1000,
      resyncMs: 60_000,
      jobTimeoutMs: 8000,
      journalDir: sd.journalDir,
      log: testLog(SVC),
    })
    svc.start()
    await waitFor(() => svc.collector.isConnected, 20_000, 'the collector to reach systemd')
  }, 240_000)

  afterAll(async () => {
    await svc?.stop()
    await alerter?.stop()
    await watcher?.endAsync()
    await gw?.stop()
    await recorder?.stop()
    await stack?.broker.stop()
    await sd?.remove()
    await removeTestContainers()
    dir.remove()
  })

  it("reads a unit's journal (priorities, invocations, search) and follows it across a restart", async () => {
    sd.systemctl('start hl-talk.service')
    await waitFor(() => unit('hl-talk.service'), 10_000, 'hl-talk.service listed')
    const read = async (query: string) => {
      const r = await api(`/api/services/hl-talk.service/logs?${query}`)
      const body: unknown = await r.json()
      expect(r.status, JSON.stringify(body)).toBe(200)
      return LogsResponse.parse(body)
    }
    const first = await waitFor(
      async () => {
        const r = await read('tail=200')
        return r.lines.some((l) => l.text === 'tick 3') ? r : null
      },
      15_000,
      'the unit to write a few ticks',
    )
    const start = first.lines.find((l) => l.text === 'talk-start')
    const fire = first.lines.find((l) => l.text === 'disk on fire')
    expect(start).toMatchObject({ stream: 'journal', priority: 6 })
    expect(fire).toMatchObject({ priority: 3 })
    // systemd's own line about the unit belongs to the same invocation as the unit's output.
    const started = first.lines.find((l) => /^Started hl-talk\.service/.test(l.text))
    expect(started?.instance).toMatch(/^[0-9a-f]{32}$/)
    expect(start!.instance).toBe(started!.instance)
    expect((await read('priority=3&tail=200')).lines.map((l) => l.text)).toStrictEqual(['disk on fire'])
    const two = await read('q=TICK&tail=2')
    expect(two.lines.every((l) => l.text.startsWith('tick '))).toBe(true)
    expect(two.lines).toHaveLength(2)
    expect(two.cursor).toBe(two.lines[0]!.ts)
    const since = await read(`since=${fire!.ts + 1}&tail=1000`)
    expect(since.lines.some((l) => l.text === 'talk-start')).toBe(false)
    expect((await api('/api/services/hl-nope.service/logs')).status).toBe(404)
    expect(
      (await api(`/api/services/hl-talk.service/logs?q=${encodeURIComponent('(.*a){12}')}&regex=true`))
        .status,
    ).toBe(400)

    // Live: a line written after opening, then the next invocation after a restart.
    const sse = await openSse(`${base}/api/services/hl-talk.service/logs/stream`, operator)
    try {
      const opened = Date.now()
      const lines = () =>
        sse.events
          .filter((e) => e.event === 'lines')
          .flatMap((e) => LogStreamEvent.parse(JSON.parse(e.data)).lines)
      const fresh = await waitFor(
        () => lines().find((l) => l.ts > opened),
        10_000,
        'a journal line after opening',
      )
      expect(fresh.text).toMatch(/^tick \d+$/)
      sd.systemctl('restart hl-talk.service')
      const again = await waitFor(
        () => lines().find((l) => l.text === 'talk-start' && l.instance !== fresh.instance),
        15_000,
        'the next invocation',
      )
      expect(again.instance).toMatch(/^[0-9a-f]{32}$/)
    } finally {
      sse.close()
    }
    await waitFor(() => svc.logs?.following === 0, 5000, 'the follow to end')
    sd.systemctl('stop hl-talk.service')

    // A journal that is not there says what to mount.
    const empty = tempDir('hl-nojournal-')
    const missing = new JournalLogs({ dir: empty.path, known: () => true })
    const err = await missing
      .read({ target: 'hl-talk.service', tail: 10 }, new AbortController().signal)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LogError)
    expect((err as LogError).code).toBe('unavailable')
    expect((err as LogError).message).toMatch(/mount the host's \/var\/log\/journal/)
    empty.remove()
  })

  it('lists the units with their states: a long-running service is active/running', async () => {
    const web = await waitFor(
      async () => {
        const u = await unit('hl-web.service')
        return u && !u.stale ? u : null
      },
      10_000,
      'hl-web.service live',
    )
    expect(web).toMatchObject({
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
      stale: false,
    })
    expect(web.mainPid).toBeGreaterThan(0)
    expect(web.control.allowed).toBe(true)
    const other = await waitFor(() => unit('hl-other.service'), 10_000, 'hl-other.service listed')
    expect(other.control.allowed).toBe(false)
    // Each unit is its own retained document, so hl-web may arrive before dbus.service: wait for it too.
    const dbus = await waitFor(() => unit('dbus.service'), 10_000, 'dbus.service listed')
    expect(dbus.activeState).toBe('active')
    // Memory comes with the interval where accounting is on.
    await waitFor(async () => (await unit('hl-web.service'))?.stats?.memoryBytes !== null, 10_000, 'memory')
  })

  it("reads active services' memory and tasks from their cgroup files, as systemd reports them", async () => {
    // This systemd shares the machine's cgroup tree (as on a host): the collector checked each unit's cgroup
    // against systemd's ControlGroupId and reads the files, not three D-Bus properties per unit.
    await waitFor(() => svc.counters.get('stats.cgroup') > 0, 10_000, 'stats read from cgroup files')
    expect(svc.counters.get('cgroup.mismatch')).toBe(0)
    const show = (p: string) => Number(sd.systemctl(`show hl-web.service -p ${p} --value`).trim())
    const viaDbus = { memory: show('MemoryCurrent'), tasks: show('TasksCurrent') }
    expect(viaDbus.memory).toBeGreaterThan(0)
    // `sleep infinity` neither allocates nor forks: the next interval's numbers are systemd's, to the byte.
    const asked = Date.now()
    const next = await waitFor(
      async () => {
        const u = await unit('hl-web.service')
        return u && u.updatedAt > asked ? u : null
      },
      10_000,
      'a reading after systemctl show',
    )
    expect(next.stats).toMatchObject({ memoryBytes: viaDbus.memory, tasks: viaDbus.tasks })
  })

  it('catches every failure and restart of a unit that systemd restarts each second', async () => {
    const t0 = Date.now()
    sd.systemctl('start hl-flap.service')
    const n0 = Number(sd.systemctl('show -p NRestarts --value hl-flap.service').trim())
    await new Promise((r) => setTimeout(r, 10_000))
    const n1 = Number(sd.systemctl('show -p NRestarts --value hl-flap.service').trim())
    sd.systemctl('stop hl-flap.service')
    await new Promise((r) => setTimeout(r, 1000))
    const mine = events.filter((x) => x.at >= t0 && x.e.subject === 'hl-flap.service')
    const restarts = mine.filter((x) => x.e.type === 'unit.restart')
    const failures = mine.filter((x) => x.e.type === 'unit.failed')
    expect(n1 - n0).toBeGreaterThanOrEqual(7)
    // Every restart systemd counted is an event (the ones after n1 was read included), and each cycle's failure too.
    expect(restarts.length).toBeGreaterThanOrEqual(n1 - n0)
    expect(
      new Set(restarts.map((x) => x.e.data.nRestarts)).size,
      JSON.stringify(
        mine.map((x) => [
          x.e.type,
          x.e.data.nRestarts,
          (x.e.data.unit as { activeState: string; subState: string } | undefined)?.subState,
        ]),
      ),
    ).toBe(restarts.length)
    expect(failures.length).toBeGreaterThanOrEqual(n1 - n0)
    expect(failures[0]?.e.data.result).toBe('exit-code')
    const stored = await waitFor(async () => {
      const r = await (await api('/api/events?subject=hl-flap.service&type=unit.restart&limit=1000')).json()
      return r.events.length >= restarts.length ? r.events : null
    })
    expect(stored.length).toBe(restarts.length)
  }, 60_000)

  it('raises the default alerts within seconds: a unit that fails, and one that flaps', async () => {
    const alertFor = (type: string, rule: string, subject: string, after: number) =>
      waitFor(
        () =>
          events.find(
            (x) =>
              x.at >= after &&
              x.e.type === type &&
              x.e.subject === subject &&
              (x.e.data.alert as { rule: string } | undefined)?.rule === rule,
          ),
        8000,
        `${type} ${rule} of ${subject}`,
      )
    const t0 = Date.now()
    try {
      sd.systemctl('start hl-broken.service')
    } catch {
      // systemctl reports the failure itself; the unit is now failed.
    }
    const failed = await waitFor(
      () =>
        events.find((x) => x.at >= t0 && x.e.type === 'unit.failed' && x.e.subject === 'hl-broken.service'),
      5000,
      'unit.failed',
    )
    const alert = await alertFor('alert.firing', 'unit-failed', 'hl-broken.service', t0)
    expect(alert.at - failed.at).toBeLessThan(3000)
    expect(alert.e.severity).toBe('critical')

    // The unit systemd kept restarting in the test before: three restarts within 10 min fired unit-flapping.
    const restarts = events.filter((x) => x.e.type === 'unit.restart' && x.e.subject === 'hl-flap.service')
    expect(restarts.length).toBeGreaterThanOrEqual(3)
    const flapping = await alertFor('alert.firing', 'unit-flapping', 'hl-flap.service', 0)
    expect(flapping.at - restarts[2]!.at).toBeLessThan(3000)
    expect(flapping.at).toBeGreaterThanOrEqual(restarts[2]!.at)
  }, 60_000)

  it('starts, stops and restarts an allowed unit for an operator and refuses others, even straight over MQTT', async () => {
    const pid0 = (await unit('hl-web.service'))!.mainPid
    const r = await api('/api/services/hl-web.service/restart', { method: 'POST' })
    expect(r.status).toBe(200)
    const body = (await r.json()) as CommandResult
    expect(body).toMatchObject({ outcome: 'done', action: 'restart', target: 'hl-web.service' })
    expect(body.message).toContain('now active (running)')
    await waitFor(async () => (await unit('hl-web.service'))?.mainPid !== pid0, 5000, 'a new main PID')
    expect((await api('/api/services/hl-web.service/stop', { method: 'POST' })).status).toBe(200)
    expect(sd.exec('systemctl is-active hl-web.service || true').trim()).toBe('inactive')
    await waitFor(async () => (await unit('hl-web.service'))?.activeState === 'inactive', 5000, 'inactive')
    expect((await api('/api/services/hl-web.service/start', { method: 'POST' })).status).toBe(200)
    expect(sd.systemctl('is-active hl-web.service').trim()).toBe('active')

    const refused = await api('/api/services/hl-other.service/stop', { method: 'POST' })
    expect(refused.status).toBe(403)
    expect(((await refused.json()) as CommandResult).message).toContain('HOMELAB_SYSTEMD_CONTROL')
    const gwc = await connectClient(stack.url, 'gateway', stack.credentials.gateway)
    const replyTopic = topics.reply(HOST, SVC, 'direct')
    await gwc.subscribeAsync(replyTopic, { qos: 1 })
    const reply = new Promise<CommandResult>((res) =>
      gwc.on('message', (t, p) => t === replyTopic && res(JSON.parse(p.toString()) as CommandResult)),
    )
    await gwc.publishAsync(
      topics.cmd(HOST, SVC),
      JSON.stringify({ v: 1, action: 'stop', target: 'hl-other.service', requestedBy: 'sneaky' }),
      { qos: 1, properties: { responseTopic: replyTopic, correlationData: Buffer.from('1') } },
    )
    expect((await reply).outcome).toBe('refused')
    await gwc.publishAsync(topics.set(HOST, SVC, 'hl-other.service'), 'stop', { qos: 1 })
    await gwc.endAsync()
    await new Promise((res) => setTimeout(res, 500))
    expect(sd.systemctl('is-active hl-other.service').trim()).toBe('active')
    const audit = await waitFor(async () => {
      const r = await (await api('/api/events?type=command.result&limit=50')).json()
      return (r.events as Event[]).length >= 6 ? (r.events as Event[]) : null
    })
    expect(
      audit.find((e) => e.subject === 'hl-web.service' && e.data.action === 'restart')?.data,
    ).toMatchObject({
      requestedBy: 'ops',
      outcome: 'done',
    })
    expect(
      audit.filter((e) => e.subject === 'hl-other.service').every((e) => e.data.outcome === 'refused'),
    ).toBe(true)
  })

  it('rejects invalid unit names with 400 before anything reaches D-Bus', async () => {
    for (const bad of [
      '%2E%2E%2Fx.service',
      'a%3Bb',
      `${'x'.repeat(300)}.service`,
      'nginx.banana',
      'a%20b.service',
    ]) {
      const r = await api(`/api/services/${bad}/restart`, { method: 'POST' })
      expect(r.status, bad).toBe(400)
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/unit name/)
    }
    expect((await api('/api/services/nope-not-here.service')).status).toBe(404)
    const before = svc.counters.get('commands.refused')
    const c = await connectClient(stack.url, 'gateway', stack.credentials.gateway)
    await c.publishAsync(topics.set(HOST, SVC, 'a;b'), 'restart', { qos: 1 })
    await c.endAsync()
    await waitFor(() => svc.counters.get('commands.refused') === before + 1, 5000, 'refused before D-Bus')
  })

  describeWith(
    'Chromium',
    chromiumPath() !== null,
    'Install it with `apt-get install -y chromium` (or set CHROMIUM_PATH).',
  )('services page in a real browser', () => {
    it('lists units, offers controls only for allowed units, restarts after confirmation, shows the timeline', async () => {
      const browser = await launchChromium()
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
        const errors: string[] = []
        page.on('pageerror', (e) => errors.push(String(e)))
        expect(
          (
            await page.request.post(`${base}/api/auth/login`, {
              data: { username: 'ops', password: TEST_PASSWORD },
            })
          ).status(),
        ).toBe(200)
        await page.goto(`${base}/services`)
        const web = page.locator('[data-testid="unit-hl-web.service"]')
        await web.waitFor({ timeout: 20_000 })
        expect(await web.locator('[data-testid=unit-state]').textContent()).toBe('active')
        expect(await page.locator('[data-testid="restart-hl-other.service"]').count()).toBe(0)
        const pid = (await unit('hl-web.service'))!.mainPid
        await page.click('[data-testid="restart-hl-web.service"]')
        await page.click('[data-testid=confirm]')
        await expect
          .poll(() => page.textContent('[data-testid=command-result]'), { timeout: 15_000 })
          .toContain('done')
        await expect
          .poll(async () => (await unit('hl-web.service'))!.mainPid, { timeout: 5000 })
          .not.toBe(pid)
        await page.fill('input[aria-label=search]', 'hl-flap')
        await page.click('[data-testid="unit-hl-flap.service"] button.link')
        await expect
          .poll(() => page.textContent('[data-testid=unit-timeline]'), { timeout: 10_000 })
          .toContain('restarted by systemd')
        expect(errors).toStrictEqual([])
      } finally {
        await browser.close()
      }
    })
  })

  it('recovers and resyncs after the whole systemd restarts, without restarting itself', async () => {
    const resyncs = svc.counters.get('resyncs')
    await sd.restart()
    await waitFor(
      () => !svc.collector.isConnected || svc.counters.get('resyncs') > resyncs,
      30_000,
      'the collector to notice',
    )
    await waitFor(
      () => svc.collector.isConnected && svc.counters.get('resyncs') > resyncs,
      60_000,
      'a resync',
    )
    // After the reboot hl-web is not started (not enabled): the list says so.
    await waitFor(
      async () => (await unit('hl-web.service'))?.activeState === 'inactive',
      20_000,
      'hl-web inactive',
    )
    sd.systemctl('start hl-web.service')
    await waitFor(
      async () => (await unit('hl-web.service'))?.activeState === 'active',
      10_000,
      'hl-web active again',
    )
  }, 120_000)
})
