import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { enrolHost, ensureCredentials, readUsers, startBroker } from '@homelab/broker'
import { createTopics } from '@homelab/contracts'
import { databasePath, Recorder, RecorderConfig } from '@homelab/recorder'
import { Counters, createLogger } from '@homelab/service-kit'
import { fmt, header, line } from './util.js'

const quiet = createLogger('bench', () => undefined)

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

  // The collectors publish from a process of their own, as on real machines (in this one they took the recorder's
  // thread); it builds its payloads first and starts when it says it is ready.
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      join(import.meta.dirname, 'ingest-publisher.ts'),
      url,
      String(targetSamples),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  child.stdin.end(JSON.stringify(credentials))
  const lines = createInterface({ input: child.stdout })
  let start = 0
  let messages = 0
  let samples = 0
  const acknowledged = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`publisher exited ${code}`))))
    lines.on('line', (l) => {
      const m = JSON.parse(l) as { ready?: boolean; messages?: number; samples?: number }
      if (m.ready) {
        start = performance.now()
        messages = m.messages!
        samples = m.samples!
      }
    })
  })
  await acknowledged
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
  line('messages', `${messages.toLocaleString('en')} (${Math.round(samples / messages)} samples each)`)
  line('samples stored (committed, acknowledged)', counters.get('samples.stored').toLocaleString('en'))
  line('time', `${fmt(secs)} s`)
  line(
    'recorder transactions (batches) for them',
    `${counters.get('batches').toLocaleString('en')} (${fmt(messages / Math.max(1, counters.get('batches')), 1)} messages each)`,
  )
  line(
    'ingest rate (budget ≥ 100,000 samples/s)',
    `${Math.round(samples / secs).toLocaleString('en')} samples/s`,
  )
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
