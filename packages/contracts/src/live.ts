import { z } from 'zod'
import { READING_KINDS, type ReadingDocs, type ReadingKindName } from './bus.js'
import { HostId, ServiceName } from './envelope.js'
import { Event } from './events.js'
import { Availability, ServiceStatus } from './status.js'

const from = { topic: z.string(), host: HostId, service: ServiceName }

function liveReadingSchema<K extends ReadingKindName>(kind: K) {
  return z.object({
    ...from,
    channel: z.literal('reading'),
    kind: z.literal(kind),
    entity: z.string().nullable(),
    /** `null`: the retained document was cleared (a container that is gone). */
    payload: READING_KINDS[kind].schema.nullable(),
  })
}

/**
 * Server-sent event payload of GET /api/live: where a message was published (the topic and its parsed parts) and the
 * validated document, typed by channel and, for readings, by kind — narrowing on `channel` and `kind` gives the
 * payload's type, and nobody parses topic strings.
 */
export const LiveMessage = z.discriminatedUnion('channel', [
  z.object({ ...from, channel: z.literal('availability'), payload: Availability }),
  z.object({ ...from, channel: z.literal('status'), payload: ServiceStatus.nullable() }),
  z.object({ ...from, channel: z.literal('event'), type: z.string(), payload: Event }),
  z.discriminatedUnion('kind', [
    liveReadingSchema('system'),
    liveReadingSchema('facts'),
    liveReadingSchema('processes'),
    liveReadingSchema('disks'),
    liveReadingSchema('ups'),
    liveReadingSchema('container'),
    liveReadingSchema('engine'),
    liveReadingSchema('unit'),
    liveReadingSchema('ollama'),
    liveReadingSchema('probe'),
    liveReadingSchema('probe-config'),
    liveReadingSchema('alerts'),
    liveReadingSchema('alert'),
    liveReadingSchema('rules'),
    liveReadingSchema('log-watches'),
  ]),
])
export type LiveMessage = z.infer<typeof LiveMessage>
export type LiveReading = Extract<LiveMessage, { channel: 'reading' }>

/** Where a live message was published. */
export type LiveFrom = Pick<LiveMessage, 'topic' | 'host' | 'service'>

type LiveReadings = { [K in ReadingKindName]: Extract<LiveReading, { kind: K }> }
type Build<K extends ReadingKindName> = (
  from: LiveFrom,
  entity: string | null,
  doc: ReadingDocs[K] | null,
) => LiveReadings[K]

const BUILDERS: { [K in ReadingKindName]: Build<K> } = {
  system: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'system', entity, payload }),
  facts: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'facts', entity, payload }),
  processes: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'processes', entity, payload }),
  disks: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'disks', entity, payload }),
  ups: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'ups', entity, payload }),
  container: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'container', entity, payload }),
  engine: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'engine', entity, payload }),
  unit: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'unit', entity, payload }),
  ollama: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'ollama', entity, payload }),
  probe: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'probe', entity, payload }),
  'probe-config': (f, entity, payload) => ({
    ...f,
    channel: 'reading',
    kind: 'probe-config',
    entity,
    payload,
  }),
  alerts: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'alerts', entity, payload }),
  alert: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'alert', entity, payload }),
  rules: (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'rules', entity, payload }),
  'log-watches': (f, entity, payload) => ({ ...f, channel: 'reading', kind: 'log-watches', entity, payload }),
}

/** The live message of a reading (`doc` null: its retained document was cleared). */
export function liveReading<K extends ReadingKindName>(
  from: LiveFrom,
  kind: K,
  entity: string | null,
  doc: ReadingDocs[K] | null,
): LiveReadings[K] {
  return BUILDERS[kind](from, entity, doc)
}
