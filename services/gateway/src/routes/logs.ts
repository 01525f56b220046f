import { HostId, LogQuery, type LogSelector, type LogStreamEvent, type ServiceName } from '@homelab/contracts'
import type { Context } from 'hono'
import { streamSSE } from 'hono/streaming'
import type { Env, GatewayDeps } from '../context.js'
import { parseInput } from '../errors.js'
import { chunkFailure, followLogs, readLogs, requireOnline, selectorOf } from '../logs-relay.js'

/** Chunks a slow client may have waiting; past it the stream is closed (a stalled reader costs no memory). */
const MAX_QUEUED = 200

/** The host and query of a logs request. */
export function logQuery(deps: GatewayDeps, c: Context<Env>): { host: string; q: LogQuery } {
  const q = parseInput(LogQuery, c.req.query(), 'query')
  return { host: q.host === undefined ? deps.host : parseInput(HostId, q.host, 'host'), q }
}

/** GET …/logs: a bounded read, answered as JSON. */
export async function logsAnswer(
  deps: GatewayDeps,
  c: Context<Env>,
  host: string,
  service: ServiceName,
  target: string,
  q: LogQuery,
) {
  const who = c.get('principal').name
  deps.log.info(`${who} reads the logs of ${target} on ${host}`)
  return c.json(await readLogs(deps, host, service, selectorOf(target, q, false), who))
}

/**
 * GET …/logs/stream: server-sent events. `event: lines` with a LogStreamEvent for each batch, `event: end` with
 * `{reason}` when the follow ends (the entity was removed, the collector stopped, the client was too slow), a
 * comment every 15 s. The follow is stopped on the collector when the client goes.
 */
export function logsStream(
  deps: GatewayDeps,
  c: Context<Env>,
  host: string,
  service: ServiceName,
  target: string,
  q: LogQuery,
) {
  const who = c.get('principal').name
  const sel: LogSelector = selectorOf(target, q, true)
  // Refused before the stream starts, so the client gets the 503 as an answer, not a stream that ends.
  requireOnline(deps, host, service)
  c.header('X-Accel-Buffering', 'no')
  return streamSSE(c, async (stream) => {
    const queue: Array<
      { event: 'lines'; data: LogStreamEvent } | { event: 'end'; data: { reason: string } }
    > = []
    let wake: (() => void) | null = null
    let closed = false
    const push = (m: (typeof queue)[number]) => {
      queue.push(m)
      wake?.()
    }
    deps.log.info(`${who} follows the logs of ${target} on ${host}`)
    deps.counters.inc('logs.streams')
    const follow = followLogs(deps, host, service, sel, who, (chunk, lost) => {
      if (chunk.lines.length > 0 || chunk.skipped > 0 || lost > 0)
        push({ event: 'lines', data: { lines: chunk.lines, skipped: chunk.skipped, lost } })
      if (chunk.done)
        push({
          event: 'end',
          data: {
            reason: chunk.error
              ? chunkFailure(chunk.error).message
              : 'the log ended (removed, or the collector stopped)',
          },
        })
      if (queue.length > MAX_QUEUED) {
        // The client does not read: drop it rather than hold the lines.
        deps.counters.inc('logs.slow_clients')
        queue.length = 0
        closed = true
        wake?.()
      }
    })
    stream.onAbort(() => {
      closed = true
      wake?.()
    })
    const ping = setInterval(() => void stream.write(': ping\n\n').catch(() => undefined), 15_000)
    try {
      await stream.writeSSE({ event: 'open', data: JSON.stringify({ host, target }) })
      while (!closed) {
        const m = queue.shift()
        if (m) {
          await stream.writeSSE({ event: m.event, data: JSON.stringify(m.data) })
          if (m.event === 'end') break
          continue
        }
        await new Promise<void>((r) => {
          wake = r
        })
        wake = null
      }
    } finally {
      clearInterval(ping)
      follow.stop()
    }
  })
}
