import { z } from 'zod'
import { ContainerId } from './docker.js'
import { envelopeShape } from './envelope.js'
import type { Sample } from './series.js'

/** Linux process states as `/proc/[pid]/stat` reports them, spelled out. */
export const ProcessState = z.enum([
  'running',
  'sleeping',
  'disk-sleep',
  'stopped',
  'zombie',
  'idle',
  'other',
])
export type ProcessState = z.infer<typeof ProcessState>

/** One process as the sys-collector reads it from `/proc/[pid]`. */
export const ProcessInfo = z.object({
  pid: z.number().int().min(1),
  /** The kernel's name for it (`comm`, at most 15 characters). */
  name: z.string().max(64),
  /** Its command line, arguments joined by spaces, cut at 200 characters (with "…"); `[name]` for kernel threads. */
  command: z.string().max(256),
  /** The owner's user name, or the numeric uid when the passwd file does not name it. */
  user: z.string().max(64),
  /** CPU over the last interval, in % of one core (as top shows it: 200 is two cores busy). */
  cpuPercent: z.number().min(0).max(102_400),
  /** Resident memory, bytes. */
  rss: z.number().int().min(0),
  state: ProcessState,
  threads: z.number().int().min(0),
  /** When it started, epoch ms. */
  startedAt: z.number().int().min(0),
  /** The Docker container it runs in, when its cgroup says so (the full id). */
  containerId: ContainerId.nullable(),
  /** The systemd unit its cgroup belongs to (`nginx.service`, `session-3.scope`), when there is one. */
  unit: z.string().max(256).nullable(),
})
export type ProcessInfo = z.infer<typeof ProcessInfo>

/**
 * `reading/processes`, retained, every interval: the top processes by CPU and by memory (the union of both
 * lists, at most 2 × HOMELAB_PROCESSES_TOP) and the counts over every process of the host.
 */
export const ProcessesReading = z.object({
  ...envelopeShape,
  source: z.literal('sys-collector'),
  intervalMs: z.number().int().min(100).max(3_600_000),
  /** Processes on the host (threads not counted). */
  total: z.number().int().min(0),
  /** Of those, running or runnable now. */
  running: z.number().int().min(0),
  /** Threads over every process. */
  threads: z.number().int().min(0),
  /** How many of each list the reading carries. */
  top: z.number().int().min(0).max(100),
  processes: z.array(ProcessInfo).max(200),
})
export type ProcessesReading = z.infer<typeof ProcessesReading>

/** How many names get a series per interval, by CPU and by memory each. */
export const PROCESS_SERIES_TOP = 5

export const processSeries = {
  total: 'proc.count',
  running: 'proc.running',
  /** CPU of the processes of one name among the top ones, summed, % of one core. */
  cpu: (name: string) => `proc.cpu{name=${name}}`,
  /** Resident memory of the processes of one name among the top ones, summed. */
  rss: (name: string) => `proc.rss{name=${name}}`,
} as const

/** A name usable as a label value: the series grammar has no room for `{ } = ,` and control characters. */
const labelSafe = (name: string) => name.replace(/[{}=,\s\p{Cc}]/gu, '_') || '_'

/**
 * Counts, and the CPU and resident memory of the busiest names: the top PROCESS_SERIES_TOP names by CPU and by
 * memory (processes of one name summed), so history shows "what was busy at 3 am" with a bounded set of series.
 */
export function processSamples(r: ProcessesReading): Sample[] {
  const out: Sample[] = [
    [processSeries.total, r.total],
    [processSeries.running, r.running],
  ]
  const byName = new Map<string, { cpu: number; rss: number }>()
  for (const p of r.processes) {
    const n = labelSafe(p.name)
    const s = byName.get(n) ?? { cpu: 0, rss: 0 }
    s.cpu += p.cpuPercent
    s.rss += p.rss
    byName.set(n, s)
  }
  const names = [...byName]
  const pick = (key: 'cpu' | 'rss') =>
    names
      .filter(([, s]) => s[key] > 0)
      .sort((a, b) => b[1][key] - a[1][key])
      .slice(0, PROCESS_SERIES_TOP)
  for (const [n, s] of pick('cpu')) out.push([processSeries.cpu(n), Math.round(s.cpu * 10) / 10])
  for (const [n, s] of pick('rss')) out.push([processSeries.rss(n), s.rss])
  return out
}
