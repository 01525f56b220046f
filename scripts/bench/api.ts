import { execFileSync, spawn } from 'node:child_process'
import { join } from 'node:path'
import { enrolHost, ensureCredentials, readUsers } from '@homelab/broker'
import { SystemReading, systemSamples } from '@homelab/contracts'
import { databasePath } from '@homelab/recorder'
import { openWriter } from '@homelab/storage'
import mqtt from 'mqtt'
import { Store } from '../../services/recorder/src/store.js'
import { syntheticReading } from '../../test/helpers/readings.js'
import { noisyReading, rng } from './noisy-reading.js'
import { fmt, freePort, header, line, percentile } from './util.js'

const ROOT = join(import.meta.dirname, '..', '..')
const TOKEN = 'bench-admin-token-0123456789abcdef'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const HOST_24H = 'bench-24h'

/** A host with 24 h of system readings every 5 s (17,280 readings), written as the recorder writes them. */
function seed24h(dir: string): number {
  const db = openWriter(databasePath(dir))
  const store = new Store(db, {})
  const r = rng(7)
  const state = { mem: 2e9, rx: 0 }
  const end = Date.now()
  let samples = 0
  const insert = db.transaction((from: number, to: number) => {
    for (let ts = from; ts < to; ts += 5000) {
      const s = systemSamples(noisyReading(HOST_24H, ts, state, r))
      samples += store.addSamples(HOST_24H, ts, s).stored
    }
  })
  for (let t = end - 86_400_000; t < end; t += 3_600_000) insert(t, Math.min(end, t + 3_600_000))
  db.transaction(() => store.sealAll())()
  db.close()
  return samples
}

function load(base: string, rate: number, seconds: number, paths: string[]) {
  const out = execFileSync(
    process.execPath,
    [join(import.meta.dirname, 'http-load.mjs'), base, TOKEN, String(rate), String(seconds), ...paths],
    { encoding: 'utf8' },
  )
  return JSON.parse(out) as { requests: number; errors: number; p50: number; p99: number; max: number }
}

export async function benchApi(dir: string) {
  header('Gateway: live path latency and REST latency under load (all-in-one, 1 s sampling)')
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--if-stale'], { stdio: 'inherit' })
  const seeded = seed24h(dir)
  ensureCredentials(dir)
  const live = readUsers(enrolHost(dir, 'bench-live').path)
  const mqttPort = await freePort()
  const httpPort = await freePort()
  const proc = spawn(process.execPath, [join(ROOT, 'services/all-in-one/dist/main.js')], {
    env: {
      ...process.env,
      HOMELAB_DATA_DIR: dir,
      HOMELAB_PORT: String(httpPort),
      HOMELAB_MQTT_PORT: String(mqttPort),
      HOMELAB_ADMIN_TOKEN: TOKEN,
      HOMELAB_SYS_INTERVAL_MS: '1000',
    },
    stdio: 'ignore',
  })
  const base = `http://127.0.0.1:${httpPort}`
  try {
    let ready = false
    for (let i = 0; i < 200 && !ready; i++) {
      ready = await fetch(`${base}/api/metrics/system`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      }).then(
        (r) => r.status === 200,
        () => false,
      )
      if (!ready) await sleep(100)
    }
    if (!ready) throw new Error('the all-in-one did not serve metrics within 20 s')

    // Live path: a reading published by a collector user → the SSE client sees it.
    // An enrolled machine of its own: a collector's user may publish only for its host, under its client id.
    const pub = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, {
      protocolVersion: 5,
      clientId: 'sys-collector-bench-live',
      username: 'sys-collector@bench-live',
      password: live['sys-collector@bench-live'],
    })
    await new Promise<void>((r) => pub.once('connect', () => r()))
    const sent = new Map<number, number>()
    const lat: number[] = []
    const ac = new AbortController()
    const res = await fetch(`${base}/api/live?host=bench-live`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: ac.signal,
    })
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let buf = ''
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
        if (done) return
        buf += decoder.decode(value, { stream: true })
        let i = buf.indexOf('\n\n')
        while (i >= 0) {
          const frame = buf.slice(0, i)
          buf = buf.slice(i + 2)
          const data = frame.split('\n').find((l) => l.startsWith('data: '))
          if (data) {
            const m = JSON.parse(data.slice(6)) as { channel: string; payload: { ts: number } }
            const t0 = m.channel === 'reading' ? sent.get(m.payload.ts) : undefined
            if (t0 !== undefined) lat.push(performance.now() - t0)
          }
          i = buf.indexOf('\n\n')
        }
      }
    })()
    const n = 300
    for (let k = 0; k < n; k++) {
      const r = SystemReading.parse(syntheticReading(Date.now() + k, k, 'bench-live'))
      sent.set(r.ts, performance.now())
      pub.publish('homelab/bench-live/sys-collector/reading/system', JSON.stringify(r), { qos: 1 })
      await sleep(20)
    }
    await sleep(500)
    ac.abort()
    await reading
    pub.end(true)
    line(
      `live path: publish → SSE client, ${lat.length}/${n} readings (budget p99 < 100 ms)`,
      `p50 ${fmt(percentile(lat, 50))} ms, p99 ${fmt(percentile(lat, 99))} ms`,
    )

    // REST under load, from another process.
    const r = load(base, 200, 15, [
      '/api/metrics/system',
      `/api/history?series=cpu.usage&from=${Date.now() - 3_600_000}`,
      '/api/hosts',
    ])
    line(
      `REST reads at 200 req/s for 15 s (${r.requests} requests, ${r.errors} errors) (budget p99 < 25 ms)`,
      `p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, max ${fmt(r.max)} ms`,
    )
    const latest = load(base, 200, 15, ['/api/metrics/system'])
    line(
      `/api/metrics/system at 200 req/s (${latest.errors} errors) (budget p99 < 25 ms)`,
      `p50 ${fmt(latest.p50)} ms, p99 ${fmt(latest.p99)} ms, max ${fmt(latest.max)} ms`,
    )
    const day = load(base, 200, 15, [`/api/metrics/system/history?host=${HOST_24H}&hours=24`])
    line(
      `24 h system history (${seeded.toLocaleString('en')} samples of 5 s data) at 200 req/s (${day.errors} errors) (budget p99 < 25 ms)`,
      `p50 ${fmt(day.p50)} ms, p99 ${fmt(day.p99)} ms, max ${fmt(day.max)} ms`,
    )
    // The machine's other core busy (a build, a transcode): a busy loop in a process of its own.
    const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })
    try {
      await sleep(500)
      const both = load(base, 200, 15, [
        '/api/metrics/system',
        `/api/metrics/system/history?host=${HOST_24H}&hours=24`,
      ])
      line(
        `both at 200 req/s with the other core busy (${both.errors} errors) (budget p99 < 500 ms)`,
        `p50 ${fmt(both.p50)} ms, p99 ${fmt(both.p99)} ms, max ${fmt(both.max)} ms`,
      )
    } finally {
      busy.kill('SIGKILL')
    }
  } finally {
    proc.kill('SIGTERM')
    await sleep(500)
  }
}
