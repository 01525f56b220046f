import {
  HostId,
  InferenceRecord,
  ModelName,
  type OllamaInferenceHistory,
  OllamaLoadedModel,
  OllamaModel,
  type OllamaModelView,
  OllamaReading,
  type OllamaRunningView,
  type OllamaStatus,
  ollamaSeries,
  ServiceStatus,
} from '@homelab/contracts'
import { Hono } from 'hono'
import { z } from 'zod'
import type { Env, GatewayDeps } from '../context.js'
import { parseInput } from '../errors.js'
import { HostQuery, liveReadings, requireHistory, timeRange } from './shared.js'

const SERVICE = 'ollama-collector'
const TPS_PREFIX = 'ollama.tokens_per_s{model='

/** What the gateway knows of a host's Ollama: the collector's live document, else the recorder's projection. */
interface Known {
  reading: OllamaReading | null
  collector: OllamaStatus['collector']
  reason: string | null
  stale: boolean
}

export const InferenceQuery = z
  .object({
    host: HostId.optional(),
    model: ModelName.optional(),
    from: z.coerce.number().int().min(0).optional(),
    to: z.coerce.number().int().min(0).optional(),
    points: z.coerce.number().int().min(2).max(2000).default(300),
    limit: z.coerce.number().int().min(1).max(1000).default(50),
  })
  .strict()

/**
 * The original plan's Ollama endpoints (`status`, `models`, `running`) and inference history. Everything is read
 * from the ollama-collector's retained document; when that collector is offline, from the recorder's projection
 * (marked `stale`).
 */
export function ollamaRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()

  const known = (host: string): Known => {
    const availability = deps.hub.latestOn(deps.topics.availability(host, SERVICE))?.payload
    const collector =
      availability === 'online' ? 'online' : availability === 'offline' ? 'offline' : 'unknown'
    const status = ServiceStatus.safeParse(deps.hub.latestOn(deps.topics.status(host, SERVICE))?.payload)
    const { online, readings } = liveReadings(deps, host, SERVICE, 'ollama', OllamaReading)
    const live = readings[0] ?? null
    if (live) return { reading: live, collector, reason: live.reason, stale: !online }
    const row = deps.projections()?.ollama(host) ?? null
    if (!row)
      return { reading: null, collector, reason: status.success ? status.data.reason : null, stale: true }
    const installed = z.array(OllamaModel).safeParse(JSON.parse(row.installed))
    const loaded = z.array(OllamaLoadedModel).safeParse(JSON.parse(row.loaded))
    return {
      reading: {
        v: 1,
        ts: row.updatedAt,
        host,
        source: SERVICE,
        url: '',
        up: row.up === 1,
        version: row.version,
        reason: row.reason,
        installed: installed.success ? installed.data : [],
        loaded: loaded.success ? loaded.data : [],
        gpu: { present: false, reason: 'unknown while the ollama-collector is offline', devices: [] },
        proxy: null,
        lastInference: null,
      },
      collector,
      reason: row.reason,
      stale: true,
    }
  }

  app.get('/status', (c) => {
    const host = parseInput(HostQuery, c.req.query(), 'query').host ?? deps.host
    const k = known(host)
    const r = k.reading
    const body: OllamaStatus = {
      host,
      running: r?.up ?? false,
      models: r?.installed.map((m) => m.name) ?? [],
      activeInferences: k.stale ? 0 : (r?.proxy?.activeInferences ?? 0),
      collector: k.collector,
      url: r?.url || null,
      version: r?.version ?? null,
      reason:
        k.reason ??
        (r
          ? null
          : `no ollama-collector has reported for host "${host}" (is it running? see docs/configuration.md)`),
      loaded: r?.loaded.map((m) => m.name) ?? [],
      gpu: r?.gpu ?? null,
      proxy: k.stale ? null : (r?.proxy ?? null),
      updatedAt: r?.ts ?? null,
      stale: k.stale,
    }
    return c.json(body)
  })

  app.get('/models', (c) => {
    const host = parseInput(HostQuery, c.req.query(), 'query').host ?? deps.host
    const r = known(host).reading
    const loaded = new Set(r?.loaded.map((m) => m.name))
    const body: OllamaModelView[] = (r?.installed ?? []).map((m) => ({ ...m, loaded: loaded.has(m.name) }))
    return c.json(body)
  })

  app.get('/running', (c) => {
    const host = parseInput(HostQuery, c.req.query(), 'query').host ?? deps.host
    const r = known(host).reading
    const now = Date.now()
    const body: OllamaRunningView[] = (r?.loaded ?? []).map((m) => ({
      ...m,
      expiresInMs: m.expiresAt === null ? null : Math.max(0, m.expiresAt - now),
      updatedAt: r?.ts ?? now,
    }))
    return c.json(body)
  })

  /** Tokens/s and time to first token per model over [from, to], and the latest requests (never their content). */
  app.get('/inference', (c) => {
    const q = parseInput(InferenceQuery, c.req.query(), 'query')
    const host = q.host ?? deps.host
    const { from, to } = timeRange(q)
    const reader = requireHistory(deps)
    const models = q.model
      ? [q.model]
      : reader
          .seriesNames(host, TPS_PREFIX)
          .map((n) => n.slice(TPS_PREFIX.length, -1))
          .filter((m) => ModelName.safeParse(m).success)
          .slice(0, 20)
    const names = models.flatMap((m) => [ollamaSeries.tokensPerSecond(m), ollamaSeries.ttft(m)])
    const h = reader.query(host, names, from, to, q.points)
    const requests: OllamaInferenceHistory['requests'] = []
    for (const e of reader.events({
      host,
      type: 'ollama.inference',
      ...(q.model ? { subject: q.model } : {}),
      since: from,
      before: to + 1,
      limit: q.limit,
    })) {
      const d = InferenceRecord.safeParse(e.data)
      if (d.success) requests.push({ ts: e.ts, host: e.host, ...d.data })
    }
    const body: OllamaInferenceHistory = {
      host,
      from,
      to,
      tier: h.tier,
      stepMs: h.stepMs,
      x: h.x,
      models: models
        .map((model, i) => ({
          model,
          tokensPerSecond: h.series[2 * i]?.avg ?? [],
          ttftMs: h.series[2 * i + 1]?.avg ?? [],
        }))
        .filter((m) => m.tokensPerSecond.length > 0 || m.ttftMs.length > 0),
      requests,
    }
    return c.json(body)
  })
  return app
}
