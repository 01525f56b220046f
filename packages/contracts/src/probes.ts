import { z } from 'zod'
import { EpochMs, envelopeShape } from './envelope.js'
import type { Sample } from './series.js'

/**
 * Probes: is a service reachable, how fast, is its certificate expiring. The probe-collector runs the checks of the
 * probes file and publishes one retained `reading/probe/<id>` per probe, `probe.down` / `probe.up` when a probe
 * changes state and `cert.expiring` when a certificate enters its warning window.
 */

/** A probe id: what series, topics, alerts and the API call it. */
export const ProbeId = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,63}$/,
    'a probe id is 1–64 of a-z, 0-9, "-", "_", starting with a letter or digit',
  )

/** How many probes one collector runs at most (a file with more is refused, naming the limit). */
export const MAX_PROBES = 500

export const PROBE_TYPES = ['http', 'tcp', 'tls', 'dns', 'icmp'] as const
export const ProbeType = z.enum(PROBE_TYPES)
export type ProbeType = z.infer<typeof ProbeType>

/** The latency split of an HTTP(S) probe (ms; null where the phase did not happen, e.g. DNS for an address). */
export const HttpTimings = z.object({
  dnsMs: z.number().min(0).nullable(),
  connectMs: z.number().min(0).nullable(),
  tlsMs: z.number().min(0).nullable(),
  firstByteMs: z.number().min(0).nullable(),
})
export type HttpTimings = z.infer<typeof HttpTimings>

/** A certificate as a TLS or HTTPS probe saw it. */
export const CertInfo = z.object({
  subject: z.string().max(500),
  issuer: z.string().max(500),
  validFrom: EpochMs,
  validTo: EpochMs,
  /** Whole days until it expires (negative once it has). */
  daysLeft: z.number(),
  /** The chain verifies against the system's CAs (a self-signed certificate does not: reported, not hidden). */
  chainValid: z.boolean(),
  /** Why the chain does not verify (OpenSSL's code, e.g. DEPTH_ZERO_SELF_SIGNED_CERT). */
  chainError: z.string().max(200).nullable(),
  /** The certificate names the host the probe asked for. */
  hostnameMatch: z.boolean(),
})
export type CertInfo = z.infer<typeof CertInfo>

/** `reading/probe/<id>` (retained): the latest result of one probe. */
export const ProbeReading = z.object({
  ...envelopeShape,
  source: z.literal('probe-collector'),
  probe: z.object({
    id: ProbeId,
    name: z.string().max(200),
    type: ProbeType,
    /** What it checks, as shown (a URL without credentials, host:port, a name). */
    target: z.string().max(500),
    intervalMs: z.number().int().min(1000),
  }),
  up: z.boolean(),
  /** Total time of the check (ms); for ICMP the average round trip; null when it did not get that far. */
  latencyMs: z.number().min(0).nullable(),
  /** Why it is down (or what is odd while up, e.g. a self-signed certificate); null when all is well. */
  reason: z.string().max(1000).nullable(),
  /** HTTP: the final status code. */
  status: z.number().int().nullable(),
  http: HttpTimings.nullable(),
  cert: CertInfo.nullable(),
  /** ICMP: the share of packets lost (0–100). */
  lossPercent: z.number().min(0).max(100).nullable(),
  /** DNS: the answers. */
  answers: z.array(z.string().max(500)).max(50).nullable(),
  /** Since when it has been in its current state (up or down). */
  since: EpochMs,
})
export type ProbeReading = z.infer<typeof ProbeReading>

/** Public series of probes (label `probe` = the probe id). */
export const probeSeries = {
  up: (id: string) => `probe.up{probe=${id}}`,
  latency: (id: string) => `probe.latency_ms{probe=${id}}`,
  certDays: (id: string) => `probe.cert_days{probe=${id}}`,
  loss: (id: string) => `probe.loss_percent{probe=${id}}`,
} as const

export function probeSamples(r: ProbeReading): Sample[] {
  const id = r.probe.id
  const out: Sample[] = [[probeSeries.up(id), r.up ? 1 : 0]]
  if (r.latencyMs !== null) out.push([probeSeries.latency(id), r.latencyMs])
  if (r.cert) out.push([probeSeries.certDays(id), r.cert.daysLeft])
  if (r.lossPercent !== null) out.push([probeSeries.loss(id), r.lossPercent])
  return out
}

/** `probe.down` / `probe.up` when a probe changes state (subject = the probe id); `cert.expiring` once per window. */
export const PROBE_EVENT_TYPES = ['probe.down', 'probe.up', 'cert.expiring'] as const

export const ProbeEventData = z
  .object({
    probe: ProbeId,
    name: z.string().max(200),
    target: z.string().max(500),
    reason: z.string().max(1000).nullable(),
    cert: CertInfo.nullable().optional(),
  })
  .loose()
export type ProbeEventData = z.infer<typeof ProbeEventData>

/** GET /api/probes: every probe's latest result with its uptime over 24 h, 7 d and 30 d (null: no history yet). */
export const ProbeView = z.object({
  host: z.string(),
  reading: ProbeReading,
  stale: z.boolean(),
  uptime: z.object({
    day: z.number().min(0).max(100).nullable(),
    week: z.number().min(0).max(100).nullable(),
    month: z.number().min(0).max(100).nullable(),
  }),
  /** The latency over the last 24 h (for a sparkline): avg per bucket, null where none. */
  latency: z.array(z.number().nullable()),
})
export type ProbeView = z.infer<typeof ProbeView>
export const ProbesResponse = z.object({ probes: z.array(ProbeView) })
export type ProbesResponse = z.infer<typeof ProbesResponse>

/** Commands of the probe-collector (admins, from the dashboard): add or change a probe, remove one. */
export const ProbeAction = z.enum(['set_probe', 'remove_probe'])
export type ProbeAction = z.infer<typeof ProbeAction>

/** What is hidden of a probe in what is shown (header values, a URL's password, a request body). */
export const REDACTED = '…'

/**
 * A probe as its file holds it (durations as written, "30s"), with its secrets replaced by "…": header values, a
 * URL's password, a request body. Sent back unchanged, a "…" keeps the stored value.
 */
export const ProbeEntry = z
  .object({ id: ProbeId, type: ProbeType, name: z.string().max(200).optional() })
  .catchall(z.unknown())
export type ProbeEntry = z.infer<typeof ProbeEntry>

/** `reading/probe-config` (retained): the probes file as the probe-collector holds it, for the dashboard's editor. */
export const ProbeConfigReading = z.object({
  ...envelopeShape,
  source: z.literal('probe-collector'),
  file: z.string().max(4096),
  /** The collector may write the file (the dashboard can edit it); false: it is read-only where it runs. */
  writable: z.boolean(),
  probes: z.array(ProbeEntry).max(MAX_PROBES),
  /** The last rejected version of the file, and why (the probes in force stay). */
  rejected: z.object({ at: EpochMs, errors: z.array(z.string().max(1000)).max(50) }).nullable(),
})
export type ProbeConfigReading = z.infer<typeof ProbeConfigReading>

/** GET /api/probes/config: the host's probes file, or null when no probe-collector there has reported one. */
export const ProbeConfigResponse = z.object({ host: z.string(), config: ProbeConfigReading.nullable() })
export type ProbeConfigResponse = z.infer<typeof ProbeConfigResponse>

/** `PUT /api/probes/:id`: the probe as the probes file takes it (docs/probes.md); its id is the path's. */
export const ProbeBody = z
  .object({ type: ProbeType })
  .catchall(z.unknown())
  .refine((b) => !('id' in b), 'id: the probe id is the path’s, not the body’s')
