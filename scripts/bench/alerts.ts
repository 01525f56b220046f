import { join } from 'node:path'
import {
  type ContainerReading,
  createTopics,
  type Event,
  parseReading,
  type ReadingKindName,
  readingSamples,
  type UnitReading,
} from '@homelab/contracts'
import { Evaluator } from '../../services/alerter/src/evaluator.js'
import { DEFAULT_RULES, parseRules } from '../../services/alerter/src/rules.js'
import { syntheticReading } from '../../test/helpers/readings.js'
import { connectClient, startAlerter, startTestBroker } from '../../test/helpers/stack.js'
import { fmt, header, line, percentile } from './util.js'

/** One interval of a busy homelab: the host's system reading, 30 containers and 50 units, as MQTT payloads. */
function interval(
  ts: number,
  i: number,
): Array<{ kind: ReadingKindName; entity: string | null; payload: Buffer }> {
  const out: Array<{ kind: ReadingKindName; entity: string | null; payload: Buffer }> = []
  out.push({
    kind: 'system',
    entity: null,
    payload: Buffer.from(JSON.stringify(syntheticReading(ts, i, 'pi'))),
  })
  for (let c = 0; c < 30; c++) {
    const name = `app-${c}`
    const r: ContainerReading = {
      v: 1,
      ts,
      host: 'pi',
      source: 'docker-collector',
      container: {
        id: `${c}`.padStart(12, 'a'),
        name,
        image: 'busybox',
        composeProject: 'bench',
        composeService: name,
        state: 'running',
        statusText: 'Up',
        health: 'none',
        restartCount: 0,
        createdAt: 1,
        startedAt: 2,
        finishedAt: null,
        exitCode: null,
        oomKilled: false,
        memoryLimitSet: c % 2 ? 512 * 2 ** 20 : null,
        ports: [],
        control: { allowed: false, reason: 'not in HOMELAB_DOCKER_CONTROL' },
      },
      stats: {
        cpuPercent: (i * 7 + c) % 100,
        memoryUsed: 100 * 2 ** 20 + c,
        memoryLimit: 512 * 2 ** 20,
        memoryPercent: 20,
        networkRx: 1,
        networkTx: 1,
        networkRxRate: 10,
        networkTxRate: 10,
        blockRead: 0,
        blockWrite: 0,
        blockReadRate: 0,
        blockWriteRate: 0,
        pids: 3,
      },
    }
    out.push({ kind: 'container', entity: name, payload: Buffer.from(JSON.stringify(r)) })
  }
  for (let u = 0; u < 50; u++) {
    const name = `svc-${u}.service`
    const r: UnitReading = {
      v: 1,
      ts,
      host: 'pi',
      source: 'systemd-collector',
      unit: {
        name,
        description: name,
        loadState: 'loaded',
        activeState: 'active',
        subState: 'running',
        unitFileState: 'enabled',
        result: 'success',
        mainPid: 100 + u,
        nRestarts: 0,
        since: 1,
        control: { allowed: false, reason: 'no' },
      },
      stats: { memoryBytes: 10 * 2 ** 20, cpuPercent: 1, tasks: 2 },
    }
    out.push({ kind: 'unit', entity: name, payload: Buffer.from(JSON.stringify(r)) })
  }
  return out
}

/**
 * The alerter's cost: evaluating the default rules against a homelab's stream, as a ratio to what any consumer of
 * that stream pays anyway (parse and validate each message, extract its samples); and the latency from a reading
 * on the broker to the alert event on it.
 */
export async function benchAlerts(dir: string): Promise<void> {
  header('Alerter: the default rules on 1 system + 30 container + 50 unit readings per interval')
  const engine = new Evaluator({
    now: Date.now,
    noDataMs: 600_000,
    self: { host: 'pi', service: 'alerter' },
    onTransition: () => undefined,
    onChange: () => undefined,
  })
  engine.setRules(parseRules(DEFAULT_RULES).set)
  const intervals = 400
  const data = Array.from({ length: intervals }, (_, i) => interval(1_700_000_000_000 + i * 5000, i))
  const messages = intervals * data[0]!.length
  const run = (evaluate: boolean) => {
    const t = performance.now()
    let samples = 0
    for (const batch of data) {
      for (const m of batch) {
        const r = parseReading(m.kind, JSON.parse(m.payload.toString('utf8')))
        if (!r.ok) throw new Error(`a generated ${m.kind} reading is invalid: ${r.issues[0]?.message}`)
        const doc = r.reading.doc
        const s = readingSamples(r.reading, m.entity)
        samples += s.length
        if (evaluate) engine.onReading('pi', m.kind, m.entity, doc.ts, doc.ts, s, 5000)
      }
      if (evaluate) engine.tick()
    }
    return { ms: performance.now() - t, samples }
  }
  run(true) // warm-up
  const base: number[] = []
  const full: number[] = []
  let samples = 0
  for (let k = 0; k < 5; k++) {
    base.push(run(false).ms)
    const r = run(true)
    full.push(r.ms)
    samples = r.samples
  }
  const b = percentile(base, 50)
  const f = percentile(full, 50)
  line('messages, samples per run', `${messages}, ${samples}`)
  line('parse + validate + samples (baseline)', `${fmt((b * 1000) / messages, 1)} µs/message`)
  line('... + rule evaluation (the alerter)', `${fmt((f * 1000) / messages, 1)} µs/message`)
  line(
    'evaluation added / baseline',
    `${fmt((f - b) / b, 3)}×  (${fmt(((f - b) * 1000) / messages, 2)} µs/message)`,
  )
  const perInterval = (f / intervals) * 1000
  line(
    'alerter CPU for one 5 s interval of this homelab',
    `${fmt(perInterval / 1000, 2)} ms (${fmt(perInterval / 50_000, 3)} % of a core)`,
  )

  header('Alerter: reading on the broker → alert event on the broker (loopback, a threshold with for = 0)')
  const b2 = await startTestBroker(join(dir, 'alerts'))
  const rulesFile = join(dir, 'alerts', 'rules.json')
  const { writeFileSync } = await import('node:fs')
  writeFileSync(
    rulesFile,
    JSON.stringify({
      rules: [{ id: 'hot', type: 'threshold', metric: 'cpu.usage', op: '>', value: 90 }],
    }),
  )
  const alerter = startAlerter(join(dir, 'alerts'), b2.url, b2.credentials.alerter, { rulesFile })
  await alerter.conn.whenConnected()
  const topics = createTopics('homelab')
  const pub = await connectClient(b2.url, 'sys-collector', b2.credentials['sys-collector'])
  const sub = await connectClient(b2.url, 'homeassistant', 'ha-password-123')
  let resolveNext: ((e: Event) => void) | null = null
  sub.on('message', (_t, p) => resolveNext?.(JSON.parse(p.toString()) as Event))
  await sub.subscribeAsync('homelab/+/alerter/event/+', { qos: 1 })
  await new Promise((r) => setTimeout(r, 300))
  const lat: number[] = []
  for (let i = 0; i < 200; i++) {
    const value = i % 2 === 0 ? 99 : 10
    const r = syntheticReading(Date.now(), 0, 'bench')
    r.cpu.usage = value
    const got = new Promise<Event>((res) => {
      resolveNext = res
    })
    const t = performance.now()
    pub.publish(topics.reading('bench', 'sys-collector', 'system'), JSON.stringify(r), { qos: 1 })
    await got
    lat.push(performance.now() - t)
  }
  line(
    '200 state changes (firing, resolved, …)',
    `p50 ${fmt(percentile(lat, 50))} ms, p99 ${fmt(percentile(lat, 99))} ms`,
  )
  await pub.endAsync()
  await sub.endAsync()
  await alerter.stop()
  await b2.broker.stop()
}
