import {
  CommandAction,
  UnitInfo,
  UnitName,
  UnitReading,
  type UnitView,
  unitSeries,
  unitView,
} from '@homelab/contracts'
import { Hono } from 'hono'
import { relayCommand } from '../command-relay.js'
import type { Env, GatewayDeps } from '../context.js'
import { ApiFailure, parseInput } from '../errors.js'
import { requireRole } from '../middleware.js'
import { logQuery, logsAnswer, logsStream } from './logs.js'
import { HostQuery, liveReadings, RangeQuery, requireHistory, timeRange } from './shared.js'

const SERVICE = 'systemd-collector'
const ORDER: Record<string, number> = { failed: 0, activating: 1, deactivating: 2, reloading: 3, active: 4 }

/**
 * The original plan's unit endpoints. The list is the systemd-collector's live documents, completed by the
 * recorder's unit projection (marked `stale`) when the collector has not reported a unit since it went offline.
 * Failed units first, then by name.
 */
export function serviceRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()

  const list = (host: string): UnitView[] => {
    const { online, readings } = liveReadings(deps, host, SERVICE, 'unit', UnitReading)
    const views = new Map<string, UnitView>()
    for (const r of readings) views.set(r.unit.name, unitView(host, r.unit, r.stats, r.ts, !online))
    for (const row of deps.projections()?.units(host) ?? []) {
      if (views.has(row.name)) continue
      const info = UnitInfo.safeParse(JSON.parse(row.info))
      if (info.success) views.set(row.name, unitView(host, info.data, null, row.updatedAt, true))
    }
    return [...views.values()].sort(
      (a, b) => (ORDER[a.activeState] ?? 5) - (ORDER[b.activeState] ?? 5) || a.name.localeCompare(b.name),
    )
  }

  const find = (host: string, raw: string): UnitView => {
    const name = parseInput(UnitName, raw, 'name')
    const v = list(host).find((u) => u.name === name)
    if (!v) throw new ApiFailure(404, 'not_found', `no monitored unit "${name}" on host "${host}"`)
    return v
  }

  app.get('/', (c) => {
    const q = parseInput(HostQuery, c.req.query(), 'query')
    return c.json(list(q.host ?? deps.host))
  })

  app.get('/:name', (c) => {
    const q = parseInput(HostQuery, c.req.query(), 'query')
    return c.json(find(q.host ?? deps.host, c.req.param('name')))
  })

  app.get('/:name/logs', requireRole(deps.logsRole), async (c) => {
    const { host, q } = logQuery(deps, c)
    const u = find(host, c.req.param('name'))
    return logsAnswer(deps, c, host, SERVICE, u.name, q)
  })

  app.get('/:name/logs/stream', requireRole(deps.logsRole), (c) => {
    const { host, q } = logQuery(deps, c)
    const u = find(host, c.req.param('name'))
    return logsStream(deps, c, host, SERVICE, u.name, q)
  })

  app.get('/:name/history', (c) => {
    const q = parseInput(RangeQuery, c.req.query(), 'query')
    const host = q.host ?? deps.host
    const name = parseInput(UnitName, c.req.param('name'), 'name')
    const { from, to } = timeRange(q)
    const reader = requireHistory(deps)
    const h = reader.query(host, [unitSeries.memory(name), unitSeries.cpu(name)], from, to, q.points)
    const events = reader.events({
      host,
      subject: name,
      type: 'unit.*,command.result,alert.firing,alert.resolved',
      since: from,
      before: to + 1,
      limit: 1000,
    })
    return c.json({
      host,
      name,
      from,
      to,
      tier: h.tier,
      stepMs: h.stepMs,
      x: h.x,
      series: { memory: h.series[0], cpu: h.series[1] },
      events,
    })
  })

  app.post('/:name/:action', requireRole('operator'), async (c) => {
    const name = parseInput(UnitName, c.req.param('name'), 'name')
    const action = parseInput(CommandAction, c.req.param('action'), 'action')
    const q = parseInput(HostQuery, c.req.query(), 'query')
    const host = q.host ?? deps.host
    const { result, status } = await relayCommand(deps, host, SERVICE, {
      action,
      target: name,
      requestedBy: c.get('principal').name,
    })
    return c.json(result, status)
  })
  return app
}
