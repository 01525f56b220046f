import { execFileSync } from 'node:child_process'
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { enrolHost, readUsers, revokeHost, usersFilePath } from '@homelab/broker'
import { AlertsReading, createTopics } from '@homelab/contracts'
import Database from 'better-sqlite3'
import mqtt from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { allInOneStops, brokerKills, recorderKills, recorderOutage } from './helpers/fault-scenarios.js'
import { FaultStack } from './helpers/fault-stack.js'
import { describeWith, mosquittoPath } from './helpers/infra.js'
import { MOSQUITTO_USERS, startMosquitto } from './helpers/mosquitto.js'
import { exited } from './helpers/process.js'
import { syntheticReading } from './helpers/readings.js'
import { HOST, tempDir, waitFor } from './helpers/stack.js'

const topics = createTopics('homelab')
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function stackIn(dir?: string, env: Record<string, string> = {}): FaultStack {
  const d = dir ? { path: dir, remove: () => undefined } : tempDir('hl-faults-')
  const s = new FaultStack(d.path, HOST, env)
  cleanups.push(d.remove, () => s.close())
  return s
}

/** An MQTT client as a given user, with a client id of its own kind (or the one given). */
async function client(s: FaultStack, user: string, opts: mqtt.IClientOptions = {}) {
  const users = s.users()
  const [service, host] = user.split('@')
  const c = mqtt.connect(s.url, {
    protocolVersion: 5,
    username: user,
    password: users[user],
    clientId: `${service}-${host ?? s.host}.t${Math.random().toString(36).slice(2, 8)}`,
    reconnectPeriod: 0,
    ...opts,
  })
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve())
    c.once('error', reject)
  })
  cleanups.push(() => void c.end(true))
  return c
}

const publishResult = (c: mqtt.MqttClient, topic: string, payload: string | Buffer, retain = false) =>
  new Promise<number>((resolve) =>
    c.publish(topic, payload, { qos: 1, retain }, (err, packet) =>
      resolve(
        err
          ? ((err as { code?: number }).code ?? 128)
          : ((packet as { reasonCode?: number })?.reasonCode ?? 0),
      ),
    ),
  )

const expectClean = (t: {
  lost: number
  duplicated: number
  eventsLost: number
  eventsDuplicated: number
  integrity: string
}) =>
  expect({
    lost: t.lost,
    duplicated: t.duplicated,
    eventsLost: t.eventsLost,
    eventsDuplicated: t.eventsDuplicated,
    integrity: t.integrity,
  }).toStrictEqual({
    lost: 0,
    duplicated: 0,
    eventsLost: 0,
    eventsDuplicated: 0,
    integrity: 'ok',
  })

describe('faults: separate processes, readings published exactly as the collectors publish them (QoS 1, retained)', () => {
  it('the recorder SIGKILLed 5 times under load stores every reading and event exactly once', {
    timeout: 180_000,
  }, async () => {
    const t = await recorderKills(stackIn(), { kills: 5, count: 1500, rate: 150 })
    expect(t.kills).toBe(5)
    expect(t.stored).toBe(1500)
    expectClean(t)
  })

  it('the broker SIGKILLed 3 times under load loses nothing it acknowledged', {
    timeout: 180_000,
  }, async () => {
    const t = await brokerKills(stackIn(), { kills: 3, count: 1200, rate: 120, signal: 'SIGKILL' })
    expect(t.kills).toBe(3)
    expect(t.stored).toBe(1200)
    expectClean(t)
  })

  it('the broker stopped (SIGTERM) 3 times under load loses nothing it acknowledged', {
    timeout: 180_000,
  }, async () => {
    const t = await brokerKills(stackIn(), { kills: 3, count: 1200, rate: 120, signal: 'SIGTERM' })
    expect(t.kills).toBe(3)
    expect(t.stored).toBe(1200)
    expectClean(t)
  })

  it('a 60 s recorder outage (an upgrade) with 50 retained topics loses nothing', {
    timeout: 240_000,
  }, async () => {
    const t = await recorderOutage(stackIn(), { downMs: 60_000, entities: 50, rate: 1 })
    expect(t.expected).toBeGreaterThanOrEqual(50 * 60)
    expect(t.stored).toBe(t.expected)
    expectClean(t)
  })

  it('npm start stopped with SIGTERM twice at 200 messages/s loses nothing it acknowledged', {
    timeout: 240_000,
  }, async () => {
    const d = tempDir('hl-faults-aio-')
    const agent = enrolHost(d.path, 'fault-agent')
    const users = readUsers(agent.path)
    const t = await allInOneStops(stackIn(d.path), {
      stops: 2,
      count: 3000,
      rate: 200,
      agent: 'fault-agent',
      username: 'sys-collector@fault-agent',
      password: users['sys-collector@fault-agent']!,
    })
    cleanups.push(d.remove)
    expect(t.kills).toBe(2)
    expect(t.stored).toBe(3000)
    expectClean(t)
  })

  it('a poison event (nested 6,000 deep) is quarantined and acknowledged; what follows is stored and live streams stay open', {
    timeout: 120_000,
  }, async () => {
    const s = stackIn()
    await s.startBroker()
    await s.startRecorder()
    const admin = 'admin-token-for-the-fault-suite-000'
    await s.startGateway(admin)
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${s.gatewayPort}/healthz`)).ok,
      30_000,
      'the gateway',
    )
    // 20 live streams, as dashboards hold them.
    const streams = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const ac = new AbortController()
        cleanups.push(() => ac.abort())
        const res = await fetch(`http://127.0.0.1:${s.gatewayPort}/api/live`, {
          headers: { authorization: `Bearer ${admin}` },
          signal: ac.signal,
        })
        const reader = res.body!.getReader()
        const st = { text: '', open: true }
        void (async () => {
          try {
            for (;;) {
              const { done, value } = await reader.read()
              if (done) break
              st.text += Buffer.from(value).toString()
            }
          } catch {
            // aborted at cleanup
          }
          st.open = false
        })()
        return st
      }),
    )
    const sys = await client(s, 'sys-collector')
    let deep = '{}'
    for (let i = 0; i < 6000; i++) deep = `{"a":${deep}}`
    const poison = `{"v":1,"ts":${Date.now()},"host":"${HOST}","source":"sys-collector","id":"poison-event-1","type":"test.poison","severity":"info","subject":"x","message":"","data":${deep}}`
    expect(await publishResult(sys, topics.event(HOST, 'sys-collector', 'test.poison'), poison)).toBe(0)
    const ts = Date.now()
    const after = syntheticReading(ts, 77)
    expect(
      await publishResult(sys, topics.reading(HOST, 'sys-collector', 'system'), JSON.stringify(after), true),
    ).toBe(0)
    // Stored behind it, and quarantined with its reason.
    await waitFor(
      () => s.stored()?.values[0]?.includes(1077),
      20_000,
      'the reading after the poison to be stored',
    )
    const db = new Database(s.dbPath, { readonly: true })
    const q = db.prepare("SELECT reason FROM quarantine WHERE topic LIKE '%test.poison'").all() as Array<{
      reason: string
    }>
    db.close()
    expect(q).toStrictEqual([{ reason: 'schema: data: nested deeper than 8 levels' }])
    // Every stream is still open and got the reading published after the poison.
    await waitFor(
      () => streams.every((x) => x.text.includes(`"uptimeSec":1077`)),
      10_000,
      'every stream to get the next reading',
    )
    expect(streams.filter((x) => x.open)).toHaveLength(20)
    // The recorder is not wedged: the poison was acknowledged, so a restart does not get it again.
    await s.stop(s.recorder, 'SIGTERM')
    await s.startRecorder()
    const again = syntheticReading(ts + 1000, 78)
    expect(
      await publishResult(sys, topics.reading(HOST, 'sys-collector', 'system'), JSON.stringify(again), true),
    ).toBe(0)
    await waitFor(() => s.stored()?.values[0]?.includes(1078), 20_000, 'the next reading after a restart')
    const db2 = new Database(s.dbPath, { readonly: true })
    expect(
      db2.prepare("SELECT count(*) AS n FROM quarantine WHERE topic LIKE '%test.poison'").get(),
    ).toStrictEqual({ n: 1 })
    db2.close()
  })

  it('clears a retained per-alert document from before a restart whose alert is no longer open, and keeps its own documents out of evaluation', {
    timeout: 60_000,
  }, async () => {
    const s = stackIn()
    await s.startBroker()
    // Left by an alerter that ran before: an alert that was open then and is not now.
    const before = await client(s, 'alerter')
    const gone = `homelab/${HOST}/alerter/reading/alert/0123456789ab`
    expect(
      await publishResult(before, gone, JSON.stringify({ v: 1, note: 'from an earlier run' }), true),
    ).toBe(0)
    before.end(true)
    await s.startAlerter()
    const watch = await client(s, 'gateway')
    const seen: Array<{ topic: string; size: number }> = []
    watch.on('message', (topic, payload) => seen.push({ topic, size: payload.length }))
    await watch.subscribeAsync(`homelab/${HOST}/alerter/reading/#`, { qos: 1 })
    // The alerter's rules document arrives, and the old per-alert document is cleared (or already was).
    await waitFor(
      () => seen.some((m) => m.topic.endsWith('/reading/rules') && m.size > 0),
      20_000,
      'the rules',
    )
    await waitFor(
      () => (seen.filter((m) => m.topic === gone).at(-1)?.size ?? 0) === 0,
      10_000,
      'the old per-alert document cleared',
    )
    const fresh = await client(s, 'gateway')
    const retained: number[] = []
    fresh.on('message', (topic, payload) => topic === gone && retained.push(payload.length))
    await fresh.subscribeAsync(gone, { qos: 1 })
    await new Promise((r) => setTimeout(r, 1000))
    expect(retained).toStrictEqual([])
    // Its own documents are neither evaluated nor counted as invalid (the one above was no valid document).
    expect(s.alerter!.output()).not.toMatch(/ignoring a message/)
  })

  it('an alert flood (1,000 crashed containers) keeps the alerter online, its documents within the packet limit', {
    timeout: 180_000,
  }, async () => {
    const s = stackIn()
    await s.startBroker()
    await s.startAlerter()
    const docker = await client(s, 'docker-collector')
    for (let i = 0; i < 1000; i++) {
      docker.publish(
        topics.event(HOST, 'docker-collector', 'container.die'),
        JSON.stringify({
          v: 1,
          ts: Date.now(),
          host: HOST,
          source: 'docker-collector',
          id: `flood-${i}-00000000`,
          type: 'container.die',
          severity: 'warning',
          subject: `c${i}`,
          message: `c${i} exited with code 1`,
          data: { exitCode: 1 },
        }),
        { qos: 1 },
      )
    }
    // Every open alert is a retained document of its own; the summary counts them all and lists a few.
    const watch = await client(s, 'gateway')
    const perAlert = new Map<string, number>()
    const summaries: Array<{ size: number; doc: AlertsReading }> = []
    watch.on('message', (topic, payload) => {
      if (topic.includes('/alerter/reading/alert/')) perAlert.set(topic, payload.length)
      else if (topic.endsWith('/alerter/reading/alerts') && payload.length)
        summaries.push({ size: payload.length, doc: AlertsReading.parse(JSON.parse(payload.toString())) })
    })
    await watch.subscribeAsync(
      [`homelab/${HOST}/alerter/reading/alert/+`, `homelab/${HOST}/alerter/reading/alerts`],
      { qos: 1 },
    )
    await waitFor(
      () => summaries.at(-1)?.doc.total === 1000 && perAlert.size === 1000,
      60_000,
      '1,000 open alerts',
    ).catch((e) => {
      throw new Error(
        `${e.message}: ${perAlert.size} documents, summary total ${summaries.at(-1)?.doc.total}; ${s.alerter?.output().slice(-2000)}`,
      )
    })
    const sum = summaries.at(-1)!
    expect(sum.doc.firing).toBe(1000)
    expect(sum.doc.alerts.length).toBeLessThanOrEqual(50)
    expect(sum.size).toBeLessThan(256 * 1024)
    expect(Math.max(...perAlert.values())).toBeLessThan(16 * 1024)
    // Still online 5 s later, and reachable: it answers a command.
    await new Promise((r) => setTimeout(r, 5000))
    expect(s.isOnline('alerter')).toBe(true)
    expect(s.alerter!.exitCode).toBeNull()
    expect(s.alerter!.output()).not.toMatch(/packet too large|disconnected/i)
  })

  it('refuses forged data from another host, another service or another device, and session takeovers', {
    timeout: 120_000,
  }, async () => {
    const s = stackIn()
    await s.startBroker()
    await s.startRecorder()
    await s.startAlerter()
    const sys = await client(s, 'sys-collector')
    const reading = (host: string) => JSON.stringify(syntheticReading(Date.now(), 1, host))
    const refused = {
      otherHostReading: await publishResult(
        sys,
        topics.reading('other-host', 'sys-collector', 'system'),
        reading('other-host'),
        true,
      ),
      erasingAnotherHost: await publishResult(
        sys,
        topics.reading('other-host', 'sys-collector', 'system'),
        '',
        true,
      ),
      ghostOffline: await publishResult(sys, topics.availability('ghost', 'sys-collector'), 'offline', true),
      forgedAudit: await publishResult(
        sys,
        topics.event(HOST, 'docker-collector', 'command.result'),
        JSON.stringify({
          v: 1,
          ts: Date.now(),
          host: HOST,
          source: 'docker-collector',
          id: 'forged-audit-1',
          type: 'command.result',
          severity: 'info',
          subject: 'web',
          message: 'restart web by admin: done',
          data: {},
        }),
      ),
      otherDevice: await publishResult(
        sys,
        'homeassistant/device/homelab_testhost-container-web/config',
        '{}',
        true,
      ),
      otherHostsDevice: await publishResult(
        sys,
        'homeassistant/device/homelab_other_host_1a2b3c/config',
        '{}',
        true,
      ),
    }
    expect(refused).toStrictEqual({
      otherHostReading: 135,
      erasingAnotherHost: 135,
      ghostOffline: 135,
      forgedAudit: 135,
      otherDevice: 135,
      otherHostsDevice: 135,
    })
    // 1,000 fake hosts from one credential: every one refused.
    const fakes = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        publishResult(
          sys,
          topics.reading(`fake-${i}`, 'sys-collector', 'system'),
          reading(`fake-${i}`),
          true,
        ),
      ),
    )
    expect(fakes.every((c) => c === 135)).toBe(true)
    // A document whose envelope names another host, on the collector's own topic, is quarantined.
    expect(
      await publishResult(sys, topics.reading(HOST, 'sys-collector', 'system'), reading('other-host'), true),
    ).toBe(0)
    await waitFor(
      () => {
        const db = new Database(s.dbPath, { readonly: true })
        const n = (
          db.prepare("SELECT count(*) AS n FROM quarantine WHERE reason LIKE 'mismatch:%'").get() as {
            n: number
          }
        ).n
        db.close()
        return n === 1
      },
      10_000,
      'the mismatch quarantined',
    )
    // Nothing of it reached the record: no other host has data.
    const db = new Database(s.dbPath, { readonly: true })
    expect(db.prepare('SELECT DISTINCT host FROM latest WHERE host <> ?').all(HOST)).toStrictEqual([])
    expect(db.prepare("SELECT count(*) AS n FROM events WHERE type = 'command.result'").get()).toStrictEqual({
      n: 0,
    })
    db.close()
    // Takeover: a collector's credential with the alerter's client id is refused, and the alerter stays connected.
    const users = s.users()
    const takeover = mqtt.connect(s.url, {
      protocolVersion: 5,
      username: 'sys-collector',
      password: users['sys-collector'],
      clientId: `alerter-${HOST}`,
      reconnectPeriod: 0,
    })
    const code = await new Promise<number>((resolve) => {
      takeover.once('error', (e) => resolve((e as { code?: number }).code ?? -1))
      takeover.once('connect', () => resolve(0))
    })
    takeover.end(true)
    expect(code).toBe(135)
    await new Promise((r) => setTimeout(r, 1500))
    expect(s.isOnline('alerter')).toBe(true)
    expect(s.alerter!.output()).not.toMatch(/connected to .* again/)
    // An enrolled machine publishes as itself; revoked, it is disconnected and cannot log in again.
    const enrolled = enrolHost(s.dataDir, 'agent-one')
    await waitFor(() => readUsers(usersFilePath(s.dataDir))['sys-collector@agent-one'], 5000)
    const agentUsers = readUsers(enrolled.path)
    // At once: a login the broker would refuse makes it re-read a users file that changed.
    const agent = mqtt.connect(s.url, {
      protocolVersion: 5,
      username: 'sys-collector@agent-one',
      password: agentUsers['sys-collector@agent-one'],
      clientId: 'sys-collector-agent-one',
      reconnectPeriod: 0,
    })
    await new Promise<void>((resolve, reject) => {
      agent.once('connect', () => resolve())
      agent.once('error', reject)
    })
    cleanups.push(() => void agent.end(true))
    expect(
      await publishResult(
        agent,
        topics.reading('agent-one', 'sys-collector', 'system'),
        reading('agent-one'),
        true,
      ),
    ).toBe(0)
    expect(
      await publishResult(agent, topics.reading(HOST, 'sys-collector', 'system'), reading(HOST), true),
    ).toBe(135)
    const closed = new Promise<void>((r) => agent.once('close', () => r()))
    revokeHost(s.dataDir, 'agent-one')
    await closed
  })

  it('ends with code 1 and the reason when the broker refuses its login (a supervisor must not see a clean exit)', {
    timeout: 60_000,
  }, async () => {
    const s = stackIn()
    await s.startBroker()
    const { spawnService } = await import('./helpers/process.js')
    const p = spawnService('recorder', {
      HOMELAB_DATA_DIR: s.dataDir,
      HOMELAB_HOST_ID: HOST,
      HOMELAB_MQTT_URL: s.url,
      HOMELAB_MQTT_PASSWORD: 'not-the-right-password',
    })
    cleanups.push(() => void p.kill('SIGKILL'))
    expect(await exited(p)).toBe(1)
    expect(p.output()).toMatch(/refused the login of "recorder".*bad user name or password/)
  })

  it('closes sockets that never send CONNECT', { timeout: 60_000 }, async () => {
    const s = stackIn()
    await s.startBroker()
    const sockets: Socket[] = []
    let closed = 0
    for (let i = 0; i < 200; i++) {
      const c = connect(s.brokerPort, '127.0.0.1')
      c.on('error', () => undefined)
      c.on('close', () => closed++)
      sockets.push(c)
    }
    cleanups.push(() => {
      for (const c of sockets) c.destroy()
    })
    const started = Date.now()
    await waitFor(() => closed === 200, 20_000, 'the broker to close 200 idle sockets')
    expect(Date.now() - started).toBeLessThan(15_000)
  })
})

const canMount = process.getuid?.() === 0 && existsSync('/proc/filesystems')
describeWith(
  'root, to mount a small tmpfs as a full disk',
  canMount,
  'run the suite as root (CI does)',
)('a small full disk', () => {
  it('degrades the broker and recorder with the reason, raises an alert, loses nothing and recovers when space is freed', {
    timeout: 240_000,
  }, async () => {
    const mnt = tempDir('hl-fulldisk-')
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt.path])
    cleanups.push(() => {
      execFileSync('umount', ['-l', mnt.path])
      mnt.remove()
    })
    const data = join(mnt.path, 'data')
    mkdirSync(data)
    writeFileSync(
      join(data, 'alert-rules.json'),
      JSON.stringify({ rules: [{ id: 'service-degraded', type: 'status', services: '*', for: '0s' }] }),
    )
    const s = stackIn(data)
    await s.startBroker()
    await s.startRecorder()
    await s.startAlerter({ HOMELAB_ALERT_TICK_MS: '200' })
    const admin = 'admin-token-for-the-fault-suite-000'
    await s.startGateway(admin)
    const pub = s.publish({ count: 3000, rate: 100, eventEvery: 10 })
    await waitFor(() => pub.published() > 300, 30_000, 'publishing')
    // Fill the disk.
    const filler = join(mnt.path, 'filler')
    const fd = openSync(filler, 'w')
    try {
      const chunk = Buffer.alloc(1024 * 1024)
      for (;;) writeSync(fd, chunk)
    } catch {
      // full
    } finally {
      closeSync(fd)
    }
    const degraded = await waitFor(
      () => {
        const b = s.status('broker')
        const r = s.status('recorder')
        return b?.state === 'degraded' || r?.state === 'degraded' ? { b, r } : null
      },
      60_000,
      'a degraded status',
    )
    expect(`${degraded.b?.reason} ${degraded.r?.reason}`).toMatch(
      /disk is full|disk is full|cannot write its store/,
    )
    const health = (await (await fetch(`http://127.0.0.1:${s.gatewayPort}/healthz`)).json()) as {
      status: string
      reasons: string[]
    }
    expect(health.status).toBe('degraded')
    expect(health.reasons.join(' ')).toMatch(/disk is full|cannot write its store/)
    await new Promise((r) => setTimeout(r, 5000))
    // Nothing crashed.
    for (const p of [s.broker, s.recorder, s.alerter, s.gateway]) expect(p!.exitCode).toBeNull()
    rmSync(filler)
    const published = await pub.done
    await waitFor(
      () => s.status('broker')?.state === 'ok' && s.status('recorder')?.state === 'ok',
      90_000,
      'both to be ok again',
    )
    await waitFor(
      () => (s.stored()?.values[0]?.length ?? 0) >= published.published,
      60_000,
      'everything stored',
    ).catch((e) => {
      throw new Error(
        `${e.message}: ${s.stored()?.values[0]?.length} of ${published.published}; recorder: ${s.recorder?.output().slice(-1500)}; broker: ${s.broker?.output().slice(-1500)}`,
      )
    })
    const st = s.stored()!
    expect(new Set(st.values[0]).size).toBe(3000)
    expect(st.values[0]!.length).toBe(3000)
    expect(new Set(st.events).size).toBe(published.events)
    expect(s.integrity()).toBe('ok')
    // The alert fired (the recorder's log says which condition) and resolved.
    const db = new Database(s.dbPath, { readonly: true })
    const alerts = db
      .prepare(
        "SELECT type FROM events WHERE type IN ('alert.firing', 'alert.resolved') AND subject IN ('broker', 'recorder') ORDER BY seq",
      )
      .all() as Array<{ type: string }>
    db.close()
    expect(alerts.map((a) => a.type)).toContain('alert.firing')
    expect(alerts.at(-1)?.type).toBe('alert.resolved')
  })
})

describe('a damaged database', () => {
  it('turns the recorder degraded with the reason, keeps it running, and loses nothing once it is repaired', {
    timeout: 180_000,
  }, async () => {
    const d = tempDir('hl-damaged-')
    cleanups.push(d.remove)
    writeFileSync(
      join(d.path, 'alert-rules.json'),
      JSON.stringify({ rules: [{ id: 'service-degraded', type: 'status', services: '*', for: '0s' }] }),
    )
    const s = stackIn(d.path)
    await s.startBroker()
    await s.startRecorder()
    const sys = await client(s, 'sys-collector')
    const t0 = Date.now() - 3_600_000
    for (let i = 0; i < 20; i++)
      await publishResult(
        sys,
        topics.reading(HOST, 'sys-collector', 'system'),
        JSON.stringify(syntheticReading(t0 + i * 1000, i)),
        true,
      )
    await waitFor(() => s.stored()?.values[0]?.length === 20, 20_000, '20 readings')
    await s.stop(s.recorder, 'SIGTERM')
    const backup = join(d.path, 'backup.db')
    copyFileSync(s.dbPath, backup)
    // A malformed page: the root page of the table every reading writes to.
    const db = new Database(s.dbPath, { readonly: true })
    const { rootpage } = db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'latest'").get() as {
      rootpage: number
    }
    const pageSize = db.pragma('page_size', { simple: true }) as number
    db.close()
    const fd = openSync(s.dbPath, 'r+')
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (rootpage - 1) * pageSize)
    closeSync(fd)
    await s.startAlerter({ HOMELAB_ALERT_TICK_MS: '200' })
    await s.startRecorder()
    for (let i = 20; i < 40; i++)
      await publishResult(
        sys,
        topics.reading(HOST, 'sys-collector', 'system'),
        JSON.stringify(syntheticReading(t0 + i * 1000, i)),
        true,
      )
    const st = await waitFor(
      () => (s.status('recorder')?.state === 'degraded' ? s.status('recorder') : null),
      30_000,
      'the recorder degraded',
    )
    expect(st.reason).toMatch(/is damaged/)
    await s.startGateway('admin-token-for-the-fault-suite-000')
    const health = await waitFor(
      async () => {
        const h = (await (await fetch(`http://127.0.0.1:${s.gatewayPort}/healthz`)).json()) as {
          status: string
          reasons: string[]
        }
        return h.status === 'degraded' ? h : null
      },
      20_000,
      'healthz degraded',
    )
    expect(health.reasons.join(' ')).toMatch(/recorder on testhost: the database .* is damaged/)
    // An alert says so (each open alert is a retained document of the alerter's).
    const watch = await client(s, 'gateway')
    const open = new Map<string, string>()
    watch.on('message', (t, p) => open.set(t, p.toString()))
    await watch.subscribeAsync(`homelab/${HOST}/alerter/reading/alert/+`, { qos: 1 })
    const firing = (a: string) =>
      a.includes('"rule":"service-degraded"') &&
      a.includes('"subject":"recorder"') &&
      a.includes('"state":"firing"')
    await waitFor(() => [...open.values()].some(firing), 20_000, 'the degraded alert')
    // No crash loop: still the same process, 10 s on.
    const pid = s.recorder!.pid
    await new Promise((r) => setTimeout(r, 10_000))
    expect(s.recorder!.exitCode).toBeNull()
    expect(s.recorder!.pid).toBe(pid)
    // Repaired (here: the backup put back, with the recorder stopped), everything published meanwhile is stored.
    await s.stop(s.recorder, 'SIGTERM')
    for (const f of ['', '-wal', '-shm']) rmSync(`${s.dbPath}${f}`, { force: true })
    copyFileSync(backup, s.dbPath)
    await s.startRecorder()
    await waitFor(() => s.stored()?.values[0]?.length === 40, 30_000, 'all 40 readings')
    expect(s.stored()!.values[0]).toStrictEqual(Array.from({ length: 40 }, (_, i) => 1000 + i))
    expect(s.integrity()).toBe('ok')
    await waitFor(() => s.status('recorder')?.state === 'ok', 20_000, 'the recorder ok')
  })
})

const mosquitto = mosquittoPath()
describeWith(
  'Mosquitto',
  mosquitto !== null,
  'apt-get install -y mosquitto mosquitto-clients',
)('the same faults against Mosquitto', () => {
  it('the recorder SIGKILLed 3 times under load on Mosquitto stores every reading and event exactly once', {
    timeout: 180_000,
  }, async () => {
    const d = tempDir('hl-faults-mosq-')
    cleanups.push(d.remove)
    const mq = await startMosquitto(mosquitto!, d.path)
    cleanups.push(() => mq.stop())
    const s = new FaultStack(d.path, HOST, {}, { url: mq.url, users: { ...MOSQUITTO_USERS } })
    cleanups.push(() => s.close())
    const t = await recorderKills(s, { kills: 3, count: 900, rate: 100 })
    expect(t.kills).toBe(3)
    expect(t.stored).toBe(900)
    expectClean(t)
  })
})
