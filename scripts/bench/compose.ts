import { type ChildProcess, spawn } from 'node:child_process'
import { chmodSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { sh } from '../../test/helpers/process.js'
import { ensureSystemdImage, startSystemd } from '../../test/helpers/systemd.js'
import { cpuSeconds, fmt, freePort, header, line } from './util.js'

const IMAGE = 'homelab-observability:bench'
const PROJECT = `hlbench${process.pid}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The container's cgroup (v1 cpuacct or v2 unified), found from its main process. */
function cgroupOf(pid: number): { cpuNs: () => number; procs: () => number[] } {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')
  const v1 = lines.find((l) => /:(?:[^:]*,)?cpuacct(?:,[^:]*)?:/.test(l))
  const readProcs = (dir: string) => () =>
    readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean).map(Number)
  if (v1) {
    const path = v1.split(':')[2]!
    const dir = readdirSync('/sys/fs/cgroup')
      .filter((d) => d.split(',').includes('cpuacct'))
      .map((d) => join('/sys/fs/cgroup', d, path))
      .find((d) => existsSync(join(d, 'cpuacct.usage')))
    if (!dir) throw new Error(`no cpuacct cgroup for pid ${pid} (${path})`)
    return { cpuNs: () => Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8')), procs: readProcs(dir) }
  }
  const path = lines.find((l) => l.startsWith('0::'))!.slice(3)
  const dir = join('/sys/fs/cgroup', path)
  return {
    cpuNs: () =>
      Number(/usage_usec (\d+)/.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))?.[1] ?? 0) * 1000,
    procs: readProcs(dir),
  }
}

/** PSS and RSS of one process in MB (0 for a process that ended meanwhile). */
function memOf(pid: number): { pss: number; rss: number } {
  try {
    const s = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0)
    return { pss: kb('Pss') / 1024, rss: kb('Rss') / 1024 }
  } catch {
    return { pss: 0, rss: 0 }
  }
}

/**
 * compose.yaml on the real engine, as on a Raspberry Pi: every service in its own container at default settings.
 * Memory is PSS (what the machine pays: the node binary's pages are shared between the containers, so RSS counts
 * them nine times), summed over every process in each container's cgroup; CPU is each cgroup's usage over the
 * window (so the healthchecks Docker runs inside the containers count too), beside node_exporter in the same window.
 */
export async function benchCompose(seconds: number) {
  header(
    `compose.yaml on the Docker engine over ${seconds} s at default settings (5 s sampling, no dashboard)`,
  )
  sh('bash', ['scripts/build-node-base-image.sh'])
  sh('docker', ['build', '-q', '-t', IMAGE, '.'], {}, 900_000)
  await ensureSystemdImage()
  const sd = await startSystemd(`${PROJECT}-systemd`)
  const busDir = sd.address.replace(/^unix:path=/, '').replace(/\/system_bus_socket$/, '')
  chmodSync(busDir, 0o755)
  const env = {
    HOMELAB_IMAGE: IMAGE,
    HOMELAB_PORT: String(await freePort()),
    HOMELAB_MQTT_PUBLISH_PORT: String(await freePort()),
    DOCKER_GID: String(statSync('/var/run/docker.sock').gid),
    HOMELAB_DBUS_DIR: busDir,
    HOMELAB_HOST_ID: '',
  }
  const compose = (...args: string[]) =>
    sh('docker-compose', ['-p', PROJECT, '-f', 'compose.yaml', ...args], env)
  let ne: ChildProcess | null = null
  try {
    compose('up', '-d', '--no-build')
    const ids = compose('ps', '-q').trim().split('\n').filter(Boolean)
    const names = new Map(
      ids.map((id) => [
        id,
        sh('docker', ['inspect', '-f', '{{index .Config.Labels "com.docker.compose.service"}}', id]).trim(),
      ]),
    )
    for (let i = 0; ; i++) {
      const states = ids.map((id) => sh('docker', ['inspect', '-f', '{{.State.Health.Status}}', id]).trim())
      if (states.every((s) => s === 'healthy')) break
      if (i > 120) throw new Error(`not healthy after 120 s: ${states.join(', ')}`)
      await sleep(1000)
    }
    const groups = ids.map((id) => {
      const pid = Number(sh('docker', ['inspect', '-f', '{{.State.Pid}}', id]).trim())
      return { name: names.get(id)!, cg: cgroupOf(pid) }
    })
    const neBin = ['/usr/bin/prometheus-node-exporter', '/usr/sbin/prometheus-node-exporter'].find(existsSync)
    let nePort = 0
    if (neBin) {
      nePort = await freePort()
      ne = spawn(neBin, [`--web.listen-address=127.0.0.1:${nePort}`], { stdio: 'ignore' })
    }
    await sleep(20_000) // warm-up: JIT, first samples, caches

    const cpu0 = groups.map((g) => g.cg.cpuNs())
    const ne0 = ne ? cpuSeconds(ne.pid!) : 0
    const t0 = performance.now()
    const scraper = ne
      ? setInterval(
          () =>
            void fetch(`http://127.0.0.1:${nePort}/metrics`).then(
              (r) => r.text(),
              () => '',
            ),
          5000,
        )
      : null
    // Memory sampled through the window; each container's figure is its mean.
    const pss = groups.map(() => [] as number[])
    const rss = groups.map(() => [] as number[])
    const end = t0 + seconds * 1000
    while (performance.now() < end) {
      groups.forEach((g, i) => {
        const m = g.cg.procs().map(memOf)
        pss[i]!.push(m.reduce((a, x) => a + x.pss, 0))
        rss[i]!.push(m.reduce((a, x) => a + x.rss, 0))
      })
      await sleep(Math.min(5000, Math.max(0, end - performance.now())))
    }
    if (scraper) clearInterval(scraper)
    const elapsed = (performance.now() - t0) / 1000
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
    let cpuSum = 0
    let pssSum = 0
    let rssSum = 0
    const rows = groups
      .map((g, i) => {
        const cpu = ((g.cg.cpuNs() - cpu0[i]!) / 1e9 / elapsed) * 100
        cpuSum += cpu
        pssSum += mean(pss[i]!)
        rssSum += mean(rss[i]!)
        return { name: g.name, cpu, pss: mean(pss[i]!), rss: mean(rss[i]!) }
      })
      .sort((a, b) => a.name.localeCompare(b.name))
    for (const r of rows)
      line(`${r.name}: CPU % / PSS / RSS`, `${fmt(r.cpu, 3)} % / ${fmt(r.pss, 1)} / ${fmt(r.rss, 1)} MB`)
    line(`stack (${rows.length} containers): PSS summed (budget ≤ 250 MB)`, `${fmt(pssSum, 1)} MB`)
    line('stack: RSS summed (shared pages counted in each)', `${fmt(rssSum, 1)} MB`)
    line('stack: CPU % of one core', fmt(cpuSum, 3))
    if (ne) {
      const neCpu = ((cpuSeconds(ne.pid!) - ne0) / elapsed) * 100
      line('baseline: node_exporter (scraped every 5 s): CPU %', fmt(neCpu, 3))
      line('ratio stack / node_exporter CPU (budget ≤ 2.0)', fmt(cpuSum / neCpu, 2))
    } else line('node_exporter', 'not installed (apt-get install prometheus-node-exporter): no ratio')
  } finally {
    ne?.kill('SIGTERM')
    try {
      compose('down', '-v')
    } catch (e) {
      process.stderr.write(`cleanup: ${(e as Error).message}\n`)
    }
    await sd.remove()
  }
}
