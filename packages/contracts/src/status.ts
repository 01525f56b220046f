import { z } from 'zod'
import { envelopeShape } from './envelope.js'

/**
 * A service's own report of its health, retained beside its availability topic.
 * `unavailable` means the process runs but its source (Docker socket, system bus, Ollama…) is missing.
 */
export const ServiceStatus = z.object({
  ...envelopeShape,
  state: z.enum(['ok', 'degraded', 'unavailable']),
  reason: z.string().max(1000).nullable(),
  version: z.string().max(64),
  startedAt: z.number().int().min(0),
  counters: z.record(z.string().max(128), z.number()).default({}),
})
export type ServiceStatus = z.infer<typeof ServiceStatus>

export const Availability = z.enum(['online', 'offline'])
export type Availability = z.infer<typeof Availability>
