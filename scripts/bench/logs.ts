import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { LogStreamEvent } from '@homelab/contracts'
import Docker from 'dockerode'
import { ROOT } from '../../test/helpers/process.js'
import { openSse } from '../../test/helpers/sse.js'
import { accountWithToken, HOST, startGateway, startTestBroker, waitFor } from '../../test/helpers/stack.js'
import { removeBenchContainers } from './docker.js'
import { cpuSeconds, fmt, header, line, percentile, rssMb } from './util.js'

const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const IMAGE = 'homelab-test/busybox:1'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function run(name: string, script: string) {
  const c = await docker.createContainer({
    name,
    Image: IMAGE,
    Cmd: ['sh', '-c', script],
    Labels: { 'homelab.bench': 'logs' },
    StopTimeout: 0,
  })
  await c.start()
}

/**
 * Logs, through the real path (container → Docker → docker-collector process → MQTT → gateway → SSE client):
 * how long a line takes to reach the client, against `docker logs -f` reading the same container in the same
 * window; and a chatty container (~10k lines/s) followed for `seconds`: what reaches the client, and whether the
 * collector's memory grows.
 */
export async function benchLogs(dir: string, seconds: number) {
  header(`Logs: tail latency, and a chatty container followed for ${seconds} s`)
  try {
    await docker.ping()
  } catch {
    line('Docker', 'not reachable on /var/run/docker.sock: skipped (start dockerd)')
    return
  }
  await removeBenchContainers('logs')
  const procs: ChildProcess[] = []
  const b = await startTestBroker(join(dir, 'logs'))
  const gw = await startGateway(
    join(dir, 'logs'),
    b.url,
    'gateway',
    b.credentials.gateway,
    'admin-token-logs-bench-01',
  )
  await gw.start()
  const base = `http://127.0.0.1:${gw.port}`
  const token = await accountWithToken(gw, 'ops', 'operator')
  // With the V8 settings the services run with (npm start, the image).
  const collector = spawn(
    process.execPath,
    ['--max-semi-space-size=1', '--v8-pool-size=1', join(ROOT, 'services/docker-collector/dist/main.js')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        HOMELAB_MQTT_URL: b.url,
        HOMELAB_MQTT_PASSWORD: b.credentials['docker-collector'],
        HOMELAB_HOST_ID: HOST,
      },
    },
  )
  procs.push(collector)
  try {
    await run('hl-bench-tick', 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.05; done')
    await run(
      'hl-bench-chatty',
      'while :; do i=0; while [ $i -lt 1000 ]; do echo "chatty line $i with some text after it, as a log has"; i=$((i+1)); done; sleep 0.1; done',
    )
    const api = (p: string) => fetch(`${base}${p}`, { headers: { authorization: `Bearer ${token}` } })
    await waitFor(
      async () => (await api('/api/docker/containers/hl-bench-tick')).status === 200,
      30_000,
      'the collector',
    )

    // Tail latency: our SSE stream and `docker logs -f` side by side on the same container.
    const cli: number[] = []
    const docker_ = spawn('docker', ['logs', '-f', '--tail', '0', '--timestamps', 'hl-bench-tick'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    procs.push(docker_)
    createInterface({ input: docker_.stdout! }).on('line', (l) => {
      const ts = Date.parse(l.slice(0, l.indexOf(' ')))
      if (Number.isFinite(ts)) cli.push(Date.now() - ts)
    })
    const sse = await openSse(`${base}/api/docker/containers/hl-bench-tick/logs/stream`, token)
    await sleep(Math.min(seconds, 15) * 1000)
    sse.close()
    docker_.kill()
    const ours = sse.events
      .filter((e) => e.event === 'lines')
      .flatMap((e) => LogStreamEvent.parse(JSON.parse(e.data)).lines.map((l) => e.at - l.ts))
    line('line written → SSE client (ours): lines', String(ours.length))
    line('  p50 / p99 ms', `${fmt(percentile(ours, 50), 1)} / ${fmt(percentile(ours, 99), 1)}`)
    line(
      'line written → `docker logs -f` (baseline): p50 / p99 ms',
      `${fmt(percentile(cli, 50), 1)} / ${fmt(percentile(cli, 99), 1)}`,
    )
    line('ratio ours / docker logs -f, p50', fmt(percentile(ours, 50) / percentile(cli, 50), 2))

    // A chatty container: what the follow forwards, and the collector's memory over the window.
    const pid = collector.pid!
    const idleRss = rssMb(pid).rss
    const chatty = await openSse(`${base}/api/docker/containers/hl-bench-chatty/logs/stream`, token)
    const rss: number[] = []
    const c0 = cpuSeconds(pid)
    const t0 = performance.now()
    for (let i = 0; i < seconds; i++) {
      await sleep(1000)
      rss.push(rssMb(pid).rss)
    }
    const wall = (performance.now() - t0) / 1000
    const cpu = ((cpuSeconds(pid) - c0) / wall) * 100
    chatty.close()
    const got = chatty.events
      .filter((e) => e.event === 'lines')
      .map((e) => LogStreamEvent.parse(JSON.parse(e.data)))
    const delivered = got.reduce((s, e) => s + e.lines.length, 0)
    const skipped = got.reduce((s, e) => s + e.skipped, 0)
    line(
      'chatty container: lines written per second (delivered + skipped)',
      fmt((delivered + skipped) / wall, 0),
    )
    line('  delivered per second (the limit is 2000)', fmt(delivered / wall, 0))
    line('  skipped per second (counted and shown, never queued)', fmt(skipped / wall, 0))
    line('  collector CPU % of one core while following', fmt(cpu, 1))
    const q = (f: number) => fmt(rss[Math.min(rss.length - 1, Math.floor(f * rss.length))] ?? 0, 1)
    line(
      '  collector RSS idle, then at 1/4, 1/2, 3/4, the end of the window, MB',
      `${fmt(idleRss, 1)} | ${q(0.25)} ${q(0.5)} ${q(0.75)} ${q(1)}`,
    )
    line(
      '  growth over the second half of the window, MB',
      fmt((rss.at(-1) ?? 0) - (rss[Math.floor(rss.length / 2)] ?? 0), 1),
    )

    // A client that opens the stream and never reads it: it is dropped, and nothing grows.
    const before = rssMb(pid).rss
    const stalled = await fetch(`${base}/api/docker/containers/hl-bench-chatty/logs/stream`, {
      headers: { authorization: `Bearer ${token}` },
    })
    await sleep(Math.min(seconds, 20) * 1000)
    line(
      'stalled client for the window: collector RSS before → after, MB',
      `${fmt(before, 1)} → ${fmt(rssMb(pid).rss, 1)}`,
    )
    await stalled.body?.cancel().catch(() => undefined)
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL')
    await gw.stop()
    await b.broker.stop()
    await removeBenchContainers('logs')
  }
}
