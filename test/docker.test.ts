import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AlerterService } from '@homelab/alerter'
import type { Credentials, RunningBroker } from '@homelab/broker'
import {
  type CommandResult,
  type ContainerView,
  createTopics,
  type Event,
  LogStreamEvent,
  LogsResponse,
  ProcessesResponse,
} from '@homelab/contracts'
import { DockerCollectorService } from '@homelab/docker-collector'
import type { Gateway } from '@homelab/gateway'
import type { Recorder } from '@homelab/recorder'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildWeb, launchChromium } from './helpers/browser.js'
import {
  docker,
  dockerAvailable,
  ensureTestImage,
  machineDockerdPid,
  removeTestContainers,
  runContainer,
  startedAt,
  startPrivateEngine,
} from './helpers/docker.js'
import { chromiumPath, describeWith, which } from './helpers/infra.js'
import { openSse } from './helpers/sse.js'
import {
  accountWithToken,
  connectClient,
  HOST,
  startAlerter,
  startGateway,
  startRecorder,
  startSysCollector,
  startTestBroker,
  TEST_PASSWORD,
  tempDir,
  testLog,
  waitFor,
} from './helpers/stack.js'

const topics = createTopics('homelab')
const SVC = 'docker-collector'
const P = `hlt${process.pid}`
const MiB = 1024 * 1024

describeWith(
  'a Docker engine',
  await dockerAvailable(),
  'install Docker and start the engine (apt-get install -y docker.io busybox-static; dockerd &), as .ci/run does',
)('docker-collector against a real Docker engine', () => {
  const dir = tempDir('hl-docker-')
  let broker: RunningBroker
  let url: string
  let creds: Credentials
  let recorder: Recorder
  let gw: Gateway
  let svc: DockerCollectorService
  let base: string
  let operator: string
  let viewer: string
  let watcher: MqttClient
  let alerter: AlerterService
  const alerts: Array<{ e: Event; at: number }> = []
  const events: Event[] = []
  const eventArrivals: Array<{ e: Event; at: number }> = []

  const api = (path: string, token = operator, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } })
  const containers = async (): Promise<ContainerView[]> => (await api('/api/docker/containers')).json()
  const find = async (name: string) => (await containers()).find((c) => c.containerName === name)
  const nextEvent = (type: string, subject: string, after = 0, timeoutMs = 15_000) =>
    waitFor(
      () => eventArrivals.find((a) => a.e.type === type && a.e.subject === subject && a.at >= after),
      timeoutMs,
      `${type} of ${subject}`,
    )

  beforeAll(async () => {
    await ensureTestImage()
    // An engine's first container after a while idle takes seconds to start (2.7 s measured here, then 0.3 s): that
    // is the engine's, so one is started and removed before anything of ours runs or any clock starts.
    const warm = await runContainer({ name: `${P}-warm`, cmd: ['true'] })
    await docker.getContainer(warm).remove({ force: true })
    await removeTestContainers()
    ;({ broker, url, credentials: creds } = await startTestBroker(dir.path))
    recorder = startRecorder(dir.path, url, 'recorder', creds.recorder)
    // The web app as built from these sources (not whatever web/dist an earlier build left).
    await buildWeb(join(dir.path, 'web'))
    gw = await startGateway(
      dir.path,
      url,
      'gateway',
      creds.gateway,
      'admin-token-docker-0123456789',
      join(dir.path, 'web'),
      10_000,
    )
    await gw.start()
    base = `http://127.0.0.1:${gw.port}`
    operator = await accountWithToken(gw, 'ops', 'operator')
    viewer = await accountWithToken(gw, 'watch', 'viewer')
    watcher = await connectClient(url, 'homeassistant', 'ha-password-123')
    watcher.on('message', (topic, payload) => {
      const t = topics.parse(topic)
      if (t?.channel === 'event' && t.service === 'alerter')
        alerts.push({ e: JSON.parse(payload.toString()) as Event, at: performance.now() })
      if (t?.channel !== 'event' || t.service !== SVC) return
      const e = JSON.parse(payload.toString()) as Event
      events.push(e)
      eventArrivals.push({ e, at: performance.now() })
    })
    await watcher.subscribeAsync([`homelab/${HOST}/${SVC}/event/#`, `homelab/${HOST}/alerter/event/#`], {
      qos: 1,
    })
    // The alerter with its default rules, as `npm start` runs it.
    alerter = startAlerter(dir.path, url, creds.alerter)
    await alerter.conn.whenConnected()
    svc = new DockerCollectorService({
      url,
      username: 'docker-collector',
      password: creds['docker-collector'],
      host: HOST,
      topics,
      dockerHost: 'unix:///var/run/docker.sock',
      intervalMs: 1000,
      control: [`${P}-ok-*`],
      statsConcurrency: 5,
      stopTimeoutS: 1,
      log: testLog('docker-collector'),
    })
    svc.start()
    await waitFor(() => svc.collector.isConnected, 15_000, 'the collector to reach Docker')
  })

  afterAll(async () => {
    await svc?.stop()
    await alerter?.stop()
    await watcher?.endAsync()
    await gw?.stop()
    await recorder?.stop()
    await broker?.stop()
    await removeTestContainers()
    dir.remove()
  })

  it('lists a container started outside the product within one interval, with CPU near one core and memory within its limit', async () => {
    const name = `${P}-busy`
    const t0 = Date.now()
    const id = await runContainer({ name, cmd: ['sh', '-c', 'yes > /dev/null'], memory: 64 * MiB })
    const v = await waitFor(async () => (await find(name))?.state === 'running' && find(name), 5000, name)
    expect(Date.now() - t0).toBeLessThan(2000)
    expect(v).toMatchObject({
      containerId: id,
      containerName: name,
      status: 'running',
      image: 'homelab-test/busybox:1',
      composeProject: null,
      health: 'none',
      restartCount: 0,
      exitCode: null,
      memoryLimitSet: 64 * MiB,
      stale: false,
      control: { allowed: false },
    })
    // CPU needs two reads; give it a few intervals to settle.
    const stats = await waitFor(
      async () => {
        const r = await api(`/api/docker/containers/${name}/stats`)
        if (r.status !== 200) return null
        const s = (await r.json()) as { cpuPercent: number | null }
        return s.cpuPercent !== null && s.cpuPercent > 60 ? s : null
      },
      15_000,
      'CPU of the busy container',
    )
    expect(stats).toMatchObject({
      containerId: id,
      containerName: name,
      status: 'running',
      memoryLimit: 64 * MiB,
    })
    const s = stats as unknown as {
      cpuPercent: number
      memoryUsed: number
      memoryLimit: number
      pids: number
    }
    expect(s.cpuPercent).toBeLessThanOrEqual(110)
    expect(s.memoryUsed).toBeGreaterThan(0)
    expect(s.memoryUsed).toBeLessThanOrEqual(s.memoryLimit)
    expect(s.pids).toBeGreaterThanOrEqual(1)

    // The recorder keeps the series: the container's history has CPU values near one core.
    const h = await waitFor(
      async () => {
        const res = await api(`/api/docker/containers/${name}/history?from=${Date.now() - 60_000}&points=60`)
        const r = await res.json()
        if (res.status !== 200) throw new Error(JSON.stringify(r))
        const cpu = (r.series.cpu.avg as Array<number | null>).filter((x): x is number => x !== null)
        return cpu.length >= 2 ? { r, cpu } : null
      },
      10_000,
      'container history',
    )
    expect(h.r.containerName).toBe(name)
    expect(Math.max(...h.cpu)).toBeGreaterThan(60)
    expect(h.r.events.some((e: Event) => e.type === 'container.start' && e.subject === name)).toBe(true)

    // The host's processes list shows the container's busy process, named by the container it runs in.
    const sys = await startSysCollector(url, 'sys-collector', creds['sys-collector'], 1000)
    try {
      const p = await waitFor(
        async () => {
          const r = await api(`/api/hosts/${HOST}/processes`)
          if (r.status !== 200) return null
          const body = ProcessesResponse.parse(await r.json())
          return (
            body.processes.find((x) => x.containerId === id && x.name === 'yes' && x.cpuPercent > 50) ?? null
          )
        },
        15_000,
        "the busy container's process in the processes list",
      )
      expect(p.containerName).toBe(name)
      expect(p.command).toContain('yes')
      expect(p.unit).toBeNull()
    } finally {
      await sys.stop()
    }
  })

  it("reads a container's logs (streams, tail, since/until, search, cursor) and follows them across a restart", async () => {
    const name = `${P}-logs`
    // Two known lines, one on each stream (Docker may order lines of the same instant either way), a second later
    // a tick every 200 ms.
    await runContainer({
      name,
      cmd: [
        'sh',
        '-c',
        'echo hello-out; echo hello-err >&2; sleep 1; i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done',
      ],
    })
    await waitFor(async () => (await find(name))?.state === 'running', 5000, name)
    const logs = async (query: string, token = operator) => {
      const r = await api(`/api/docker/containers/${name}/logs?${query}`, token)
      const body: unknown = await r.json()
      return { status: r.status, body }
    }
    const read = async (query: string) => {
      const r = await logs(query)
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      return LogsResponse.parse(r.body)
    }
    await waitFor(async () => (await read('tail=50')).lines.length >= 6, 10_000, 'a few ticks')
    const all = await read('tail=1000')
    expect(all.target).toBe(name)
    const out = all.lines.find((l) => l.text === 'hello-out')
    const err = all.lines.find((l) => l.text === 'hello-err')
    expect(out).toMatchObject({ stream: 'stdout', priority: null, truncated: false })
    expect(err).toMatchObject({ stream: 'stderr' })
    expect(out!.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/)
    expect(Math.abs(out!.ts - Date.now())).toBeLessThan(60_000)
    expect(all.lines.map((l) => l.ts)).toStrictEqual([...all.lines.map((l) => l.ts)].sort((a, b) => a - b))
    expect(all.cursor).toBeNull()
    // One stream only; the last lines; a window in time.
    expect((await read('stream=stderr&tail=1000')).lines.map((l) => l.text)).toStrictEqual(['hello-err'])
    const last3 = await read('tail=3')
    expect(last3.lines).toHaveLength(3)
    expect(last3.lines.every((l) => l.text.startsWith('tick '))).toBe(true)
    const hellos = Math.max(out!.ts, err!.ts)
    const after = await read(`since=${hellos + 1}&tail=1000`)
    expect(after.lines.some((l) => l.text.startsWith('hello'))).toBe(false)
    expect(after.lines.length).toBeGreaterThan(0)
    const before = await read(`until=${new Date(hellos + 1).toISOString()}&tail=1000`)
    expect(before.lines.map((l) => l.text).sort()).toStrictEqual(['hello-err', 'hello-out'])
    // A search: literal, then a regex; two matches at a time with a cursor to page back.
    const page1 = await read('q=TICK&tail=2')
    expect(page1.lines.map((l) => l.text.startsWith('tick'))).toStrictEqual([true, true])
    expect(page1.cursor).toBe(page1.lines[0]!.ts)
    expect(page1.scanned).toBeGreaterThan(2)
    const page2 = await read(`q=tick&tail=2&until=${page1.cursor}`)
    expect(page2.lines.every((l) => l.ts < page1.cursor!)).toBe(true)
    const re = await read(`q=${encodeURIComponent('^tick [0-9]*1$')}&regex=true&tail=1000`)
    expect(re.lines.length).toBeGreaterThan(0)
    expect(re.lines.every((l) => /^tick \d*1$/.test(l.text))).toBe(true)

    // Bad input: a catastrophic pattern, an unknown container, a viewer, a bad time.
    const evil = await logs(`q=${encodeURIComponent('(a+)+$')}&regex=true`)
    expect(evil.status).toBe(400)
    expect(JSON.stringify(evil.body)).toContain('exponential')
    expect((await api('/api/docker/containers/no-such-container-here/logs')).status).toBe(404)
    expect((await logs('tail=5', viewer)).status).toBe(403)
    expect((await logs('since=yesterday')).status).toBe(400)
    expect((await logs('tail=999999')).status).toBe(400)

    // Live: a line written after the stream opened arrives; a restart continues with the new instance.
    const sse = await openSse(`${base}/api/docker/containers/${name}/logs/stream?tail=2`, operator)
    try {
      expect(sse.status).toBe(200)
      const opened = Date.now()
      const lines = () =>
        sse.events
          .filter((e) => e.event === 'lines')
          .flatMap((e) => LogStreamEvent.parse(JSON.parse(e.data)).lines)
      const fresh = await waitFor(
        () => lines().find((l) => l.ts > opened + 300),
        10_000,
        'a line written after opening',
      )
      expect(fresh.text).toMatch(/^tick \d+$/)
      const firstInstance = fresh.instance
      expect(firstInstance).not.toBeNull()
      await docker.getContainer(name).restart({ t: 1 })
      const next = await waitFor(
        () => lines().find((l) => l.instance !== firstInstance && l.text === 'tick 2'),
        20_000,
        'lines of the restarted container',
      )
      expect(next.ts).toBeGreaterThan(fresh.ts)
      expect(sse.events.some((e) => e.event === 'end')).toBe(false)
    } finally {
      sse.close()
    }
    // The collector stops following once the client has gone.
    await waitFor(() => svc.logs?.following === 0, 5000, 'the follow to end')
  })

  it('fires a log-pattern rule on matching lines of a real container, with the lines in the alert, and resolves it when quiet', async () => {
    const name = `${P}-chatty`
    const rulesFile = join(dir.path, 'alert-rules.json')
    const original = readFileSync(rulesFile, 'utf8')
    const rules = JSON.parse(original) as { rules: unknown[] }
    rules.rules.push({
      id: 'test-log-oops',
      type: 'log',
      of: 'containers',
      targets: `${P}-chat*`,
      pattern: 'OOPS [0-9]+',
      regex: true,
      count: 3,
      within: '1m',
      quiet: '3s',
      severity: 'critical',
    })
    try {
      // Fine lines all the time; OOPS lines only while /go exists.
      await runContainer({
        name,
        cmd: [
          'sh',
          '-c',
          'i=0; while :; do i=$((i+1)); echo "fine $i"; [ -f /go ] && echo "OOPS $i"; sleep 0.2; done',
        ],
      })
      await waitFor(async () => (await find(name))?.state === 'running', 5000, name)
      writeFileSync(rulesFile, JSON.stringify(rules, null, 2))
      // Only the log a rule names is followed.
      await waitFor(
        () => svc.logWatcher?.following.join() === `test-log-oops ${name}`,
        20_000,
        'the watch to start',
      )
      const since = performance.now()
      await new Promise((r) => setTimeout(r, 1500))
      expect(alerts.some((a) => a.e.subject === name && a.at > since)).toBe(false)
      spawnSync('docker', ['exec', name, 'sh', '-c', ': > /go'])
      const fired = await waitFor(
        () => alerts.find((a) => a.e.type === 'alert.firing' && a.e.subject === name && a.at > since),
        15_000,
        'the log rule to fire',
      )
      const alert = fired.e.data.alert as { rule: string; message: string; severity: string }
      expect(alert.rule).toBe('test-log-oops')
      expect(alert.severity).toBe('critical')
      expect(alert.message).toMatch(/OOPS \d+/)
      expect(alert.message).not.toMatch(/fine \d+/)
      spawnSync('docker', ['exec', name, 'sh', '-c', 'rm /go'])
      const resolved = await waitFor(
        () => alerts.find((a) => a.e.type === 'alert.resolved' && a.e.subject === name && a.at > fired.at),
        20_000,
        'the log rule to resolve after 3 s without a match',
      )
      expect(resolved.at - fired.at).toBeGreaterThan(2500)
    } finally {
      writeFileSync(rulesFile, original)
    }
    await waitFor(() => svc.logWatcher?.following.length === 0, 20_000, 'the watch to stop with the rule')
  })

  it('publishes die with the exit code within 1 s of kill -9 of the main process, and oom past the memory limit', async () => {
    const name = `${P}-victim`
    const id = await runContainer({ name, cmd: ['sleep', '300'] })
    await waitFor(async () => (await find(name))?.state === 'running', 5000, name)
    const pid = (await docker.getContainer(id).inspect()).State.Pid
    const t0 = performance.now()
    process.kill(pid, 'SIGKILL')
    const die = await nextEvent('container.die', name, t0, 5000)
    expect(die.at - t0).toBeLessThan(1000)
    expect(die.e.data.exitCode).toBe(137)
    expect(die.e.severity).toBe('warning')
    expect((die.e.data.container as { state: string }).state).toBe('exited')

    const oomName = `${P}-oom`
    await runContainer({
      name: oomName,
      cmd: ['sh', '-c', 'sleep 1; x=$(head -c 60000000 /dev/zero | tr "\\0" a); echo done'],
      memory: 8 * MiB,
    })
    const oom = await nextEvent('container.oom', oomName, 0, 20_000)
    expect(oom.e.severity).toBe('critical')
    const oomDie = await nextEvent('container.die', oomName, 0, 10_000)
    expect((oomDie.e.data.container as { oomKilled: boolean }).oomKilled).toBe(true)

    // Both are in the event log and the container projection.
    const stored = await waitFor(async () => {
      const r = await (await api(`/api/events?subject=${name}&type=container.die`)).json()
      return r.events.length === 1 ? r.events : null
    })
    expect(stored[0].data.exitCode).toBe(137)
    await waitFor(async () => {
      const r = await (await api(`/api/events?subject=${oomName}&type=container.oom`)).json()
      return r.events.length >= 1
    })
    const v = await find(oomName)
    expect(v).toMatchObject({ state: 'exited', oomKilled: true, exitCode: 137 })

    // The default rules raise an alert for each within seconds: the OOM kill, and both non-zero exits.
    const firing = (rule: string, subject: string) =>
      waitFor(
        () =>
          alerts.find(
            (a) =>
              a.e.type === 'alert.firing' &&
              a.e.subject === subject &&
              (a.e.data.alert as { rule: string }).rule === rule,
          ),
        5000,
        `${rule} for ${subject}`,
      )
    const oomAlert = await firing('container-oom', oomName)
    expect(oomAlert.at - oom.at).toBeLessThan(3000)
    expect(oomAlert.e.severity).toBe('critical')
    const crashed = await firing('container-crashed', name)
    expect(crashed.at - die.at).toBeLessThan(3000)
    expect((crashed.e.data.alert as { message: string }).message).toContain('137')
    await firing('container-crashed', oomName)

    // `docker kill` and `docker rm -f` end a container with 137 on purpose: the death says it was asked for, and
    // no crash alert fires (issue: "Container exited with an error" for exit 137 right after "was sent signal 9").
    const killed = `${P}-killed`
    const killedId = await runContainer({ name: killed, cmd: ['sleep', '300'] })
    await waitFor(async () => (await find(killed))?.state === 'running', 5000, killed)
    const k0 = performance.now()
    await docker.getContainer(killedId).kill()
    const asked = await nextEvent('container.die', killed, k0, 5000)
    expect(asked.e.data).toMatchObject({ exitCode: 137, killed: true })
    expect(asked.e.data.signal).toMatch(/^(9|SIGKILL)$/)
    expect(asked.e.severity).toBe('info')
    expect(asked.e.message).toMatch(/after it was sent signal (9|SIGKILL)$/)
    // Past the time the crash alert took above, none for it (the rule still fired for the two real ones).
    await new Promise((r) => setTimeout(r, 3000))
    expect(
      alerts.filter((a) => a.e.type === 'alert.firing' && a.e.subject === killed).map((a) => a.e.data.alert),
    ).toStrictEqual([])
  })

  it('restarts an allowed container for an operator, audits it, and refuses viewers and containers not allowed', async () => {
    const ok = `${P}-ok-web`
    const locked = `${P}-locked`
    const labelled = `${P}-labelled`
    const vetoed = `${P}-ok-db`
    const okId = await runContainer({ name: ok, cmd: ['sleep', '300'] })
    const lockedId = await runContainer({ name: locked, cmd: ['sleep', '300'] })
    const labelledId = await runContainer({
      name: labelled,
      cmd: ['sleep', '300'],
      labels: { 'homelab.control': 'true' },
    })
    const vetoedId = await runContainer({
      name: vetoed,
      cmd: ['sleep', '300'],
      labels: { 'homelab.control': 'false' },
    })
    for (const n of [ok, locked, labelled, vetoed])
      await waitFor(async () => (await find(n))?.state === 'running', 5000, n)
    expect((await find(ok))?.control.allowed).toBe(true)
    expect((await find(locked))?.control.allowed).toBe(false)
    expect((await find(labelled))?.control.allowed).toBe(true)
    expect((await find(vetoed))?.control).toMatchObject({ allowed: false })

    const before = await startedAt(okId)
    const r = await api(`/api/docker/containers/${ok}/restart`, operator, { method: 'POST' })
    expect(r.status).toBe(200)
    const body = (await r.json()) as CommandResult & { containerId: string }
    expect(body).toMatchObject({ action: 'restart', target: ok, outcome: 'done', containerId: okId })
    expect(await startedAt(okId)).not.toBe(before)
    expect((await docker.getContainer(okId).inspect()).State.Running).toBe(true)

    // By unique id prefix: stop, then start.
    const stop = await api(`/api/docker/containers/${okId.slice(0, 12)}/stop`, operator, { method: 'POST' })
    expect(stop.status).toBe(200)
    expect((await docker.getContainer(okId).inspect()).State.Running).toBe(false)
    const start = await api(`/api/docker/containers/${okId.slice(0, 12)}/start`, operator, { method: 'POST' })
    expect(start.status).toBe(200)
    expect((await docker.getContainer(okId).inspect()).State.Running).toBe(true)

    // A viewer may not; a container outside the allowlist is refused by the collector, with the reason.
    const asViewer = await api(`/api/docker/containers/${ok}/restart`, viewer, { method: 'POST' })
    expect(asViewer.status).toBe(403)
    const lockedBefore = await startedAt(lockedId)
    const refused = await api(`/api/docker/containers/${locked}/restart`, operator, { method: 'POST' })
    expect(refused.status).toBe(403)
    const rb = (await refused.json()) as CommandResult
    expect(rb.outcome).toBe('refused')
    expect(rb.message).toContain('HOMELAB_DOCKER_CONTROL')
    const vetoedBefore = await startedAt(vetoedId)
    const veto = await api(`/api/docker/containers/${vetoed}/stop`, operator, { method: 'POST' })
    expect(veto.status).toBe(403)
    expect(((await veto.json()) as CommandResult).message).toContain('homelab.control=false')

    // A client with the gateway's MQTT credentials publishing the command directly is refused too.
    const gwClient = await connectClient(url, 'gateway', creds.gateway)
    const replyTopic = topics.reply(HOST, SVC, 'direct')
    await gwClient.subscribeAsync(replyTopic, { qos: 1 })
    const reply = new Promise<CommandResult>((resolve) =>
      gwClient.on('message', (t, p) => {
        if (t === replyTopic) resolve(JSON.parse(p.toString()) as CommandResult)
      }),
    )
    await gwClient.publishAsync(
      topics.cmd(HOST, SVC),
      JSON.stringify({ v: 1, action: 'stop', target: locked, requestedBy: 'sneaky' }),
      { qos: 1, properties: { responseTopic: replyTopic, correlationData: Buffer.from('x1') } },
    )
    expect((await reply).outcome).toBe('refused')
    await gwClient.publishAsync(topics.set(HOST, SVC, locked), 'stop', { qos: 1 })
    await gwClient.endAsync()
    await new Promise((res) => setTimeout(res, 500))
    expect(await startedAt(lockedId)).toBe(lockedBefore)
    expect((await docker.getContainer(lockedId).inspect()).State.Running).toBe(true)
    expect(await startedAt(vetoedId)).toBe(vetoedBefore)

    // Home Assistant's plain `set` payload restarts a labelled container.
    const labelledBefore = await startedAt(labelledId)
    await watcher.publishAsync(topics.set(HOST, SVC, labelled), 'restart', { qos: 1 })
    await waitFor(async () => (await startedAt(labelledId)) !== labelledBefore, 10_000, 'restart over set')

    // The audit trail: who, what, when, outcome — for the HTTP command, the refusals and the set payload.
    const audit = await waitFor(async () => {
      const r = await (await api('/api/events?type=command.result&limit=100')).json()
      const es = r.events as Event[]
      return es.some((e) => e.subject === labelled) ? es : null
    })
    const restartOk = audit.find((e) => e.subject === ok && e.data.action === 'restart')
    expect(restartOk?.data).toMatchObject({ requestedBy: 'ops', via: 'request', outcome: 'done' })
    expect(audit.find((e) => e.subject === locked && e.data.requestedBy === 'sneaky')?.data.outcome).toBe(
      'refused',
    )
    expect(audit.find((e) => e.subject === locked && e.data.via === 'set')?.data.outcome).toBe('refused')
    expect(audit.find((e) => e.subject === labelled)?.data).toMatchObject({ via: 'set', outcome: 'done' })
  })

  it('answers bad input with a JSON 4xx and keeps running', async () => {
    const expectError = async (r: Response, status: number) => {
      expect(r.status).toBe(status)
      const b = (await r.json()) as { error: { code: string; message: string } }
      expect(b.error.message.length).toBeGreaterThan(0)
      return b
    }
    await expectError(await api('/api/docker/containers/no-such-container-here'), 404)
    await expectError(await api('/api/docker/containers/...'), 400)
    await expectError(await api('/api/docker/containers/.hidden'), 400)
    await expectError(await api('/api/docker/containers/..%2Fetc%2Fpasswd/stats'), 400)
    await expectError(await api('/api/docker/containers/a%2Fb/restart', operator, { method: 'POST' }), 400)
    await expectError(
      await api(`/api/docker/containers/${P}-ok-web/explode`, operator, { method: 'POST' }),
      400,
    )
    await expectError(await api('/api/docker/containers?host=Not_A_Host'), 400)
    await expectError(
      await api('/api/docker/containers/0000000000000/restart', operator, { method: 'POST' }),
      404,
    )
    await expectError(await api(`/api/docker/containers/${P}-victim/stats`), 409)
    await expectError(
      await api(`/api/docker/containers/${P}-ok-web/restart`, operator, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pad: 'x'.repeat(200_000) }),
      }),
      413,
    )
    // Garbage on the collector's command topics is counted and dropped.
    const before = svc.counters.get('commands.invalid')
    const c = await connectClient(url, 'gateway', creds.gateway)
    await c.publishAsync(topics.cmd(HOST, SVC), '{not json', { qos: 1 })
    await c.publishAsync(topics.cmd(HOST, SVC), JSON.stringify({ v: 1, action: 'explode', target: 'x' }), {
      qos: 1,
    })
    await c.publishAsync(topics.set(HOST, SVC, `${P}-ok-web`), 'explode', { qos: 1 })
    await c.endAsync()
    await waitFor(() => svc.counters.get('commands.invalid') >= before + 3, 5000, 'invalid commands counted')
    expect(svc.collector.isConnected).toBe(true)
    expect((await api('/api/docker/containers')).status).toBe(200)
  })

  describeWith(
    'Chromium',
    chromiumPath() !== null,
    'Install it with `apt-get install -y chromium` (or set CHROMIUM_PATH).',
  )('containers page in a real browser', () => {
    it('groups, shows live state and CPU, restarts an allowed container after confirmation, and explains refusals', async () => {
      const browser = await launchChromium()
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
        const errors: string[] = []
        page.on('pageerror', (e) => errors.push(String(e)))
        page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
        // Log in through the API (the login form has its own suite); the session cookie is the page's.
        const login = await page.request.post(`${base}/api/auth/login`, {
          data: { username: 'ops', password: TEST_PASSWORD },
        })
        expect(login.status()).toBe(200)
        await page.goto(`${base}/containers`)
        const busy = page.locator(`[data-testid="row-${P}-busy"]`)
        try {
          await busy.waitFor({ timeout: 30_000 })
        } catch (e) {
          const html = (await page.content()).slice(0, 2000)
          throw new Error(
            `the containers page did not show ${P}-busy: ${(e as Error).message}\nerrors: ${errors.join('; ')}\n${html}`,
          )
        }
        expect(await busy.locator('[data-testid=state]').textContent()).toBe('running')
        await expect
          .poll(() => busy.locator('[data-testid=cpu]').textContent(), { timeout: 10_000 })
          .toMatch(/\d+\.\d %/)
        expect(await page.locator('tr.group th').first().textContent()).toContain('not in a compose project')

        // Not allowed: the button is disabled and says why.
        const lockedBtn = page.locator(`[data-testid="restart-${P}-locked"]`)
        expect(await lockedBtn.isDisabled()).toBe(true)
        expect(
          await page.locator(`[data-testid="row-${P}-locked"] [data-testid=actions]`).getAttribute('title'),
        ).toContain('HOMELAB_DOCKER_CONTROL')

        // Allowed: confirm, then Docker really restarts it and the page says so.
        const id = (await find(`${P}-ok-web`))!.containerId
        const before = await startedAt(id)
        await page.click(`[data-testid="restart-${P}-ok-web"]`)
        await page.click('[data-testid=confirm]')
        await expect
          .poll(() => page.textContent('[data-testid=command-result]'), { timeout: 15_000 })
          .toContain('done')
        expect(await startedAt(id)).not.toBe(before)

        // The feed has the crash and the OOM; filtering narrows the list.
        const feed = await page.textContent('[data-testid=feed]')
        expect(feed).toContain(`${P}-victim exited with code 137`)
        expect(feed).toContain(`${P}-oom ran out of memory`)
        // However many OOM kills the kernel made in that second, they are one line (with a count when > 1).
        const oomLines = await page
          .locator('[data-testid=feed] li', { hasText: `${P}-oom ran out of memory` })
          .count()
        expect(oomLines).toBe(1)
        await page.fill('input[aria-label=filter]', 'ok-web')
        await expect.poll(() => page.locator('[data-testid^=row-]').count()).toBe(1)

        // The detail: history charts and the lifecycle events on the same axis.
        await page.click(`[data-testid="row-${P}-ok-web"] a`)
        await page.waitForSelector('[data-testid=detail-cpu] canvas')
        await expect
          .poll(() => page.textContent('[data-testid=detail-events]'), { timeout: 10_000 })
          .toContain('restart')
        expect(await page.textContent('[data-testid=detail-meta]')).toMatch(/\d+ events/)
        expect(errors).toStrictEqual([])
      } finally {
        await browser.close()
      }
    })

    it("shows a container's logs live with pause, search and filters, and the logs around its crash", async () => {
      const name = `${P}-logweb`
      // A first line on each stream, ticks for about ten seconds, then a crash (exit 1).
      await runContainer({
        name,
        cmd: [
          'sh',
          '-c',
          'echo boot ok; echo "ERROR disk full" >&2; i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo "tick $i"; sleep 0.25; done; exit 1',
        ],
      })
      await waitFor(async () => (await find(name))?.state === 'running', 5000, name)
      const browser = await launchChromium()
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
        const errors: string[] = []
        page.on('pageerror', (e) => errors.push(String(e)))
        page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
        const login = await page.request.post(`${base}/api/auth/login`, {
          data: { username: 'ops', password: TEST_PASSWORD },
        })
        expect(login.status()).toBe(200)
        await page.goto(`${base}/containers/${name}`)
        const box = page.locator('[data-testid=log-lines]')
        await expect.poll(() => box.textContent(), { timeout: 15_000 }).toContain('boot ok')
        await expect.poll(() => page.textContent('[data-testid=logs-state]')).toBe('live')
        // Live: a tick printed after the page opened appears.
        const ticks = async () =>
          Number((/tick (\d+)(?!.*tick)/s.exec((await box.textContent()) ?? '') ?? [])[1] ?? 0)
        const t0 = await ticks()
        await expect.poll(ticks, { timeout: 10_000 }).toBeGreaterThan(t0 + 2)
        // Paused, new lines wait (counted) and the box stays as it was; resumed, they are shown.
        await page.click('[data-testid=logs-pause]')
        const frozen = await ticks()
        await expect
          .poll(() => page.textContent('[data-testid=logs-state]'), { timeout: 5000 })
          .toMatch(/paused · [1-9]\d* new/)
        expect(await ticks()).toBe(frozen)
        await page.click('[data-testid=logs-pause]')
        await expect.poll(ticks).toBeGreaterThan(frozen)
        // A search marks its matches.
        await page.fill('input[aria-label="search logs"]', 'error')
        await page.press('input[aria-label="search logs"]', 'Enter')
        await expect
          .poll(() => page.textContent('[data-testid=log-lines] mark'), { timeout: 10_000 })
          .toBe('ERROR')
        expect(await box.textContent()).not.toContain('boot ok')
        await page.fill('input[aria-label="search logs"]', '')
        await page.press('input[aria-label="search logs"]', 'Enter')
        // The crash: its event offers the logs around it, which end with its last line.
        await waitFor(async () => (await find(name))?.state === 'exited', 20_000, 'the container to crash')
        const around = page
          .locator('[data-testid=detail-events] li', { hasText: 'exited with code 1' })
          .locator('[data-testid=logs-around]')
        await around.waitFor({ timeout: 15_000 })
        await around.click()
        await expect.poll(() => page.textContent('[data-testid=logs-state]')).toMatch(/ – /)
        await expect.poll(() => box.textContent(), { timeout: 10_000 }).toContain('tick 40')
        expect(await box.textContent()).toContain('ERROR disk full')
        await page.selectOption('select[aria-label="filter lines"]', 'stderr')
        await expect.poll(() => page.locator('[data-testid=log-lines] .log-line').count()).toBe(1)
        const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Download')])
        const { readFile } = await import('node:fs/promises')
        const text = await readFile((await download.path())!, 'utf8')
        expect(text).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} stderr ERROR disk full\n$/)
        expect(errors).toStrictEqual([])
      } finally {
        await browser.close()
      }
    })
  })
})
describeWith(
  'a Docker engine',
  (await dockerAvailable()) && which('dockerd') !== null,
  'install Docker (apt-get install -y docker.io busybox-static), as .ci/run does',
)("docker-collector when its engine restarts (an engine of the test's own)", () => {
  const dir = tempDir('hl-engine-')
  let broker: RunningBroker
  let recorder: Recorder
  let gw: Gateway
  let svc: DockerCollectorService
  let watcher: MqttClient
  let engine: Awaited<ReturnType<typeof startPrivateEngine>>
  let token = ''
  let base = ''
  const events: Event[] = []
  const get = async (path: string) =>
    (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()
  const find = async (name: string) =>
    ((await get('/api/docker/containers')) as ContainerView[]).find((c) => c.containerName === name)

  beforeAll(async () => {
    await ensureTestImage()
    engine = await startPrivateEngine(join(dir.path, 'engine'))
    const b = await startTestBroker(dir.path)
    broker = b.broker
    recorder = startRecorder(dir.path, b.url, 'recorder', b.credentials.recorder)
    gw = await startGateway(
      dir.path,
      b.url,
      'gateway',
      b.credentials.gateway,
      'admin-token-engine-0123456789',
    )
    await gw.start()
    base = `http://127.0.0.1:${gw.port}`
    token = await accountWithToken(gw, 'watch', 'viewer')
    watcher = await connectClient(b.url, 'homeassistant', 'ha-password-123')
    watcher.on('message', (_topic, payload) => events.push(JSON.parse(payload.toString()) as Event))
    await watcher.subscribeAsync(`homelab/${HOST}/${SVC}/event/#`, { qos: 1 })
    svc = new DockerCollectorService({
      url: b.url,
      username: 'docker-collector',
      password: b.credentials['docker-collector'],
      host: HOST,
      topics,
      dockerHost: `unix://${engine.socket}`,
      intervalMs: 1000,
      control: [],
      statsConcurrency: 5,
      stopTimeoutS: 1,
      log: testLog('docker-collector'),
    })
    svc.start()
    await waitFor(() => svc.collector.isConnected, 15_000, 'the collector to reach the private engine')
  })

  afterAll(async () => {
    await svc?.stop()
    await watcher?.endAsync()
    await gw?.stop()
    await recorder?.stop()
    await broker?.stop()
    await engine?.remove()
    dir.remove()
  }, 60_000)

  it("recovers and resyncs after its engine restarts, without restarting itself; the machine's own engine is untouched", async () => {
    const machine = machineDockerdPid()
    const busy = `${P}-busy`
    await runContainer({ name: busy, cmd: ['sleep', '300'] }, engine.docker)
    await waitFor(async () => (await find(busy))?.state === 'running', 10_000, busy)
    // The engine restarts this one itself when it comes back, before the collector is reconnected.
    const always = `${P}-always`
    await runContainer({ name: always, cmd: ['sleep', '300'], restart: 'always' }, engine.docker)
    await waitFor(async () => (await find(always))?.state === 'running', 10_000, always)
    const resyncs = svc.counters.get('resyncs')
    const seenBefore = events.length
    await engine.stop()
    await waitFor(() => !svc.collector.isConnected, 30_000, 'the collector to notice')
    const status = await waitFor(async () => {
      const r = await get('/api/hosts')
      const s = r.hosts[0].services.find((x: { service: string }) => x.service === SVC)
      return s?.state === 'unavailable' ? s : null
    })
    expect(status.reason).toMatch(/Docker/)
    await engine.start()
    await waitFor(() => svc.collector.isConnected, 60_000, 'the collector to reconnect')
    expect(svc.counters.get('resyncs')).toBe(resyncs + 1)
    // The engine starts `always` again as it comes back, before or after the collector has resynced: either way
    // that is announced (a `container.sync` from the resync, or the live `container.start`) and the list is right.
    const back = await waitFor(() =>
      events
        .slice(seenBefore)
        .find(
          (e) =>
            e.subject === always &&
            (e.type === 'container.sync' || e.type === 'container.start') &&
            (e.data.container as { state: string } | undefined)?.state === 'running',
        ),
    )
    expect(back.data.container).toBeDefined()
    await waitFor(async () => (await find(always))?.state === 'running', 10_000, `${always} running again`)
    const name = `${P}-after`
    await runContainer({ name, cmd: ['sleep', '300'] }, engine.docker)
    await waitFor(
      async () => (await find(name))?.state === 'running',
      10_000,
      'a container started after the restart',
    )
    expect((await find(busy))?.state).not.toBe('running')
    // The machine's engine (when it runs one) is the same process as before, still running, its bridge in place.
    expect(machineDockerdPid()).toBe(machine)
    if (machine !== null) expect(spawnSync('ip', ['link', 'show', 'docker0']).status).toBe(0)
  }, 180_000)
})
