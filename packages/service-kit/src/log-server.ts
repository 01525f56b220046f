import {
  LOG_LIMITS,
  LogChunk,
  type LogLine,
  LogRequest,
  type LogSelector,
  type ServiceName,
  type Topics,
} from '@homelab/contracts'
import type { IPublishPacket } from 'mqtt'
import { isOwnReplyTopic } from './command-server.js'
import type { Counters, Logger } from './log.js'
import { LogError } from './log-lines.js'
import type { MqttConnection } from './mqtt-connection.js'

/** What a collector's logs come from (Docker, the journal). */
export interface LogSource {
  /** The lines a read answers (searched, cut to `tail`), oldest first. Throws LogError. */
  read(
    sel: LogSelector,
    signal: AbortSignal,
  ): Promise<{ subject: string; lines: LogLine[]; cursor: number | null; scanned?: number }>
  /**
   * Starts following: the last `tail` lines first, then new ones as they are written, until `signal` aborts.
   * Resolves once following has started (throws LogError when it cannot); `ended` settles when the source ends
   * the follow on its own (the container is removed, journalctl exits).
   */
  follow(
    sel: LogSelector,
    onLines: (lines: LogLine[]) => void,
    signal: AbortSignal,
  ): Promise<{ subject: string; ended: Promise<void> }>
}

export interface LogServerOptions {
  conn: MqttConnection
  topics: Topics
  host: string
  service: ServiceName
  log: Logger
  counters: Counters
  source: LogSource
  /** How long a read may take. */
  readTimeoutMs?: number
  /** How often a follow's lines are sent (they are batched in between; 50 ms). */
  flushMs?: number
}

interface Follow {
  abort: AbortController
  lease: NodeJS.Timeout
  flush: NodeJS.Timeout
  pending: LogLine[]
  skipped: number
  seq: number
  /** Lines forwarded in the current second, for the rate limit. */
  window: { second: number; lines: number }
  reply: { topic: string; correlation: Buffer }
}

/**
 * The collector's side of the log contract (packages/contracts/src/logs.ts): takes requests on `<service>/logs`,
 * answers reads with bounded chunks, and streams follows with a lease, a rate limit and a bounded buffer — a client
 * that stops reading costs a counter, never memory. Bad requests are counted and answered with an error chunk when
 * they say where to reply; they never reach the source.
 */
export class LogServer {
  private readonly follows = new Map<string, Follow>()
  private readonly undo: Array<() => void> = []

  constructor(private readonly o: LogServerOptions) {}

  start(): void {
    const { conn, topics, host, service } = this.o
    this.undo.push(
      conn.subscribe(topics.logs(host, service), 0),
      conn.onMessage((topic, payload, packet) => this.onMessage(topic, payload, packet)),
    )
  }

  stop(): void {
    for (const u of this.undo.splice(0)) u()
    for (const [id, f] of this.follows) this.end(id, f, null)
  }

  get following(): number {
    return this.follows.size
  }

  private invalid(cause: string, message: string): void {
    this.o.counters.inc('logs.invalid')
    this.o.log.once(`logs-invalid:${cause}`, message)
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const { topics, host, service } = this.o
    const t = topics.parse(topic)
    if (t?.channel !== 'logs' || t.host !== host || t.service !== service) return
    if (packet.retain) return
    const responseTopic = packet.properties?.responseTopic
    const correlation = packet.properties?.correlationData
    if (!responseTopic || !correlation || !isOwnReplyTopic(topics, host, service, responseTopic)) {
      this.invalid(
        'reply',
        `ignoring a log request on ${topic} without a reply topic under ${topics.subtree(host, service)}/reply/`,
      )
      return
    }
    const reply = { topic: responseTopic, correlation }
    const id = `${responseTopic}\u0000${correlation.toString('hex')}`
    let req: LogRequest
    try {
      const r = LogRequest.safeParse(JSON.parse(payload.toString('utf8')))
      if (!r.success) {
        const i = r.error.issues[0]
        this.invalid(
          `schema:${i?.path.join('.')}`,
          `ignoring an invalid log request: ${i?.path.join('.')}: ${i?.message}`,
        )
        this.send(reply, {
          seq: 0,
          done: true,
          error: { code: 'bad_request', message: `${i?.path.join('.')}: ${i?.message}` },
        })
        return
      }
      req = r.data
    } catch {
      this.invalid('json', 'ignoring a log request that is not JSON')
      return
    }
    switch (req.op) {
      case 'stop': {
        const f = this.follows.get(id)
        if (f) this.end(id, f, null)
        return
      }
      case 'renew': {
        const f = this.follows.get(id)
        if (f) f.lease.refresh()
        return
      }
      case 'read':
        void this.read(req, reply)
        return
      case 'follow':
        void this.follow(id, req, reply)
        return
    }
  }

  private send(
    reply: { topic: string; correlation: Buffer },
    chunk: Partial<LogChunk> & { seq: number; done: boolean },
    qos: 0 | 1 = 1,
  ): void {
    const full: LogChunk = { v: 1, lines: [], skipped: 0, cursor: null, ...chunk }
    this.o.conn.publishJson(reply.topic, LogChunk, full, {
      qos,
      properties: { correlationData: reply.correlation, contentType: 'application/json' },
    })
  }

  /** Splits lines into chunks within the size limits. */
  private chunks(lines: LogLine[]): LogLine[][] {
    const out: LogLine[][] = []
    let cur: LogLine[] = []
    let bytes = 0
    for (const l of lines) {
      const size = l.text.length * 1.2 + 160
      if (
        cur.length > 0 &&
        (cur.length >= LOG_LIMITS.maxChunkLines || bytes + size > LOG_LIMITS.maxChunkBytes)
      ) {
        out.push(cur)
        cur = []
        bytes = 0
      }
      cur.push(l)
      bytes += size
    }
    if (cur.length > 0) out.push(cur)
    return out
  }

  private failure(e: unknown): LogChunk['error'] {
    if (e instanceof LogError) return { code: e.code, message: e.message.slice(0, 1000) }
    this.o.counters.inc('logs.errors')
    this.o.log.once(`logs-failed:${(e as Error).message}`, 'reading logs failed:', e)
    return { code: 'failed', message: ((e as Error).message || String(e)).slice(0, 1000) }
  }

  private async read(
    req: Extract<LogRequest, { op: 'read' }>,
    reply: { topic: string; correlation: Buffer },
  ) {
    const abort = new AbortController()
    const timer = setTimeout(() => abort.abort(), this.o.readTimeoutMs ?? 15_000)
    try {
      const r = await this.o.source.read(req, abort.signal)
      this.o.counters.inc('logs.reads')
      const parts = this.chunks(r.lines)
      if (parts.length === 0) parts.push([])
      for (const [seq, lines] of parts.entries())
        this.send(reply, {
          seq,
          lines,
          done: seq === parts.length - 1,
          subject: r.subject,
          ...(seq === parts.length - 1
            ? { cursor: r.cursor, ...(r.scanned === undefined ? {} : { scanned: r.scanned }) }
            : {}),
        })
    } catch (e) {
      this.send(reply, { seq: 0, done: true, error: this.failure(e) })
    } finally {
      clearTimeout(timer)
    }
  }

  private async follow(
    id: string,
    req: Extract<LogRequest, { op: 'follow' }>,
    reply: { topic: string; correlation: Buffer },
  ) {
    if (this.follows.has(id)) return
    if (this.follows.size >= LOG_LIMITS.maxFollows) {
      this.o.counters.inc('logs.busy')
      this.send(reply, {
        seq: 0,
        done: true,
        error: { code: 'busy', message: `already following ${LOG_LIMITS.maxFollows} logs: try again later` },
      })
      return
    }
    const abort = new AbortController()
    const f: Follow = {
      abort,
      lease: setTimeout(() => {
        this.o.counters.inc('logs.lease_expired')
        this.end(id, f, null)
      }, LOG_LIMITS.leaseMs),
      flush: setInterval(() => this.flush(f), this.o.flushMs ?? 50),
      pending: [],
      skipped: 0,
      seq: 0,
      window: { second: 0, lines: 0 },
      reply,
    }
    this.follows.set(id, f)
    try {
      const { ended } = await this.o.source.follow(req, (lines) => this.take(f, lines), abort.signal)
      this.o.counters.inc('logs.follows')
      void ended.then(
        () => this.follows.get(id) === f && this.end(id, f, null),
        (e: unknown) => this.follows.get(id) === f && this.end(id, f, this.failure(e)),
      )
    } catch (e) {
      this.end(id, f, this.failure(e))
    }
  }

  /** Lines from the source: kept for the next flush within the rate limit, else counted as skipped. */
  private take(f: Follow, lines: LogLine[]): void {
    const second = Math.floor(Date.now() / 1000)
    if (f.window.second !== second) f.window = { second, lines: 0 }
    const room = Math.max(0, LOG_LIMITS.maxFollowLinesPerSec - f.window.lines)
    const kept = lines.length > room ? lines.slice(0, room) : lines
    f.window.lines += kept.length
    f.skipped += lines.length - kept.length
    for (const l of kept) f.pending.push(l)
    if (lines.length > kept.length) this.o.counters.inc('logs.skipped', lines.length - kept.length)
  }

  private flush(f: Follow): void {
    if (f.pending.length === 0 && f.skipped === 0) return
    const lines = f.pending
    f.pending = []
    const parts = this.chunks(lines)
    if (parts.length === 0) parts.push([])
    for (const [i, part] of parts.entries())
      this.send(f.reply, { seq: f.seq++, lines: part, done: false, skipped: i === 0 ? f.skipped : 0 }, 0)
    f.skipped = 0
  }

  private end(id: string, f: Follow, error: LogChunk['error'] | null): void {
    if (this.follows.get(id) !== f) return
    this.follows.delete(id)
    f.abort.abort()
    clearTimeout(f.lease)
    clearInterval(f.flush)
    this.flush(f)
    this.send(f.reply, { seq: f.seq++, done: true, ...(error ? { error } : {}) }, 1)
  }
}
