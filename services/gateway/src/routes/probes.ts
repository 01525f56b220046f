import {
  type Event,
  HostId,
  ProbeBody,
  ProbeConfigReading,
  type ProbeConfigResponse,
  ProbeId,
  ProbeReading,
  type ProbesResponse,
  type ProbeView,
  probeSeries,
} from '@homelab/contracts'
import type { HistoryReader } from '@homelab/storage'
import { Hono } from 'hono'
import { z } from 'zod'
import { relayCommand } from '../command-relay.js'
import type { Env, GatewayDeps } from '../context.js'
import { ApiFailure, parseInput } from '../errors.js'
import { jsonBody, requireRole } from '../middleware.js'
import { RangeQuery, requireHistory, timeRange } from './shared.js'

const SERVICE = 'probe-collector'
const DAY = 86_400_000

/** `?host=` (default: every host) of the probes list. */
export const ProbesQuery = z.object({ host: HostId.optional() }).strict()

/** The share of time up over a window, from the probe's `probe.up` series (1 while up, 0 while down); null: none. */
function uptime(
  reader: HistoryReader | null,
  host: string,
  id: string,
  from: number,
  to: number,
): number | null {
  if (!reader) return null
  const h = reader.query(host, [probeSeries.up(id)], from, to, 2)
  const avg = h.series[0]?.avg.filter((v): v is number => v !== null) ?? []
  if (avg.length === 0) return null
  return Math.round((avg.reduce((a, b) => a + b, 0) / avg.length) * 10_000) / 100
}

/**
 * Probes: every probe's latest result (the probe-collectors' retained documents), with its uptime over a day, a
 * week and a month and a day of latency for a sparkline (from the recorder's history), and one probe's history.
 */
export function probeRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()

  app.get('/', (c) => {
    const q = parseInput(ProbesQuery, c.req.query(), 'query')
    const reader = deps.history()
    const now = Date.now()
    const probes: ProbeView[] = []
    for (const m of deps.hub.snapshot(
      (m) => m.service === SERVICE && (q.host === undefined || m.host === q.host),
    )) {
      if (m.channel !== 'reading' || m.kind !== 'probe' || !m.payload) continue
      const r = ProbeReading.safeParse(m.payload)
      if (!r.success) continue
      const id = r.data.probe.id
      const online = deps.hub.latestOn(deps.topics.availability(m.host, SERVICE))?.payload === 'online'
      const latency = reader
        ? reader.query(m.host, [probeSeries.latency(id)], now - DAY, now, 48).series[0]?.avg
        : null
      probes.push({
        host: m.host,
        reading: r.data,
        stale: !online,
        uptime: {
          day: uptime(reader, m.host, id, now - DAY, now),
          week: uptime(reader, m.host, id, now - 7 * DAY, now),
          month: uptime(reader, m.host, id, now - 30 * DAY, now),
        },
        latency: latency ?? [],
      })
    }
    probes.sort(
      (a, b) =>
        Number(a.reading.up) - Number(b.reading.up) ||
        a.reading.probe.name.localeCompare(b.reading.probe.name),
    )
    const body: ProbesResponse = { probes }
    return c.json(body)
  })

  /** The probes file as its collector holds it (secrets shown as "…"), for the editor; admins, like the edits. */
  app.get('/config', requireRole('admin'), (c) => {
    const q = parseInput(ProbesQuery, c.req.query(), 'query')
    const host = q.host ?? deps.host
    const m = deps.hub.latestOn(deps.topics.reading(host, SERVICE, 'probe-config'))
    const r =
      m?.channel === 'reading' && m.kind === 'probe-config' ? ProbeConfigReading.safeParse(m.payload) : null
    // No probe-collector there (or none yet): nothing to edit, which is not an error.
    const body: ProbeConfigResponse = { host, config: r?.success ? r.data : null }
    return c.json(body)
  })

  /** A probe added or changed in its collector's file (the collector checks it as a hand edit would be checked). */
  app.put('/:id', requireRole('admin'), async (c) => {
    const id = parseInput(ProbeId, c.req.param('id'), 'id')
    const q = parseInput(ProbesQuery, c.req.query(), 'query')
    const body = parseInput(ProbeBody, await jsonBody(c), 'body')
    const { result, status } = await relayCommand(deps, q.host ?? deps.host, SERVICE, {
      action: 'set_probe',
      target: id,
      requestedBy: c.get('principal').name,
      params: body,
    })
    if (result.outcome === 'refused') throw new ApiFailure(400, 'invalid_probe', result.message)
    return c.json(result, status)
  })

  app.delete('/:id', requireRole('admin'), async (c) => {
    const id = parseInput(ProbeId, c.req.param('id'), 'id')
    const q = parseInput(ProbesQuery, c.req.query(), 'query')
    const { result, status } = await relayCommand(deps, q.host ?? deps.host, SERVICE, {
      action: 'remove_probe',
      target: id,
      requestedBy: c.get('principal').name,
    })
    if (result.outcome === 'refused') throw new ApiFailure(409, 'conflict', result.message)
    return c.json(result, status)
  })

  app.get('/:id/history', (c) => {
    const id = parseInput(ProbeId, c.req.param('id'), 'id')
    const q = parseInput(RangeQuery, c.req.query(), 'query')
    const host = q.host ?? deps.host
    const { from, to } = timeRange(q)
    const reader = requireHistory(deps)
    const h = reader.query(
      host,
      [probeSeries.up(id), probeSeries.latency(id), probeSeries.certDays(id)],
      from,
      to,
      q.points,
    )
    const events: Event[] = reader.events({
      host,
      subject: id,
      type: 'probe.*,cert.expiring,alert.firing,alert.resolved',
      since: from,
      before: to + 1,
      limit: 500,
    })
    if (
      h.x.length === 0 &&
      events.length === 0 &&
      !deps.hub.latestOn(deps.topics.reading(host, SERVICE, 'probe', id))
    )
      throw new ApiFailure(404, 'not_found', `no probe "${id}" on host "${host}"`)
    return c.json({
      host,
      id,
      from,
      to,
      tier: h.tier,
      stepMs: h.stepMs,
      x: h.x,
      series: { up: h.series[0], latency: h.series[1], certDays: h.series[2] },
      events,
    })
  })

  return app
}
