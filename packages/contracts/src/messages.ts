import type { z } from 'zod'
import { ContainerReading, containerSamples, EngineReading, engineSamples } from './docker.js'
import { Event } from './events.js'
import { inferenceSamples, OllamaReading, ollamaSamples } from './ollama.js'
import { type Sample, systemSamples } from './series.js'
import { ServiceStatus } from './status.js'
import { HostFacts, SystemReading } from './system.js'
import { UnitReading, unitSamples } from './systemd.js'
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
  }
}
