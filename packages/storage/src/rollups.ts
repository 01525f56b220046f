import type { Tier } from '@homelab/contracts'
import type { Statement } from 'better-sqlite3'
import type { Db } from './schema.js'

/**
 * The rollup tiers, as data: each keeps, per series and bucket of `ms`, the min, max, sum and count of the samples
 * in it. The recorder writes them (store, rebuild), retention trims them, the history reader reads them — all from
 * this list, so a tier is added here and in a migration, nowhere else.
 */
export const ROLLUP_TIERS = [
  { tier: '1m', table: 'rollup_1m', ms: 60_000 },
  { tier: '1h', table: 'rollup_1h', ms: 3_600_000 },
] as const satisfies ReadonlyArray<{ tier: Exclude<Tier, 'raw'>; table: string; ms: number }>

export type RollupTier = (typeof ROLLUP_TIERS)[number]
export type RollupTierName = RollupTier['tier']

/** Width of each rollup tier's buckets, in ms. */
export const TIER_MS: Record<RollupTierName, number> = {
  [ROLLUP_TIERS[0].tier]: ROLLUP_TIERS[0].ms,
  [ROLLUP_TIERS[1].tier]: ROLLUP_TIERS[1].ms,
}

/** Start of the bucket of width `ms` that holds `ts`. */
export const bucketOf = (ts: number, ms: number): number => Math.floor(ts / ms) * ms

/** What a rollup keeps of the samples of one bucket. */
export interface Aggregate {
  min: number
  max: number
  sum: number
  count: number
}

/** One rollup row. */
export interface RollupRow extends Aggregate {
  bucket: number
}

/** Adds one sample to an aggregate. */
export function addSample(a: Aggregate, v: number): void {
  if (v < a.min) a.min = v
  if (v > a.max) a.max = v
  a.sum += v
  a.count++
}

/** The statement that adds a row to a tier, merging it into the one already there. */
export type RollupUpsert = Statement<[number, number, number, number, number, number]>

/** Prepares, per tier, the upsert that merges a row into what the tier already holds for that series and bucket. */
export function prepareRollupUpserts(db: Db): RollupUpsert[] {
  return ROLLUP_TIERS.map((t) =>
    db.prepare<[number, number, number, number, number, number]>(
      `INSERT INTO ${t.table} (series_id, bucket, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (series_id, bucket) DO UPDATE SET min = min(min, excluded.min), max = max(max, excluded.max),
         sum = sum + excluded.sum, count = count + excluded.count`,
    ),
  )
}

/** What a tier read asks for: one series, a range of buckets, regrouped into buckets of `step` ms. */
export interface RollupQuery {
  id: number
  from: number
  to: number
  step: number
}

/** Prepares, per tier, the read that regroups its rows into buckets of `step` (a multiple of the tier's width). */
export function prepareRollupReads(db: Db): Record<RollupTierName, Statement<[RollupQuery], RollupRow>> {
  const read = (table: string) =>
    db.prepare<[RollupQuery], RollupRow>(
      `SELECT bucket - (bucket % @step) AS bucket, min(min) AS min, max(max) AS max, sum(sum) AS sum,
         sum(count) AS count FROM ${table} WHERE series_id = @id AND bucket >= @from AND bucket <= @to
       GROUP BY 1 ORDER BY 1`,
    )
  return {
    [ROLLUP_TIERS[0].tier]: read(ROLLUP_TIERS[0].table),
    [ROLLUP_TIERS[1].tier]: read(ROLLUP_TIERS[1].table),
  }
}

/**
 * Sums samples into rollup rows in memory, one running row per series and tier, so that a batch writes each row
 * once instead of once per sample. A sample for another bucket than the running one hands the running row to
 * `flush` first; `drain` hands over what is left.
 */
export class RollupAccumulator {
  private readonly rows = new Map<number, RollupRow & { id: number; tier: number }>()

  constructor(private readonly flush: (tier: number, id: number, row: RollupRow) => void) {}

  /** Adds a sample of series `id` at `ts` to every tier. */
  add(id: number, ts: number, v: number): void {
    for (let tier = 0; tier < ROLLUP_TIERS.length; tier++) {
      const bucket = bucketOf(ts, ROLLUP_TIERS[tier]!.ms)
      const key = id * ROLLUP_TIERS.length + tier
      const r = this.rows.get(key)
      if (r && r.bucket === bucket) {
        addSample(r, v)
        continue
      }
      if (r) this.flush(r.tier, r.id, r)
      this.rows.set(key, { tier, id, bucket, min: v, max: v, sum: v, count: 1 })
    }
  }

  drain(): void {
    for (const r of this.rows.values()) this.flush(r.tier, r.id, r)
    this.rows.clear()
  }
}
