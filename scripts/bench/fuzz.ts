import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createTopics } from '@homelab/contracts'
import mqtt from 'mqtt'
import { FaultStack, type Proc } from '../../test/helpers/fault-stack.js'
import { syntheticContainerReading, syntheticReading } from '../../test/helpers/readings.js'
import { fmt, header, line, rssMb } from './util.js'

const topics = createTopics('homelab')

/** A random message a hostile or broken collector could send with its own credentials. */
function fuzzed(i: number, host: string, rnd: () => number): [string, string | Buffer, boolean] {
  const ts = Date.now() - Math.floor(rnd() * 86_400_000)
  const name = `fz-${Math.floor(rnd() * 1e9).toString(36)}`
  switch (i % 8) {
    case 0:
      return [
        topics.reading(host, 'docker-collector', 'container', name),
        JSON.stringify(syntheticContainerReading(ts, i, name, host)),
        true,
      ]
    case 1:
      return [topics.reading(host, 'docker-collector', 'container', name), '{not json', true]
    case 2:
      return [
        topics.event(host, 'docker-collector', `fuzz.${name.replace(/-/g, '_')}`),
        JSON.stringify({
          v: 1,
          ts,
          host,
          source: 'docker-collector',
          id: `${name}-${i}`,
          type: `fuzz.e${i % 50}`,
          severity: 'info',
          subject: name,
          message: 'x'.repeat(Math.floor(rnd() * 2000)),
          data: { n: i },
        }),
        false,
      ]
    case 3:
      return [topics.reading(host, 'docker-collector', `kind${i % 100}`, name), '{}', true]
    case 4:
      return [
        topics.reading(host, 'docker-collector', 'container', name),
        Buffer.alloc(Math.floor(rnd() * 300_000), 0x7b),
        false,
      ]
    case 5:
      return [topics.reading(`other-${i}`, 'docker-collector', 'container', name), '{}', true]
    case 6:
      return [
        topics.event(host, 'docker-collector', 'container.die'),
        JSON.stringify({ v: 1, ts, host: 'someone-else', source: 'docker-collector' }),
        false,
      ]
    default:
      return [
        topics.reading(host, 'docker-collector', 'container', name),
        JSON.stringify({ ...syntheticReading(ts, i, host), v: 2 }),
        true,
      ]
  }
}

/**
 * Repeated fuzz (`FUZZ_ROUNDS` rounds of `FUZZ_MESSAGES` messages from a collector's own credentials: valid documents
 * for ever-new entities, bad JSON, unknown kinds, oversized payloads, other hosts, mismatched envelopes) against the
 * broker, recorder, gateway and alerter in their own processes, and the RSS of each after every round. Memory must
 * level off: the per-credential limits (retained topics, series) and the bounded caches stop what each round adds.
 */
export async function benchFuzz(dir: string): Promise<void> {
  const rounds = Number(process.env.FUZZ_ROUNDS ?? 3)
  const perRound = Number(process.env.FUZZ_MESSAGES ?? 10_000)
  header(`fuzz: ${rounds} rounds of ${perRound.toLocaleString('en')} messages from a collector's credentials`)
  const d = mkdtempSync(join(dir, 'fuzz-'))
  const s = new FaultStack(d, 'fuzzhost', {
    HOMELAB_MQTT_MAX_RETAINED_PER_USER: '2000',
    HOMELAB_MAX_SERIES_PER_HOST: '2000',
  })
  try {
    await s.startBroker()
    await s.startRecorder()
    await s.startAlerter()
    await s.startGateway('admin-token-for-the-fuzz-bench-0000')
    const procs: Array<[string, Proc | null]> = [
      ['broker', s.broker],
      ['recorder', s.recorder],
      ['alerter', s.alerter],
      ['gateway', s.gateway],
    ]
    const rss = () => procs.map(([n, p]) => `${n} ${fmt(rssMb(p!.pid!).rss, 0)}`).join(', ')
    await new Promise((r) => setTimeout(r, 3000))
    line('RSS MB before', rss())
    const users = s.users()
    let seed = 7
    const rnd = () => {
      seed = (seed * 1664525 + 1013904223) >>> 0
      return seed / 2 ** 32
    }
    for (let round = 1; round <= rounds; round++) {
      const c = mqtt.connect(s.url, {
        protocolVersion: 5,
        username: 'docker-collector',
        password: users['docker-collector'],
        clientId: `docker-collector-fuzzhost.r${round}`,
        reconnectPeriod: 500,
      })
      await new Promise<void>((r) => c.once('connect', () => r()))
      let inflight = 0
      for (let i = 0; i < perRound; i++) {
        const [t, p, retain] = fuzzed(i + round * perRound, 'fuzzhost', rnd)
        while (inflight > 200) await new Promise((r) => setTimeout(r, 2))
        inflight++
        c.publish(t, p, { qos: 1, retain }, () => inflight--)
      }
      while (inflight > 0) await new Promise((r) => setTimeout(r, 20))
      c.end(true)
      await new Promise((r) => setTimeout(r, 5000))
      line(`RSS MB after round ${round}`, rss())
    }
    for (const [n, p] of procs) if (p!.exitCode !== null) line(`${n} exited`, String(p!.exitCode))
  } finally {
    await s.close()
    rmSync(d, { recursive: true, force: true })
  }
}
