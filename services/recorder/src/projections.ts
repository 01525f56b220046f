import type { Event } from '@homelab/contracts'
import type { Store } from './store.js'

/**
 * Projections derived from the event log. Each projector applies one event type; `rebuild` replays the log through
 * them. Later domains (containers, units, models) register theirs here.
 */
export type Projector = (store: Store, e: Event) => void

export const PROJECTORS: Readonly<Record<string, Projector>> = {
  'service.availability': (store, e) => {
    const service = typeof e.data.service === 'string' ? e.data.service : e.subject
    const availability = e.data.availability === 'online' ? 'online' : 'offline'
    store.setServiceAvailability(e.host, service, availability, e.ts)
  },
}

export function project(store: Store, e: Event): void {
  PROJECTORS[e.type]?.(store, e)
}

/** Tables that hold only projections, cleared before a rebuild. */
export const PROJECTION_TABLES = ['service_state'] as const
