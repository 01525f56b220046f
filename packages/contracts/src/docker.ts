import { z } from 'zod'
import { EpochMs, envelopeShape } from './envelope.js'
import { Event } from './events.js'
import type { Sample } from './series.js'

/**
 * A container name as Docker allows it (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`, without the leading "/"). Names are the
 * entity of a container's reading topic and the subject of its events, so they must be safe topic levels: they are.
 */
export const ContainerName = z
  .string()
  .max(128)
  .regex(
    /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/,
    'a container name is letters, digits, "_", "." and "-", starting with a letter or digit',
  )

/** What `:id` in the container endpoints and a command's target may be: a name, a full id or an id prefix. */
export const ContainerRef = ContainerName

export const ContainerId = z.string().regex(/^[0-9a-f]{12,64}$/, 'a container id is 12–64 hex digits')

export const ContainerState = z.enum([
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
])
export type ContainerState = z.infer<typeof ContainerState>

/** `none` when the image defines no healthcheck. */
export const ContainerHealth = z.enum(['none', 'starting', 'healthy', 'unhealthy'])
export type ContainerHealth = z.infer<typeof ContainerHealth>

export const ContainerPort = z.object({
  privatePort: z.number().int().min(0).max(65535),
  publicPort: z.number().int().min(0).max(65535).nullable(),
  type: z.string().max(8),
  ip: z.string().max(64).nullable(),
})

/** Whether the docker-collector will execute commands for a container, and why (or why not). */
export const ControlPolicy = z.object({
  allowed: z.boolean(),
  reason: z.string().max(500),
})
export type ControlPolicy = z.infer<typeof ControlPolicy>

/** A container as the engine describes it, running or not. */
export const ContainerInfo = z.object({
  id: ContainerId,
  name: ContainerName,
  image: z.string().max(512),
  /** Compose labels `com.docker.compose.project` / `.service`; null outside compose. */
  composeProject: z.string().max(256).nullable(),
  composeService: z.string().max(256).nullable(),
  state: ContainerState,
  /** Docker's human text ("Up 5 minutes (healthy)", "Exited (137) 2 seconds ago"). */
  statusText: z.string().max(256),
  health: ContainerHealth,
  restartCount: z.number().int().min(0),
  createdAt: EpochMs,
  startedAt: EpochMs.nullable(),
  finishedAt: EpochMs.nullable(),
  /** Exit code of the last run; null while it has never exited. */
  exitCode: z.number().int().nullable(),
  oomKilled: z.boolean(),
  /** Memory limit set on the container (bytes); null when unlimited. */
  memoryLimitSet: z.number().min(0).nullable(),
  ports: z.array(ContainerPort).max(256),
  control: ControlPolicy,
})
export type ContainerInfo = z.infer<typeof ContainerInfo>

/**
 * Resource use of a running container over the last interval. CPU is a percentage of one core (100 = one full core,
 * as `docker stats` shows it); rates are per second; totals are since the container started. A value the collector
 * cannot know yet (the first sample has nothing to compare with) is null.
 */
export const ContainerStats = z.object({
  cpuPercent: z.number().min(0).nullable(),
  memoryUsed: z.number().min(0),
  /** The effective limit: the container's own, else the host's memory. */
  memoryLimit: z.number().min(0),
  memoryPercent: z.number().min(0),
  networkRx: z.number().min(0),
  networkTx: z.number().min(0),
  networkRxRate: z.number().min(0).nullable(),
  networkTxRate: z.number().min(0).nullable(),
  blockRead: z.number().min(0),
  blockWrite: z.number().min(0),
  blockReadRate: z.number().min(0).nullable(),
  blockWriteRate: z.number().min(0).nullable(),
  pids: z.number().int().min(0),
})
export type ContainerStats = z.infer<typeof ContainerStats>

/** `reading/container/<name>`, retained: one per container per interval; `stats` is null unless it runs. */
export const ContainerReading = z.object({
  ...envelopeShape,
  container: ContainerInfo,
  stats: ContainerStats.nullable(),
})
export type ContainerReading = z.infer<typeof ContainerReading>

/** `reading/engine`, retained: the engine and its counts, once per interval. */
export const EngineReading = z.object({
  ...envelopeShape,
  version: z.string().max(64),
  apiVersion: z.string().max(16),
  containers: z.object({
    total: z.number().int().min(0),
    running: z.number().int().min(0),
    paused: z.number().int().min(0),
    stopped: z.number().int().min(0),
  }),
})
export type EngineReading = z.infer<typeof EngineReading>

/** Public series of a container reading (label `name` = container name). */
export const containerSeries = {
  cpu: (n: string) => `container.cpu{name=${n}}`,
  memUsed: (n: string) => `container.mem_used{name=${n}}`,
  memLimit: (n: string) => `container.mem_limit{name=${n}}`,
  memPercent: (n: string) => `container.mem_percent{name=${n}}`,
  /** Percent of the container's own memory limit; only for containers that have one. */
  memLimitPercent: (n: string) => `container.mem_limit_percent{name=${n}}`,
  netRx: (n: string) => `container.net_rx_bps{name=${n}}`,
  netTx: (n: string) => `container.net_tx_bps{name=${n}}`,
  blkRead: (n: string) => `container.blk_read_bps{name=${n}}`,
  blkWrite: (n: string) => `container.blk_write_bps{name=${n}}`,
  pids: (n: string) => `container.pids{name=${n}}`,
} as const

export function containerSamples(r: ContainerReading): Sample[] {
  const s = r.stats
  if (!s) return []
  const n = r.container.name
  const c = containerSeries
  const out: Sample[] = [
    [c.memUsed(n), s.memoryUsed],
    [c.memLimit(n), s.memoryLimit],
    [c.memPercent(n), s.memoryPercent],
    [c.pids(n), s.pids],
  ]
  const optional: Array<[string, number | null]> = [
    [c.cpu(n), s.cpuPercent],
    [c.netRx(n), s.networkRxRate],
    [c.netTx(n), s.networkTxRate],
    [c.blkRead(n), s.blockReadRate],
    [c.blkWrite(n), s.blockWriteRate],
  ]
  for (const [name, v] of optional) if (v !== null) out.push([name, v])
  const own = r.container.memoryLimitSet
  if (own !== null && own > 0) out.push([c.memLimitPercent(n), (s.memoryUsed / own) * 100])
  return out
}

export const engineSeries = {
  containersTotal: 'docker.containers_total',
  containersRunning: 'docker.containers_running',
} as const

export function engineSamples(r: EngineReading): Sample[] {
  return [
    [engineSeries.containersTotal, r.containers.total],
    [engineSeries.containersRunning, r.containers.running],
  ]
}

/**
 * Container event types (`event/<type>`, subject = container name). Lifecycle events carry `data.container`, the
 * container as it was right after the event (absent when it is already gone), plus type-specific fields:
 * `container.die` → `exitCode`, and `killed` + `signal` when someone sent it that signal just before (docker kill,
 * docker stop past its timeout, docker rm -f: an exit asked for, not a crash); `container.kill` → `signal`; `container.health` → `health`;
 * `container.restart` → `restartCount`, `by` ("policy" or "request"); `container.rename` → `oldName`.
 * `container.sync` is the collector's own: a container whose state differs from what the collector last published
 * (after a start or a reconnect to the engine); `container.gone` one that vanished while nobody watched.
 */
export const CONTAINER_EVENT_TYPES = [
  'container.create',
  'container.start',
  'container.die',
  'container.oom',
  'container.kill',
  'container.stop',
  'container.restart',
  'container.pause',
  'container.unpause',
  'container.health',
  'container.rename',
  'container.destroy',
  'container.sync',
  'container.gone',
] as const
export type ContainerEventType = (typeof CONTAINER_EVENT_TYPES)[number]

/** `data` of every container event. */
export const ContainerEventData = z
  .object({
    container: ContainerInfo.optional(),
    id: ContainerId.optional(),
    exitCode: z.number().int().optional(),
    killed: z.boolean().optional(),
    signal: z.string().max(16).optional(),
    health: ContainerHealth.optional(),
    restartCount: z.number().int().min(0).optional(),
    by: z.enum(['policy', 'request']).optional(),
    oldName: ContainerName.optional(),
  })
  .loose()
export type ContainerEventData = z.infer<typeof ContainerEventData>

/** GET /api/docker/containers/:id/stats — DESIGN.md's ContainerMetrics, plus the rest of the stats. */
export const ContainerMetrics = z.object({
  timestamp: EpochMs,
  containerId: ContainerId,
  containerName: ContainerName,
  status: ContainerState,
  ...ContainerStats.shape,
})
export type ContainerMetrics = z.infer<typeof ContainerMetrics>

/**
 * One element of GET /api/docker/containers: DESIGN.md's `containerId, containerName, status` (status = the state:
 * running, exited, …), the whole container, and its latest stats. `stale` is true when the document is older than
 * three collector intervals (the collector is offline and this is the last known state).
 */
export const ContainerView = z.object({
  host: z.string(),
  containerId: ContainerId,
  containerName: ContainerName,
  status: ContainerState,
  ...ContainerInfo.shape,
  stats: ContainerStats.nullable(),
  updatedAt: EpochMs,
  stale: z.boolean(),
})
export type ContainerView = z.infer<typeof ContainerView>

/**
 * A container as the API and the dashboard show it, from the collector's document (or the recorder's projection,
 * `stale`): the one place that builds it, for the server and the browser.
 */
export function containerView(
  host: string,
  info: ContainerInfo,
  stats: ContainerView['stats'],
  updatedAt: number,
  stale: boolean,
): ContainerView {
  return {
    host,
    containerId: info.id,
    containerName: info.name,
    status: info.state,
    ...info,
    stats: info.state === 'running' ? stats : null,
    updatedAt,
    stale,
  }
}

const Column = z.array(z.number().nullable())

/**
 * GET /api/docker/containers/:id/history: the container's series over [from, to] on one time axis (uPlot-ready;
 * null marks a gap), and its events in that range (lifecycle and commands) for markers on the same axis.
 */
export const ContainerHistory = z.object({
  host: z.string(),
  containerName: ContainerName,
  from: EpochMs,
  to: EpochMs,
  tier: z.enum(['raw', '1m', '1h']),
  stepMs: z.number(),
  x: z.array(z.number()),
  series: z.record(
    z.enum(['cpu', 'memUsed', 'memLimit', 'netRx', 'netTx', 'blkRead', 'blkWrite', 'pids']),
    z.object({ avg: Column, min: Column, max: Column }),
  ),
  events: z.array(Event),
})
export type ContainerHistory = z.infer<typeof ContainerHistory>
