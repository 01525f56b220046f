import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { ProbeReading } from '@homelab/contracts'
import { connectClient, HOST, startTestBroker } from '../../test/helpers/stack.js'
import { cpuSeconds, fmt, header, line, percentile, rssMb } from './util.js'

const ROOT = join(import.meta.dirname, '..', '..')
const PROBES = 100
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * 100 HTTP probes at 30 s (the case): the probe-collector's CPU and RSS in its own process (the shipped
 * bundle and V8 flags) beside bare Node, and what the probe itself adds to a request — its measured latency against
 * the time the server measured for the same request (from the request's arrival to the end of its answer).
 */
export async function benchProbes(dir: string, seconds: number) {
  header(`${PROBES} HTTP probes at 30 s, over ${seconds} s (probe-collector in its own process)`)
  const procs: ChildProcess[] = []
  const serverMs = new Map<string, number>()
  const server = http.createServer((req, res) => {
    const t0 = process.hrtime.bigint()
    res.on('finish', () => serverMs.set(req.url ?? '', Number(process.hrtime.bigint() - t0) / 1e6))
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  const b = await startTestBroker(join(dir, 'probes-broker'))
  try {
    const file = join(dir, 'probes.json')
    writeFileSync(
      file,
      JSON.stringify({
        probes: Array.from({ length: PROBES }, (_, i) => ({
          id: `p${i}`,
          type: 'http',
          url: `http://127.0.0.1:${port}/p${i}`,
          interval: '30s',
        })),
      }),
    )
    const flags = ['--max-semi-space-size=1', '--v8-pool-size=1']
    const start = (args: string[], env: Record<string, string> = {}) => {
      const p = spawn(process.execPath, [...flags, ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'ignore', 'inherit'],
      })
      procs.push(p)
      return p
    }
    const bare = start(['-e', 'setInterval(() => {}, 1000)'])
    const overhead: number[] = []
    const watcher = await connectClient(b.url, 'homeassistant', b.credentials.homeassistant)
    let seen = 0
    watcher.on('message', (_topic, payload) => {
      seen++
      if (payload.length === 0) return
      const r = ProbeReading.safeParse(JSON.parse(payload.toString()))
      if (!r.success || r.data.latencyMs === null) return
      const s = serverMs.get(`/${r.data.probe.id}`)
      if (s !== undefined) overhead.push(r.data.latencyMs - s)
    })
    await watcher.subscribeAsync('homelab/+/probe-collector/reading/probe/+')
    const collector = start([join(ROOT, 'services/probe-collector/dist/main.js')], {
      HOMELAB_DATA_DIR: join(dir, 'probes-data'),
      HOMELAB_MQTT_URL: b.url,
      HOMELAB_MQTT_PASSWORD: b.credentials['probe-collector'] ?? '',
      HOMELAB_PROBES_FILE: file,
      HOMELAB_HA_DISCOVERY: 'off',
      // The test broker's users are bound to its host id.
      HOMELAB_HOST_ID: HOST,
    })
    // Past the start and the first round (the first runs are spread over 10 s).
    await sleep(15_000)
    overhead.length = 0
    const c0 = cpuSeconds(collector.pid ?? 0)
    const t0 = performance.now()
    await sleep(seconds * 1000)
    const cpu = (cpuSeconds(collector.pid ?? 0) - c0) / ((performance.now() - t0) / 1000)
    const mem = rssMb(collector.pid ?? 0)
    const base = rssMb(bare.pid ?? 0)
    await watcher.endAsync()
    line('checks in the window', `${overhead.length} (${seen} seen)`)
    line('probe-collector: CPU % of one core', fmt(cpu * 100, 3))
    line('probe-collector: RSS now / peak', `${fmt(mem.rss, 1)} / ${fmt(mem.peak, 1)} MB`)
    line('baseline: bare node, RSS', `${fmt(base.rss, 1)} MB`)
    line(
      'probe latency − server time: p50 / p99 / max',
      `${fmt(percentile(overhead, 50))} / ${fmt(percentile(overhead, 99))} / ${fmt(Math.max(...overhead))} ms`,
    )
    line('server time per request: p50', `${fmt(percentile([...serverMs.values()], 50), 3)} ms`)
  } finally {
    for (const p of procs) p.kill()
    await b.broker.stop()
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  }
}
