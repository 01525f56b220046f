import { randomUUID } from 'node:crypto'
import {
  LOG_LIMITS,
  LogChunk,
  type LogLine,
  type LogQuery,
  type LogSelector,
  type LogsResponse,
  type ServiceName,
} from '@homelab/contracts'
import type { GatewayDeps } from './context.js'
import { ApiFailure } from './errors.js'

/** How long a read may take end to end. */
const READ_TIMEOUT_MS = 20_000
/** How often a follow's lease is renewed (well within LOG_LIMITS.leaseMs). */
const RENEW_MS = 10_000

const STATUS = {
  not_found: 404,
  bad_request: 400,
  refused: 403,
  busy: 429,
  unavailable: 503,
  failed: 502,
} as const
const CODE = {
  not_found: 'not_found',
  bad_request: 'bad_request',
  refused: 'forbidden',
  busy: 'too_many_requests',
  unavailable: 'unavailable',
  failed: 'failed',
} as const

/** A collector's error chunk as the API failure it stands for. */
export function chunkFailure(e: NonNullable<LogChunk['error']>): ApiFailure {
  return new ApiFailure(STATUS[e.code], CODE[e.code], e.message)
}

/** The selector a log query asks for (the target is the entity the route resolved). */
export function selectorOf(target: string, q: LogQuery, forFollow: boolean): LogSelector {
  if (!forFollow && q.tail === 0)
    throw new ApiFailure(400, 'bad_request', 'tail: a read answers at least 1 line')
  return {
    target,
    tail: q.tail ?? (forFollow ? 0 : LOG_LIMITS.defaultTail),
    ...(q.since === undefined ? {} : { since: q.since }),
    ...(q.until === undefined ? {} : { until: q.until }),
    ...(q.q === undefined ? {} : { search: { q: q.q, regex: q.regex === 'true' } }),
    ...(q.stream === undefined ? {} : { stream: q.stream }),
    ...(q.priority === undefined ? {} : { priority: q.priority }),
  }
}

export function requireOnline(deps: GatewayDeps, host: string, service: ServiceName): void {
  if (deps.hub.latestOn(deps.topics.availability(host, service))?.payload !== 'online')
    throw new ApiFailure(
      503,
      'unavailable',
      `the ${service} on ${host} is not online, so its logs cannot be read`,
    )
}

function parseChunk(payload: Buffer): LogChunk | null {
  try {
    const r = LogChunk.safeParse(JSON.parse(payload.toString('utf8')))
    return r.success ? r.data : null
  } catch {
    return null
  }
}

/**
 * Asks the collector that owns the entity for a bounded read and gathers its chunks: 503 when the collector is
 * not online, 504 when it does not finish in time, the collector's own error (404, 400, 429, …) otherwise.
 */
export async function readLogs(
  deps: GatewayDeps,
  host: string,
  service: ServiceName,
  sel: LogSelector,
  requestedBy: string,
): Promise<LogsResponse> {
  requireOnline(deps, host, service)
  const id = randomUUID()
  const lines: LogLine[] = []
  let lost = false
  let next = 0
  let off: () => void = () => undefined
  const done = new Promise<LogChunk>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new ApiFailure(
            504,
            'timeout',
            `the ${service} on ${host} did not answer within ${READ_TIMEOUT_MS} ms`,
          ),
        ),
      READ_TIMEOUT_MS,
    )
    off = deps.hub.request(
      deps.topics.logs(host, service),
      { v: 1, op: 'read', requestedBy, ...sel },
      id,
      READ_TIMEOUT_MS / 1000,
      (payload) => {
        const c = parseChunk(payload)
        if (!c) {
          deps.counters.inc('logs.invalid_chunks')
          return
        }
        if (c.seq !== next) lost = true
        next = c.seq + 1
        for (const l of c.lines) lines.push(l)
        if (c.done) {
          clearTimeout(timer)
          resolve(c)
        }
      },
    )
  })
  try {
    const last = await done
    if (last.error) throw chunkFailure(last.error)
    if (lost) throw new ApiFailure(502, 'failed', 'part of the answer was lost on the way: ask again')
    deps.counters.inc('logs.reads')
    return {
      host,
      target: last.subject ?? sel.target,
      lines,
      cursor: last.cursor,
      scanned: last.scanned ?? null,
    }
  } finally {
    off()
  }
}

export interface Follow {
  stop(): void
}

/**
 * Starts a follow on the owning collector: every chunk goes to `onChunk` (a gap in `seq` is reported as `lost`);
 * the lease is renewed while it runs; `stop` ends it on the collector too.
 */
export function followLogs(
  deps: GatewayDeps,
  host: string,
  service: ServiceName,
  sel: LogSelector,
  requestedBy: string,
  onChunk: (c: LogChunk, lost: number) => void,
): Follow {
  requireOnline(deps, host, service)
  const id = randomUUID()
  const topic = deps.topics.logs(host, service)
  let next = 0
  let stopped = false
  const off = deps.hub.request(topic, { v: 1, op: 'follow', requestedBy, ...sel }, id, 10, (payload) => {
    const c = parseChunk(payload)
    if (!c) {
      deps.counters.inc('logs.invalid_chunks')
      return
    }
    const lost = Math.max(0, c.seq - next)
    next = c.seq + 1
    onChunk(c, lost)
    if (c.done) end(false)
  })
  const renew = setInterval(() => deps.hub.send(topic, { v: 1, op: 'renew' }, id, 10), RENEW_MS)
  const end = (tell: boolean) => {
    if (stopped) return
    stopped = true
    clearInterval(renew)
    off()
    if (tell) deps.hub.send(topic, { v: 1, op: 'stop' }, id, 10)
  }
  return { stop: () => end(true) }
}
