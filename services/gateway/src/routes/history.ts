import { HistoryQuery, type HistoryResponse, HostId, METRICS, splitSeries } from '@homelab/contracts'
import { Hono } from 'hono'
import { z } from 'zod'
import type { Env, GatewayDeps } from '../context.js'
import { ApiFailure, parseInput } from '../errors.js'
import { requireHistory, timeRange } from './shared.js'

export const SeriesQuery = z
  .object({ host: HostId.optional(), prefix: z.string().max(64).optional() })
  .strict()

export function historyRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()
  app.get('/history', (c) => {
    const q = parseInput(HistoryQuery, c.req.query(), 'query')
    const { from, to } = timeRange(q)
    const reader = requireHistory(deps)
    const host = q.host ?? deps.host
    // A metric the project knows that has no data yet (a fresh install, before the first reading is stored) is an
    // empty history, not an error: the dashboard asks for it at its first load. Any other name is a 404.
    if (reader.seriesIdOf(host, q.series) === null && !METRICS.has(splitSeries(q.series).metric))
      throw new ApiFailure(404, 'not_found', `no series "${q.series}" on host "${host}"`)
    const h = reader.query(host, [q.series], from, to, q.points)
    const s = h.series[0]!
    const body: HistoryResponse = {
      host,
      series: q.series,
      from,
      to,
      tier: h.tier,
      stepMs: h.stepMs,
      columns: [h.x, s.avg, s.min, s.max],
    }
    return c.json(body)
  })
  app.get('/series', (c) => {
    const q = parseInput(SeriesQuery, c.req.query(), 'query')
    const reader = deps.history()
    if (!reader) return c.json({ host: q.host ?? deps.host, series: [] })
    return c.json({
      host: q.host ?? deps.host,
      series: reader.seriesNames(q.host ?? deps.host, q.prefix ?? ''),
    })
  })
  return app
}
