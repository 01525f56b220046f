import { join } from 'node:path'
import { startBroker } from '@homelab/broker/broker'
import { enrolHost, ensureCredentials, readUsers } from '@homelab/broker/credentials'
import { createTopics, type SystemReading, systemSamples } from '@homelab/contracts'
import { RecorderConfig } from '@homelab/recorder/config'
import { databasePath, Recorder } from '@homelab/recorder/recorder'
import { Counters, createLogger } from '@homelab/service-kit'
import mqtt from 'mqtt'
import { fmt, header, line } from './util.js'

const quiet = createLogger('bench', () => undefined)

/** A reading with realistic noise: CPU jumps around (worst case for compression), memory and counters drift. */
export function noisyReading(
  host: string,
  ts: number,
  state: { mem: number; rx: number },
  rnd: () => number,
): SystemReading {
  state.mem += Math.round((rnd() - 0.5) * 64) * 4096
  state.rx += Math.round(rnd() * 200_000)
  const pct = () => Math.round(rnd() * 1000) / 10
  return {
    v: 1,
    ts,
    host,
    source: 'sys-collector',
    intervalMs: 1000,
    cpu: {
      usage: pct(),
      user: pct(),
      system: pct(),
      iowait: Math.round(rnd() * 20) / 10,
      cores: [pct(), pct(), pct(), pct()],
    },
    load: [Math.round(rnd() * 400) / 100, 1.5, 1.2],
    memory: {
      total: 8_000_000_000,
      used: state.mem,
      available: 8_000_000_000 - state.mem,
      percent: Math.round((1000 * state.mem) / 8e9) / 10,
      swapTotal: 0,
      swapUsed: 0,
    },
    cpuTemperature: Math.round((45 + rnd() * 10) * 10) / 10,
    filesystems: [
      {
        mount: '/',
        device: '/dev/mmcblk0p2',
        fsType: 'ext4',
        total: 64e9,
        used: 20e9,
        available: 44e9,
        percent: 31.3,
      },
    ],
    disks: [
      {
        name: 'mmcblk0',
        readBytesPerSec: Math.round(rnd() * 1e5),
        writeBytesPerSec: Math.round(rnd() * 3e5),
        readOpsPerSec: Math.round(rnd() * 20),
        writeOpsPerSec: Math.round(rnd() * 40),
      },
    ],
    network: [
      {
        iface: 'eth0',
        rxBytesPerSec: Math.round(rnd() * 2e5),
        txBytesPerSec: Math.round(rnd() * 5e4),
        rxBytes: state.rx,
        txBytes: Math.round(state.rx / 2),
      },
    ],
    uptimeSec: Math.floor(ts / 1000) % 1e7,
  }
}

export function rng(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

export async function benchIngest(dir: string, targetSamples = 1_000_000) {
  header(`Recorder ingest: MQTT (QoS 1) → committed SQLite, ${targetSamples.toLocaleString('en')} samples`)
  const credentials = ensureCredentials(dir)
  // 10 machines, each with its own collector credentials (a user is bound to its host).
  const hostIds = Array.from({ length: 10 }, (_, i) => `pi-${i}`)
  for (const h of hostIds) Object.assign(credentials, readUsers(enrolHost(dir, h).path))
  const broker = await startBroker({
    host: 'bench',
    port: 0,
    bind: '127.0.0.1',
    persistenceDir: join(dir, 'broker'),
    credentials,
    baseTopic: 'homelab',
    log: quiet,
    counters: new Counters(),
  })
  const url = `mqtt://127.0.0.1:${broker.port}`
  const counters = new Counters()
  const recorder = new Recorder({
    config: RecorderConfig.parse({ HOMELAB_DATA_DIR: dir, HOMELAB_MQTT_URL: url }),
    topics: createTopics('homelab'),
    host: 'bench',
    username: 'recorder',
    password: credentials.recorder,
    log: quiet,
    counters,
  })
  recorder.start()
  await recorder.conn.whenConnected()

  // Pre-build the payloads so the publisher's own work is not measured: 10 hosts, 1 s apart.
  const rnd = rng(42)
  const hosts = hostIds.map((host) => ({ host, state: { mem: 2e9, rx: 0 } }))
  const messages: Array<[number, string, string]> = []
  let samples = 0
  const t0 = Date.UTC(2026, 0, 1)
  for (let k = 0; samples < targetSamples; k++) {
    hosts.forEach((h, i) => {
      const r = noisyReading(h.host, t0 + k * 1000, h.state, rnd)
      samples += systemSamples(r).length
      messages.push([i, `homelab/${h.host}/sys-collector/reading/system`, JSON.stringify(r)])
    })
  }
  const pubs = await Promise.all(
    hostIds.map(async (h) => {
      const c = mqtt.connect(url, {
        protocolVersion: 5,
        clientId: `sys-collector-${h}`,
        username: `sys-collector@${h}`,
        password: credentials[`sys-collector@${h}`],
      })
      await new Promise<void>((r) => c.once('connect', () => r()))
      return c
    }),
  )
  const start = performance.now()
  let inflight = 0
  let next = 0
  await new Promise<void>((done) => {
    const pump = () => {
      while (inflight < 200 && next < messages.length) {
        const [i, t, p] = messages[next++]!
        inflight++
        pubs[i]!.publish(t, p, { qos: 1 }, () => {
          inflight--
          pump()
        })
      }
      if (next >= messages.length && inflight === 0) done()
    }
    pump()
  })
  let last = -1
  let lastChange = performance.now()
  while (counters.get('samples.stored') < samples) {
    await new Promise((r) => setTimeout(r, 20))
    const now = counters.get('samples.stored')
    if (now !== last) {
      last = now
      lastChange = performance.now()
    }
    if (performance.now() - lastChange > 10_000)
      throw new Error(`ingest stalled: ${JSON.stringify(counters.snapshot())}`)
  }

  const secs = (performance.now() - start) / 1000
  line(
    'messages',
    `${messages.length.toLocaleString('en')} (${Math.round(samples / messages.length)} samples each)`,
  )
  line('samples stored (committed, acknowledged)', counters.get('samples.stored').toLocaleString('en'))
  line('time', `${fmt(secs)} s`)
  line(
    'recorder transactions (batches) for them',
    `${counters.get('batches').toLocaleString('en')} (${fmt(messages.length / Math.max(1, counters.get('batches')), 1)} messages each)`,
  )
  line(
    'ingest rate (budget ≥ 100,000 samples/s)',
    `${Math.round(samples / secs).toLocaleString('en')} samples/s`,
  )
  for (const pub of pubs) pub.end(true)
  await recorder.conn.stop()

  const db = recorder.db
  db.transaction(() => recorder.store.sealAll())()
  db.pragma('wal_checkpoint(TRUNCATE)')
  const chunkBytes = db.prepare('SELECT sum(length(data)) AS b, sum(count) AS n FROM raw_chunks').get() as {
    b: number
    n: number
  }
  let pages: Array<{ name: string; bytes: number }> = []
  try {
    pages = db
      .prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC')
      .all() as typeof pages
  } catch {
    // dbstat not compiled in
  }
  const raw = pages
    .filter((p) => p.name === 'raw_chunks' || p.name === 'raw_staging')
    .reduce((a, p) => a + p.bytes, 0)
  line('raw tier: encoded chunk bytes per sample (budget ≤ 4)', fmt(chunkBytes.b / chunkBytes.n))
  if (raw) line('raw tier: SQLite pages per sample (incl. b-tree overhead)', fmt(raw / samples))
  for (const p of pages.slice(0, 6)) line(`  pages of ${p.name}`, `${(p.bytes / 1e6).toFixed(2)} MB`)
  const { size } = await import('node:fs').then((fs) => fs.statSync(databasePath(dir)))
  line('whole database file per sample (raw + 1m + 1h rollups)', fmt(size / samples))
  db.close()
  await broker.stop()
  return { rate: samples / secs, bytesPerSample: chunkBytes.b / chunkBytes.n }
}
