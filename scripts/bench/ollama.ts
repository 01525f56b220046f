import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { cpuSeconds, fmt, header, line, percentile, rssMb } from './util.js'

/** Starts a bench child and resolves with its port. */
function child(args: string[]): Promise<{ p: ChildProcess; port: number }> {
  const p = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', join(import.meta.dirname, 'ollama-child.ts'), ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  return new Promise((resolve, reject) => {
    p.once('exit', (code) => reject(new Error(`bench child ${args[0]} exited with ${code}`)))
    p.stdout?.once('data', (d: Buffer) => resolve({ p, port: Number(d.toString().trim()) }))
  })
}

interface Timing {
  firstByte: number
  lastByte: number
  bytes: number
}

/** One streamed /api/generate: time to the first and the last byte (ms). */
async function stream(base: string): Promise<Timing> {
  const t0 = performance.now()
  const res = await fetch(`${base}/api/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'bench:1b', prompt: 'Write a long story.' }),
  })
  const reader = res.body!.getReader()
  let first = 0
  let bytes = 0
  for (;;) {
    const r = await reader.read()
    if (r.done) break
    if (!first) first = performance.now() - t0
    bytes += r.value.length
  }
  return { firstByte: first, lastByte: performance.now() - t0, bytes }
}

async function sequential(base: string, n: number): Promise<Timing[]> {
  const out: Timing[] = []
  for (let i = 0; i < n; i++) out.push(await stream(base))
  return out
}

async function concurrent(base: string, streams: number, rounds: number) {
  const t0 = performance.now()
  let bytes = 0
  await Promise.all(
    Array.from({ length: streams }, async () => {
      for (let i = 0; i < rounds; i++) {
        const t = await stream(base)
        bytes += t.bytes
      }
    }),
  )
  const s = (performance.now() - t0) / 1000
  return { requestsPerS: (streams * rounds) / s, mbPerS: bytes / 1e6 / s }
}

/**
 * The measuring proxy's cost: 1,000-token streams from the stand-in Ollama, direct and through the proxy, each
 * in its own process. Latency to first and last byte (p50/p99) with tokens paced 1 ms apart as a model would send
 * them, and throughput with 20 concurrent streams sent as fast as the stand-in can.
 */
export async function benchOllama(): Promise<void> {
  header('Ollama measuring proxy (1,000-token streams, stand-in Ollama and proxy in their own processes)')
  const N = Number(process.env.BENCH_OLLAMA_REQUESTS ?? 60)
  const kids: ChildProcess[] = []
  try {
    // Latency: tokens 1 ms apart.
    const paced = await child(['fake', '1000', '1'])
    kids.push(paced.p)
    const pacedProxy = await child(['proxy', `http://127.0.0.1:${paced.port}`])
    kids.push(pacedProxy.p)
    const direct = `http://127.0.0.1:${paced.port}`
    const viaProxy = `http://127.0.0.1:${pacedProxy.port}`
    await sequential(direct, 5)
    await sequential(viaProxy, 5)
    const d: Timing[] = []
    const p: Timing[] = []
    // Interleaved, so both paths see the same machine.
    for (let i = 0; i < N; i++) {
      d.push(...(await sequential(direct, 1)))
      p.push(...(await sequential(viaProxy, 1)))
    }
    for (const [what, key] of [
      ['first byte', 'firstByte'],
      ['last byte', 'lastByte'],
    ] as const) {
      const dd = d.map((t) => t[key])
      const pp = p.map((t) => t[key])
      line(
        `time to ${what}, direct p50 / p99 (ms)`,
        `${fmt(percentile(dd, 50))} / ${fmt(percentile(dd, 99))}`,
      )
      line(
        `time to ${what}, through the proxy p50 / p99 (ms)`,
        `${fmt(percentile(pp, 50))} / ${fmt(percentile(pp, 99))}`,
      )
      line(
        `  added by the proxy p50 / p99 (ms)`,
        `${fmt(percentile(pp, 50) - percentile(dd, 50))} / ${fmt(percentile(pp, 99) - percentile(dd, 99))}`,
      )
    }
    line('bytes per stream', String(d[0]?.bytes ?? 0))

    // Throughput: tokens as fast as the stand-in can send them, 20 streams at once.
    const fast = await child(['fake', '1000', '0'])
    kids.push(fast.p)
    const fastProxy = await child(['proxy', `http://127.0.0.1:${fast.port}`])
    kids.push(fastProxy.p)
    const fd = `http://127.0.0.1:${fast.port}`
    const fp = `http://127.0.0.1:${fastProxy.port}`
    await concurrent(fd, 20, 1)
    await concurrent(fp, 20, 1)
    const rounds = Number(process.env.BENCH_OLLAMA_ROUNDS ?? 5)
    const td = await concurrent(fd, 20, rounds)
    const c0 = cpuSeconds(fastProxy.p.pid!)
    const t0 = performance.now()
    const tp = await concurrent(fp, 20, rounds)
    const proxyCpu = (cpuSeconds(fastProxy.p.pid!) - c0) / ((performance.now() - t0) / 1000)
    line('20 concurrent streams, direct: streams/s, MB/s', `${fmt(td.requestsPerS)}, ${fmt(td.mbPerS)}`)
    line(
      '20 concurrent streams, through the proxy: streams/s, MB/s',
      `${fmt(tp.requestsPerS)}, ${fmt(tp.mbPerS)}`,
    )
    line('  throughput ratio proxy / direct', fmt(tp.requestsPerS / td.requestsPerS, 3))
    line('  proxy process CPU during that run (% of one core)', fmt(proxyCpu * 100, 1))
    line(
      '  proxy process RSS now / peak (MB)',
      (({ rss, peak }) => `${fmt(rss, 1)} / ${fmt(peak, 1)}`)(rssMb(fastProxy.p.pid!)),
    )
  } finally {
    for (const k of kids) {
      k.removeAllListeners('exit')
      k.kill('SIGTERM')
    }
  }
}
