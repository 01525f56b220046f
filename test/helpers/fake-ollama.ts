import http from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A stand-in for Ollama (nothing real can run on this machine), answering as Ollama's documented API does:
 * GET /api/version, /api/tags, /api/ps; POST /api/generate and /api/chat (NDJSON stream by default, one JSON
 * document with `"stream": false`, final record with `done`, `done_reason`, `total_duration`, `load_duration`,
 * `prompt_eval_count`, `prompt_eval_duration`, `eval_count`, `eval_duration`); POST /v1/chat/completions (OpenAI
 * chat completion, SSE `data:` chunks and `data: [DONE]` when streamed, a `usage` chunk when
 * `stream_options.include_usage` is set, `usage` in the document otherwise). A request for an unknown model gets
 * Ollama's 404 `{"error":"model \"x\" not found, try pulling it first"}`. A generate/chat loads the model (it shows
 * in /api/ps until its keep-alive ends).
 *
 * Controls for tests: the inventory, how many tokens and how fast, a gate that holds the last chunk back, failure
 * modes (garbage, 500, hang before or in the middle of a stream), and a record of the exact bytes each request
 * received and each response sent.
 */
export interface FakeModel {
  name: string
  size: number
  digest: string
  modified_at: string
  details: {
    format: string
    family: string
    families: string[]
    parameter_size: string
    quantization_level: string
  }
}

export interface FakeLoaded {
  name: string
  model: string
  size: number
  size_vram: number
  digest: string
  expires_at: string
  context_length: number
  details: FakeModel['details']
}

export type FailureMode = 'none' | 'garbage' | 'error500' | 'hang' | 'hang-mid-stream'

export interface Exchange {
  path: string
  received: Buffer
  sent: Buffer[]
  closedByClient: boolean
  finished: boolean
}

export function fakeModel(name: string, size: number, params = '3.2B', quant = 'Q4_K_M'): FakeModel {
  return {
    name,
    size,
    digest: `${Buffer.from(name).toString('hex').padEnd(64, '0').slice(0, 64)}`,
    modified_at: '2026-11-20T10:15:30.123456789+01:00',
    details: {
      format: 'gguf',
      family: 'llama',
      families: ['llama'],
      parameter_size: params,
      quantization_level: quant,
    },
  }
}

export class FakeOllama {
  version = '0.12.6'
  models: FakeModel[] = []
  loaded: FakeLoaded[] = []
  tokens = 20
  /** Each generated token is `<wordPrefix><i> `. */
  wordPrefix = 'tok'
  /** Delay between streamed tokens; 0 = as fast as the event loop allows (a yield, no timer). */
  tokenDelayMs = 5
  /** What eval_duration reports per token (ns): 12.5 ms → 80 tokens/s. */
  nsPerToken = 12_500_000
  promptNsPerToken = 2_000_000
  loadNs = 150_000_000
  /** A model that is generated for is loaded this much of its size in VRAM (0–1). */
  vramShare = 1
  keepAliveMs = 300_000
  failure: FailureMode = 'none'
  /** When set, streamed responses wait for it before their final record. */
  gate: Promise<void> | null = null
  readonly exchanges: Exchange[] = []
  private server: http.Server | null = null
  private port = 0
  private readonly sockets = new Set<import('node:net').Socket>()
  active = 0

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async start(port = this.port): Promise<void> {
    const server = http.createServer((req, res) => this.handle(req, res))
    server.on('connection', (s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    this.server = server
    this.port = (server.address() as AddressInfo).port
  }

  /** Ollama going away: the port closes and every connection is cut. */
  async stop(): Promise<void> {
    const s = this.server
    this.server = null
    if (!s) return
    for (const sock of this.sockets) sock.destroy()
    await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const ex: Exchange = {
        path: req.url ?? '/',
        received: Buffer.concat(chunks),
        sent: [],
        closedByClient: false,
        finished: false,
      }
      this.exchanges.push(ex)
      this.active++
      res.on('close', () => {
        this.active--
        if (!res.writableFinished) ex.closedByClient = true
      })
      const write = (b: string | Buffer) => {
        const buf = Buffer.isBuffer(b) ? b : Buffer.from(b)
        ex.sent.push(buf)
        res.write(buf)
      }
      const end = () => {
        ex.finished = true
        res.end()
      }
      void this.route(req, res, ex, write, end).catch(() => res.destroy())
    })
  }

  private json(res: http.ServerResponse, ex: Exchange, status: number, body: unknown): void {
    const b = Buffer.from(JSON.stringify(body))
    ex.sent.push(b)
    ex.finished = true
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': b.length })
    res.end(b)
  }

  private async route(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    ex: Exchange,
    write: (b: string | Buffer) => void,
    end: () => void,
  ): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method === 'GET' && path === '/api/version')
      return this.json(res, ex, 200, { version: this.version })
    if (req.method === 'GET' && path === '/api/tags')
      return this.json(res, ex, 200, { models: this.models.map((m) => ({ ...m, model: m.name })) })
    if (req.method === 'GET' && path === '/api/ps') {
      const now = Date.now()
      this.loaded = this.loaded.filter((m) => Date.parse(m.expires_at) > now)
      return this.json(res, ex, 200, { models: this.loaded })
    }
    const kind =
      path === '/api/generate'
        ? 'generate'
        : path === '/api/chat'
          ? 'chat'
          : path === '/v1/chat/completions'
            ? 'openai'
            : null
    if (req.method !== 'POST' || !kind) return this.json(res, ex, 404, { error: '404 page not found' })

    let body: { model?: string; stream?: boolean; stream_options?: { include_usage?: boolean } }
    try {
      body = JSON.parse(ex.received.toString('utf8'))
    } catch {
      return this.json(res, ex, 400, { error: 'invalid character looking for beginning of value' })
    }
    const model = this.models.find((m) => m.name === body.model)
    if (!model) {
      if (kind === 'openai')
        return this.json(res, ex, 404, {
          error: { message: `model "${body.model}" not found, try pulling it first`, type: 'api_error' },
        })
      return this.json(res, ex, 404, { error: `model "${body.model}" not found, try pulling it first` })
    }
    if (this.failure === 'error500')
      return this.json(res, ex, 500, { error: 'llama runner process has terminated' })
    if (this.failure === 'hang') return // never answers
    this.load(model)
    const stream = kind === 'openai' ? body.stream === true : body.stream !== false
    const n = this.tokens
    const words = Array.from({ length: n }, (_, i) => `${this.wordPrefix}${i} `)
    const created = new Date().toISOString()
    const final = {
      done: true,
      done_reason: 'stop',
      total_duration: this.loadNs + 10 * this.promptNsPerToken + n * this.nsPerToken,
      load_duration: this.loadNs,
      prompt_eval_count: 10,
      prompt_eval_duration: 10 * this.promptNsPerToken,
      eval_count: n,
      eval_duration: n * this.nsPerToken,
    }
    const sleep = (ms: number) => new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)))

    if (this.failure === 'garbage') {
      res.writeHead(200, {
        'content-type': stream ? 'application/x-ndjson' : 'application/json; charset=utf-8',
      })
      write('<html>this is not what Ollama sends</html>\n')
      write('{"truncated": ')
      return end()
    }

    if (kind === 'openai') {
      const base = {
        id: 'chatcmpl-123',
        created: Math.floor(Date.now() / 1000),
        model: model.name,
        system_fingerprint: 'fp_ollama',
      }
      if (!stream) {
        return this.json(res, ex, 200, {
          ...base,
          object: 'chat.completion',
          choices: [
            { index: 0, message: { role: 'assistant', content: words.join('') }, finish_reason: 'stop' },
          ],
          usage: { prompt_tokens: 10, completion_tokens: n, total_tokens: 10 + n },
        })
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const chunk = (o: unknown) => write(`data: ${JSON.stringify(o)}\n\n`)
      for (const [i, w] of words.entries()) {
        if (i > 0) await sleep(this.tokenDelayMs)
        if (this.failure === 'hang-mid-stream' && i === Math.floor(n / 2)) return
        chunk({
          ...base,
          object: 'chat.completion.chunk',
          choices: [{ index: 0, delta: { role: 'assistant', content: w }, finish_reason: null }],
        })
      }
      if (this.gate) await this.gate
      chunk({
        ...base,
        object: 'chat.completion.chunk',
        choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: 'stop' }],
      })
      if (body.stream_options?.include_usage)
        chunk({
          ...base,
          object: 'chat.completion.chunk',
          choices: [],
          usage: { prompt_tokens: 10, completion_tokens: n, total_tokens: 10 + n },
        })
      write('data: [DONE]\n\n')
      return end()
    }

    const piece = (w: string) =>
      kind === 'generate'
        ? { model: model.name, created_at: created, response: w, done: false }
        : { model: model.name, created_at: created, message: { role: 'assistant', content: w }, done: false }
    if (!stream) {
      const whole =
        kind === 'generate'
          ? { response: words.join('') }
          : { message: { role: 'assistant', content: words.join('') } }
      return this.json(res, ex, 200, { model: model.name, created_at: created, ...whole, ...final })
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' })
    for (const [i, w] of words.entries()) {
      if (i > 0) await sleep(this.tokenDelayMs)
      if (res.destroyed) return
      if (this.failure === 'hang-mid-stream' && i === Math.floor(n / 2)) return
      write(`${JSON.stringify(piece(w))}\n`)
    }
    if (this.gate) await this.gate
    if (res.destroyed) return
    write(`${JSON.stringify({ ...piece(''), ...final })}\n`)
    end()
  }

  private load(m: FakeModel): void {
    const expires = new Date(Date.now() + this.keepAliveMs).toISOString()
    const existing = this.loaded.find((l) => l.name === m.name)
    if (existing) {
      existing.expires_at = expires
      return
    }
    this.loaded.push({
      name: m.name,
      model: m.name,
      size: m.size,
      size_vram: Math.round(m.size * this.vramShare),
      digest: m.digest,
      expires_at: expires,
      context_length: 4096,
      details: m.details,
    })
  }
}
