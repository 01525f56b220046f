import { z } from 'zod'
import { envelopeShape } from './envelope.js'
import { boundedRecord } from './json.js'

/** Event type names: dotted, lower-case ("service.availability", "container.die"). */
export const EventType = z
  .string()
  .regex(/^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$/, 'an event type is dotted lower-case words')

/**
 * Every event in the log. `id` is unique per event (producers use a random UUID) and makes redelivery idempotent.
 * `subject` names the entity it concerns ("system", a container name, a unit name). `data` is type-specific, at most
 * 8 levels deep and 5,000 values.
 */
export const Event = z.object({
  ...envelopeShape,
  id: z.string().min(8).max(64),
  type: EventType,
  severity: z.enum(['info', 'warning', 'critical']),
  subject: z.string().min(1).max(256),
  message: z.string().max(2000),
  data: boundedRecord().default({}),
})
export type Event = z.infer<typeof Event>
