import { z } from 'zod'
import { EpochMs, envelopeShape } from './envelope.js'
import type { Sample } from './series.js'

export const UNIT_TYPES = [
  'service',
  'socket',
  'target',
  'timer',
  'mount',
  'automount',
  'swap',
  'path',
  'slice',
  'scope',
  'device',
] as const

/**
 * A unit name by systemd's rules (systemd.unit(5), unit_name_is_valid): at most 255 characters; a prefix of
 * letters, digits and `:_.\-` (escapes like `\x2d` included), optionally `@` and an instance of the same characters,
 * then a known type suffix. Checked before anything reaches the bus.
 */
export const UnitName = z
  .string()
  .min(1, 'a unit name may not be empty')
  .max(255, 'a unit name is at most 255 characters')
  .regex(
    new RegExp(`^[A-Za-z0-9:_.\\\\-]+(?:@[A-Za-z0-9:_.\\\\-]*)?\\.(?:${UNIT_TYPES.join('|')})$`),
    `a unit name is letters, digits and ":_.\\-", optionally "@instance", then a type suffix (.${UNIT_TYPES.slice(0, 4).join(', .')}, …)`,
  )
export type UnitName = z.infer<typeof UnitName>

/** Whether the systemd-collector will start/stop/restart a unit, and why (or why not). */
export const UnitControl = z.object({ allowed: z.boolean(), reason: z.string().max(500) })

export const UnitInfo = z.object({
  name: UnitName,
  description: z.string().max(1000),
  loadState: z.string().max(32),
  /** active, reloading, inactive, failed, activating, deactivating, maintenance. */
  activeState: z.string().max(32),
  subState: z.string().max(64),
  unitFileState: z.string().max(32),
  /** A service's last result (success, exit-code, signal, timeout, …); null for other unit types. */
  result: z.string().max(64).nullable(),
  mainPid: z.number().int().min(0).nullable(),
  nRestarts: z.number().int().min(0).nullable(),
  /** When it entered its current state. */
  since: EpochMs.nullable(),
  control: UnitControl,
})
export type UnitInfo = z.infer<typeof UnitInfo>

/** Resource use where accounting is on (null where it is off or the unit is not running). */
export const UnitStats = z.object({
  memoryBytes: z.number().min(0).nullable(),
  /** Percent of one core over the last interval. */
  cpuPercent: z.number().min(0).nullable(),
  tasks: z.number().int().min(0).nullable(),
})
export type UnitStats = z.infer<typeof UnitStats>

/** `reading/unit/<name>`, retained: on every change, and every interval while the unit is active. */
export const UnitReading = z.object({ ...envelopeShape, unit: UnitInfo, stats: UnitStats })
export type UnitReading = z.infer<typeof UnitReading>

export const unitSeries = {
  memory: (n: string) => `unit.memory{unit=${n}}`,
  cpu: (n: string) => `unit.cpu{unit=${n}}`,
  tasks: (n: string) => `unit.tasks{unit=${n}}`,
} as const

export function unitSamples(r: UnitReading): Sample[] {
  const out: Sample[] = []
  const n = r.unit.name
  if (r.stats.memoryBytes !== null) out.push([unitSeries.memory(n), r.stats.memoryBytes])
  if (r.stats.cpuPercent !== null) out.push([unitSeries.cpu(n), r.stats.cpuPercent])
  if (r.stats.tasks !== null) out.push([unitSeries.tasks(n), r.stats.tasks])
  return out
}

/**
 * Unit event types (`event/<type>`, subject = unit name; `data.unit` is the unit after the change):
 * `unit.state` every ActiveState change (`from`, `to`); `unit.failed` when it enters `failed` or ends a run with a
 * result other than success (also when systemd restarts it at once); `unit.restart` when systemd restarted it
 * (NRestarts grew; `nRestarts`, `result`); `unit.sync` after a (re)connect for units whose state differs from what
 * was last announced; `unit.gone` for units no longer loaded.
 */
export const UNIT_EVENT_TYPES = [
  'unit.state',
  'unit.failed',
  'unit.restart',
  'unit.sync',
  'unit.gone',
] as const

export const UnitEventData = z
  .object({
    unit: UnitInfo.optional(),
    from: z.string().max(32).optional(),
    to: z.string().max(32).optional(),
    result: z.string().max(64).nullable().optional(),
    nRestarts: z.number().int().min(0).optional(),
  })
  .loose()

/** GET /api/services — DESIGN.md's ServiceStatus (`name, description, loadState, activeState, subState, unitFileState`) and the rest. */
export const UnitView = z.object({
  host: z.string(),
  ...UnitInfo.shape,
  stats: UnitStats.nullable(),
  updatedAt: EpochMs,
  stale: z.boolean(),
})
export type UnitView = z.infer<typeof UnitView>

/** A unit as the API and the dashboard show it (from the collector's document, or the projection: `stale`). */
export function unitView(
  host: string,
  info: UnitInfo,
  stats: UnitView['stats'],
  updatedAt: number,
  stale: boolean,
): UnitView {
  return { host, ...info, stats, updatedAt, stale }
}
