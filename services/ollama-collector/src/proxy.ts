import { randomUUID } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { type InferenceEndpoint, type InferenceRecord, ModelName, type ProxyState } from '@homelab/contracts'
import type { Counters, Logger } from '@homelab/service-kit'
import { ResponseMeter } from './meter.js'

export interface ProxyOptions {
  /** Ollama's base URL (may carry credentials and a path prefix). */
  upstream: string
  port: number
  bind: string
  idleTimeoutMs: number
  maxBodyBytes: number
  log: Logger
  counters: Counters
  /** Called once per measured request when it has ended, whatever the outcome. */
  onRecord: (r: InferenceRecord) => void
}

/** The requests the proxy measures: method, path → endpoint. */
const MEASURED: Readonly<Record<string, InferenceEndpoint>> = {
  '/api/generate': 'generate',
  '/api/chat': 'chat',
  '/v1/chat/completions': 'openai.chat',
}

/** Hop-by-hop headers (RFC 9110 §7.6.1): they belong to one connection and are never forwarded. */
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

function endToEnd(h: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const listed = new Set(
    String(h.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  )
  const out: http.OutgoingHttpHeaders = {}
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP.has(k) && !listed.has(k)) out[k] = v
  return out
}

function ollamaError(res: http.ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = JSON.stringify({ error: message })
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  })
  res.end(body)
}

/**
 * A reverse proxy in front of Ollama that measures inference. Every request is forwarded unchanged (method, path,
 * headers except hop-by-hop ones, body) and every response streams back chunk by chunk as it arrives, never
 * buffered. For generate, chat and the OpenAI chat endpoint it reads the model name from the request body and the
 * final counters from the response as it passes; the content itself is neither kept nor logged.
 */
export class MeasuringProxy {
  private server: http.Server | null = null
  private readonly target: URL
  private readonly auth: string | null
  private readonly agent: http.Agent
  private active = 0
  private activeInferences = 0
  private requests = 0
  private errors = 0
  private boundPort = 0

  constructor(private readonly o: ProxyOptions) {
    const u = new URL(o.upstream)
    this.auth = u.username
      ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`
      : null
    u.username = ''
    u.password = ''
    this.target = u
    const Agent = u.protocol === 'https:' ? https.Agent : http.Agent
    this.agent = new Agent({ keepAlive: true, maxSockets: 256 })
  }

  get port(): number {
    return this.boundPort
  }

  get listen(): string {
    return `${this.o.bind}:${this.boundPort}`
  }

  state(): ProxyState {
    return {
      listen: this.listen,
      active: this.active,
      activeInferences: this.activeInferences,
      requests: this.requests,
      errors: this.errors,
    }
  }

  async start(): Promise<number> {
    const server = http.createServer((req, res) => this.handle(req, res))
    server.on('clientError', (_e, socket) => {
      this.o.counters.inc('proxy.client_errors')
      socket.destroy()
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new Error(
            e.code === 'EADDRINUSE'
              ? `the Ollama proxy cannot listen on ${this.o.bind}:${this.o.port}: the port is in use (set HOMELAB_OLLAMA_PROXY_PORT to a free one)`
              : `the Ollama proxy cannot listen on ${this.o.bind}:${this.o.port}: ${e.message}`,
          ),
        ),
      )
      server.listen(this.o.port, this.o.bind, () => resolve())
    })
    this.server = server
    this.boundPort = (server.address() as AddressInfo).port
    return this.boundPort
  }

  async stop(): Promise<void> {
    const s = this.server
    this.server = null
    if (!s) return
    await new Promise<void>((resolve) => {
      s.close(() => resolve())
      s.closeAllConnections()
    })
    this.agent.destroy()
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const startedAt = Date.now()
    const t0 = performance.now()
    this.requests++
    this.active++
    this.o.counters.inc('proxy.requests')
    let done = false
    const finish = () => {
      if (done) return
      done = true
      this.active--
    }
    res.on('close', finish)
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const endpoint = req.method === 'POST' ? MEASURED[path] : undefined
    if (!endpoint) {
      this.forward(req, res, null, null)
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let tooBig = false
    req.on('data', (c: Buffer) => {
      if (tooBig) return
      size += c.length
      if (size > this.o.maxBodyBytes) {
        tooBig = true
        chunks.length = 0
        return
      }
      chunks.push(c)
    })
    req.on('error', () => this.o.counters.inc('proxy.client_errors'))
    req.on('end', () => {
      if (tooBig) {
        this.o.counters.inc('proxy.body_too_large')
        this.errors++
        ollamaError(
          res,
          413,
          `request body over ${this.o.maxBodyBytes} bytes (HOMELAB_OLLAMA_PROXY_MAX_BODY_BYTES); send it to Ollama directly`,
        )
        return
      }
      const body = Buffer.concat(chunks)
      let model: string | null = null
      let stream = endpoint !== 'openai.chat'
      try {
        const j = JSON.parse(body.toString('utf8')) as { model?: unknown; stream?: unknown }
        const m = ModelName.safeParse(j.model)
        if (m.success) model = m.data
        if (typeof j.stream === 'boolean') stream = j.stream
      } catch {
        // Not JSON: Ollama will say so; forwarded as it is.
      }
      this.forward(req, res, body, { endpoint, model, stream, startedAt, t0 })
    })
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer | null,
    m: {
      endpoint: InferenceEndpoint
      model: string | null
      stream: boolean
      startedAt: number
      t0: number
    } | null,
  ): void {
    const { counters, log } = this.o
    const headers = endToEnd(req.headers)
    headers.host = this.target.host
    if (this.auth) headers.authorization = this.auth
    if (body) {
      headers['content-length'] = String(body.length)
    }
    const basePath = this.target.pathname.replace(/\/$/, '')
    const request = this.target.protocol === 'https:' ? https.request : http.request
    const up = request({
      protocol: this.target.protocol,
      hostname: this.target.hostname.replace(/^\[|\]$/g, ''),
      port: this.target.port || (this.target.protocol === 'https:' ? 443 : 80),
      method: req.method,
      path: `${basePath}${req.url ?? '/'}`,
      headers,
      agent: this.agent,
    })
    let firstByte: number | null = null
    let lastByte: number | null = null
    let bytes = 0
    let status = 0
    let outcome: InferenceRecord['outcome'] | null = null
    let reason: string | null = null
    let meter: ResponseMeter | null = null
    let contentType: string | undefined
    if (m) {
      this.activeInferences++
      counters.inc('proxy.inferences')
    }
    let recorded = false
    const record = () => {
      if (recorded) return
      recorded = true
      if (!m) return
      this.activeInferences--
      const r = meter?.end() ?? null
      if (!outcome) {
        if (status >= 400) outcome = 'error'
        else if (!r?.complete || r.invalid > 0) outcome = 'invalid'
        else outcome = 'ok'
      }
      if (outcome !== 'ok') {
        this.errors++
        counters.inc(`proxy.outcome.${outcome}`)
      }
      const streamed = !!contentType && /ndjson|event-stream/i.test(contentType)
      const ttft = streamed && firstByte !== null ? firstByte - m.t0 : (r?.upstreamTtftMs ?? null)
      let tps = r?.tokensPerSecond ?? null
      if (
        m.endpoint === 'openai.chat' &&
        streamed &&
        r?.completionTokens &&
        firstByte !== null &&
        lastByte !== null
      ) {
        const span = lastByte - firstByte
        tps = span > 0 ? Math.round((r.completionTokens / (span / 1000)) * 100) / 100 : null
      }
      const error =
        reason ??
        r?.error ??
        (outcome === 'invalid'
          ? `the response was not ${m.endpoint === 'openai.chat' ? 'OpenAI' : 'Ollama'} output (${r?.invalid ?? 0} unreadable parts)`
          : null)
      this.o.onRecord({
        requestId: randomUUID(),
        endpoint: m.endpoint,
        model: m.model,
        stream: streamed,
        status,
        outcome,
        startedAt: m.startedAt,
        ttftMs: ttft === null ? null : Math.round(ttft * 100) / 100,
        totalMs: Math.round((performance.now() - m.t0) * 100) / 100,
        loadMs: r?.loadMs ?? null,
        promptTokens: r?.promptTokens ?? null,
        completionTokens: r?.completionTokens ?? null,
        promptTokensPerSecond: r?.promptTokensPerSecond ?? null,
        tokensPerSecond: tps,
        doneReason: r?.doneReason ?? null,
        bytes,
        error: error === null ? null : error.slice(0, 300),
      })
    }

    // Nothing from upstream for idleTimeoutMs (no headers, or a stalled stream): give up on it.
    up.setTimeout(this.o.idleTimeoutMs, () => {
      outcome = 'timeout'
      reason = `Ollama sent nothing for ${this.o.idleTimeoutMs} ms`
      counters.inc('proxy.upstream_timeouts')
      log.once('proxy:timeout', `${reason} (HOMELAB_OLLAMA_PROXY_IDLE_TIMEOUT_MS); gave up on the request`)
      up.destroy(new Error(reason))
    })

    up.on('error', (e: NodeJS.ErrnoException) => {
      if (!outcome) {
        outcome = res.headersSent ? 'invalid' : 'unreachable'
        reason = res.headersSent
          ? `Ollama's response broke off: ${e.code ?? e.message}`
          : `Ollama not reachable at ${this.target.origin}: ${e.code ?? e.message}`
        counters.inc(res.headersSent ? 'proxy.upstream_broken' : 'proxy.upstream_unreachable')
        log.once(`proxy:${e.code ?? e.message}`, reason)
      }
      if (!res.headersSent) ollamaError(res, outcome === 'timeout' ? 504 : 502, reason ?? 'Ollama failed')
      else res.destroy()
      if (!m) this.errors++
      record()
    })

    up.on('response', (upRes) => {
      status = upRes.statusCode ?? 0
      contentType = upRes.headers['content-type']
      if (status >= 500) counters.inc('proxy.upstream_5xx')
      if (m) meter = new ResponseMeter(m.endpoint, contentType)
      res.writeHead(status, upRes.statusMessage, endToEnd(upRes.headers))
      // Headers go out now, so a client sees the status before the first token.
      res.flushHeaders()
      upRes.on('data', (c: Buffer) => {
        const now = performance.now()
        if (firstByte === null) firstByte = now
        lastByte = now
        bytes += c.length
        meter?.push(c)
      })
      upRes.on('end', () => record())
      upRes.on('error', () => undefined)
      upRes.pipe(res)
    })

    // The client went away before the response ended: stop Ollama's work at once.
    res.on('close', () => {
      if (recorded || res.writableFinished) return
      if (!outcome) {
        outcome = 'aborted'
        reason = 'the client disconnected before the response ended'
        counters.inc('proxy.client_aborts')
      }
      up.destroy()
      record()
    })

    if (body) up.end(body)
    else req.pipe(up)
  }
}
