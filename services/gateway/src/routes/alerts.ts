import {
  type Alert,
  AlertId,
  AlertsReading,
  type AlertsResponse,
  ChannelInput,
  ChannelName,
  ChannelTest,
  HostId,
  RuleId,
  RuleInput,
  RulePatch,
  RulesReading,
  type RulesResponse,
} from '@homelab/contracts'
import { Hono } from 'hono'
import { z } from 'zod'
import { relayCommand } from '../command-relay.js'
import type { Env, GatewayDeps } from '../context.js'
import { ApiFailure, parseInput } from '../errors.js'
import { jsonBody, requireRole } from '../middleware.js'

const SERVICE = 'alerter'

export const AlertsQuery = z
  .object({
    host: HostId.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    before: z.coerce.number().int().min(0).optional(),
  })
  .strict()

/** A silence: for a number of minutes, or until a time (ms epoch). */
export const SilenceBody = z
  .object({
    minutes: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 60)
      .optional(),
    until: z.number().int().min(0).optional(),
  })
  .strict()
  .refine((b) => (b.minutes === undefined) !== (b.until === undefined), 'give either minutes or until')

const ORDER = { firing: 0, pending: 1 } as const
/** The commands the rules page lists as changes (who changed a rule or a channel, who tried a channel). */
const AUDITED = new Set([
  'update_rule',
  'add_rule',
  'remove_rule',
  'set_channel',
  'remove_channel',
  'test_channel',
])
const SEVERITY = { critical: 0, warning: 1, info: 2 } as const

/** The alerter's retained state as the gateway sees it: where it runs, online or not, open alerts, rules. */
export function alerterState(deps: GatewayDeps) {
  let host: string | null = null
  let online = false
  for (const m of deps.hub.snapshot((m) => m.service === SERVICE && m.channel === 'availability')) {
    if (m.payload === 'online' || host === null) {
      host = m.host
      online = m.payload === 'online'
    }
  }
  const doc = <S extends z.ZodType>(kind: string, schema: S): z.infer<S> | null => {
    if (!host) return null
    const r = schema.safeParse(deps.hub.latestOn(deps.topics.reading(host, SERVICE, kind))?.payload)
    return r.success ? r.data : null
  }
  // Every open alert has its own retained document; the summary lists only the first few.
  const open: Alert[] = []
  if (host) {
    const prefix = `${deps.topics.reading(host, SERVICE, 'alert')}/`
    for (const m of deps.hub.snapshot((m) => m.host === host && m.topic.startsWith(prefix)))
      if (m.channel === 'reading' && m.kind === 'alert' && m.payload) open.push(m.payload.alert)
  }
  const summary = doc('alerts', AlertsReading)
  return {
    host,
    state: (host === null ? 'unknown' : online ? 'online' : 'offline') as AlertsResponse['alerter'],
    alerts: open.length > 0 || !summary ? open : summary.alerts,
    summary,
    rules: doc('rules', RulesReading),
  }
}

/**
 * Alerts: the alerter's retained state (open alerts, rules and their evaluation) from the live stream, the history
 * from the recorder's event log, and the operator's actions relayed to the alerter, which executes and audits them.
 */
export function alertRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()

  /** The alerter (one per installation): where it runs, whether it is online, and its latest documents. */
  const alerter = () => alerterState(deps)

  const requireAlerter = (): string => {
    const a = alerter()
    if (!a.host || a.state !== 'online') throw new ApiFailure(503, 'unavailable', 'the alerter is not online')
    return a.host
  }

  app.get('/', (c) => {
    const q = parseInput(AlertsQuery, c.req.query(), 'query')
    const a = alerter()
    const alerts: Alert[] = a.alerts
      .filter((x) => q.host === undefined || x.host === q.host)
      .sort(
        (x, y) =>
          ORDER[x.state] - ORDER[y.state] || SEVERITY[x.severity] - SEVERITY[y.severity] || y.since - x.since,
      )
    const reader = deps.history()
    const range = { ...(q.host ? { host: q.host } : {}), ...(q.before ? { before: q.before } : {}) }
    const body: AlertsResponse = {
      alerter: a.state,
      stale: a.state !== 'online',
      alerts,
      firing: alerts.filter((x) => x.state === 'firing').length,
      history: reader?.events({ ...range, type: 'alert.firing,alert.resolved', limit: q.limit }) ?? [],
      failedDeliveries: reader?.events({ ...range, type: 'alert.delivery_failed', limit: 50 }) ?? [],
    }
    return c.json(body)
  })

  /** The count for the navigation badge: cheap, polled. */
  app.get('/count', (c) => {
    const a = alerter()
    return c.json({ alerter: a.state, firing: a.summary?.firing ?? 0 })
  })

  app.get('/rules', (c) => {
    const a = alerter()
    const reader = deps.history()
    const audit = (
      reader?.events({
        type: 'command.result,alert.rules_loaded,alert.rules_rejected',
        ...(a.host ? { host: a.host } : {}),
        limit: 200,
      }) ?? []
    )
      .filter((e) => e.source === SERVICE)
      .filter((e) => e.type !== 'command.result' || AUDITED.has(String(e.data.action)))
      .slice(0, 50)
    const body: RulesResponse = {
      alerter: a.state,
      file: a.rules?.file ?? null,
      loadedAt: a.rules?.loadedAt ?? null,
      rejected: a.rules?.rejected ?? null,
      rules: a.rules?.rules ?? [],
      channels: a.rules?.channels ?? [],
      audit,
    }
    return c.json(body)
  })

  app.patch('/rules/:rule', requireRole('operator'), async (c) => {
    const rule = parseInput(RuleId, c.req.param('rule'), 'rule')
    const patch = parseInput(RulePatch, await jsonBody(c), 'body')
    const { result, status } = await relayCommand(deps, requireAlerter(), SERVICE, {
      action: 'update_rule',
      target: rule,
      requestedBy: c.get('principal').name,
      params: patch,
    })
    // The alerter checks the edited rules as a whole; what it refuses is a bad request, not a missing right.
    if (result.outcome === 'refused') throw new ApiFailure(400, 'invalid_rule', result.message)
    return c.json(result, status)
  })

  /** A rule made in the dashboard's form; the alerter checks it with the whole file and writes it there. */
  app.post('/rules', requireRole('operator'), async (c) => {
    const input = parseInput(RuleInput, await jsonBody(c), 'body')
    const { result, status } = await relayCommand(deps, requireAlerter(), SERVICE, {
      action: 'add_rule',
      target: input.id,
      requestedBy: c.get('principal').name,
      params: input,
    })
    if (result.outcome === 'refused') throw new ApiFailure(400, 'invalid_rule', result.message)
    return c.json(result, result.outcome === 'done' ? 201 : status)
  })

  app.delete('/rules/:rule', requireRole('operator'), async (c) => {
    const rule = parseInput(RuleId, c.req.param('rule'), 'rule')
    const { result, status } = await relayCommand(deps, requireAlerter(), SERVICE, {
      action: 'remove_rule',
      target: rule,
      requestedBy: c.get('principal').name,
    })
    if (result.outcome === 'refused') throw new ApiFailure(409, 'conflict', result.message)
    return c.json(result, status)
  })

  /** Channels: added, changed and removed by admins (they hold credentials); the alerter edits its rules file. */
  app.put('/channels/:name', requireRole('admin'), async (c) => {
    const name = parseInput(ChannelName, c.req.param('name'), 'name')
    const input = parseInput(ChannelInput, await jsonBody(c), 'body')
    const { result, status } = await relayCommand(deps, requireAlerter(), SERVICE, {
      action: 'set_channel',
      target: name,
      requestedBy: c.get('principal').name,
      params: input,
    })
    if (result.outcome === 'refused') throw new ApiFailure(400, 'invalid_channel', result.message)
    return c.json(result, status)
  })

  app.delete('/channels/:name', requireRole('admin'), async (c) => {
    const name = parseInput(ChannelName, c.req.param('name'), 'name')
    const { result, status } = await relayCommand(deps, requireAlerter(), SERVICE, {
      action: 'remove_channel',
      target: name,
      requestedBy: c.get('principal').name,
    })
    if (result.outcome === 'refused') throw new ApiFailure(409, 'conflict', result.message)
    return c.json(result, status)
  })

  /**
   * Sends a test notification to a channel — or, with `url`, to a channel not saved yet — and answers with what the
   * provider said: 200 whether it arrived (`done`) or the provider refused it (`failed`, its reason in `message`).
   */
  app.post('/channels/:name/test', requireRole('admin'), async (c) => {
    const name = parseInput(ChannelName, c.req.param('name'), 'name')
    const body = c.req.header('content-type')?.includes('application/json') ? await jsonBody(c) : {}
    const params = parseInput(ChannelTest, body, 'body')
    const { result, status } = await relayCommand(deps, requireAlerter(), SERVICE, {
      action: 'test_channel',
      target: name,
      requestedBy: c.get('principal').name,
      params,
    })
    if (result.outcome === 'refused') throw new ApiFailure(400, 'invalid_channel', result.message)
    return c.json(result, result.outcome === 'failed' ? 200 : status)
  })

  const action = (name: 'ack' | 'unack' | 'unsilence') =>
    app.post(`/:id/${name}`, requireRole('operator'), async (c) => {
      const id = parseInput(AlertId, c.req.param('id'), 'id')
      const { result, status } = await relayCommand(deps, requireAlerter(), SERVICE, {
        action: name,
        target: id,
        requestedBy: c.get('principal').name,
      })
      if (result.outcome === 'refused') throw new ApiFailure(409, 'conflict', result.message)
      return c.json(result, status)
    })
  action('ack')
  action('unack')
  action('unsilence')

  app.post('/:id/silence', requireRole('operator'), async (c) => {
    const id = parseInput(AlertId, c.req.param('id'), 'id')
    const body = parseInput(SilenceBody, await jsonBody(c), 'body')
    const until = body.until ?? Date.now() + (body.minutes ?? 0) * 60_000
    const { result, status } = await relayCommand(deps, requireAlerter(), SERVICE, {
      action: 'silence',
      target: id,
      requestedBy: c.get('principal').name,
      params: { until },
    })
    if (result.outcome === 'refused') throw new ApiFailure(400, 'bad_request', result.message)
    return c.json(result, status)
  })

  return app
}
