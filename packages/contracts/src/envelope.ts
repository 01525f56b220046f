import { z } from 'zod'

/** Schema version carried by every JSON payload. Bump on a breaking change; consumers accept known versions only. */
export const SCHEMA_VERSION = 1 as const

/** The service names that may appear in a topic's `<service>` level. */
export const SERVICE_NAMES = [
  'broker',
  'sys-collector',
  'docker-collector',
  'systemd-collector',
  'ollama-collector',
  'probe-collector',
  'recorder',
  'gateway',
  'alerter',
] as const
export const ServiceName = z.enum(SERVICE_NAMES)
export type ServiceName = z.infer<typeof ServiceName>

/** A host id: lower-case letters, digits and dashes, 1–63 characters (a DNS label, safe in topics and URLs). */
export const HostId = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
    'a host id is 1–63 of a-z, 0-9 and "-", not starting or ending with "-"',
  )
export type HostId = z.infer<typeof HostId>

/** Milliseconds since the Unix epoch; the one time unit used in every payload and API. */
export const EpochMs = z.number().int().min(0).max(8.64e15)

/** Fields every JSON payload carries. */
export const envelopeShape = {
  v: z.literal(SCHEMA_VERSION),
  ts: EpochMs,
  host: HostId,
  source: ServiceName,
}
export const Envelope = z.object(envelopeShape)
export type Envelope = z.infer<typeof Envelope>

/** Turns any hostname into a valid host id ("My_Pi.local" → "my-pi-local"). */
export function sanitizeHostId(name: string): string {
  const id = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 63)
    .replace(/-$/, '')
  return id === '' ? 'host' : id
}
