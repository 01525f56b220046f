import type { z } from 'zod'
import { hideSecrets } from './url.js'

/**
 * Why a delivery did not arrive. `permanent`: the provider said it will never take it as it is (credentials
 * refused, an unknown chat or webhook, a message it rejects) — retrying cannot help, the channel is marked failing.
 * `retryAfterMs`: the provider said when to come back (429 with Retry-After).
 */
export class DeliveryError extends Error {
  override name = 'DeliveryError'
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message)
  }
}

export interface Answer {
  status: number
  headers: Headers
  text: string
  /** The body as JSON, or null when it is not JSON. */
  json: unknown
}

/** How much of an answer is read: providers answer in a few hundred bytes; a huge one is cut, not buffered. */
const MAX_ANSWER_BYTES = 64 * 1024

export interface CallContext {
  timeoutMs: number
  secrets: readonly string[]
}

/**
 * One HTTP request to a provider: bounded in time (connect, headers and body together) and in the size of the answer
 * read. A network failure or time-out is a DeliveryError worth retrying; its message never holds the URL (a token is
 * often in it).
 */
export async function call(
  ctx: CallContext,
  provider: string,
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: string | URLSearchParams },
): Promise<Answer> {
  const signal = AbortSignal.timeout(ctx.timeoutMs)
  try {
    const res = await fetch(url, {
      method: init.method,
      headers: { 'user-agent': 'homelab-observability-alerter', ...init.headers },
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal,
      redirect: 'error',
    })
    const text = await readBounded(res)
    let json: unknown = null
    try {
      json = text ? JSON.parse(text) : null
    } catch {
      json = null
    }
    return { status: res.status, headers: res.headers, text, json }
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } }
    const why =
      err.name === 'TimeoutError' || signal.aborted
        ? `no answer within ${ctx.timeoutMs} ms`
        : (err.cause?.code ?? err.cause?.message ?? err.message)
    throw new DeliveryError(`${provider}: ${hideSecrets(why, ctx.secrets)}`, false)
  }
}

async function readBounded(res: Response): Promise<string> {
  if (!res.body) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    size += value.byteLength
    if (size >= MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => undefined)
      break
    }
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_ANSWER_BYTES)
}

/** `Retry-After` in seconds or as an HTTP date, else what the body said (seconds), in ms; null when neither. */
export function retryAfter(a: Answer, bodySeconds: number | null = null): number | null {
  const h = a.headers.get('retry-after')
  if (h) {
    const s = Number(h)
    if (Number.isFinite(s) && s >= 0) return Math.ceil(s * 1000)
    const at = Date.parse(h)
    if (Number.isFinite(at)) return Math.max(0, at - Date.now())
  }
  return bodySeconds !== null && Number.isFinite(bodySeconds) && bodySeconds >= 0
    ? Math.ceil(bodySeconds * 1000)
    : null
}

/**
 * Throws the DeliveryError an answer that is not a success means: 429 comes back later (when the provider said), 401
 * and 403 are refused credentials and other 4xx a message or target the provider will never take (both permanent),
 * 5xx and 408 are worth retrying. `why` is the provider's own reason, shown with the status.
 */
export function failure(
  ctx: CallContext,
  provider: string,
  a: Answer,
  why: string,
  bodyRetrySeconds: number | null = null,
): DeliveryError {
  const reason = hideSecrets(why.replace(/\s+/g, ' ').trim(), ctx.secrets).slice(0, 300)
  const msg = `${provider} answered HTTP ${a.status}${reason ? `: ${reason}` : ''}`
  if (a.status === 429) return new DeliveryError(msg, false, retryAfter(a, bodyRetrySeconds))
  if (a.status === 401 || a.status === 403)
    return new DeliveryError(`${msg} — the credentials were refused; fix the channel's URL`, true)
  if (a.status >= 400 && a.status < 500 && a.status !== 408 && a.status !== 425)
    return new DeliveryError(msg, true)
  return new DeliveryError(msg, false)
}

/** A provider's JSON answer read with its schema (only the fields used); null when it is not that shape. */
export function answerAs<S extends z.ZodType>(schema: S, a: Answer): z.infer<S> | null {
  const r = schema.safeParse(a.json)
  return r.success ? r.data : null
}
