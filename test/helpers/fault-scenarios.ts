import { type FaultStack, type PublisherConfig, tally } from './fault-stack.js'
import { outputDrained } from './process.js'
import { waitFor } from './stack.js'

export type Tally = ReturnType<typeof tally> & { kills: number; integrity: string }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const between = (lo: number, hi: number) => lo + Math.random() * (hi - lo)

/**
 * Waits until the recorder has stored everything that was published, or until its count has not moved for
 * `quietMs` (something was lost), then counts.
 */
async function settle(
  stack: FaultStack,
  cfg: PublisherConfig,
  published: { published: number; events: number },
  quietMs = 8000,
  timeoutMs = 120_000,
): Promise<ReturnType<typeof tally>> {
  const kind = cfg.kind ?? 'system'
  const entities = cfg.entities ?? 1
  const first = kind === 'system' ? 1000 : 0
  const expected = published.published * entities
  let last = -1
  let since = Date.now()
  const start = Date.now()
  for (;;) {
    const s = stack.stored(kind, entities)
    const n = s ? s.values.reduce((a, v) => a + v.length, 0) : 0
    const events = s?.events.length ?? 0
    if (s && n >= expected && events >= published.events)
      return tally(s, { steps: published.published, events: published.events, first })
    if (n !== last) {
      last = n
      since = Date.now()
    }
    if (Date.now() - since > quietMs || Date.now() - start > timeoutMs)
      return tally(s ?? { values: [], events: [] }, {
        steps: published.published,
        events: published.events,
        first,
      })
    await sleep(250)
  }
}

/** The recorder is SIGKILLed `kills` times while a collector publishes; it comes back after a short time each time. */
export async function recorderKills(
  stack: FaultStack,
  o: { kills: number; count: number; rate: number; kind?: 'system' | 'container'; entities?: number },
): Promise<Tally> {
  await stack.startBroker()
  await stack.startRecorder()
  const cfg: PublisherConfig = {
    count: o.count,
    rate: o.rate,
    eventEvery: 10,
    kind: o.kind ?? 'system',
    entities: o.entities ?? 1,
  }
  const pub = stack.publish(cfg)
  let finished = false
  const done = pub.done.finally(() => {
    finished = true
  })
  let kills = 0
  while (!finished && kills < o.kills) {
    await sleep(between(300, 1000))
    if (finished) break
    await stack.stop(stack.recorder, 'SIGKILL')
    kills++
    await sleep(between(200, 800))
    await stack.startRecorder(false)
  }
  const published = await done
  await stack.waitOnline('recorder', 60_000, stack.recorder)
  const t = await settle(stack, cfg, published)
  await stack.stop(stack.recorder, 'SIGTERM')
  return { ...t, kills, integrity: stack.integrity() }
}

/** The broker is killed (or stopped) `kills` times under load and started again on the same port. */
export async function brokerKills(
  stack: FaultStack,
  o: { kills: number; count: number; rate: number; signal: NodeJS.Signals },
): Promise<Tally> {
  await stack.startBroker()
  await stack.startRecorder()
  const cfg: PublisherConfig = { count: o.count, rate: o.rate, eventEvery: 10 }
  const pub = stack.publish(cfg)
  let finished = false
  const done = pub.done.finally(() => {
    finished = true
  })
  let kills = 0
  while (!finished && kills < o.kills) {
    await sleep(between(800, 1600))
    if (finished) break
    await stack.stop(stack.broker, o.signal)
    kills++
    await sleep(between(100, 500))
    await stack.startBroker()
  }
  const published = await done
  await stack.waitOnline('recorder', 60_000, stack.recorder)
  // After the last restart, its backoff may hold it back for up to ~40 s.
  await stack.waitConnected('recorder')
  const t = await settle(stack, cfg, published)
  await stack.stop(stack.recorder, 'SIGTERM')
  return { ...t, kills, integrity: stack.integrity() }
}

/**
 * An upgrade: the recorder is stopped for `downMs` while a docker-collector keeps publishing `entities` retained
 * topics, then started again.
 */
export async function recorderOutage(
  stack: FaultStack,
  o: { downMs: number; entities: number; rate: number },
): Promise<Tally> {
  await stack.startBroker()
  await stack.startRecorder()
  const count = Math.ceil(((o.downMs + 6000) / 1000) * o.rate)
  const cfg: PublisherConfig = { kind: 'container', entities: o.entities, count, rate: o.rate, eventEvery: 5 }
  const pub = stack.publish(cfg)
  await waitFor(() => pub.published() >= o.rate * 2, 30_000, 'the publisher to start')
  await stack.stop(stack.recorder, 'SIGTERM')
  await sleep(o.downMs)
  await stack.startRecorder()
  const published = await pub.done
  const t = await settle(stack, cfg, published)
  await stack.stop(stack.recorder, 'SIGTERM')
  return { ...t, kills: 1, integrity: stack.integrity() }
}

/**
 * npm start (every service in one process) stopped with SIGTERM `stops` times while an enrolled agent machine
 * publishes into its embedded broker, and started again.
 */
export async function allInOneStops(
  stack: FaultStack,
  o: { stops: number; count: number; rate: number; agent: string; username: string; password: string },
): Promise<Tally> {
  const env = { HOMELAB_DOCKER_INTERVAL_MS: '60000', OLLAMA_HOST: 'http://127.0.0.1:9' }
  await stack.startAllInOne(env)
  const cfg: PublisherConfig = {
    count: o.count,
    rate: o.rate,
    eventEvery: 10,
    host: o.agent,
    username: o.username,
    password: o.password,
  }
  const pub = stack.publish(cfg)
  let finished = false
  const done = pub.done.finally(() => {
    finished = true
  })
  let stops = 0
  while (!finished && stops < o.stops) {
    await sleep(between(2000, 3000))
    if (finished) break
    const code = await stack.stop(stack.broker, 'SIGTERM')
    if (code !== 0) {
      // An abort or fatal error prints its reason last: read all of it before reporting.
      if (stack.broker) await outputDrained(stack.broker)
      throw new Error(
        `npm start exited with ${code ?? `signal ${stack.broker?.signalCode}`} at SIGTERM: ${stack.broker?.output().slice(-2000)}`,
      )
    }
    stops++
    await stack.startAllInOne(env)
  }
  const published = await done
  const t = await settleHost(stack, published, o.agent)
  await stack.stop(stack.broker, 'SIGTERM')
  return { ...t, kills: stops, integrity: stack.integrity() }
}

async function settleHost(
  stack: FaultStack,
  published: { published: number; events: number },
  host: string,
): Promise<ReturnType<typeof tally>> {
  const start = Date.now()
  let last = -1
  let since = Date.now()
  for (;;) {
    const s = stack.stored('system', 1, host)
    const n = s?.values[0]?.length ?? 0
    if (s && n >= published.published && s.events.length >= published.events)
      return tally(s, { steps: published.published, events: published.events, first: 1000 })
    if (n !== last) {
      last = n
      since = Date.now()
    }
    if (Date.now() - since > 8000 || Date.now() - start > 120_000)
      return tally(s ?? { values: [[]], events: [] }, {
        steps: published.published,
        events: published.events,
        first: 1000,
      })
    await sleep(250)
  }
}
