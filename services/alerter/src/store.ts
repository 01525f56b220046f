import { Alert, type AlertNotification } from '@homelab/contracts'
import { type Db, openDb } from '@homelab/storage'
import { z } from 'zod'
import type { Instance } from './evaluator.js'

/**
 * The alerter's own state, in its own SQLite file (the recorder's database has one writer, the recorder): the open
 * alerts with everything needed to carry them on after a restart, silences, and the delivery queue — the outbox of
 * notifications, with their attempts and the reason of the last failure.
 */

const StoredInstance = z.object({
  alert: Alert,
  resolvingSince: z.number().nullable(),
  resolveAt: z.number().nullable(),
  resolvedBy: z.enum(['condition', 'quiet']).nullable(),
  hits: z.array(z.number()),
  lastTs: z.number(),
})

export type DeliveryStatus = 'pending' | 'sent' | 'failed' | 'silenced'

export interface Delivery {
  seq: number
  id: string
  channel: string
  alertId: string
  rule: string
  episode: string
  state: 'firing' | 'resolved'
  payload: AlertNotification
  status: DeliveryStatus
  attempts: number
  nextAt: number
  lastError: string | null
  created: number
}

interface DeliveryRow {
  seq: number
  id: string
  channel: string
  alert_id: string
  rule: string
  episode: string
  state: 'firing' | 'resolved'
  payload: string
  status: DeliveryStatus
  attempts: number
  next_at: number
  last_error: string | null
  created: number
}

function toDelivery(r: DeliveryRow): Delivery {
  return {
    seq: r.seq,
    id: r.id,
    channel: r.channel,
    alertId: r.alert_id,
    rule: r.rule,
    episode: r.episode,
    state: r.state,
    payload: JSON.parse(r.payload) as AlertNotification,
    status: r.status,
    attempts: r.attempts,
    nextAt: r.next_at,
    lastError: r.last_error,
    created: r.created,
  }
}

/**
 * The alerter's schema, versioned like the recorder's (storage's openDb). Never edit a released migration: add the next.
 * The first one is written with IF NOT EXISTS: files of versions before migrations existed already have its tables.
 */
export const ALERTER_MIGRATIONS: readonly string[] = [
  /* 1: open alerts, silences, the delivery queue, meta. */ `
      CREATE TABLE IF NOT EXISTS alert (id TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS silence (id TEXT PRIMARY KEY, until INTEGER NOT NULL, by TEXT NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS delivery (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        rule TEXT NOT NULL,
        episode TEXT NOT NULL,
        state TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        last_error TEXT,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX IF NOT EXISTS delivery_queue ON delivery (status, channel, seq);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  `,
]

export class AlertStore {
  readonly db: Db
  private readonly s
  /** Inside `unitOfWork`: the first write begins the transaction. */
  private deferred = false

  constructor(path: string) {
    this.db = openDb(path, ALERTER_MIGRATIONS)
    this.s = {
      putAlert: this.db.prepare('INSERT OR REPLACE INTO alert (id, body) VALUES (?, ?)'),
      delAlert: this.db.prepare('DELETE FROM alert WHERE id = ?'),
      alerts: this.db.prepare<[], { id: string; body: string }>('SELECT id, body FROM alert'),
      putSilence: this.db.prepare('INSERT OR REPLACE INTO silence (id, until, by) VALUES (?, ?, ?)'),
      delSilence: this.db.prepare('DELETE FROM silence WHERE id = ?'),
      silences: this.db.prepare<[number], { id: string; until: number; by: string }>(
        'SELECT id, until, by FROM silence WHERE until > ?',
      ),
      expireSilences: this.db.prepare('DELETE FROM silence WHERE until <= ?'),
      addDelivery: this.db.prepare(
        `INSERT OR IGNORE INTO delivery (id, channel, alert_id, rule, episode, state, payload, status, next_at, created, updated)
         VALUES (@id, @channel, @alertId, @rule, @episode, @state, @payload, @status, @nextAt, @now, @now)`,
      ),
      deliveryStatus: this.db.prepare<[string], { status: DeliveryStatus }>(
        'SELECT status FROM delivery WHERE id = ?',
      ),
      heads: this.db.prepare<[], DeliveryRow>(
        `SELECT d.* FROM delivery d JOIN (SELECT channel, MIN(seq) AS seq FROM delivery WHERE status = 'pending' GROUP BY channel) h
         ON d.seq = h.seq`,
      ),
      pendingOf: this.db.prepare<[string, number], DeliveryRow>(
        `SELECT * FROM delivery WHERE status = 'pending' AND channel = ? ORDER BY seq LIMIT ?`,
      ),
      nextDue: this.db.prepare<[], { at: number | null }>(
        `SELECT MIN(next_at) AS at FROM delivery WHERE status = 'pending'`,
      ),
      update: this.db.prepare(
        'UPDATE delivery SET status = @status, attempts = @attempts, next_at = @nextAt, last_error = @lastError, updated = @now WHERE seq = @seq',
      ),
      counts: this.db.prepare<[], { channel: string; status: DeliveryStatus; n: number }>(
        'SELECT channel, status, COUNT(*) AS n FROM delivery GROUP BY channel, status',
      ),
      recent: this.db.prepare<[number], DeliveryRow>('SELECT * FROM delivery ORDER BY seq DESC LIMIT ?'),
      setMeta: this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
      getMeta: this.db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      prune: this.db.prepare(`DELETE FROM delivery WHERE status != 'pending' AND updated < ?`),
    }
  }

  saveInstance(id: string, inst: Instance | null): void {
    if (inst === null) this.w().delAlert.run(id)
    else {
      const { lastDataAt: _, ...rest } = inst
      this.w().putAlert.run(id, JSON.stringify(rest))
    }
  }

  /** Alerts saved before a restart; a row that no longer reads is skipped (and counted by the caller). */
  loadInstances(): { instances: Instance[]; skipped: number } {
    const instances: Instance[] = []
    let skipped = 0
    for (const r of this.s.alerts.all()) {
      try {
        const p = StoredInstance.safeParse(JSON.parse(r.body))
        if (p.success) instances.push({ ...p.data, lastDataAt: 0 })
        else skipped++
      } catch {
        skipped++
      }
    }
    return { instances, skipped }
  }

  setSilence(id: string, until: number | null, by: string): void {
    if (until === null) this.w().delSilence.run(id)
    else this.w().putSilence.run(id, until, by)
  }

  silences(now: number): Map<string, { until: number; by: string }> {
    this.w().expireSilences.run(now)
    return new Map(this.s.silences.all(now).map((r) => [r.id, { until: r.until, by: r.by }]))
  }

  addDelivery(
    d: Pick<
      Delivery,
      'id' | 'channel' | 'alertId' | 'rule' | 'episode' | 'state' | 'payload' | 'status' | 'nextAt'
    > & {
      now: number
    },
  ): boolean {
    return this.w().addDelivery.run({ ...d, payload: JSON.stringify(d.payload) }).changes > 0
  }

  deliveryStatus(id: string): DeliveryStatus | null {
    return this.s.deliveryStatus.get(id)?.status ?? null
  }

  /** The oldest pending delivery of each channel (each channel delivers in order). */
  heads(): Delivery[] {
    return this.s.heads.all().map(toDelivery)
  }

  /** The first pending deliveries of one channel, in order (what a grouped message may gather). */
  pendingOf(channel: string, limit: number): Delivery[] {
    return this.s.pendingOf.all(channel, limit).map(toDelivery)
  }

  /** When the earliest pending delivery is due (null when none is pending). */
  nextDue(): number | null {
    return this.s.nextDue.get()?.at ?? null
  }

  updateDelivery(
    seq: number,
    u: { status: DeliveryStatus; attempts: number; nextAt: number; lastError: string | null },
    now: number,
  ): void {
    this.w().update.run({ seq, ...u, now })
  }

  counts(): Map<string, Record<DeliveryStatus, number>> {
    const out = new Map<string, Record<DeliveryStatus, number>>()
    for (const r of this.s.counts.all()) {
      const c = out.get(r.channel) ?? { pending: 0, sent: 0, failed: 0, silenced: 0 }
      c[r.status] = r.n
      out.set(r.channel, c)
    }
    return out
  }

  recentDeliveries(limit: number): Delivery[] {
    return this.s.recent.all(limit).map(toDelivery)
  }

  setMeta(key: string, value: string): void {
    this.w().setMeta.run(key, value)
  }

  getMeta(key: string): string | null {
    return this.s.getMeta.get(key)?.value ?? null
  }

  prune(before: number): number {
    return this.w().prune.run(before).changes
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)()
  }

  /**
   * Runs `fn` as one transaction that begins only at its first write: most messages change nothing stored, and a
   * BEGIN/COMMIT for each of them was most of the alerter's idle cost. Committed before it returns (so before the
   * message is acknowledged), rolled back if `fn` throws.
   */
  unitOfWork<T>(fn: () => T): T {
    if (this.deferred || this.db.inTransaction) return fn()
    this.deferred = true
    try {
      const out = fn()
      if (this.db.inTransaction) this.db.exec('COMMIT')
      return out
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK')
      throw e
    } finally {
      this.deferred = false
    }
  }

  /** The statements, for a write: begins the deferred transaction first. */
  private w() {
    if (this.deferred && !this.db.inTransaction) this.db.exec('BEGIN IMMEDIATE')
    return this.s
  }

  close(): void {
    this.db.close()
  }
}
