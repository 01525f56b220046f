import type { Db } from './schema.js'

/** A service's availability as the recorder last stored it. */
export interface ServiceStateRow {
  host: string
  service: string
  availability: 'online' | 'offline'
  since: number
}

/** The container projection's row (info is ContainerInfo JSON). */
export interface ContainerRow {
  host: string
  name: string
  updatedAt: number
  info: string
}

/** The unit projection's row (info is UnitInfo JSON). */
export type UnitRow = ContainerRow

/** The Ollama projection of one host; `installed` and `loaded` are JSON arrays of the contracts' model types. */
export interface OllamaRow {
  host: string
  up: number
  version: string | null
  reason: string | null
  installed: string
  loaded: string
  updatedAt: number
}

/**
 * Reads the projections for the gateway, from a read-only connection: what the recorder derived from the event log
 * and the readings (each service's availability, containers, units, Ollama) and the latest document of each topic.
 */
export class ProjectionReader {
  private readonly latestStmt
  private readonly services
  private readonly lastSeenStmt
  private readonly containersStmt
  private readonly unitsStmt
  private readonly ollamaStmt

  constructor(db: Db) {
    this.latestStmt = db.prepare<[string], { ts: number; payload: string }>(
      'SELECT ts, payload FROM latest WHERE topic = ?',
    )
    this.services = db.prepare<[], ServiceStateRow>(
      'SELECT host, service, availability, since FROM service_state ORDER BY host, service',
    )
    this.unitsStmt = db.prepare<[{ host: string | null }], UnitRow>(
      'SELECT host, name, updated_at AS updatedAt, info FROM units WHERE @host IS NULL OR host = @host ORDER BY host, name',
    )
    this.ollamaStmt = db.prepare<[string], OllamaRow>(
      'SELECT host, up, version, reason, installed, loaded, updated_at AS updatedAt FROM ollama WHERE host = ?',
    )
    this.containersStmt = db.prepare<[{ host: string | null }], ContainerRow>(
      'SELECT host, name, updated_at AS updatedAt, info FROM containers WHERE @host IS NULL OR host = @host ORDER BY host, name',
    )
    this.lastSeenStmt = db.prepare<[string], { t: number | null }>(
      'SELECT max(ts) AS t FROM latest WHERE host = ?',
    )
  }

  serviceStates(): ServiceStateRow[] {
    return this.services.all()
  }

  /** The unit projection: last known state of each monitored unit. */
  units(host: string | null): UnitRow[] {
    return this.unitsStmt.all({ host })
  }

  /** The Ollama projection of a host: last known server state and models. */
  ollama(host: string): OllamaRow | null {
    return this.ollamaStmt.get(host) ?? null
  }

  /** The container projection: last known state of each container. */
  containers(host: string | null): ContainerRow[] {
    return this.containersStmt.all({ host })
  }

  /** When anything of the host was last stored. */
  lastSeen(host: string): number | null {
    return this.lastSeenStmt.get(host)?.t ?? null
  }

  /** The latest document stored of a topic. */
  latest(topic: string): { ts: number; payload: string } | null {
    return this.latestStmt.get(topic) ?? null
  }
}
