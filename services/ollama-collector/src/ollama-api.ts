import http from 'node:http'
import https from 'node:https'
import { ModelName, type OllamaLoadedModel, type OllamaModel } from '@homelab/contracts'
import { z } from 'zod'

/** Ollama's largest read (/api/tags with hundreds of models) is a few hundred KiB; more is not Ollama. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024

/** Ollama's documented responses, read leniently: unknown fields ignored, optional ones may be missing. */
const Details = z
  .object({
    format: z.string().optional(),
    family: z.string().optional(),
    parameter_size: z.string().optional(),
    quantization_level: z.string().optional(),
  })
  .loose()
  .optional()

const TagsModel = z
  .object({
    name: z.string(),
    model: z.string().optional(),
    modified_at: z.string().optional(),
    size: z.number().min(0),
    digest: z.string().default(''),
    details: Details,
  })
  .loose()

const PsModel = z
  .object({
    name: z.string(),
    model: z.string().optional(),
    size: z.number().min(0),
    size_vram: z.number().min(0).default(0),
    digest: z.string().default(''),
    expires_at: z.string().optional(),
    context_length: z.number().int().min(0).optional(),
    details: Details,
  })
  .loose()

export const VersionResponse = z.object({ version: z.string() }).loose()
export const TagsResponse = z.object({ models: z.array(TagsModel).nullable().default([]) }).loose()
export const PsResponse = z.object({ models: z.array(PsModel).nullable().default([]) }).loose()

const str = (s: string | undefined, max: number) => (s ? s.slice(0, max) : null)

/** An RFC 3339 time in ms; null when absent or unreadable. Year ≥ 2200 means "never" (keep_alive < 0). */
export function parseTime(s: string | undefined): number | null {
  if (!s || s.startsWith('0001-')) return null
  const t = Date.parse(s)
  if (!Number.isFinite(t) || t < 0) return null
  return t >= Date.UTC(2200, 0, 1) ? null : t
}

/** Installed models; entries whose name is not a valid model name are skipped and counted by the caller. */
export function toInstalled(r: z.infer<typeof TagsResponse>): { models: OllamaModel[]; invalid: number } {
  const models: OllamaModel[] = []
  let invalid = 0
  for (const m of r.models ?? []) {
    const name = ModelName.safeParse(m.name)
    if (!name.success) {
      invalid++
      continue
    }
    models.push({
      name: name.data,
      digest: m.digest.slice(0, 128),
      size: m.size,
      modifiedAt: parseTime(m.modified_at),
      format: str(m.details?.format, 64),
      family: str(m.details?.family, 64),
      parameterSize: str(m.details?.parameter_size, 32),
      quantization: str(m.details?.quantization_level, 32),
    })
  }
  models.sort((a, b) => a.name.localeCompare(b.name))
  return { models, invalid }
}

export function toLoaded(r: z.infer<typeof PsResponse>): { models: OllamaLoadedModel[]; invalid: number } {
  const models: OllamaLoadedModel[] = []
  let invalid = 0
  for (const m of r.models ?? []) {
    const name = ModelName.safeParse(m.name)
    if (!name.success) {
      invalid++
      continue
    }
    const vram = Math.min(m.size_vram, m.size)
    models.push({
      name: name.data,
      digest: m.digest.slice(0, 128),
      size: m.size,
      sizeVram: m.size_vram,
      gpuPercent: m.size > 0 ? Math.round((vram / m.size) * 1000) / 10 : 0,
      contextLength: m.context_length ?? null,
      expiresAt: parseTime(m.expires_at),
      parameterSize: str(m.details?.parameter_size, 32),
      quantization: str(m.details?.quantization_level, 32),
    })
  }
  models.sort((a, b) => a.name.localeCompare(b.name))
  return { models, invalid }
}

/** Why Ollama did not answer, in words an operator can act on. */
export function describeOllamaError(e: unknown, where: string): string {
  const err = e instanceof Error ? e : new Error(String(e))
  // node:http puts the system error's code on the error; fetch put it on its cause.
  const code = errorCode(err) ?? errorCode(err.cause)
  const hint = 'Install Ollama or set OLLAMA_HOST to where it listens (e.g. http://192.168.1.5:11434).'
  if (code === 'ECONNREFUSED')
    return `Ollama not detected at OLLAMA_HOST (${where}): connection refused. ${hint}`
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `Ollama not detected at OLLAMA_HOST (${where}): the host name does not resolve. ${hint}`
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
    return `Ollama not detected at OLLAMA_HOST (${where}): host unreachable. ${hint}`
  if (err.name === 'TimeoutError' || err.name === 'AbortError')
    return `Ollama at OLLAMA_HOST (${where}) did not answer in time`
  if (err.name === 'OllamaResponseError') return `Ollama at OLLAMA_HOST (${where}) ${err.message}`
  const cause = err.cause instanceof Error ? err.cause.message : undefined
  return `Ollama not detected at OLLAMA_HOST (${where}): ${cause ?? err.message}. ${hint}`
}

function errorCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || !('code' in e)) return undefined
  return typeof e.code === 'string' ? e.code : undefined
}

export class OllamaResponseError extends Error {
  override name = 'OllamaResponseError'
}

/** A small client for the three read endpoints. `base` may carry credentials (sent as Basic auth). */
export class OllamaApi {
  private readonly base: string
  private readonly headers: Record<string, string>

  constructor(
    base: string,
    private readonly timeoutMs: number,
  ) {
    const u = new URL(base)
    this.headers = u.username
      ? {
          authorization: `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`,
        }
      : {}
    u.username = ''
    u.password = ''
    this.base = u.toString().replace(/\/$/, '')
  }

  private async get<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
    const { status, text } = await this.request(path)
    if (status < 200 || status > 299) throw new OllamaResponseError(`answered ${status} to GET ${path}`)
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new OllamaResponseError(`answered GET ${path} with something that is not JSON (is it Ollama?)`)
    }
    const r = schema.safeParse(json)
    if (!r.success)
      throw new OllamaResponseError(
        `answered GET ${path} in an unexpected shape: ${r.error.issues[0]?.path.join('.') || '(root)'}: ${r.error.issues[0]?.message}`,
      )
    return r.data
  }

  /**
   * One GET with node:http, not fetch: fetch loads undici (several MB resident, and a costly first call and
   * failed connect), for three small reads every interval. A new connection each time, so an Ollama that
   * restarted is never talked to over a socket it has closed.
   */
  private request(path: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const url = new URL(`${this.base}${path}`)
      const client = url.protocol === 'https:' ? https : http
      const req = client.get(url, { headers: this.headers, agent: false }, (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          if (size > MAX_RESPONSE_BYTES)
            req.destroy(
              new OllamaResponseError(`answered GET ${path} with more than ${MAX_RESPONSE_BYTES} bytes`),
            )
          else chunks.push(c)
        })
        res.on('end', () => {
          clearTimeout(timer)
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') })
        })
        res.on('error', (e) => {
          clearTimeout(timer)
          reject(e)
        })
      })
      const timer = setTimeout(() => {
        const e = new Error(`GET ${path} took longer than ${this.timeoutMs} ms`)
        e.name = 'TimeoutError'
        req.destroy(e)
      }, this.timeoutMs)
      req.on('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
    })
  }

  version() {
    return this.get('/api/version', VersionResponse)
  }
  tags() {
    return this.get('/api/tags', TagsResponse)
  }
  ps() {
    return this.get('/api/ps', PsResponse)
  }
}
