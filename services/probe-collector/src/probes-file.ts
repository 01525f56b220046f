import { accessSync, constants, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { dirname } from 'node:path'
import { MAX_PROBES, ProbeEntry, ProbeId, REDACTED } from '@homelab/contracts'
import { type Logger, watchForChanges } from '@homelab/service-kit'
import { z } from 'zod'

/**
 * The probes file (`HOMELAB_PROBES_FILE`, default `<data>/probes.json`): what to check and how often. Every field is
 * checked; an error names the probe and the field, and a rejected file leaves the probes in force unchanged.
 */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const duration = (min: number, max: number, what: string) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    let ms: number | null = null
    if (typeof v === 'number') ms = Number.isInteger(v) ? v : null
    else if (/^(?:\d+(?:ms|s|m|h))+$/.test(v.trim())) {
      ms = 0
      for (const [, n, u] of v.trim().matchAll(/(\d+)(ms|s|m|h)/g)) ms += Number(n) * (UNITS[u ?? 'ms'] ?? 1)
    }
    if (ms === null || ms < min || ms > max) {
      ctx.addIssue({
        code: 'custom',
        message: `${what} is a duration from ${min / 1000} s to ${max / 1000} s ("30s", "5m")`,
      })
      return z.NEVER
    }
    return ms
  })

/** A host name or an address (no scheme, no port). */
const Host = z
  .string()
  .min(1)
  .max(253)
  .refine(
    (h) =>
      isIP(h) !== 0 ||
      /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$/.test(h),
    'a host name or an IP address',
  )
const Port = z.number().int().min(1).max(65535)

/** "200-299,301" → ranges; the default takes 2xx and 3xx. */
const StatusRanges = z
  .string()
  .max(200)
  .default('200-399')
  .transform((v, ctx) => {
    const out: Array<[number, number]> = []
    for (const part of v.split(',').map((p) => p.trim())) {
      const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part)
      const lo = Number(m?.[1])
      const hi = Number(m?.[2] ?? m?.[1])
      if (!m || lo < 100 || hi > 599 || lo > hi) {
        ctx.addIssue({ code: 'custom', message: `"${part}" is not a status or a range such as 200-299` })
        return z.NEVER
      }
      out.push([lo, hi])
    }
    return out
  })

const common = {
  id: ProbeId,
  name: z.string().min(1).max(200).optional(),
  /** How often it runs (each probe starts at a random point of its first interval, so they spread out). */
  interval: duration(5000, 86_400_000, 'interval').default(60_000),
  /** How long one check may take in all before it counts as down. */
  timeout: duration(100, 60_000, 'timeout').default(10_000),
}

const HttpProbe = z
  .object({
    ...common,
    type: z.literal('http'),
    url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).max(2000),
    method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a header name'), z.string().max(4000))
      .default({}),
    body: z
      .string()
      .max(64 * 1024)
      .optional(),
    /** Accepted final status codes ("200-299,301"). */
    status: StatusRanges,
    /** Text the body must contain (read up to 1 MiB). */
    keyword: z.string().min(1).max(1000).optional(),
    /** A dotted path into a JSON body ("status", "checks.0.ok") and the value it must have. */
    json: z
      .object({
        path: z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/),
        equals: z.union([z.string(), z.number(), z.boolean(), z.null()]),
      })
      .strict()
      .optional(),
    /** Redirects followed at most (0: none; the 3xx is then the answer). */
    maxRedirects: z.number().int().min(0).max(20).default(5),
    /** An HTTPS certificate that does not verify (self-signed, wrong name, expired) makes the probe down, unless false. */
    verifyTls: z.boolean().default(true),
    /** `cert.expiring` this many days before the certificate ends. */
    certWarnDays: z.number().int().min(1).max(365).default(14),
  })
  .strict()

const TcpProbe = z.object({ ...common, type: z.literal('tcp'), host: Host, port: Port }).strict()

const TlsProbe = z
  .object({
    ...common,
    type: z.literal('tls'),
    host: Host,
    port: Port.default(443),
    /** The name the certificate must carry (SNI); default: `host`. */
    servername: z.string().min(1).max(253).optional(),
    certWarnDays: z.number().int().min(1).max(365).default(14),
  })
  .strict()

const DnsProbe = z
  .object({
    ...common,
    type: z.literal('dns'),
    name: Host,
    record: z.enum(['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'SRV', 'PTR']).default('A'),
    /** The resolver to ask (`192.168.1.1` or `192.168.1.1:5353`); default: the system's. */
    server: z
      .string()
      .max(100)
      .refine(
        (s) => isIP(s.replace(/^\[(.*)\](?::\d+)?$/, '$1').replace(/:\d+$/, '')) !== 0,
        'an IP address, with an optional :port',
      )
      .optional(),
    /** An answer that must be among them. */
    expect: z.string().min(1).max(500).optional(),
  })
  .strict()

const IcmpProbe = z
  .object({
    ...common,
    type: z.literal('icmp'),
    host: Host,
    /** Echo requests per check; loss is the share not answered. */
    count: z.number().int().min(1).max(20).default(3),
  })
  .strict()

export const ProbeSpec = z.discriminatedUnion('type', [HttpProbe, TcpProbe, TlsProbe, DnsProbe, IcmpProbe])
export type ProbeSpec = z.infer<typeof ProbeSpec>
export type HttpSpec = z.infer<typeof HttpProbe>
export type TcpSpec = z.infer<typeof TcpProbe>
export type TlsSpec = z.infer<typeof TlsProbe>
export type DnsSpec = z.infer<typeof DnsProbe>
export type IcmpSpec = z.infer<typeof IcmpProbe>

export const ProbesFile = z
  .object({
    $schema: z.string().optional(),
    probes: z.array(z.unknown()).max(MAX_PROBES, `at most ${MAX_PROBES} probes per collector`),
  })
  .strict()

/** What a probe checks, as shown: a URL without its credentials, host:port, a name. */
export function targetOf(p: ProbeSpec): string {
  switch (p.type) {
    case 'http': {
      const u = new URL(p.url)
      u.username = ''
      u.password = ''
      return u.toString()
    }
    case 'tcp':
    case 'tls':
      return `${p.host}:${p.port}`
    case 'dns':
      return `${p.name} ${p.record}${p.server ? ` @${p.server}` : ''}`
    case 'icmp':
      return p.host
  }
}

export class ProbesError extends Error {
  override name = 'ProbesError'
  constructor(readonly errors: string[]) {
    super(errors.join('; '))
  }
}

/** Checks a probes file's text and returns its probes; throws a ProbesError naming each probe and field. */
export function parseProbes(text: string): ProbeSpec[] {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new ProbesError([`the file is not valid JSON: ${(e as Error).message}`])
  }
  const file = ProbesFile.safeParse(json)
  if (!file.success)
    throw new ProbesError(
      file.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`),
    )
  const errors: string[] = []
  const out: ProbeSpec[] = []
  const seen = new Set<string>()
  file.data.probes.forEach((raw, i) => {
    const r = ProbeSpec.safeParse(raw)
    const id = z.object({ id: z.string() }).safeParse(raw)
    const where = `probe ${id.success ? `"${id.data.id}" ` : ''}(probes[${i}])`
    if (!r.success) {
      for (const issue of r.error.issues.slice(0, 3))
        errors.push(`${where}: ${issue.path.join('.') || '(probe)'}: ${issue.message}`)
      return
    }
    if (seen.has(r.data.id)) errors.push(`${where}: id: used by an earlier probe too`)
    seen.add(r.data.id)
    out.push(r.data)
  })
  if (errors.length) throw new ProbesError(errors.slice(0, 50))
  return out
}

/**
 * The probes file on disk: read at start (a missing file is no probes, a broken one none until it is fixed, loudly),
 * re-read when it changes (polled each second, so a bind mount works); a broken edit keeps the probes in force.
 */
export class ProbesFileStore {
  probes: ProbeSpec[] = []
  rejected: { at: number; errors: string[] } | null = null
  private lastText: string | null = null
  /** The entries of the file in force, as written (durations as "30s"), for the editor and for edits. */
  private raw: Record<string, unknown>[] = []

  constructor(private readonly d: { file: string; log: Logger; now: () => number }) {}

  /** Reads the file; true when the probes in force changed. */
  read(): boolean {
    let text: string
    try {
      text = existsSync(this.d.file) ? readFileSync(this.d.file, 'utf8') : '{"probes": []}'
    } catch (e) {
      text = `\0${(e as Error).message}`
    }
    if (text === this.lastText) return false
    this.lastText = text
    try {
      if (text.startsWith('\0')) throw new ProbesError([`cannot read ${this.d.file}: ${text.slice(1)}`])
      this.probes = parseProbes(text)
      this.raw = rawEntries(text)
      this.rejected = null
      return true
    } catch (e) {
      const errors = e instanceof ProbesError ? e.errors : [String(e)]
      this.rejected = { at: this.d.now(), errors }
      this.d.log.warn(
        `rejected the probes in ${this.d.file}; the probes in force stay:\n  ${errors.join('\n  ')}`,
      )
      return false
    }
  }

  get file(): string {
    return this.d.file
  }

  /** Whether this process may write the file (or create it in its folder). */
  get writable(): boolean {
    try {
      accessSync(existsSync(this.d.file) ? this.d.file : dirname(this.d.file), constants.W_OK)
      return true
    } catch {
      return false
    }
  }

  /** The probes in force as the file writes them, secrets replaced by "…" (what the dashboard's editor shows). */
  entries(): ProbeEntry[] {
    return this.raw.flatMap((e) => {
      const r = ProbeEntry.safeParse(redact(e))
      return r.success ? [r.data] : []
    })
  }

  /**
   * Adds or replaces (`entry`) or removes (null) the probe `id` in the file: a "…" in the entry keeps the stored
   * secret; the whole file is checked as a hand edit would be, then written (a temporary file renamed over it, so a
   * crash never leaves half a file) and put in force. Never writes a file that would be rejected.
   */
  edit(
    id: string,
    entry: Record<string, unknown> | null,
  ):
    | { ok: true; changes: string }
    | { ok: false; outcome: 'refused' | 'not_found' | 'failed'; message: string } {
    if (this.rejected)
      return {
        ok: false,
        outcome: 'refused',
        message: `the probes file is rejected (${this.rejected.errors[0]}): fix it by hand first`,
      }
    const list = [...this.raw]
    const at = list.findIndex((e) => e.id === id)
    let changes: string
    if (entry === null) {
      if (at === -1) return { ok: false, outcome: 'not_found', message: `no probe "${id}"` }
      list.splice(at, 1)
      changes = 'removed'
    } else {
      const merged = keepSecrets({ ...entry, id }, at === -1 ? null : list[at]!)
      if (at === -1) list.push(merged)
      else list[at] = merged
      changes = at === -1 ? 'added' : 'changed'
    }
    let before: unknown = {}
    try {
      before = this.lastText && !this.lastText.startsWith('\0') ? JSON.parse(this.lastText) : {}
    } catch {
      before = {}
    }
    const schema =
      before && typeof before === 'object' && '$schema' in before ? { $schema: before.$schema } : {}
    const text = `${JSON.stringify({ ...schema, probes: list }, null, 2)}\n`
    try {
      parseProbes(text)
    } catch (e) {
      const errors = e instanceof ProbesError ? e.errors : [String(e)]
      return { ok: false, outcome: 'refused', message: errors.slice(0, 3).join('; ') }
    }
    const tmp = `${this.d.file}.${process.pid}.tmp`
    try {
      writeFileSync(tmp, text, { mode: 0o640 })
      renameSync(tmp, this.d.file)
    } catch (e) {
      const err = e as NodeJS.ErrnoException
      rmSync(tmp, { force: true })
      return {
        ok: false,
        outcome: 'failed',
        message:
          err.code === 'EROFS' || err.code === 'EACCES' || err.code === 'EPERM'
            ? `the probes file ${this.d.file} is not writable here (${err.code}): edit it by hand, or mount its folder writable for the probe-collector (docs/probes.md)`
            : `cannot write ${this.d.file}: ${err.message}`,
      }
    }
    this.read()
    return { ok: true, changes }
  }

  private stopWatching: (() => void) | null = null

  /** Calls `onChange` when the file changes (see watchForChanges). */
  watch(onChange: () => void): void {
    this.stopWatching?.()
    this.stopWatching = watchForChanges(this.d.file, onChange)
  }

  unwatch(): void {
    this.stopWatching?.()
    this.stopWatching = null
  }
}

/** The entries of a probes file's text that parseProbes accepted. */
function rawEntries(text: string): Record<string, unknown>[] {
  const j = z.object({ probes: z.array(z.record(z.string(), z.unknown())) }).safeParse(JSON.parse(text))
  return j.success ? j.data.probes : []
}

/** A URL's password, as `new URL` keeps it (percent-encoded). */
const REDACTED_URL_PART = encodeURIComponent(REDACTED)

/** An entry with its secrets replaced by "…": header values, a URL's password, a request body. */
export function redact(e: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...e }
  const headers = z.record(z.string(), z.unknown()).safeParse(e.headers)
  if (headers.success) out.headers = Object.fromEntries(Object.keys(headers.data).map((k) => [k, REDACTED]))
  if (typeof e.body === 'string') out.body = REDACTED
  if (typeof e.url === 'string') {
    try {
      const u = new URL(e.url)
      if (u.password) {
        u.password = REDACTED_URL_PART
        out.url = u.toString()
      }
    } catch {
      // Not a URL: the file's check says so; nothing to hide.
    }
  }
  return out
}

/** `next` with each "…" replaced by what `prev` holds there (a secret the editor never saw). */
export function keepSecrets(
  next: Record<string, unknown>,
  prev: Record<string, unknown> | null,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...next }
  const prevHeaders = z.record(z.string(), z.unknown()).safeParse(prev?.headers)
  const nextHeaders = z.record(z.string(), z.unknown()).safeParse(next.headers)
  if (nextHeaders.success)
    out.headers = Object.fromEntries(
      Object.entries(nextHeaders.data)
        .filter(([k, v]) => v !== REDACTED || (prevHeaders.success && k in prevHeaders.data))
        .map(([k, v]) => [k, v === REDACTED && prevHeaders.success ? prevHeaders.data[k] : v]),
    )
  if (next.body === REDACTED) {
    if (typeof prev?.body === 'string') out.body = prev.body
    else delete out.body
  }
  if (typeof next.url === 'string' && typeof prev?.url === 'string') {
    try {
      const u = new URL(next.url)
      const p = new URL(prev.url)
      if (u.password === REDACTED_URL_PART) {
        u.password = p.password
        out.url = u.toString()
      }
    } catch {
      // A malformed URL is refused by the file's check.
    }
  }
  return out
}
