import { monitorEventLoopDelay } from 'node:perf_hooks'
import si from 'systeminformation'
import { HostReader } from '../../services/sys-collector/src/host-reader.js'
import { buildReading } from '../../services/sys-collector/src/sampler.js'
import { fmt, header, line } from './util.js'

async function measure(label: string, n: number, sample: () => Promise<unknown>) {
  const h = monitorEventLoopDelay({ resolution: 1 })
  await sample() // warm up
  h.enable()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await sample()
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  h.disable()
  // Child processes (systeminformation's exec calls) do not show in process.cpuUsage: add them from /proc/self/stat.
  return {
    label,
    wallMs: wall / n,
    cpuMs: (cpu.user + cpu.system) / 1000 / n,
    maxBlockMs: h.max / 1e6,
    p99BlockMs: h.percentile(99) / 1e6,
  }
}

function childCpuMs(): number {
  const stat = require('node:fs').readFileSync('/proc/self/stat', 'utf8') as string
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[13]) + Number(f[14])) / 100) * 1000
}

/** CPU milliseconds per system sample: ours (/proc, /sys, statfs) against the equivalent systeminformation calls. */
export async function benchSysSample(n = 200) {
  header(`sys-collector: cost of one system sample (${n} samples back to back)`)
  const reader = new HostReader({ proc: '/proc', sys: '/sys', rootfs: '' })
  await reader.init()
  let prev = await reader.read()
  const ours = await measure('ours: /proc + /sys + statfs', n, async () => {
    const cur = await reader.read()
    buildReading(prev, cur, 'bench', 5000)
    prev = cur
  })
  await reader.close()
  const c0 = childCpuMs()
  const baseline = await measure('baseline: systeminformation', Math.min(n, 50), async () => {
    await Promise.all([
      si.currentLoad(),
      si.mem(),
      si.fsSize(),
      si.networkStats('*'),
      si.disksIO(),
      si.cpuTemperature(),
      si.time(),
    ])
  })
  const childMs = (childCpuMs() - c0) / Math.min(n, 50)
  for (const r of [ours, { ...baseline, cpuMs: baseline.cpuMs + childMs }]) {
    line(`${r.label}: CPU per sample (budget < 2 ms)`, `${fmt(r.cpuMs, 3)} ms`)
    line(`${r.label}: event-loop delay p99 / max`, `${fmt(r.p99BlockMs)} / ${fmt(r.maxBlockMs)} ms`)
  }
  line('ratio ours / systeminformation (CPU per sample)', fmt(ours.cpuMs / (baseline.cpuMs + childMs), 3))
}

import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
