import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import si from 'systeminformation'
import { ProcessReader } from '../../services/sys-collector/src/processes.js'
import { fmt, header, line } from './util.js'

const require = createRequire(import.meta.url)
const pidCount = () => readdirSync('/proc').filter((e) => /^\d+$/.test(e)).length

/** CPU of our child processes so far (systeminformation runs `ps`), ms. */
function childCpuMs(): number {
  const stat = require('node:fs').readFileSync('/proc/self/stat', 'utf8') as string
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[13]) + Number(f[14])) / 100) * 1000
}

async function measure(n: number, sample: () => unknown, pauseMs = 1) {
  const h = monitorEventLoopDelay({ resolution: 1 })
  await sample()
  h.enable()
  const c0 = process.cpuUsage()
  const k0 = childCpuMs()
  for (let i = 0; i < n; i++) {
    await sample()
    // Each sample is one block for the event-loop monitor; systeminformation answers from a cache within 500 ms.
    await sleep(pauseMs)
  }
  const cpu = process.cpuUsage(c0)
  h.disable()
  return { cpuMs: (cpu.user + cpu.system) / 1000 / n + (childCpuMs() - k0) / n, maxBlockMs: h.max / 1e6 }
}

/**
 * What the processes reading costs the sys-collector: one sample of every process in /proc at 400 processes (idle
 * `sleep`s are started to reach that), against systeminformation's processes() (which runs `ps`) in the same run.
 */
export async function benchProcesses(target = 400, n = 100) {
  header(`sys-collector: cost of one processes sample at ${target}+ processes (${n} samples)`)
  const children: ChildProcess[] = []
  try {
    while (pidCount() < target) {
      children.push(spawn('sleep', ['600'], { stdio: 'ignore' }))
      if (children.length % 50 === 0) await sleep(50)
    }
    await sleep(300)
    const reader = new ProcessReader('/proc', '/etc/passwd', 15)
    reader.init()
    let listed = 0
    let total = 0
    const ours = await measure(n, () => {
      const s = reader.sample()
      listed = s.processes.length
      total = s.total
    })
    const baseline = await measure(Math.min(n, 10), () => si.processes(), 600)
    line('processes on the machine', String(total))
    line('ours: /proc/[pid]/stat of each, details of the top 15 + 15', `${listed} listed`)
    line('ours: CPU per sample', `${fmt(ours.cpuMs, 3)} ms`)
    line('ours: longest event-loop block', `${fmt(ours.maxBlockMs)} ms`)
    line(
      'baseline: systeminformation processes() (ps), CPU per sample incl. ps',
      `${fmt(baseline.cpuMs, 3)} ms`,
    )
    line('ratio ours / systeminformation (CPU per sample)', fmt(ours.cpuMs / baseline.cpuMs, 3))
    line('ours at a 5 s interval, CPU share of one core', `${fmt((ours.cpuMs / 5000) * 100, 3)} %`)
  } finally {
    for (const c of children) c.kill('SIGKILL')
  }
}
