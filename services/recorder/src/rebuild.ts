import { Event } from '@homelab/contracts'
import {
  bucketOf,
  type Db,
  decodeChunk,
  prepareRollupUpserts,
  ROLLUP_TIERS,
  RollupAccumulator,
} from '@homelab/storage'
import { PROJECTION_TABLES, project } from './projections.js'
import type { Store } from './store.js'

/**
 * Rebuilds every projection from the facts: entity state from the event log (replayed in order), and the 1-minute
 * and 1-hour rollups from the raw tier over the range the raw tier still covers (older rollups are kept as they are,
 * since their raw samples are gone by retention).
 */
export function rebuildProjections(db: Db, store: Store): { events: number; samples: number } {
  let events = 0
  let samples = 0
  db.transaction(() => {
    for (const t of PROJECTION_TABLES) db.exec(`DELETE FROM ${t}`)
    // Pages rather than one iterator: projectors write, and a connection cannot write while it iterates.
    const page = db.prepare<[number], { seq: number; payload: string }>(
      'SELECT seq, payload FROM events WHERE seq > ? ORDER BY seq LIMIT 1000',
    )
    for (let after = 0, rows = page.all(0); rows.length > 0; rows = page.all(after)) {
      for (const row of rows) {
        after = row.seq
        const e = Event.safeParse(JSON.parse(row.payload))
        if (e.success) {
          project(store, e.data)
          events++
        }
      }
    }
    const ids = db.prepare<[], { id: number }>('SELECT id FROM series').all()
    const upsert = prepareRollupUpserts(db)
    const clear = ROLLUP_TIERS.map((t) =>
      db.prepare<[number, number]>(`DELETE FROM ${t.table} WHERE series_id = ? AND bucket >= ?`),
    )
    const chunks = db.prepare<[number], { data: Buffer }>(
      'SELECT data FROM raw_chunks WHERE series_id = ? ORDER BY start_ts',
    )
    const staged = db.prepare<[number], { ts: number; value: number }>(
      'SELECT ts, value FROM raw_staging WHERE series_id = ? ORDER BY ts',
    )
    for (const { id } of ids) {
      const ts: number[] = []
      const vs: number[] = []
      for (const c of chunks.iterate(id)) {
        const d = decodeChunk(c.data)
        for (let i = 0; i < d.ts.length; i++) {
          ts.push(d.ts[i]!)
          vs.push(d.values[i]!)
        }
      }
      for (const r of staged.iterate(id)) {
        ts.push(r.ts)
        vs.push(r.value)
      }
      if (ts.length === 0) continue
      samples += ts.length
      // From the bucket of the oldest raw sample on, every rollup row is summed again from the raw tier.
      let oldest = ts[0]!
      for (const t of ts) if (t < oldest) oldest = t
      for (let t = 0; t < ROLLUP_TIERS.length; t++) clear[t]!.run(id, bucketOf(oldest, ROLLUP_TIERS[t]!.ms))
      const sums = new RollupAccumulator((tier, series, r) =>
        upsert[tier]!.run(series, r.bucket, r.min, r.max, r.sum, r.count),
      )
      for (let i = 0; i < ts.length; i++) sums.add(id, ts[i]!, vs[i]!)
      sums.drain()
    }
  })()
  return { events, samples }
}
