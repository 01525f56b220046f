import type { Event, Sample } from '@homelab/contracts'
import {
  bucketOf,
  type Db,
  decodeChunk,
  encodeChunk,
  type OllamaRow,
  prepareRollupUpserts,
  ROLLUP_TIERS,
  RollupAccumulator,
  type RollupUpsert,
} from '@homelab/storage'

export interface StoreOptions {
  /** Seal a series' staged samples into a chunk once it has this many… */
  chunkSamples?: number
  /** …or once the oldest staged sample is this old (ms). */
  chunkMaxAgeMs?: number
  /** Series one host may have; samples of new series past it are refused (counted), existing series go on. */
  maxSeriesPerHost?: number
}

/** A host's Ollama projection as the recorder writes it: the row the gateway's ProjectionReader reads, by host. */
export type OllamaProjection = Omit<OllamaRow, 'host'>

export interface SampleBatchResult {
  stored: number
  duplicates: number
  /** Samples of new series refused because their host is at its series limit. */
  refused: number
}

/**
 * The recorder's single writer. Every method runs inside the caller's transaction (see Ingest), so a message's
 * samples, rollups and events commit together or not at all.
 *
 * Duplicates are detected exactly: a sample newer than the series' newest is appended (the fast path); an older one
 * (a QoS 1 redelivery after a crash, which the broker may send after newer messages, or a retained message on
 * resubscribe) is stored only if no sample with that timestamp is staged or sealed. Events are unique by id.
 */
export class Store {
  private readonly seriesIds = new Map<string, number>()
  private readonly seriesPerHost = new Map<string, number>()
  private readonly lastTs = new Map<number, number>()
  private readonly staged = new Map<number, { count: number; oldest: number }>()
  private readonly chunkSamples: number
  private readonly chunkMaxAgeMs: number
  private readonly maxSeriesPerHost: number
  /** Hosts whose new series were refused, and when last. */
  readonly seriesLimited = new Map<string, number>()
  /** Set when the in-memory indexes could not be rebuilt after a rollback; the next write rebuilds them first. */
  private stale = false
  /** Rollup rows being added up during withRollupsDeferred. */
  private rollups: RollupAccumulator | null = null
  private readonly upsertRollup: RollupUpsert[]
  private readonly st

  constructor(
    readonly db: Db,
    o: StoreOptions = {},
  ) {
    this.chunkSamples = o.chunkSamples ?? 720
    this.chunkMaxAgeMs = o.chunkMaxAgeMs ?? 2 * 3_600_000
    this.maxSeriesPerHost = o.maxSeriesPerHost ?? 10_000
    this.upsertRollup = prepareRollupUpserts(db)
    this.st = {
      findSeries: db.prepare<[string, string], { id: number }>(
        'SELECT id FROM series WHERE host = ? AND name = ?',
      ),
      addSeries: db.prepare<[string, string, number]>(
        'INSERT INTO series (host, name, created_at) VALUES (?, ?, ?)',
      ),
      stage: db.prepare<[number, number, number]>(
        'INSERT OR IGNORE INTO raw_staging (series_id, ts, value) VALUES (?, ?, ?)',
      ),
      chunkAt: db.prepare<[number, number, number], { data: Buffer }>(
        'SELECT data FROM raw_chunks WHERE series_id = ? AND start_ts <= ? AND end_ts >= ?',
      ),
      stagedOf: db.prepare<[number], { ts: number; value: number }>(
        'SELECT ts, value FROM raw_staging WHERE series_id = ? ORDER BY ts',
      ),
      unstage: db.prepare<[number]>('DELETE FROM raw_staging WHERE series_id = ?'),
      addChunk: db.prepare<[number, number, number, number, Buffer]>(
        'INSERT OR REPLACE INTO raw_chunks (series_id, start_ts, end_ts, count, data) VALUES (?, ?, ?, ?, ?)',
      ),
      addEvent: db.prepare<[string, number, string, string, string, string, string, string]>(
        'INSERT OR IGNORE INTO events (id, ts, host, source, type, subject, severity, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      latestTs: db.prepare<[string], { ts: number }>('SELECT ts FROM latest WHERE topic = ?'),
      putLatest: db.prepare<[string, string, string, string, number, string]>(
        `INSERT INTO latest (topic, host, service, kind, ts, payload) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (topic) DO UPDATE SET ts = excluded.ts, payload = excluded.payload WHERE excluded.ts >= latest.ts`,
      ),
      getService: db.prepare<[string, string], { availability: string }>(
        'SELECT availability FROM service_state WHERE host = ? AND service = ?',
      ),
      deleteLatest: db.prepare<[string]>('DELETE FROM latest WHERE topic = ?'),
      getOllama: db.prepare<[string], OllamaProjection>(
        'SELECT up, version, reason, installed, loaded, updated_at AS updatedAt FROM ollama WHERE host = ?',
      ),
      putOllama: db.prepare<[string, number, string | null, string | null, string, string, number]>(
        `INSERT INTO ollama (host, up, version, reason, installed, loaded, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (host) DO UPDATE SET up = excluded.up, version = excluded.version, reason = excluded.reason,
           installed = excluded.installed, loaded = excluded.loaded, updated_at = excluded.updated_at`,
      ),
      putUnit: db.prepare<[string, string, string, number, string]>(
        `INSERT INTO units (host, name, active_state, updated_at, info) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (host, name) DO UPDATE SET active_state = excluded.active_state,
           updated_at = excluded.updated_at, info = excluded.info
         WHERE excluded.updated_at >= units.updated_at`,
      ),
      dropUnit: db.prepare<[string, string, number]>(
        'DELETE FROM units WHERE host = ? AND name = ? AND updated_at <= ?',
      ),
      putContainer: db.prepare<[string, string, string, string, number, string]>(
        `INSERT INTO containers (host, name, id, state, updated_at, info) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (host, name) DO UPDATE SET id = excluded.id, state = excluded.state,
           updated_at = excluded.updated_at, info = excluded.info
         WHERE excluded.updated_at >= containers.updated_at`,
      ),
      dropContainerId: db.prepare<[string, string, string]>(
        'DELETE FROM containers WHERE host = ? AND id = ? AND name <> ?',
      ),
      dropContainer: db.prepare<[string, string, number]>(
        'DELETE FROM containers WHERE host = ? AND name = ? AND updated_at <= ?',
      ),
      putService: db.prepare<[string, string, string, number]>(
        `INSERT INTO service_state (host, service, availability, since) VALUES (?, ?, ?, ?)
         ON CONFLICT (host, service) DO UPDATE SET availability = excluded.availability, since = excluded.since`,
      ),
      quarantine: db.prepare<[number, string, string, number, Buffer]>(
        'INSERT INTO quarantine (received_at, topic, reason, size, payload) VALUES (?, ?, ?, ?, ?)',
      ),
    }
    this.loadState()
  }

  /**
   * Forgets the in-memory indexes and reads them again: after a rolled-back transaction they may name rows that
   * were never committed. If the database cannot be read now, the next write tries again first.
   */
  reload(): void {
    this.seriesIds.clear()
    this.seriesPerHost.clear()
    this.lastTs.clear()
    this.staged.clear()
    this.stale = true
    this.loadState()
    this.stale = false
  }

  /** Rebuilds the in-memory indexes (newest sample per series, staged counts) from the database. */
  private loadState(): void {
    for (const r of this.db
      .prepare<[], { id: number; host: string; name: string }>('SELECT id, host, name FROM series')
      .iterate()) {
      this.seriesIds.set(`${r.host}\u0000${r.name}`, r.id)
      this.seriesPerHost.set(r.host, (this.seriesPerHost.get(r.host) ?? 0) + 1)
    }
    for (const r of this.db
      .prepare<[], { id: number; t: number }>(
        'SELECT series_id AS id, max(end_ts) AS t FROM raw_chunks GROUP BY series_id',
      )
      .iterate()) {
      this.lastTs.set(r.id, r.t)
    }
    const q =
      'SELECT series_id AS id, max(ts) AS t, min(ts) AS o, count(*) AS n FROM raw_staging GROUP BY series_id'
    for (const r of this.db.prepare<[], { id: number; t: number; o: number; n: number }>(q).iterate()) {
      this.lastTs.set(r.id, Math.max(r.t, this.lastTs.get(r.id) ?? 0))
      this.staged.set(r.id, { count: r.n, oldest: r.o })
    }
  }

  /** The id of a series, created if new; null when its host is at the series limit. */
  seriesId(host: string, name: string): number | null {
    const key = `${host}\u0000${name}`
    let id = this.seriesIds.get(key)
    if (id === undefined) {
      id = this.st.findSeries.get(host, name)?.id
      if (id === undefined) {
        const n = this.seriesPerHost.get(host) ?? 0
        if (n >= this.maxSeriesPerHost) {
          this.seriesLimited.set(host, Date.now())
          return null
        }
        id = Number(this.st.addSeries.run(host, name, Date.now()).lastInsertRowid)
        this.seriesPerHost.set(host, n + 1)
      }
      this.seriesIds.set(key, id)
    }
    return id
  }

  /** Appends the samples of one reading taken at `ts`. */
  addSamples(host: string, ts: number, samples: readonly Sample[]): SampleBatchResult {
    if (this.stale) this.reload()
    let stored = 0
    let duplicates = 0
    let refused = 0
    for (const [name, value] of samples) {
      if (!Number.isFinite(value)) continue
      const id = this.seriesId(host, name)
      if (id === null) {
        refused++
        continue
      }
      if (ts <= (this.lastTs.get(id) ?? -1)) {
        if (this.isSealed(id, ts)) {
          duplicates++
          continue
        }
      } else {
        this.lastTs.set(id, ts)
      }
      if (this.st.stage.run(id, ts, value).changes === 0) {
        duplicates++
        continue
      }
      if (this.rollups) this.rollups.add(id, ts, value)
      else
        for (let t = 0; t < ROLLUP_TIERS.length; t++)
          this.upsertRollup[t]!.run(id, bucketOf(ts, ROLLUP_TIERS[t]!.ms), value, value, value, 1)
      const s = this.staged.get(id)
      if (s) {
        s.count++
        s.oldest = Math.min(s.oldest, ts)
      } else this.staged.set(id, { count: 1, oldest: ts })
      const st = this.staged.get(id)!
      if (st.count >= this.chunkSamples || ts - st.oldest >= this.chunkMaxAgeMs) this.seal(id)
      stored++
    }
    return { stored, duplicates, refused }
  }

  /**
   * Runs `fn` (inside the caller's transaction) with the rollup rows of its samples added up in memory and written
   * once per series and bucket — at the end, or when a series' samples move on to the next bucket: a batch of
   * messages holds several samples per series and minute, and two upserts per sample were the largest cost of a
   * sample in a profile of the ingest bench. If `fn` throws, what it had summed is dropped, and the caller's rollback
   * undoes what was already written.
   */
  withRollupsDeferred<T>(fn: () => T): T {
    if (this.rollups) return fn()
    const rollups = new RollupAccumulator((tier, id, r) =>
      this.upsertRollup[tier]!.run(id, r.bucket, r.min, r.max, r.sum, r.count),
    )
    this.rollups = rollups
    try {
      const out = fn()
      rollups.drain()
      return out
    } finally {
      this.rollups = null
    }
  }

  /** Is a sample at `ts` already in a sealed chunk of this series? (Only asked for out-of-order samples.) */
  private isSealed(id: number, ts: number): boolean {
    for (const c of this.st.chunkAt.iterate(id, ts, ts)) {
      if (decodeChunk(c.data).ts.includes(ts)) return true
    }
    return false
  }

  /** Moves a series' staged samples into one encoded chunk. */
  seal(id: number): void {
    const rows = this.st.stagedOf.all(id)
    this.staged.delete(id)
    if (rows.length === 0) return
    const ts = rows.map((r) => r.ts)
    const values = rows.map((r) => r.value)
    this.st.addChunk.run(id, ts[0]!, ts[ts.length - 1]!, rows.length, encodeChunk(ts, values))
    this.st.unstage.run(id)
  }

  /** Seals every series with staged samples (on shutdown, so a stopped recorder leaves only compact chunks). */
  sealAll(): number {
    const ids = [...this.staged.keys()]
    for (const id of ids) this.seal(id)
    return ids.length
  }

  /** Appends an event; false if an event with this id is already in the log. */
  addEvent(e: Event): boolean {
    return (
      this.st.addEvent.run(e.id, e.ts, e.host, e.source, e.type, e.subject, e.severity, JSON.stringify(e))
        .changes > 0
    )
  }

  deleteLatest(topic: string): void {
    this.st.deleteLatest.run(topic)
  }

  putLatest(topic: string, host: string, service: string, kind: string, ts: number, payload: string): void {
    this.st.putLatest.run(topic, host, service, kind, ts, payload)
  }

  serviceAvailability(host: string, service: string): string | null {
    return this.st.getService.get(host, service)?.availability ?? null
  }

  setServiceAvailability(host: string, service: string, availability: string, since: number): void {
    this.st.putService.run(host, service, availability, since)
  }

  /** Current state of a container (projection); a container renamed away from another name replaces it. */
  putContainer(host: string, info: { id: string; name: string; state: string }, ts: number): void {
    this.st.dropContainerId.run(host, info.id, info.name)
    this.st.putContainer.run(host, info.name, info.id, info.state, ts, JSON.stringify(info))
  }

  /** Current state of a systemd unit (projection). */
  putUnit(host: string, info: { name: string; activeState: string }, ts: number): void {
    this.st.putUnit.run(host, info.name, info.activeState, ts, JSON.stringify(info))
  }

  /** The Ollama projection of a host (installed/loaded are JSON arrays). */
  getOllama(host: string): OllamaProjection | null {
    return this.st.getOllama.get(host) ?? null
  }

  putOllama(host: string, p: OllamaProjection): void {
    this.st.putOllama.run(host, p.up, p.version, p.reason, p.installed, p.loaded, p.updatedAt)
  }

  dropUnit(host: string, name: string, ts: number): void {
    this.st.dropUnit.run(host, name, ts)
  }

  dropContainer(host: string, name: string, ts: number): void {
    this.st.dropContainer.run(host, name, ts)
  }

  quarantine(topic: string, reason: string, payload: Buffer): void {
    this.st.quarantine.run(
      Date.now(),
      topic.slice(0, 1024),
      reason.slice(0, 1000),
      payload.length,
      payload.subarray(0, 4096),
    )
  }
}
