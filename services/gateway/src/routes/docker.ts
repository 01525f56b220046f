import {
  CommandAction,
  type ContainerHistory,
  ContainerInfo,
  type ContainerMetrics,
  ContainerReading,
  ContainerRef,
  type ContainerView,
  containerSeries,
  containerView,
} from '@homelab/contracts'
import { Hono } from 'hono'
import { relayCommand } from '../command-relay.js'
import type { Env, GatewayDeps } from '../context.js'
import { ApiFailure, parseInput } from '../errors.js'
import { requireRole } from '../middleware.js'
import { logQuery, logsAnswer, logsStream } from './logs.js'
import { HostQuery, liveReadings, RangeQuery, requireHistory, timeRange } from './shared.js'

const SERVICE = 'docker-collector'

/**
 * A host's containers: the docker-collector's live documents (retained, so the gateway has them from the moment it
 * connects), completed by the recorder's projection for containers not reported since (collector offline: `stale`).
 */
export function containerViews(deps: GatewayDeps, host: string): ContainerView[] {
  const { online, readings } = liveReadings(deps, host, SERVICE, 'container', ContainerReading)
  const views = new Map<string, ContainerView>()
  for (const { container: info, stats, ts } of readings)
    views.set(info.name, containerView(host, info, stats, ts, !online))
  for (const row of deps.projections()?.containers(host) ?? []) {
    if (views.has(row.name)) continue
    const info = ContainerInfo.safeParse(JSON.parse(row.info))
    if (info.success) views.set(row.name, containerView(host, info.data, null, row.updatedAt, true))
  }
  return [...views.values()].sort(
    (a, b) =>
      (a.composeProject ?? '').localeCompare(b.composeProject ?? '') ||
      a.containerName.localeCompare(b.containerName),
  )
}

/**
 * The original plan's container endpoints. The list is the docker-collector's live documents (retained, so the
 * gateway has them from the moment it connects), completed by the recorder's container projection for containers
 * the collector has not reported since (collector offline): those are marked `stale`.
 */
export function dockerRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()

  const list = (host: string): ContainerView[] => containerViews(deps, host)

  /** `:id` is a name, a full id or a unique id prefix. */
  const find = (host: string, rawRef: string): ContainerView => {
    const ref = parseInput(ContainerRef, rawRef, 'id')
    const all = list(host)
    const byName = all.find((v) => v.containerName === ref)
    if (byName) return byName
    const byId = /^[0-9a-f]+$/.test(ref) ? all.filter((v) => v.containerId.startsWith(ref)) : []
    if (byId.length > 1)
      throw new ApiFailure(
        409,
        'ambiguous',
        `"${ref}" matches ${byId.length} containers: give more of the id`,
      )
    if (byId[0]) return byId[0]
    throw new ApiFailure(404, 'not_found', `no container named "${ref}" or with that id on host "${host}"`)
  }

  app.get('/containers', (c) => {
    const q = parseInput(HostQuery, c.req.query(), 'query')
    return c.json(list(q.host ?? deps.host))
  })

  app.get('/containers/:id', (c) => {
    const q = parseInput(HostQuery, c.req.query(), 'query')
    return c.json(find(q.host ?? deps.host, c.req.param('id')))
  })

  app.get('/containers/:id/logs', requireRole(deps.logsRole), async (c) => {
    const { host, q } = logQuery(deps, c)
    const v = find(host, c.req.param('id'))
    return logsAnswer(deps, c, host, SERVICE, v.containerName, q)
  })

  app.get('/containers/:id/logs/stream', requireRole(deps.logsRole), (c) => {
    const { host, q } = logQuery(deps, c)
    const v = find(host, c.req.param('id'))
    return logsStream(deps, c, host, SERVICE, v.containerName, q)
  })

  app.get('/containers/:id/stats', (c) => {
    const q = parseInput(HostQuery, c.req.query(), 'query')
    const v = find(q.host ?? deps.host, c.req.param('id'))
    if (!v.stats)
      throw new ApiFailure(
        409,
        'not_running',
        v.state === 'running'
          ? `no stats for ${v.containerName} yet (they arrive with the collector's next interval)`
          : `${v.containerName} is not running (${v.state})`,
      )
    const body: ContainerMetrics = {
      timestamp: v.updatedAt,
      containerId: v.containerId,
      containerName: v.containerName,
      status: v.state,
      ...v.stats,
    }
    return c.json(body)
  })

  app.get('/containers/:id/history', (c) => {
    const q = parseInput(RangeQuery, c.req.query(), 'query')
    const host = q.host ?? deps.host
    const { from, to } = timeRange(q)
    const reader = requireHistory(deps)
    const ref = parseInput(ContainerRef, c.req.param('id'), 'id')
    // History outlives the container: a name that is no longer listed still has its series.
    const name = list(host).some((v) => v.containerName === ref)
      ? ref
      : (() => {
          try {
            return find(host, ref).containerName
          } catch (e) {
            if (reader.seriesIdOf(host, containerSeries.memUsed(ref)) !== null) return ref
            throw e
          }
        })()
    const keys = ['cpu', 'memUsed', 'memLimit', 'netRx', 'netTx', 'blkRead', 'blkWrite', 'pids'] as const
    const h = reader.query(
      host,
      keys.map((k) => containerSeries[k](name)),
      from,
      to,
      q.points,
    )
    const series = Object.fromEntries(keys.map((k, i) => [k, h.series[i]!])) as ContainerHistory['series']
    const events = reader.events({
      host,
      subject: name,
      type: 'container.*,command.result,alert.firing,alert.resolved',
      since: from,
      before: to + 1,
      limit: 1000,
    })
    const body: ContainerHistory = {
      host,
      containerName: name,
      from,
      to,
      tier: h.tier,
      stepMs: h.stepMs,
      x: h.x,
      series,
      events,
    }
    return c.json(body)
  })

  app.post('/containers/:id/:action', requireRole('operator'), async (c) => {
    const action = parseInput(CommandAction, c.req.param('action'), 'action')
    const q = parseInput(HostQuery, c.req.query(), 'query')
    const host = q.host ?? deps.host
    const v = find(host, c.req.param('id'))
    const { result, status } = await relayCommand(deps, host, SERVICE, {
      action,
      target: v.containerName,
      requestedBy: c.get('principal').name,
    })
    return c.json({ ...result, containerId: v.containerId, containerName: v.containerName }, status)
  })

  return app
}
