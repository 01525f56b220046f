import { z } from 'zod'
import { EpochMs, HostId } from './envelope.js'
import { ProcessesReading, ProcessInfo } from './processes.js'
import { SERIES_NAME_RE } from './series.js'

/** Every HTTP error body. */
export const ApiError = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
})
export type ApiError = z.infer<typeof ApiError>

/** GET /api/metrics/system — DESIGN.md's SystemMetrics, plus the full snapshot under `detail`. */
export const SystemMetrics = z.object({
  timestamp: EpochMs,
  host: HostId,
  cpuUsage: z.number(),
  cpuTemperature: z.number().nullable(),
  memoryTotal: z.number(),
  memoryUsed: z.number(),
  memoryPercent: z.number(),
  /** Root filesystem ("/"), or the largest real filesystem when "/" is not reported. */
  diskTotal: z.number().nullable(),
  diskUsed: z.number().nullable(),
  diskPercent: z.number().nullable(),
})
export type SystemMetrics = z.infer<typeof SystemMetrics>

/** One point of GET /api/metrics/system/history: bucket averages; null where there was no data (a gap). */
export const SystemMetricsPoint = z.object({
  timestamp: EpochMs,
  cpuUsage: z.number().nullable(),
  cpuTemperature: z.number().nullable(),
  memoryTotal: z.number().nullable(),
  memoryUsed: z.number().nullable(),
  memoryPercent: z.number().nullable(),
  diskTotal: z.number().nullable(),
  diskUsed: z.number().nullable(),
  diskPercent: z.number().nullable(),
})
export const SystemMetricsHistory = z.object({
  host: HostId,
  from: EpochMs,
  to: EpochMs,
  tier: z.enum(['raw', '1m', '1h']),
  stepMs: z.number(),
  points: z.array(SystemMetricsPoint),
})
export type SystemMetricsHistory = z.infer<typeof SystemMetricsHistory>

export const TIERS = ['raw', '1m', '1h'] as const
export type Tier = (typeof TIERS)[number]

/** GET /api/history — uPlot-ready columns. `min`/`max` equal `avg` where a point stands for one sample. */
export const HistoryResponse = z.object({
  host: HostId,
  series: z.string(),
  from: EpochMs,
  to: EpochMs,
  tier: z.enum(TIERS),
  stepMs: z.number(),
  /** [timestamps (ms), avg, min, max]; null marks a gap. */
  columns: z.tuple([
    z.array(EpochMs),
    z.array(z.number().nullable()),
    z.array(z.number().nullable()),
    z.array(z.number().nullable()),
  ]),
})
export type HistoryResponse = z.infer<typeof HistoryResponse>

export const MAX_HISTORY_POINTS = 5000

/** Query of GET /api/history. Strings in, validated numbers out; `from` defaults to `to` − 1 h. */
export const HistoryQuery = z
  .object({
    host: HostId.optional(),
    series: z
      .string()
      .regex(SERIES_NAME_RE, 'series must be a series name such as cpu.usage or fs.used{mount=/}'),
    from: z.coerce.number().int().min(0).optional(),
    to: z.coerce.number().int().min(0).optional(),
    points: z.coerce.number().int().min(2).max(MAX_HISTORY_POINTS).default(1000),
  })
  .strict()

export const SystemHistoryQuery = z
  .object({
    host: HostId.optional(),
    hours: z.coerce
      .number()
      .positive()
      .max(24 * 400)
      .default(24),
    points: z.coerce.number().int().min(2).max(MAX_HISTORY_POINTS).default(500),
  })
  .strict()

export const HostSummary = z.object({
  host: HostId,
  lastSeen: EpochMs.nullable(),
  services: z.array(
    z.object({
      service: z.string(),
      availability: z.enum(['online', 'offline', 'unknown']),
      state: z.enum(['ok', 'degraded', 'unavailable']).nullable(),
      reason: z.string().nullable(),
      since: EpochMs.nullable(),
    }),
  ),
})
export type HostSummary = z.infer<typeof HostSummary>

/** GET /api/fleet: one row per host, what a fleet view shows at a glance (each figure null where not known). */
export const FleetHost = z.object({
  host: HostId,
  lastSeen: EpochMs.nullable(),
  /** No system reading for six sampling intervals (at least a minute): the host, or its collector, went quiet. */
  silent: z.boolean(),
  cpu: z.number().nullable(),
  cores: z.number().int().min(0).nullable(),
  memoryPercent: z.number().nullable(),
  memoryUsed: z.number().nullable(),
  memoryTotal: z.number().nullable(),
  /** The fullest filesystem. */
  disk: z.object({ mount: z.string(), percent: z.number(), used: z.number(), total: z.number() }).nullable(),
  temperature: z.number().nullable(),
  load1: z.number().nullable(),
  netRxPerSec: z.number().nullable(),
  netTxPerSec: z.number().nullable(),
  uptimeSec: z.number().nullable(),
  containers: z
    .object({ running: z.number().int(), total: z.number().int(), unhealthy: z.number().int() })
    .nullable(),
  /** Alerts firing for this host. */
  alerts: z.number().int().min(0),
  /** The monitor's own services on this host: how many are online, and the names of those that are not or degraded. */
  services: z.object({ online: z.number().int(), problems: z.array(z.string()) }),
})
export type FleetHost = z.infer<typeof FleetHost>
export const FleetResponse = z.object({ self: HostId, hosts: z.array(FleetHost) })

/**
 * GET /api/hosts/:host/processes: the sys-collector's latest processes reading, each process with the name of the
 * container it runs in (the docker-collector's name for its id) and whether the reading is current.
 */
export const ProcessesResponse = ProcessesReading.extend({
  processes: z.array(ProcessInfo.extend({ containerName: z.string().nullable() })),
  /** The sys-collector is offline: this is its last reading. */
  stale: z.boolean(),
})
export type ProcessesResponse = z.infer<typeof ProcessesResponse>
