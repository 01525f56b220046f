import { HostId, type LiveMessage } from '@homelab/contracts'
import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { z } from 'zod'
import type { Env, GatewayDeps } from '../context.js'
import { parseInput } from '../errors.js'

export const LiveQuery = z.object({ host: HostId.optional() }).strict()

/**
 * GET /api/live: server-sent events. On connect, the latest message of every topic (event "message" each), then
 * every new one as it arrives; a comment every 15 s keeps proxies from closing the stream.
 */
export function liveRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()
  app.get('/live', (c) => {
    const q = parseInput(LiveQuery, c.req.query(), 'query')
    const wanted = (m: LiveMessage) => q.host === undefined || m.host === q.host
    // nginx buffers a proxied answer unless told not to; the live stream must reach the browser as it is written.
    c.header('X-Accel-Buffering', 'no')
    return streamSSE(c, async (stream) => {
      const queue: LiveMessage[] = deps.hub.snapshot(wanted)
      let wake: (() => void) | null = null
      const off = deps.hub.subscribe((m) => {
        if (!wanted(m)) return
        if (queue.length > 1000) queue.shift()
        queue.push(m)
        wake?.()
      })
      let closed = false
      stream.onAbort(() => {
        closed = true
        wake?.()
      })
      const ping = setInterval(() => void stream.write(': ping\n\n').catch(() => undefined), 15_000)
      try {
        while (!closed) {
          const m = queue.shift()
          if (m) {
            // One message that cannot be serialized is skipped (and counted); the stream goes on.
            let data: string
            try {
              data = JSON.stringify(m)
            } catch (e) {
              deps.counters.inc('live.unserializable')
              deps.log.once(`live-json:${(e as Error).message}`, `skipped a live message on ${m.topic}:`, e)
              continue
            }
            await stream.writeSSE({ event: 'message', data })
            continue
          }
          await new Promise<void>((r) => {
            wake = r
          })
          wake = null
        }
      } finally {
        clearInterval(ping)
        off()
      }
    })
  })
  return app
}
