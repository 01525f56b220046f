import type { Db } from '@homelab/storage'

export interface RetentionDays {
  raw: number
  rollup1m: number
  rollup1h: number
  events: number
  quarantine: number
}

/** Deletes what is older than each tier's retention. Runs hourly; returns rows deleted per table. */
export function applyRetention(db: Db, days: RetentionDays, now = Date.now()): Record<string, number> {
  const cut = (d: number) => now - d * 86_400_000
  const run = db.transaction(() => ({
    raw_chunks: db.prepare('DELETE FROM raw_chunks WHERE end_ts < ?').run(cut(days.raw)).changes,
    raw_staging: db.prepare('DELETE FROM raw_staging WHERE ts < ?').run(cut(days.raw)).changes,
    rollup_1m: db.prepare('DELETE FROM rollup_1m WHERE bucket < ?').run(cut(days.rollup1m)).changes,
    rollup_1h: db.prepare('DELETE FROM rollup_1h WHERE bucket < ?').run(cut(days.rollup1h)).changes,
    events: db.prepare('DELETE FROM events WHERE ts < ?').run(cut(days.events)).changes,
    quarantine: db.prepare('DELETE FROM quarantine WHERE received_at < ?').run(cut(days.quarantine)).changes,
  }))
  return run()
}
