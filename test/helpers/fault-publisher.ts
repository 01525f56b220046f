/**
 * A collector stand-in for the fault suite, in its own process: it publishes exactly as the real collectors do —
 * the product's MqttConnection, QoS 1, readings retained — so a fault test loses what a real collector would lose.
 * Readings carry a counter (the system reading's uptime, a container's pid count) and events an id, so the test
 * knows exactly what should be stored. Configured by FP_CONFIG (JSON); prints JSON lines: `{"published":n}` as it
 * goes and `{"done":true,…}` once everything was handed to the broker and acknowledged.
 */
import { ContainerReading, createTopics, Event, SystemReading } from '@homelab/contracts'
import { Counters, createLogger, MqttConnection } from '@homelab/service-kit'
import { z } from 'zod'
import { syntheticContainerReading, syntheticReading } from './readings.js'

const Config = z.object({
  url: z.string(),
  username: z.string(),
  password: z.string(),
  host: z.string(),
  /** system: one retained topic (the sys-collector's); container: `entities` retained topics (the docker-collector's). */
  kind: z.enum(['system', 'container']).default('system'),
  entities: z.number().int().min(1).default(1),
  /** Readings per entity. */
  count: z.number().int().min(1),
  /** Steps per second (each step publishes one reading per entity). */
  rate: z.number().min(1),
  startTs: z.number().int(),
  /** One event every this many steps (0: none). */
  eventEvery: z.number().int().min(0).default(0),
  clientId: z.string().optional(),
})

const c = Config.parse(JSON.parse(process.env.FP_CONFIG ?? '{}'))
const service = c.kind === 'system' ? 'sys-collector' : 'docker-collector'
const topics = createTopics('homelab')
const counters = new Counters()
const conn = new MqttConnection({
  url: c.url,
  username: c.username,
  password: c.password,
  clientId: c.clientId ?? `${service}-${c.host}`,
  host: c.host,
  service,
  topics,
  log: createLogger(`fault-publisher`, process.env.DEBUG ? undefined : () => undefined),
  counters,
  version: 'test',
})
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`)

conn.start()
let step = 0
let events = 0
const perTick = Math.max(1, Math.round(c.rate / 100))
const publishStep = () => {
  const ts = c.startTs + step * 1000
  if (c.kind === 'system') {
    conn.publishJson(
      topics.reading(c.host, service, 'system'),
      SystemReading,
      syntheticReading(ts, step, c.host),
      {
        retain: true,
      },
    )
  } else {
    for (let e = 0; e < c.entities; e++) {
      const name = `c${e}`
      conn.publishJson(
        topics.reading(c.host, service, 'container', name),
        ContainerReading,
        syntheticContainerReading(ts, step, name, c.host),
        { retain: true },
      )
    }
  }
  if (c.eventEvery > 0 && step % c.eventEvery === 0) {
    events++
    conn.publishJson(topics.event(c.host, service, 'test.marker'), Event, {
      v: 1,
      ts,
      host: c.host,
      source: service,
      id: `fault-marker-${step}`,
      type: 'test.marker',
      severity: 'info',
      subject: 'fault',
      message: `marker ${step}`,
      data: { step },
    })
  }
  step++
}

let reported = 0
const timer = setInterval(
  () => {
    for (let k = 0; k < perTick && step < c.count; k++) publishStep()
    if (Date.now() - reported >= 200) {
      reported = Date.now()
      out({ published: step })
    }
    if (step >= c.count) {
      clearInterval(timer)
      void finish()
    }
  },
  Math.max(1, Math.round((1000 * perTick) / c.rate)),
)

async function finish() {
  // Done once nothing is buffered or waiting for its PUBACK, for a second.
  let quiet = 0
  while (quiet < 10) {
    await new Promise((r) => setTimeout(r, 100))
    quiet = conn.connected && conn.pendingCount === 0 ? quiet + 1 : 0
  }
  out({ done: true, published: step, events, counters: counters.snapshot() })
  await conn.stop()
  process.exit(0)
}

process.on('SIGTERM', () => {
  void conn.stop().then(() => process.exit(0))
})
