import {
  HostId,
  SystemHistoryQuery,
  type SystemMetrics,
  type SystemMetricsHistory,
  SystemReading,
  systemSeries,
} from '@homelab/contracts'
import { Hono } from 'hono'
import { z } from 'zod'
import type { Env, GatewayDeps } from '../context.js'
import { ApiFailure, parseInput } from '../errors.js'

/** The filesystem DESIGN.md's diskTotal/diskUsed describe: "/" or else the largest. */
function mainFilesystem(r: SystemReading) {
  return (
    r.filesystems.find((f) => f.mount === '/') ??
    [...r.filesystems].sort((a, b) => b.total - a.total)[0] ??
    null
  )
}

export function toSystemMetrics(r: SystemReading): SystemMetrics {
  const fs = mainFilesystem(r)
  return {
    timestamp: r.ts,
    host: r.host,
    cpuUsage: r.cpu.usage,
    cpuTemperature: r.cpuTemperature,
    memoryTotal: r.memory.total,
    memoryUsed: r.memory.used,
    memoryPercent: r.memory.percent,
    diskTotal: fs?.total ?? null,
    diskUsed: fs?.used ?? null,
    diskPercent: fs?.percent ?? null,
  }
}

/** The latest system reading of a host: the live stream's, else the recorder's cache. */
export function latestSystemReading(deps: GatewayDeps, host: string): SystemReading | null {
  const topic = deps.topics.reading(host, 'sys-collector', 'system')
  const live = deps.hub.latestOn(topic)
  if (live?.channel === 'reading' && live.kind === 'system' && live.payload) return live.payload
  const row = deps.projections()?.latest(topic)
  if (!row) return null
  const parsed = SystemReading.safeParse(JSON.parse(row.payload))
  return parsed.success ? parsed.data : null
}

/** `?host=&detail=true` of the current system metrics (`detail`: the whole reading too). */
export const SystemQuery = z
  .object({ host: HostId.optional(), detail: z.enum(['true', 'false']).optional() })
  .strict()

/**
 * Answers of /system/history, kept for a moment: every open dashboard asks the same question, and a 24 h answer
 * aggregates thousands of rollup rows (~20 ms of the gateway's one thread, so it sustained ~55 requests/s). An answer
 * is at most CACHE_MS old — less than one sampling interval; the live tail comes over /api/live anyway.
 */
const CACHE_MS = 2000
const CACHE_ENTRIES = 64

export function metricsRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()
  const answers = new Map<string, { at: number; body: SystemMetricsHistory }>()
  app.get('/system', (c) => {
    const q = parseInput(SystemQuery, c.req.query(), 'query')
    const host = q.host ?? deps.host
    const r = latestSystemReading(deps, host)
    if (!r) throw new ApiFailure(404, 'not_found', `no system reading from host "${host}" yet`)
    return c.json(q.detail === 'true' ? { ...toSystemMetrics(r), detail: r } : toSystemMetrics(r))
  })
  app.get('/system/history', (c) => {
    const q = parseInput(SystemHistoryQuery, c.req.query(), 'query')
    const host = q.host ?? deps.host
    const reader = deps.history()
    if (!reader) throw new ApiFailure(503, 'unavailable', 'the recorder has not created its database yet')
    const key = `${host}\u0000${q.hours}\u0000${q.points}`
    const kept = answers.get(key)
    if (kept && Date.now() - kept.at < CACHE_MS) return c.json(kept.body)
    const to = Date.now()
    const from = Math.round(to - q.hours * 3_600_000)
    const r = latestSystemReading(deps, host)
    const mount = r ? (mainFilesystem(r)?.mount ?? '/') : '/'
    const s = systemSeries
    const names = [
      s.cpuUsage,
      s.cpuTemperature,
      s.memTotal,
      s.memUsed,
      s.memPercent,
      s.fsTotal(mount),
      s.fsUsed(mount),
      s.fsPercent(mount),
    ]
    const h = reader.query(host, names, from, to, q.points)
    const col = (i: number) => h.series[i]!.avg
    const body: SystemMetricsHistory = {
      host,
      from,
      to,
      tier: h.tier,
      stepMs: h.stepMs,
      points: h.x.map((t, i) => ({
        timestamp: t,
        cpuUsage: col(0)[i] ?? null,
        cpuTemperature: col(1)[i] ?? null,
        memoryTotal: col(2)[i] ?? null,
        memoryUsed: col(3)[i] ?? null,
        memoryPercent: col(4)[i] ?? null,
        diskTotal: col(5)[i] ?? null,
        diskUsed: col(6)[i] ?? null,
        diskPercent: col(7)[i] ?? null,
      })),
    }
    if (answers.size >= CACHE_ENTRIES) answers.clear()
    answers.set(key, { at: to, body })
    return c.json(body)
  })
  return app
}
