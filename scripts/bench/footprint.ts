import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cpuSeconds, fmt, freePort, header, line, rssMb } from './util.js'

const ROOT = join(import.meta.dirname, '..', '..')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function start(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  p.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)))
  p.on(
    'exit',
    (code) => code && code !== 0 && process.stderr.write(`${cmd} ${args.join(' ')} exited ${code}: ${err}\n`),
  )
  return p
}

async function waitPort(url: string, timeoutMs = 30_000) {
  const t = Date.now()
  while (Date.now() - t < timeoutMs) {
    try {
      await fetch(url)
      return
    } catch {
      await sleep(200)
    }
  }
  throw new Error(`${url} did not answer`)
}

/**
 * The V8 flags the product ships with, read from `npm start` (the Dockerfile's ENTRYPOINT carries the same), so the
 * bench measures what runs. FOOTPRINT_FLAGS overrides them (e.g. FOOTPRINT_FLAGS= for Node's defaults).
 */
export function shippedFlags(): string[] {
  if (process.env.FOOTPRINT_FLAGS !== undefined)
    return process.env.FOOTPRINT_FLAGS.split(/\s+/).filter(Boolean)
  const start = (
    JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts.start
  return (
    /^node((?:\s+--\S+)*)\s/
      .exec(start ?? '')?.[1]
      ?.trim()
      .split(/\s+/)
      .filter(Boolean) ?? []
  )
}

/** Anonymous memory (the heap and everything else that is not a mapped file) in MB, from smaps_rollup. */
function anonMb(pid: number): number {
  const s = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  return Number(/^Anonymous:\s+(\d+)/m.exec(s)?.[1] ?? 0) / 1024
}

const nodeExporterBin = ['/usr/bin/prometheus-node-exporter', '/usr/sbin/prometheus-node-exporter'].find(
  (p) => existsSync(p),
)

/**
 * All services in one process at default settings (5 s sampling, no dashboard open), side by side in the same
 * window with Prometheus node_exporter scraped every 5 s; then each service alone in its own process.
 */
export async function benchFootprint(dir: string, seconds: number) {
  const flags = shippedFlags()
  header(
    `Footprint over ${seconds} s at default settings (5 s sampling, no dashboard open) after a ${process.env.FOOTPRINT_WARMUP_S ?? 10} s warm-up, node ${flags.join(' ') || '(no flags)'}`,
  )
  const procs: ChildProcess[] = []
  try {
    // Node's floor: an idle process that loads nothing.
    const bare = start(process.execPath, [...flags, '-e', 'setInterval(() => {}, 1000)'])
    procs.push(bare)
    const httpPort = await freePort()
    const aio = start(process.execPath, [...flags, join(ROOT, 'services/all-in-one/dist/main.js')], {
      HOMELAB_DATA_DIR: join(dir, 'aio'),
      HOMELAB_PORT: String(httpPort),
      HOMELAB_MQTT_PORT: String(await freePort()),
    })
    procs.push(aio)

    // Each service alone, in its own process, as in its own container (FOOTPRINT_SPLIT=0: the all-in-one only, so
    // that nothing else of the monitor runs in the window).
    const alone: Array<[string, ChildProcess]> = []
    if (process.env.FOOTPRINT_SPLIT !== '0') {
      const dataDir = join(dir, 'split')
      const mqttPort = await freePort()
      const common = { HOMELAB_DATA_DIR: dataDir, HOMELAB_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}` }
      const broker = start(process.execPath, [...flags, join(ROOT, 'services/broker/dist/main.js')], {
        ...common,
        HOMELAB_MQTT_PORT: String(mqttPort),
      })
      procs.push(broker)
      alone.push(['broker', broker])
      const usersFile = join(dataDir, 'secrets', 'mqtt-users.json')
      for (let i = 0; i < 100 && !existsSync(usersFile); i++) await sleep(100)
      await sleep(500)
      const users = JSON.parse(readFileSync(usersFile, 'utf8')).users as Record<string, string>
      for (const s of ['recorder', 'gateway', 'sys-collector', 'docker-collector', 'alerter']) {
        const p = start(process.execPath, [...flags, join(ROOT, `services/${s}/dist/main.js`)], {
          ...common,
          HOMELAB_MQTT_PASSWORD: users[s]!,
          HOMELAB_PORT: String(await freePort()),
        })
        procs.push(p)
        alone.push([s, p])
      }
    }

    let ne: ChildProcess | null = null
    let nePort = 0
    if (nodeExporterBin) {
      nePort = await freePort()
      ne = start(nodeExporterBin, [`--web.listen-address=127.0.0.1:${nePort}`])
      procs.push(ne)
      await waitPort(`http://127.0.0.1:${nePort}/metrics`)
    }
    await waitPort(`http://127.0.0.1:${httpPort}/healthz`)
    // Warm-up: first samples, caches, and the start's JIT compiling. V8 still optimises about once a second minutes
    // after the start, so a 10 s warm-up (the default) also measures some of that; FOOTPRINT_WARMUP_S=240 measures
    // the steady state a long-running monitor settles in.
    const warmup = Number(process.env.FOOTPRINT_WARMUP_S ?? 10)
    if (!Number.isFinite(warmup) || warmup < 0)
      throw new Error('FOOTPRINT_WARMUP_S must be a number of seconds')
    await sleep(warmup * 1000)

    const snap = () => procs.map((p) => cpuSeconds(p.pid!))
    const c0 = snap()
    const t0 = performance.now()
    let scrapes = 0
    const scraper = ne
      ? setInterval(() => {
          fetch(`http://127.0.0.1:${nePort}/metrics`)
            .then((r) => r.text())
            .then(
              () => scrapes++,
              () => undefined,
            )
        }, 5000)
      : null
    await sleep(seconds * 1000)
    if (scraper) clearInterval(scraper)
    const elapsed = (performance.now() - t0) / 1000
    const c1 = snap()
    const pct = (p: ChildProcess) => {
      const i = procs.indexOf(p)
      return (100 * (c1[i]! - c0[i]!)) / elapsed
    }
    const aioPct = pct(aio)
    const aioMem = rssMb(aio.pid!)
    const bareMem = rssMb(bare.pid!)
    line('baseline: bare node, RSS / anonymous', `${fmt(bareMem.rss, 1)} / ${fmt(anonMb(bare.pid!), 1)} MB`)
    line('all-in-one: CPU % of one core', fmt(aioPct, 3))
    line(
      'all-in-one: RSS now / peak / anonymous (budget peak ≤ 100 MB)',
      `${fmt(aioMem.rss, 1)} / ${fmt(aioMem.peak, 1)} / ${fmt(anonMb(aio.pid!), 1)} MB`,
    )
    if (ne) {
      const nePct = pct(ne)
      line(`baseline: node_exporter (scraped every 5 s, ${scrapes} scrapes): CPU %`, fmt(nePct, 3))
      line('node_exporter: RSS', `${fmt(rssMb(ne.pid!).rss, 1)} MB`)
      line('ratio all-in-one / node_exporter CPU (budget ≤ 1.0)', fmt(aioPct / nePct, 2))
    } else {
      line('node_exporter', 'not installed (apt-get install prometheus-node-exporter): no ratio')
    }
    let sum = 0
    for (const [name, p] of alone) {
      const m = rssMb(p.pid!)
      sum += m.rss
      line(
        `${name} alone: CPU % / RSS now / peak / anon (budget ≤ 55 MB)`,
        `${fmt(pct(p), 3)} % / ${fmt(m.rss, 1)} / ${fmt(m.peak, 1)} / ${fmt(anonMb(p.pid!), 1)} MB = ${fmt(m.rss / bareMem.rss, 2)}× bare`,
      )
    }
    if (alone.length === 0) return
    line(
      'services alone: RSS, mean',
      `${fmt(sum / alone.length, 1)} MB = ${fmt(sum / alone.length / bareMem.rss, 2)}× bare`,
    )
  } finally {
    for (const p of procs) p.kill('SIGTERM')
    await sleep(1000)
  }
}
