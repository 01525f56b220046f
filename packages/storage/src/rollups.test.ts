import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  bucketOf,
  prepareRollupReads,
  prepareRollupUpserts,
  ROLLUP_TIERS,
  RollupAccumulator,
} from './rollups.js'
import { type Db, openWriter } from './schema.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function db(): Db {
  const dir = mkdtempSync(join(tmpdir(), 'rollups-'))
  dirs.push(dir)
  const d = openWriter(join(dir, 'r.db'))
  d.prepare("INSERT INTO series (id, host, name, created_at) VALUES (1, 'h', 'x', 0), (2, 'h', 'y', 0)").run()
  return d
}

const rows = (d: Db, table: string) =>
  d.prepare(`SELECT series_id, bucket, min, max, sum, count FROM ${table} ORDER BY series_id, bucket`).all()

/** Samples of two series, interleaved, crossing minute and hour buckets, with one late (out of order) sample. */
const SAMPLES: Array<[number, number, number]> = []
for (let i = 0; i < 400; i++) SAMPLES.push([1 + (i % 2), 3_590_000 + i * 1000, (i * 37) % 101])
SAMPLES.push([1, 3_595_000, -5])

describe('rollup tiers', () => {
  it('are one list the schema has a table for, each bucket a whole multiple of the tier below', () => {
    const d = db()
    for (const t of ROLLUP_TIERS) expect(rows(d, t.table)).toEqual([])
    expect(ROLLUP_TIERS.map((t) => t.tier)).toEqual(['1m', '1h'])
    expect(ROLLUP_TIERS[1].ms % ROLLUP_TIERS[0].ms).toBe(0)
    expect(bucketOf(3_659_999, 60_000)).toBe(3_600_000)
    expect(bucketOf(-1, 60_000)).toBe(-60_000)
  })

  it('summed in memory write the same rows as one upsert per sample, late samples included', () => {
    const perSample = db()
    const up1 = prepareRollupUpserts(perSample)
    for (const [id, ts, v] of SAMPLES)
      for (let t = 0; t < ROLLUP_TIERS.length; t++)
        up1[t]!.run(id, bucketOf(ts, ROLLUP_TIERS[t]!.ms), v, v, v, 1)

    const summed = db()
    const up2 = prepareRollupUpserts(summed)
    let writes = 0
    const acc = new RollupAccumulator((tier, id, r) => {
      writes++
      up2[tier]!.run(id, r.bucket, r.min, r.max, r.sum, r.count)
    })
    for (const [id, ts, v] of SAMPLES) acc.add(id, ts, v)
    acc.drain()

    for (const t of ROLLUP_TIERS) expect(rows(summed, t.table)).toEqual(rows(perSample, t.table))
    // 2 series × (8 minutes + 2 hours), the late sample reopening one minute and one hour of series 1.
    expect(writes).toBe(2 * (8 + 2) + 2)
    const hour = perSample
      .prepare('SELECT min, max, count FROM rollup_1h WHERE series_id = 1 AND bucket = 0')
      .get()
    expect(hour).toEqual({ min: -5, max: expect.any(Number), count: 6 })
  })

  it('read back regrouped into wider buckets, merging min, max, sum and count', () => {
    const d = db()
    const up = prepareRollupUpserts(d)
    for (const [id, ts, v] of SAMPLES) up[0]!.run(id, bucketOf(ts, 60_000), v, v, v, 1)
    const read = prepareRollupReads(d)
    const tenMinutes = read['1m'].all({ id: 1, from: 0, to: 10_000_000, step: 600_000 })
    const ones = SAMPLES.filter(([id]) => id === 1)
    expect(tenMinutes.reduce((n, r) => n + r.count, 0)).toBe(ones.length)
    expect(tenMinutes.reduce((n, r) => n + r.sum, 0)).toBe(ones.reduce((n, [, , v]) => n + v, 0))
    expect(Math.min(...tenMinutes.map((r) => r.min))).toBe(-5)
    for (const r of tenMinutes) expect(r.bucket % 600_000).toBe(0)
  })
})
