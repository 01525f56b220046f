import { StringDecoder } from 'node:string_decoder'
import type { InferenceEndpoint } from '@homelab/contracts'

/** What a response says about the inference, from Ollama's final fields or the OpenAI `usage` block. */
export interface MeterResult {
  /** The body was in the format the endpoint promises (NDJSON / JSON / SSE) and had its final record. */
  complete: boolean
  /** Lines or documents that could not be parsed. */
  invalid: number
  promptTokens: number | null
  completionTokens: number | null
  promptTokensPerSecond: number | null
  tokensPerSecond: number | null
  /** Ollama's own load and load + prompt-eval times (ms). */
  loadMs: number | null
  upstreamTtftMs: number | null
  doneReason: string | null
  error: string | null
}

type Mode = 'ndjson' | 'json' | 'sse'

const MAX_LINE = 4 * 1024 * 1024
const MAX_JSON = 64 * 1024 * 1024

const nonNegInt = (v: unknown): number | null =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : null

/** n per second over a duration in nanoseconds; null when either is missing or the duration is 0. */
function perSecond(n: number | null, ns: number | null): number | null {
  if (n === null || ns === null || ns <= 0) return null
  return Math.round((n / (ns / 1e9)) * 100) / 100
}

function errorText(v: unknown): string | null {
  if (typeof v === 'string') return v.slice(0, 300)
  if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string')
    return ((v as { message: string }).message ?? '').slice(0, 300)
  return null
}

/**
 * Reads a response body as it streams past, keeping only what it needs: the current partial line (NDJSON, SSE) or,
 * for a non-streamed answer, the one JSON document. Content is looked at to find the final counters and is never
 * kept beyond that.
 */
export class ResponseMeter {
  private readonly mode: Mode
  private partial = ''
  private readonly decoder = new StringDecoder('utf8')
  private doc: Buffer[] = []
  private docBytes = 0
  private tooBig = false
  private r: MeterResult = {
    complete: false,
    invalid: 0,
    promptTokens: null,
    completionTokens: null,
    promptTokensPerSecond: null,
    tokensPerSecond: null,
    loadMs: null,
    upstreamTtftMs: null,
    doneReason: null,
    error: null,
  }

  constructor(
    private readonly endpoint: InferenceEndpoint,
    contentType: string | undefined,
  ) {
    const ct = (contentType ?? '').toLowerCase()
    this.mode = ct.includes('ndjson') ? 'ndjson' : ct.includes('event-stream') ? 'sse' : 'json'
  }

  push(chunk: Buffer): void {
    if (this.mode === 'json') {
      if (this.tooBig) return
      this.docBytes += chunk.length
      if (this.docBytes > MAX_JSON) {
        this.tooBig = true
        this.doc = []
        return
      }
      this.doc.push(chunk)
      return
    }
    this.partial += this.decoder.write(chunk)
    let nl = this.partial.indexOf('\n')
    while (nl >= 0) {
      this.line(this.partial.slice(0, nl))
      this.partial = this.partial.slice(nl + 1)
      nl = this.partial.indexOf('\n')
    }
    if (this.partial.length > MAX_LINE) {
      this.r.invalid++
      this.partial = ''
    }
  }

  end(): MeterResult {
    if (this.mode === 'json') {
      if (this.tooBig) this.r.invalid++
      else if (this.docBytes > 0) {
        const obj = this.parse(Buffer.concat(this.doc).toString('utf8'))
        this.doc = []
        if (obj) this.apply(obj)
      }
    } else {
      const rest = this.partial + this.decoder.end()
      this.partial = ''
      if (rest.trim() !== '') this.line(rest)
    }
    return this.r
  }

  private parse(text: string): Record<string, unknown> | null {
    try {
      const v = JSON.parse(text) as unknown
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>
    } catch {
      // counted below
    }
    this.r.invalid++
    return null
  }

  private line(raw: string): void {
    const line = raw.trim()
    if (line === '') return
    if (this.mode === 'sse') {
      if (!line.startsWith('data:')) return // event:, id:, retry:, comments
      const data = line.slice(5).trim()
      if (data === '[DONE]') {
        this.r.complete = true
        return
      }
      const obj = this.parse(data)
      if (obj) this.apply(obj)
      return
    }
    const obj = this.parse(line)
    if (obj) this.apply(obj)
  }

  /** One Ollama record (native) or OpenAI document/chunk. */
  private apply(o: Record<string, unknown>): void {
    const err = errorText(o.error)
    if (err) this.r.error = err
    if (this.endpoint === 'openai.chat') {
      const choices = Array.isArray(o.choices) ? (o.choices as Array<Record<string, unknown>>) : []
      for (const c of choices)
        if (typeof c.finish_reason === 'string') this.r.doneReason = c.finish_reason.slice(0, 32)
      const usage = o.usage as Record<string, unknown> | undefined
      if (usage && typeof usage === 'object') {
        this.r.promptTokens = nonNegInt(usage.prompt_tokens)
        this.r.completionTokens = nonNegInt(usage.completion_tokens)
      }
      if (this.mode === 'json' && (choices.length > 0 || usage)) this.r.complete = true
      return
    }
    if (o.done !== true) return
    this.r.complete = true
    const evalCount = nonNegInt(o.eval_count)
    const promptCount = nonNegInt(o.prompt_eval_count)
    const evalNs = nonNegInt(o.eval_duration)
    const promptNs = nonNegInt(o.prompt_eval_duration)
    const loadNs = nonNegInt(o.load_duration)
    this.r.promptTokens = promptCount
    this.r.completionTokens = evalCount
    this.r.tokensPerSecond = perSecond(evalCount, evalNs)
    this.r.promptTokensPerSecond = perSecond(promptCount, promptNs)
    this.r.loadMs = loadNs === null ? null : loadNs / 1e6
    this.r.upstreamTtftMs =
      loadNs === null && promptNs === null ? null : ((loadNs ?? 0) + (promptNs ?? 0)) / 1e6
    if (typeof o.done_reason === 'string') this.r.doneReason = o.done_reason.slice(0, 32)
  }
}
