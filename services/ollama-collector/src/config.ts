import { commonShape, duration, haShape, port } from '@homelab/service-kit'
import { z } from 'zod'

/**
 * OLLAMA_HOST as Ollama itself reads it: `host`, `host:port` or `scheme://host[:port][/path]`; the scheme defaults
 * to http, the host to 127.0.0.1 and the port to 11434 (443 for https). Returns the base URL without a trailing "/".
 */
export function normalizeOllamaHost(raw: string): string {
  const s = raw.trim() === '' ? '127.0.0.1:11434' : raw.trim()
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1]?.toLowerCase()
  if (scheme && scheme !== 'http' && scheme !== 'https')
    throw new Error(`scheme "${scheme}" is not http or https`)
  const rest = scheme ? s.slice(scheme.length + 3) : s
  const authority = rest.split('/')[0] ?? ''
  const u = new URL(`${scheme ?? 'http'}://${rest}`)
  if (u.search || u.hash) throw new Error('a query or fragment is not allowed')
  const explicitPort = /:\d+$/.test(authority)
  const port = explicitPort
    ? `:${authority.slice(authority.lastIndexOf(':') + 1)}`
    : u.protocol === 'https:'
      ? ''
      : ':11434'
  const auth = u.username ? `${u.username}:${u.password}@` : ''
  return `${u.protocol}//${auth}${u.hostname}${port}${u.pathname.replace(/\/+$/, '')}`
}

/** The URL for display and documents: no credentials. */
export function displayUrl(base: string): string {
  const u = new URL(base)
  u.username = ''
  u.password = ''
  return u.toString().replace(/\/$/, '')
}

const ollamaHost = z
  .string()
  .default('http://127.0.0.1:11434')
  .transform((s, ctx) => {
    try {
      return normalizeOllamaHost(s)
    } catch (e) {
      ctx.addIssue({
        code: 'custom',
        message: `must be Ollama's address such as http://127.0.0.1:11434 or 192.168.1.5:11434 (${(e as Error).message})`,
      })
      return z.NEVER
    }
  })

export const OllamaCollectorShape = {
  /** Ollama's own variable (same forms it accepts). */
  OLLAMA_HOST: ollamaHost,
  /** How often /api/version, /api/tags and /api/ps are read. */
  HOMELAB_OLLAMA_INTERVAL_MS: duration(200, 3_600_000).default(5000),
  /** How long one of those reads may take before Ollama counts as not answering. */
  HOMELAB_OLLAMA_TIMEOUT_MS: duration(100, 60_000).default(3000),
  /** The measuring proxy's port; unset or 0 = no proxy. */
  HOMELAB_OLLAMA_PROXY_PORT: port('HOMELAB_OLLAMA_PROXY_PORT').optional(),
  /** Address the proxy listens on (0.0.0.0 inside a container, so other containers reach it). */
  HOMELAB_OLLAMA_PROXY_BIND: z.string().min(1).max(64).default('127.0.0.1'),
  /** The proxy gives up on an upstream that sends nothing for this long (a model load can take minutes). */
  HOMELAB_OLLAMA_PROXY_IDLE_TIMEOUT_MS: duration(100, 3_600_000).default(300_000),
  /** Largest request body the proxy reads to find the model name (images in a chat are base64 in the body). */
  HOMELAB_OLLAMA_PROXY_MAX_BODY_BYTES: z.coerce
    .number({ error: 'must be a number of bytes' })
    .int()
    .min(1024, 'must be at least 1024 bytes')
    .max(1024 * 1024 * 1024, 'must be at most 1 GiB')
    .default(64 * 1024 * 1024),
  /** `auto`: read NVIDIA GPUs through nvidia-smi when it is there; `off`: never. */
  HOMELAB_OLLAMA_GPU: z.enum(['auto', 'off']).default('auto'),
  /** The nvidia-smi program (a path or a name on PATH). */
  HOMELAB_NVIDIA_SMI: z.string().min(1).max(512).default('nvidia-smi'),
}

export const OllamaCollectorConfig = z.object({ ...commonShape, ...haShape, ...OllamaCollectorShape })
export type OllamaCollectorConfig = z.infer<typeof OllamaCollectorConfig>

/** The Ollama settings of a loaded config, as the service takes them (shared with the all-in-one). */
export function ollamaOptions(c: Pick<OllamaCollectorConfig, keyof typeof OllamaCollectorShape>) {
  return {
    ollamaHost: c.OLLAMA_HOST,
    intervalMs: c.HOMELAB_OLLAMA_INTERVAL_MS,
    timeoutMs: c.HOMELAB_OLLAMA_TIMEOUT_MS,
    proxy: c.HOMELAB_OLLAMA_PROXY_PORT
      ? {
          port: c.HOMELAB_OLLAMA_PROXY_PORT,
          bind: c.HOMELAB_OLLAMA_PROXY_BIND,
          idleTimeoutMs: c.HOMELAB_OLLAMA_PROXY_IDLE_TIMEOUT_MS,
          maxBodyBytes: c.HOMELAB_OLLAMA_PROXY_MAX_BODY_BYTES,
        }
      : null,
    gpu: { enabled: c.HOMELAB_OLLAMA_GPU === 'auto', program: c.HOMELAB_NVIDIA_SMI },
  }
}
