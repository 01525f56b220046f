import type { z } from 'zod'
import { AlertReading, AlertsReading, RulesReading } from './alerts.js'
import {
  CONTAINER_EVENT_TYPES,
  ContainerReading,
  containerSamples,
  containerSeries,
  EngineReading,
  engineSamples,
  engineSeries,
} from './docker.js'
import { Event } from './events.js'
import { inferenceSamples, OLLAMA_EVENT_TYPES, OllamaReading, ollamaSamples, ollamaSeries } from './ollama.js'
import { type Sample, systemSamples, systemSeries } from './series.js'
import { ServiceStatus } from './status.js'
import { HostFacts, SystemReading } from './system.js'
import { UNIT_EVENT_TYPES, UnitReading, unitSamples, unitSeries } from './systemd.js'
import type { ParsedTopic } from './topics.js'

/**
 * What each reading kind carries: its schema, and the numeric samples it contributes to the time series.
 * A new domain (containers, units, models) adds its kinds here and every consumer picks them up.
 */
export interface ReadingKind<S extends z.ZodType = z.ZodType> {
  schema: S
  /** Numeric samples; `null` for kinds that are state only (no time series). */
  samples: ((reading: z.infer<S>, entity: string | null) => Sample[]) | null
}

function kind<S extends z.ZodType>(k: ReadingKind<S>): ReadingKind {
  return k as unknown as ReadingKind
}

export const READING_KINDS: Readonly<Record<string, ReadingKind>> = {
  system: kind({ schema: SystemReading, samples: (r) => systemSamples(r) }),
  facts: kind({ schema: HostFacts, samples: null }),
  container: kind({ schema: ContainerReading, samples: (r) => containerSamples(r) }),
  engine: kind({ schema: EngineReading, samples: (r) => engineSamples(r) }),
  unit: kind({ schema: UnitReading, samples: (r) => unitSamples(r) }),
  ollama: kind({ schema: OllamaReading, samples: (r) => ollamaSamples(r) }),
  alerts: kind({ schema: AlertsReading, samples: (r) => [['alerts.firing', r.firing]] }),
  alert: kind({ schema: AlertReading, samples: null }),
  rules: kind({ schema: RulesReading, samples: null }),
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
  [systemSeries, containerSeries, engineSeries, unitSeries, ollamaSeries, { firing: 'alerts.firing' }]
    .flatMap((t) => metricsOf(t as SeriesTable))
    .map((m) => [m.name, m]),
)

/** Every event type a rule may match, gathered from each domain. */
export const EVENT_TYPES: ReadonlySet<string> = new Set([
  ...CONTAINER_EVENT_TYPES,
  ...UNIT_EVENT_TYPES,
  ...OLLAMA_EVENT_TYPES,
  'command.result',
])

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
  | { kind: 'reading'; readingKind: ReadingKind; name: string }
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
      const rk = READING_KINDS[t.kind]
      return rk
        ? { kind: 'reading', readingKind: rk, name: t.kind }
        : { kind: 'unknown', reason: `unknown reading kind "${t.kind}"` }
    }
    case 'cmd':
    case 'set':
    case 'reply':
      return { kind: 'command' }
    case 'notify':
      return { kind: 'notification' }
  }
}
