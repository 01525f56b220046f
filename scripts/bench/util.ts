import { readFileSync } from 'node:fs'

export { freePort } from '../../test/helpers/net.js'

const TICK = 100 // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / TICK
}

/** Resident set size now and at its peak, in MB. */
export function rssMb(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0)
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 }
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN
}

export const fmt = (n: number, d = 2) => n.toFixed(d)

export function header(title: string) {
  process.stdout.write(`\n== ${title} ==\n`)
}

export function line(label: string, value: string) {
  process.stdout.write(`${label.padEnd(58)} ${value}\n`)
}
