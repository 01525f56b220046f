import type { UnitInfo, UnitStats } from '@homelab/contracts'
import type { Props } from './bus.js'

/** Active states in which a unit has processes (and so memory, CPU and tasks to read). */
export const RUNNING = new Set(['active', 'reloading', 'activating', 'deactivating'])

export const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback)
/** systemd's "unknown" for 64-bit counters is UINT64_MAX; anything beyond 2^53 is that. */
export const num = (v: unknown): number | null =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 2 ** 53 ? v : null

/**
 * A unit as the contract has it, from its `org.freedesktop.systemd1.Unit` properties and, for a service, its
 * `…Service` properties (empty for other unit types).
 */
export function toUnitInfo(name: string, u: Props, s: Props, control: UnitInfo['control']): UnitInfo {
  const service = name.endsWith('.service')
  const since = num(u.StateChangeTimestamp)
  return {
    name,
    description: str(u.Description).slice(0, 1000),
    loadState: str(u.LoadState, 'loaded'),
    activeState: str(u.ActiveState, 'inactive'),
    subState: str(u.SubState, 'dead'),
    unitFileState: str(u.UnitFileState),
    result: service ? str(s.Result, 'success') : null,
    mainPid: service ? (num(s.MainPID) ?? 0) : null,
    nRestarts: service ? (num(s.NRestarts) ?? 0) : null,
    // StateChangeTimestamp is in microseconds.
    since: since ? Math.floor(since / 1000) : null,
    control,
  }
}

/** The CPU counter a rate is computed from: nanoseconds used, and when they were read. */
export interface CpuSample {
  ns: number | null
  at: number
}

/**
 * Memory, CPU (percent of one core since the previous sample) and tasks of a unit in `activeState`; none while it
 * is not running, and no CPU rate without a previous sample or across a counter reset.
 */
export function toUnitStats(
  activeState: string,
  s: Props,
  prev: CpuSample,
  now: number,
): { stats: UnitStats; cpu: CpuSample } {
  const ns = num(s.CPUUsageNSec)
  const active = RUNNING.has(activeState)
  const cpuPercent =
    active && ns !== null && prev.ns !== null && ns >= prev.ns && now > prev.at
      ? ((ns - prev.ns) / 1e6 / (now - prev.at)) * 100
      : null
  return {
    stats: {
      memoryBytes: active ? num(s.MemoryCurrent) : null,
      cpuPercent,
      tasks: active ? num(s.TasksCurrent) : null,
    },
    cpu: { ns, at: now },
  }
}
