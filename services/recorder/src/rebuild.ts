import { Event } from '@homelab/contracts'
import { type Db, decodeChunk } from '@homelab/storage'
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
    const up = (table: string) =>
      db.prepare<[number, number, number, number, number, number]>(
        `INSERT INTO ${table} (series_id, bucket, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?)`,
      )
    const up1m = up('rollup_1m')
    const up1h = up('rollup_1h')
    for (const { id } of ids) {
      const ts: number[] = []
      const vs: number[] = []
      for (const c of db
        .prepare<[number], { data: Buffer }>(
          'SELECT data FROM raw_chunks WHERE series_id = ? ORDER BY start_ts',
        )
        .iterate(id)) {
        const d = decodeChunk(c.data)
        for (let i = 0; i < d.ts.length; i++) {
          ts.push(d.ts[i]!)
          vs.push(d.values[i]!)
        }
      }
      for (const r of db
        .prepare<[number], { ts: number; value: number }>(
          'SELECT ts, value FROM raw_staging WHERE series_id = ? ORDER BY ts',
        )
        .iterate(id)) {
        ts.push(r.ts)
        vs.push(r.value)
      }
      if (ts.length === 0) continue
      samples += ts.length
      for (const [table, width, stmt] of [
        ['rollup_1m', 60_000, up1m],
        ['rollup_1h', 3_600_000, up1h],
      ] as const) {
        const first = Math.floor(ts[0]! / width) * width
        db.prepare(`DELETE FROM ${table} WHERE series_id = ? AND bucket >= ?`).run(id, first)
        const agg = new Map<number, [number, number, number, number]>()
        for (let i = 0; i < ts.length; i++) {
          const b = Math.floor(ts[i]! / width) * width
          const v = vs[i]!
          const a = agg.get(b)
          if (!a) agg.set(b, [v, v, v, 1])
          else {
            a[0] = Math.min(a[0], v)
            a[1] = Math.max(a[1], v)
            a[2] += v
            a[3]++
          }
        }
        for (const [b, a] of agg) stmt.run(id, b, a[0], a[1], a[2], a[3])
      }
    }
  })()
  return { events, samples }
}
