import { HostId, type ServiceName } from '@homelab/contracts'
import type { HistoryReader } from '@homelab/storage'
import { z } from 'zod'
import type { GatewayDeps } from '../context.js'
import { ApiFailure } from '../errors.js'

/** `?host=` alone (default: the gateway's host). */
export const HostQuery = z.object({ host: HostId.optional() }).strict()

/** `?host=&from=&to=&points=` of an entity's history. */
export const RangeQuery = z
  .object({
    host: HostId.optional(),
    from: z.coerce.number().int().min(0).optional(),
    to: z.coerce.number().int().min(0).optional(),
    points: z.coerce.number().int().min(2).max(2000).default(500),
  })
  .strict()

/** [from, to] of a history request: the last hour by default; 400 when from is not before to. */
export function timeRange(q: { from?: number | undefined; to?: number | undefined }): {
  from: number
  to: number
} {
  const to = q.to ?? Date.now()
  const from = q.from ?? to - 3_600_000
  if (from >= to) throw new ApiFailure(400, 'bad_request', `from (${from}) must be before to (${to})`)
  return { from, to }
}

/** The recorder's database, or 503 while it does not exist yet. */
export function requireHistory(deps: GatewayDeps): HistoryReader {
  const reader = deps.history()
  if (!reader) throw new ApiFailure(503, 'unavailable', 'the recorder has not created its database yet')
  return reader
}

/**
 * The latest valid reading of each entity of one kind a service publishes on a host (e.g. every container), and
 * whether that service is online (if not, these are its last known documents).
 */
export function liveReadings<S extends z.ZodType>(
  deps: GatewayDeps,
  host: string,
  service: ServiceName,
  kind: string,
  schema: S,
): { online: boolean; readings: Array<z.infer<S>> } {
  const online = deps.hub.latestOn(deps.topics.availability(host, service))?.payload === 'online'
  const readings: Array<z.infer<S>> = []
  for (const m of deps.hub.snapshot((m) => m.host === host && m.service === service)) {
    const t = deps.topics.parse(m.topic)
    if (t?.channel !== 'reading' || t.kind !== kind) continue
    const r = schema.safeParse(m.payload)
    if (r.success) readings.push(r.data)
  }
  return { online, readings }
}
