import {
  CONTAINER_EVENT_TYPES,
  ContainerEventData,
  type Event,
  OLLAMA_EVENT_TYPES,
  OllamaEventData,
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

/**
 * Ollama events: the server's state and model lists of a host. `ollama.sync`/`ollama.up` carry the whole inventory
 * and replace it; model events patch it; `ollama.down` empties the loaded list (nothing is loaded in a stopped
 * server). Events older than the projection are ignored.
 */
const ollamaProjector: Projector = (store, e) => {
  if (e.type === 'ollama.inference') return
  const d = OllamaEventData.safeParse(e.data)
  if (!d.success) return
  const cur = store.getOllama(e.host)
  if (cur && e.ts < cur.updatedAt) return
  const p = cur ?? { up: 1, version: null, reason: null, installed: '[]', loaded: '[]', updatedAt: e.ts }
  const list = (json: string) => JSON.parse(json) as Array<{ name: string }>
  const upsert = (json: string, m: { name: string }) =>
    JSON.stringify(
      [...list(json).filter((x) => x.name !== m.name), m].sort((a, b) => a.name.localeCompare(b.name)),
    )
  const without = (json: string, name: string) => JSON.stringify(list(json).filter((x) => x.name !== name))
  const next = { ...p, updatedAt: e.ts }
  switch (e.type) {
    case 'ollama.sync':
    case 'ollama.up':
      next.up = 1
      next.reason = null
      next.version = d.data.version ?? p.version
      next.installed = JSON.stringify(d.data.installed ?? [])
      next.loaded = JSON.stringify(d.data.loaded ?? [])
      break
    case 'ollama.down':
      next.up = 0
      next.reason = d.data.reason ?? null
      next.loaded = '[]'
      break
    case 'ollama.model_installed':
      if (d.data.model) next.installed = upsert(p.installed, d.data.model)
      break
    case 'ollama.model_removed':
      next.installed = without(p.installed, e.subject)
      break
    case 'ollama.model_loaded':
      if (d.data.model) next.loaded = upsert(p.loaded, d.data.model)
      break
    case 'ollama.model_unloaded':
      next.loaded = without(p.loaded, e.subject)
      break
    default:
      return
  }
  store.putOllama(e.host, next)
}

export const PROJECTORS: Readonly<Record<string, Projector>> = {
  ...Object.fromEntries(UNIT_EVENT_TYPES.map((t) => [t, unitProjector])),
  ...Object.fromEntries(CONTAINER_EVENT_TYPES.map((t) => [t, containerProjector])),
  ...Object.fromEntries(OLLAMA_EVENT_TYPES.map((t) => [t, ollamaProjector])),
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
export const PROJECTION_TABLES = ['service_state', 'containers', 'units', 'ollama'] as const
