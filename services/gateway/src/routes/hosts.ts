import {
  CommandAction,
  CommandTarget,
  DisksReading,
  type DisksResponse,
  HostId,
  type HostSummary,
  type LiveMessage,
  ProcessesReading,
  type ProcessesResponse,
  ServiceName,
  type UpsReading,
  type UpsResponse,
} from '@homelab/contracts'
import { Hono } from 'hono'
import { z } from 'zod'
import { relayCommand } from '../command-relay.js'
import type { Env, GatewayDeps } from '../context.js'
import { ApiFailure, parseInput } from '../errors.js'
import { jsonBody, requireRole } from '../middleware.js'
import { containerViews } from './docker.js'

export const EventsQuery = z
  .object({
    host: HostId.optional(),
    subject: z.string().min(1).max(256).optional(),
    type: z
      .string()
      .max(1000)
      .regex(
        /^[a-z][a-z0-9_.]*(?:\.\*)?(?:,[a-z][a-z0-9_.]*(?:\.\*)?){0,19}$/,
        'type is an event type, "prefix.*", or a comma-separated list of up to 20 of them',
      )
      .optional(),
    since: z.coerce.number().int().min(0).optional(),
    before: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict()

export const CommandBody = z.object({ action: CommandAction, target: CommandTarget }).strict()

/** Every host the monitor knows: its services' availability and state, and when it was last heard from. */
export function hostSummaries(deps: GatewayDeps): HostSummary[] {
  const byHost = new Map<string, HostSummary>()
  const get = (host: string) => {
    let h = byHost.get(host)
    if (!h) {
      h = { host, lastSeen: null, services: [] }
      byHost.set(host, h)
    }
    return h
  }
  const reader = deps.projections()
  for (const s of reader?.serviceStates() ?? []) {
    get(s.host).services.push({
      service: s.service,
      availability: s.availability,
      state: null,
      reason: null,
      since: s.since,
    })
  }
  for (const m of deps.hub.snapshot()) {
    const h = get(m.host)
    let svc = h.services.find((s) => s.service === m.service)
    if (!svc) {
      svc = { service: m.service, availability: 'unknown', state: null, reason: null, since: null }
      h.services.push(svc)
    }
    if (m.channel === 'availability') svc.availability = m.payload
    if (m.channel === 'status' && m.payload) {
      const st = m.payload
      svc.state = st.state
      svc.reason = st.reason
      h.lastSeen = Math.max(h.lastSeen ?? 0, st.ts)
    }
    if (m.channel === 'reading' && m.payload) h.lastSeen = Math.max(h.lastSeen ?? 0, m.payload.ts)
  }
  for (const h of byHost.values()) {
    if (h.lastSeen === null) h.lastSeen = reader?.lastSeen(h.host) ?? null
    h.services.sort((a, b) => a.service.localeCompare(b.service))
  }
  return [...byHost.values()].sort((a, b) => a.host.localeCompare(b.host))
}

/**
 * A retained reading: the broker's copy the gateway holds (`live` picks it from the message), else the recorder's
 * stored copy (the collector is gone, the broker restarted without it), checked against its schema.
 */
function latestReading<T>(
  deps: GatewayDeps,
  topic: string,
  schema: z.ZodType<T>,
  live: (m: LiveMessage) => T | null,
): T | null {
  const m = deps.hub.latestOn(topic)
  const fromLive = m ? live(m) : null
  if (fromLive) return fromLive
  const row = deps.projections()?.latest(topic)
  const parsed = row ? schema.safeParse(JSON.parse(row.payload)) : null
  return parsed?.success ? parsed.data : null
}

/** Hosts and their services' availability, the event log, and the generic command relay. */
export function hostRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()
  const sysOnline = (host: string) =>
    deps.hub.latestOn(deps.topics.availability(host, 'sys-collector'))?.payload === 'online'

  app.get('/hosts', (c) => c.json({ self: deps.host, hosts: hostSummaries(deps) }))

  app.get('/hosts/:host/processes', (c) => {
    const host = parseInput(HostId, c.req.param('host'), 'host')
    const r = latestReading(
      deps,
      deps.topics.reading(host, 'sys-collector', 'processes'),
      ProcessesReading,
      (m) => (m.channel === 'reading' && m.kind === 'processes' ? m.payload : null),
    )
    if (!r)
      throw new ApiFailure(
        404,
        'not_found',
        `no processes reading from host "${host}" yet (its sys-collector publishes one every interval unless HOMELAB_PROCESSES_TOP is 0)`,
      )
    const names = new Map(containerViews(deps, host).map((v) => [v.containerId, v.containerName]))
    const online = deps.hub.latestOn(deps.topics.availability(host, 'sys-collector'))?.payload === 'online'
    const body: ProcessesResponse = {
      ...r,
      stale: !online,
      processes: r.processes.map((p) => ({
        ...p,
        containerName: p.containerId
          ? (names.get(p.containerId) ?? names.get(p.containerId.slice(0, 12)) ?? null)
          : null,
      })),
    }
    return c.json(body)
  })

  app.get('/hosts/:host/disks', (c) => {
    const host = parseInput(HostId, c.req.param('host'), 'host')
    const r = latestReading(deps, deps.topics.reading(host, 'sys-collector', 'disks'), DisksReading, (m) =>
      m.channel === 'reading' && m.kind === 'disks' ? m.payload : null,
    )
    if (!r)
      throw new ApiFailure(
        404,
        'not_found',
        `no disk health from host "${host}" yet (its sys-collector reads the disks at start and every HOMELAB_SMART_INTERVAL_MS unless HOMELAB_SMART is off)`,
      )
    const body: DisksResponse = { ...r, stale: !sysOnline(host) }
    return c.json(body)
  })

  app.get('/hosts/:host/ups', (c) => {
    const host = parseInput(HostId, c.req.param('host'), 'host')
    const ups: UpsReading[] = []
    for (const m of deps.hub.snapshot((m) => m.host === host && m.service === 'sys-collector'))
      if (m.channel === 'reading' && m.kind === 'ups' && m.payload) ups.push(m.payload)
    ups.sort((a, b) => a.ups.name.localeCompare(b.ups.name))
    const body: UpsResponse = { host, stale: !sysOnline(host), ups }
    return c.json(body)
  })

  app.get('/events', (c) => {
    const q = parseInput(EventsQuery, c.req.query(), 'query')
    const reader = deps.history()
    return c.json({ events: reader ? reader.events(q) : [] })
  })

  app.post('/hosts/:host/services/:service/commands', requireRole('operator'), async (c) => {
    const host = parseInput(HostId, c.req.param('host'), 'host')
    const service = parseInput(ServiceName, c.req.param('service'), 'service')
    const body = parseInput(CommandBody, await jsonBody(c), 'body')
    const { result, status } = await relayCommand(deps, host, service, {
      ...body,
      requestedBy: c.get('principal').name,
    })
    return c.json(result, status)
  })
  return app
}
