import {
  CONTAINER_EVENT_TYPES,
  ContainerEventData,
  type Event,
  UNIT_EVENT_TYPES,
  UnitEventData,
} from '@homelab/contracts'
import type { Store } from './store.js'

/**
 * Projections derived from the event log. Each projector applies one event type; `rebuild` replays the log through
 * them. Later domains (containers, units, models) register theirs here.
 */
export type Projector = (store: Store, e: Event) => void

/** Container events: the container as it was after the event, or its removal. */
const containerProjector: Projector = (store, e) => {
  const d = ContainerEventData.safeParse(e.data)
  if (!d.success) return
  if (e.type === 'container.destroy' || e.type === 'container.gone') {
    store.dropContainer(e.host, e.subject, e.ts)
    return
  }
  if (d.data.container) store.putContainer(e.host, d.data.container, e.ts)
}

/** Unit events: the unit as it was after the change, or its removal. */
const unitProjector: Projector = (store, e) => {
  const d = UnitEventData.safeParse(e.data)
  if (!d.success) return
  if (e.type === 'unit.gone') store.dropUnit(e.host, e.subject, e.ts)
  else if (d.data.unit) store.putUnit(e.host, d.data.unit, e.ts)
}

export const PROJECTORS: Readonly<Record<string, Projector>> = {
  ...Object.fromEntries(UNIT_EVENT_TYPES.map((t) => [t, unitProjector])),
  ...Object.fromEntries(CONTAINER_EVENT_TYPES.map((t) => [t, containerProjector])),
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
export const PROJECTION_TABLES = ['service_state', 'containers', 'units'] as const
