import { ModelName, type OllamaLoadedModel, type OllamaModel } from '@homelab/contracts'
import { z } from 'zod'

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
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } }
  const code = err.cause?.code
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
  return `Ollama not detected at OLLAMA_HOST (${where}): ${err.cause?.message ?? err.message ?? String(e)}. ${hint}`
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
    const res = await fetch(`${this.base}${path}`, {
      headers: this.headers,
      signal: AbortSignal.timeout(this.timeoutMs),
    })
    const text = await res.text()
    if (!res.ok) throw new OllamaResponseError(`answered ${res.status} to GET ${path}`)
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
