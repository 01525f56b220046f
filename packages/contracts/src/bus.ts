import { z } from 'zod'
import { ACCESS_EVENT_TYPES, AccessAudit } from './accounts.js'
import { AlertEventData, AlertReading, AlertsReading, DeliveryFailedData, RulesReading } from './alerts.js'
import { CommandAudit } from './commands.js'
import {
  CONTAINER_EVENT_TYPES,
  ContainerEventData,
  ContainerReading,
  containerSamples,
  containerSeries,
  EngineReading,
  engineSamples,
  engineSeries,
} from './docker.js'
import { Event } from './events.js'
import {
  DISK_EVENT_TYPES,
  DiskEventData,
  DisksReading,
  diskSamples,
  diskSeries,
  UPS_EVENT_TYPES,
  UpsEventData,
  UpsReading,
  upsSamples,
  upsSeries,
} from './hardware.js'
import { LOG_EVENT_TYPES, LogMatchData, LogWatchesReading } from './logs.js'
import {
  InferenceRecord,
  inferenceSamples,
  OLLAMA_EVENT_TYPES,
  OllamaEventData,
  OllamaReading,
  ollamaSamples,
  ollamaSeries,
} from './ollama.js'
import {
  PROBE_EVENT_TYPES,
  ProbeConfigReading,
  ProbeEventData,
  ProbeReading,
  probeSamples,
  probeSeries,
} from './probes.js'
import { ProcessesReading, processSamples, processSeries } from './processes.js'
import { type Sample, systemSamples, systemSeries } from './series.js'
import { Availability, ServiceStatus } from './status.js'
import { HostFacts, SystemReading } from './system.js'
import { UNIT_EVENT_TYPES, UnitEventData, UnitReading, unitSamples, unitSeries } from './systemd.js'
import type { ParsedTopic } from './topics.js'

/**
 * The one map of the bus from `reading/<kind>` to the document published there. Producers, the decoder and every
 * consumer (recorder, gateway, alerter, the browser) take their types from it; a new domain adds its kinds here.
 */
export interface ReadingDocs {
  system: SystemReading
  facts: HostFacts
  processes: ProcessesReading
  disks: DisksReading
  ups: UpsReading
  container: ContainerReading
  engine: EngineReading
  unit: UnitReading
  ollama: OllamaReading
  probe: ProbeReading
  'probe-config': ProbeConfigReading
  alerts: AlertsReading
  alert: AlertReading
  rules: RulesReading
  'log-watches': LogWatchesReading
}
export type ReadingKindName = keyof ReadingDocs

/** What each reading kind carries: its schema, and the numeric samples it contributes to the time series. */
export interface ReadingKind<D> {
  schema: z.ZodType<D>
  /** Numeric samples; `null` for kinds that are state only (no time series). */
  samples: ((reading: D, entity: string | null) => Sample[]) | null
}

export const READING_KINDS: { readonly [K in ReadingKindName]: ReadingKind<ReadingDocs[K]> } = {
  system: { schema: SystemReading, samples: (r) => systemSamples(r) },
  facts: { schema: HostFacts, samples: null },
  processes: { schema: ProcessesReading, samples: (r) => processSamples(r) },
  disks: { schema: DisksReading, samples: (r) => diskSamples(r) },
  ups: { schema: UpsReading, samples: (r) => upsSamples(r) },
  container: { schema: ContainerReading, samples: (r) => containerSamples(r) },
  engine: { schema: EngineReading, samples: (r) => engineSamples(r) },
  unit: { schema: UnitReading, samples: (r) => unitSamples(r) },
  ollama: { schema: OllamaReading, samples: (r) => ollamaSamples(r) },
  probe: { schema: ProbeReading, samples: (r) => probeSamples(r) },
  'probe-config': { schema: ProbeConfigReading, samples: null },
  alerts: { schema: AlertsReading, samples: (r) => [['alerts.firing', r.firing]] },
  alert: { schema: AlertReading, samples: null },
  rules: { schema: RulesReading, samples: null },
  'log-watches': { schema: LogWatchesReading, samples: null },
}

export function isReadingKind(name: string): name is ReadingKindName {
  return Object.hasOwn(READING_KINDS, name)
}

type Parsed<R> = { ok: true; reading: R } | { ok: false; issues: z.core.$ZodIssue[] }

function parserFor<K extends ReadingKindName>(kind: K) {
  return (json: unknown): Parsed<{ kind: K; doc: ReadingDocs[K] }> => {
    const r = READING_KINDS[kind].schema.safeParse(json)
    return r.success ? { ok: true, reading: { kind, doc: r.data } } : { ok: false, issues: r.error.issues }
  }
}

const PARSERS = {
  system: parserFor('system'),
  facts: parserFor('facts'),
  processes: parserFor('processes'),
  disks: parserFor('disks'),
  ups: parserFor('ups'),
  container: parserFor('container'),
  engine: parserFor('engine'),
  unit: parserFor('unit'),
  ollama: parserFor('ollama'),
  probe: parserFor('probe'),
  'probe-config': parserFor('probe-config'),
  alerts: parserFor('alerts'),
  alert: parserFor('alert'),
  rules: parserFor('rules'),
  'log-watches': parserFor('log-watches'),
} satisfies { [K in ReadingKindName]: unknown }

/** A validated reading with its kind: narrowing on `kind` gives the document's type. */
export type TypedReading = { [K in ReadingKindName]: { kind: K; doc: ReadingDocs[K] } }[ReadingKindName]

/** Validates a document against its kind's schema. */
export function parseReading(kind: ReadingKindName, json: unknown): Parsed<TypedReading> {
  return PARSERS[kind](json)
}

/** The samples a reading contributes to the time series (none for state-only kinds). */
export function readingSamples<K extends ReadingKindName>(
  r: { kind: K; doc: ReadingDocs[K] },
  entity: string | null,
): Sample[] {
  const samples = READING_KINDS[r.kind].samples
  return samples ? samples(r.doc, entity) : []
}

/** A metric: a series name without its label value, and the label that tells its entities apart (if any). */
export interface MetricDef {
  name: string
  label: string | null
}

type SeriesTable = Readonly<Record<string, string | ((x: never) => string)>>

/** The metrics of a domain's series table (`fs.percent{mount=…}` → fs.percent by mount). */
function metricsOf(table: SeriesTable): MetricDef[] {
  return Object.values(table).map((s) => {
    const name = typeof s === 'string' ? s : (s as (x: string) => string)('x')
    const m = /^([^{]+)(?:\{([a-z_]+)=)?/.exec(name)!
    return { name: m[1]!, label: m[2] ?? null }
  })
}

/**
 * Every metric a rule may watch, gathered from each domain's series table. A new domain adds its table here and
 * alert rules can use its metrics; the alerter's core does not change.
 */
export const METRICS: ReadonlyMap<string, MetricDef> = new Map(
  [
    systemSeries,
    processSeries,
    diskSeries,
    upsSeries,
    containerSeries,
    engineSeries,
    unitSeries,
    ollamaSeries,
    probeSeries,
    { firing: 'alerts.firing' },
  ]
    .flatMap((t) => metricsOf(t as SeriesTable))
    .map((m) => [m.name, m]),
)

/** Metrics whose values are shares of a whole, 0–100 (a container's CPU % is not: 100 is one core). */
export const PERCENT_METRICS: ReadonlySet<string> = new Set(
  [...METRICS.keys()].filter(
    (m) =>
      /^cpu\.(usage|user|system|iowait)$/.test(m) ||
      (/[._]percent$/.test(m) && !m.startsWith('container.cpu')),
  ),
)

/** Every event type a rule may match, gathered from each domain. */
export const EVENT_TYPES: ReadonlySet<string> = new Set([
  ...CONTAINER_EVENT_TYPES,
  ...UNIT_EVENT_TYPES,
  ...OLLAMA_EVENT_TYPES,
  ...LOG_EVENT_TYPES,
  ...PROBE_EVENT_TYPES,
  ...DISK_EVENT_TYPES,
  ...UPS_EVENT_TYPES,
  'command.result',
])

/**
 * The bus map for events: each type's `data` schema (extra fields are allowed, fields a consumer reads are checked).
 * The decoder refuses an event whose data does not match its type, so a consumer never skips one in silence; types
 * not listed (a third party's) keep the envelope's bounded record.
 */
export const EVENT_DATA: Readonly<Record<string, z.ZodType>> = {
  ...Object.fromEntries(CONTAINER_EVENT_TYPES.map((t) => [t, ContainerEventData])),
  ...Object.fromEntries(UNIT_EVENT_TYPES.map((t) => [t, UnitEventData])),
  ...Object.fromEntries(OLLAMA_EVENT_TYPES.map((t) => [t, OllamaEventData])),
  'ollama.inference': InferenceRecord,
  'log.match': LogMatchData,
  ...Object.fromEntries(PROBE_EVENT_TYPES.map((t) => [t, ProbeEventData])),
  ...Object.fromEntries(DISK_EVENT_TYPES.map((t) => [t, DiskEventData])),
  ...Object.fromEntries(UPS_EVENT_TYPES.map((t) => [t, UpsEventData])),
  'command.result': CommandAudit,
  ...Object.fromEntries(ACCESS_EVENT_TYPES.map((t) => [t, AccessAudit])),
  'alert.firing': AlertEventData,
  'alert.resolved': AlertEventData,
  'alert.delivery_failed': DeliveryFailedData,
  'alert.rules_loaded': z.object({ file: z.string().max(4096), rules: z.number().int().min(0) }).loose(),
  'alert.rules_rejected': z.object({ file: z.string().max(4096), errors: z.array(z.string()) }).loose(),
  'service.availability': z.object({ service: z.string().max(64), availability: Availability }).loose(),
}

/** The first way an event's data does not match its type's schema, or null. */
export function eventDataIssue(e: Event): { path: PropertyKey[]; message: string } | null {
  const schema = Object.hasOwn(EVENT_DATA, e.type) ? EVENT_DATA[e.type] : undefined
  if (!schema) return null
  const r = schema.safeParse(e.data)
  const i = r.success ? undefined : r.error.issues[0]
  return i ? { path: ['data', ...i.path], message: i.message } : null
}

/** An event as producers publish it: the envelope, and its data checked against its type (EVENT_DATA). */
export const BusEvent = Event.superRefine((e, ctx) => {
  const issue = eventDataIssue(e)
  if (issue) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message })
})

/** Splits a series name into its metric and label (`fs.percent{mount=/}` → fs.percent, { mount: "/" }). */
export function splitSeries(series: string): { metric: string; labels: Record<string, string> } {
  const m = /^([^{]+)(?:\{([a-z_]+)=(.*)\})?$/.exec(series)
  if (!m) return { metric: series, labels: {} }
  return { metric: m[1]!, labels: m[2] ? { [m[2]]: m[3]! } : {} }
}

/**
 * Events that also contribute samples to the time series (a measured request's tokens/s at the time it ended).
 * Like READING_KINDS, a registry: the recorder stores whatever an entry returns.
 */
export const EVENT_SAMPLES: Readonly<Record<string, (e: Event) => Sample[]>> = {
  'ollama.inference': inferenceSamples,
}

export type Classified =
  | { kind: 'availability' }
  | { kind: 'status'; schema: typeof ServiceStatus }
  | { kind: 'reading'; name: ReadingKindName }
  | { kind: 'event'; schema: typeof Event }
  | { kind: 'command' }
  | { kind: 'notification' }
  | { kind: 'unknown'; reason: string }

/** What a message on a parsed topic is, and how to validate it. */
export function classify(t: ParsedTopic): Classified {
  switch (t.channel) {
    case 'availability':
      return { kind: 'availability' }
    case 'status':
      return { kind: 'status', schema: ServiceStatus }
    case 'event':
      return { kind: 'event', schema: Event }
    case 'reading': {
      return isReadingKind(t.kind)
        ? { kind: 'reading', name: t.kind }
        : { kind: 'unknown', reason: `unknown reading kind "${t.kind}"` }
    }
    case 'cmd':
    case 'logs':
    case 'set':
    case 'reply':
      return { kind: 'command' }
    case 'notify':
      return { kind: 'notification' }
  }
}
