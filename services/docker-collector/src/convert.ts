import type {
  ContainerHealth,
  ContainerInfo,
  ContainerState,
  ContainerStats,
  ControlPolicy,
} from '@homelab/contracts'
import { ContainerState as ContainerStateSchema } from '@homelab/contracts'

/**
 * Pure conversions from the Docker Engine API's JSON (only the fields used, all optional: engines and cgroup
 * versions differ) to the contracts' shapes.
 */
export interface InspectJson {
  Id: string
  Name?: string
  Created?: string
  RestartCount?: number
  Config?: { Image?: string; Labels?: Record<string, string> | null; Tty?: boolean }
  State?: {
    Status?: string
    ExitCode?: number
    OOMKilled?: boolean
    StartedAt?: string
    Running?: boolean
    FinishedAt?: string
    Health?: { Status?: string } | null
  }
  HostConfig?: { Memory?: number }
  NetworkSettings?: {
    Ports?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null
  }
}

export interface ListJson {
  Id: string
  Names?: string[]
  State?: string
  Status?: string
  Labels?: Record<string, string> | null
}

export interface StatsJson {
  read?: string
  pids_stats?: { current?: number }
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null }
    system_cpu_usage?: number
    online_cpus?: number
  }
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> }
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>
  blkio_stats?: { io_service_bytes_recursive?: Array<{ op?: string; value?: number }> | null }
}

/** Raw counters of one stats read, kept to compute the next one's rates. */
export interface StatsCounters {
  at: number
  cpuTotal: number
  systemTotal: number
  netRx: number
  netTx: number
  blkRead: number
  blkWrite: number
}

const ZERO_TIME = /^0001-01-01/

function time(s: string | undefined): number | null {
  if (!s || ZERO_TIME.test(s)) return null
  const t = Date.parse(s)
  return Number.isFinite(t) ? t : null
}

export function containerName(raw: string | undefined, id: string): string {
  const n = (raw ?? '').replace(/^\//, '')
  return n === '' ? id.slice(0, 12) : n
}

export function toState(s: string | undefined): ContainerState {
  const r = ContainerStateSchema.safeParse(s)
  return r.success ? r.data : 'dead'
}

export function toHealth(s: string | undefined | null): ContainerHealth {
  return s === 'starting' || s === 'healthy' || s === 'unhealthy' ? s : 'none'
}

/** Health as `docker ps` prints it in the status text ("Up 5 minutes (unhealthy)"). */
export function healthFromStatusText(text: string | undefined): ContainerHealth {
  const m = /\((healthy|unhealthy|health: starting)\)/.exec(text ?? '')
  if (!m) return 'none'
  return m[1] === 'health: starting' ? 'starting' : (m[1] as ContainerHealth)
}

/** A short status text for a container seen through inspect only (the list's text is used when there is one). */
export function statusText(info: Pick<ContainerInfo, 'state' | 'exitCode' | 'health'>): string {
  switch (info.state) {
    case 'running':
      return info.health === 'none'
        ? 'Up'
        : `Up (${info.health === 'starting' ? 'health: starting' : info.health})`
    case 'exited':
      return `Exited (${info.exitCode ?? 0})`
    case 'created':
      return 'Created'
    case 'restarting':
      return `Restarting (${info.exitCode ?? 0})`
    case 'paused':
      return 'Up (Paused)'
    case 'removing':
      return 'Removal In Progress'
    case 'dead':
      return 'Dead'
  }
}

export function toInfo(i: InspectJson, control: ControlPolicy, text?: string): ContainerInfo {
  const labels = i.Config?.Labels ?? {}
  const state = toState(i.State?.Status)
  const finishedAt = time(i.State?.FinishedAt)
  const ports: ContainerInfo['ports'] = []
  for (const [spec, bindings] of Object.entries(i.NetworkSettings?.Ports ?? {})) {
    const [p, type = 'tcp'] = spec.split('/')
    const privatePort = Number(p)
    if (!Number.isInteger(privatePort)) continue
    if (!bindings || bindings.length === 0) {
      ports.push({ privatePort, publicPort: null, type, ip: null })
      continue
    }
    for (const b of bindings) {
      const pub = Number(b.HostPort)
      ports.push({
        privatePort,
        publicPort: Number.isInteger(pub) && pub > 0 ? pub : null,
        type,
        ip: b.HostIp || null,
      })
    }
  }
  const info: ContainerInfo = {
    id: i.Id,
    name: containerName(i.Name, i.Id),
    image: (i.Config?.Image ?? '').slice(0, 512),
    composeProject: labels['com.docker.compose.project'] ?? null,
    composeService: labels['com.docker.compose.service'] ?? null,
    state,
    statusText: '',
    health: toHealth(i.State?.Health?.Status),
    restartCount: i.RestartCount ?? 0,
    createdAt: time(i.Created) ?? 0,
    startedAt: time(i.State?.StartedAt),
    finishedAt,
    exitCode: finishedAt === null && state !== 'exited' ? null : (i.State?.ExitCode ?? null),
    oomKilled: i.State?.OOMKilled ?? false,
    memoryLimitSet: i.HostConfig?.Memory ? i.HostConfig.Memory : null,
    ports: ports.slice(0, 256),
    control,
  }
  info.statusText = (text ?? statusText(info)).slice(0, 256)
  return info
}

export function countersOf(s: StatsJson, fallbackAt: number): StatsCounters {
  let netRx = 0
  let netTx = 0
  for (const n of Object.values(s.networks ?? {})) {
    netRx += n.rx_bytes ?? 0
    netTx += n.tx_bytes ?? 0
  }
  let blkRead = 0
  let blkWrite = 0
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = (e.op ?? '').toLowerCase()
    if (op === 'read') blkRead += e.value ?? 0
    else if (op === 'write') blkWrite += e.value ?? 0
  }
  const at = time(s.read) ?? fallbackAt
  return {
    at,
    cpuTotal: s.cpu_stats?.cpu_usage?.total_usage ?? 0,
    systemTotal: s.cpu_stats?.system_cpu_usage ?? 0,
    netRx,
    netTx,
    blkRead,
    blkWrite,
  }
}

/** Per-second rate between two counter values; null when there is no earlier value or the counter was reset. */
function rate(cur: number, prev: number | undefined, seconds: number): number | null {
  if (prev === undefined || seconds <= 0 || cur < prev) return null
  return (cur - prev) / seconds
}

/**
 * Stats from one read and the previous read's counters. CPU is the container's share of all host CPU time over
 * the interval times the number of CPUs (so 100 = one core, as `docker stats` reports). Memory excludes the page
 * cache that the kernel can drop (inactive file pages), as `docker stats` does.
 */
export function toStats(s: StatsJson, cur: StatsCounters, prev: StatsCounters | null): ContainerStats {
  const mem = s.memory_stats ?? {}
  const ms = mem.stats ?? {}
  const inactive = ms.total_inactive_file ?? ms.inactive_file ?? 0
  const usage = mem.usage ?? 0
  const memoryUsed = Math.max(0, usage - (inactive < usage ? inactive : 0))
  const memoryLimit = mem.limit ?? 0
  const cpus = s.cpu_stats?.online_cpus || s.cpu_stats?.cpu_usage?.percpu_usage?.length || 1
  let cpuPercent: number | null = null
  if (prev) {
    const dCpu = cur.cpuTotal - prev.cpuTotal
    const dSys = cur.systemTotal - prev.systemTotal
    if (dCpu >= 0 && dSys > 0) cpuPercent = Math.min((dCpu / dSys) * cpus * 100, cpus * 100)
  }
  const seconds = prev ? (cur.at - prev.at) / 1000 : 0
  return {
    cpuPercent,
    memoryUsed,
    memoryLimit,
    memoryPercent: memoryLimit > 0 ? (memoryUsed / memoryLimit) * 100 : 0,
    networkRx: cur.netRx,
    networkTx: cur.netTx,
    networkRxRate: rate(cur.netRx, prev?.netRx, seconds),
    networkTxRate: rate(cur.netTx, prev?.netTx, seconds),
    blockRead: cur.blkRead,
    blockWrite: cur.blkWrite,
    blockReadRate: rate(cur.blkRead, prev?.blkRead, seconds),
    blockWriteRate: rate(cur.blkWrite, prev?.blkWrite, seconds),
    pids: s.pids_stats?.current ?? 0,
  }
}

/** A one-line reason for a Docker API failure, with the fix where there is a usual one. */
export function describeDockerError(e: unknown, where: string): string {
  const err = e as { code?: string; statusCode?: number; message?: string }
  switch (err.code) {
    case 'ENOENT':
      return `no Docker socket at ${where}: is Docker installed and running? (set DOCKER_HOST to reach another engine)`
    case 'EACCES':
      return `permission denied on ${where}: add this user to the "docker" group, or point DOCKER_HOST at a read-only socket proxy`
    case 'ECONNREFUSED':
      return `Docker refused the connection at ${where}: is the engine running?`
    case 'ETIMEDOUT':
      return `Docker at ${where} did not answer in time`
  }
  return `Docker at ${where}: ${err.message ?? String(e)}`.slice(0, 1000)
}
