import { Event, type Tier } from '@homelab/contracts'
import type { Statement } from 'better-sqlite3'
import { decodeChunk } from './codec.js'
import {
  type Aggregate,
  addSample,
  bucketOf,
  prepareRollupReads,
  type RollupQuery,
  type RollupRow,
  type RollupTierName,
  TIER_MS,
} from './rollups.js'
import type { Db } from './schema.js'

export interface SeriesColumns {
  tier: Tier
  stepMs: number
  /** [x (ms), avg, min, max]; null entries are gaps. */
  columns: [number[], Array<number | null>, Array<number | null>, Array<number | null>]
}

/**
 * Reads history for the gateway, from a read-only connection: the time series and the event log (the facts; the
 * projections are ProjectionReader's). It picks the finest tier that answers the range with a bounded amount of
 * work (raw when a point would stand for under a minute, then 1-minute, then 1-hour rollups), aggregates into
 * buckets aligned to multiples of the step (so several series line up), keeps min and max per bucket, and marks gaps
 * with null instead of drawing a line across them.
 */
export class HistoryReader {
  private readonly seriesId
  private readonly chunks
  private readonly staged
  private readonly rollup: Record<RollupTierName, Statement<[RollupQuery], RollupRow>>
  private readonly hasRaw
  private readonly names

  constructor(
    private readonly db: Db,
    /** Told of each stored event that no longer matches the contract (it is skipped). */
    private readonly onSkippedEvent: (id: string, why: string) => void = () => undefined,
  ) {
    this.seriesId = db.prepare<[string, string], { id: number }>(
      'SELECT id FROM series WHERE host = ? AND name = ?',
    )
    this.chunks = db.prepare<[number, number, number], { data: Buffer }>(
      'SELECT data FROM raw_chunks WHERE series_id = ? AND end_ts >= ? AND start_ts <= ? ORDER BY start_ts',
    )
    this.staged = db.prepare<[number, number, number], { ts: number; value: number }>(
      'SELECT ts, value FROM raw_staging WHERE series_id = ? AND ts >= ? AND ts <= ? ORDER BY ts',
    )
    // Buckets of `step` ms are aggregated by SQLite; the step is always a multiple of the tier's width.
    this.rollup = prepareRollupReads(db)
    this.hasRaw = db.prepare<[number, number, number, number, number, number], { x: number }>(
      `SELECT 1 AS x WHERE EXISTS (SELECT 1 FROM raw_staging WHERE series_id = ? AND ts BETWEEN ? AND ?)
          OR EXISTS (SELECT 1 FROM raw_chunks WHERE series_id = ? AND start_ts <= ? AND end_ts >= ?)`,
    )
    this.names = db.prepare<[{ host: string; prefix: string }], { name: string }>(
      'SELECT name FROM series WHERE host = @host AND substr(name, 1, length(@prefix)) = @prefix ORDER BY name',
    )
  }

  seriesNames(host: string, prefix = ''): string[] {
    return this.names.all({ host, prefix }).map((r) => r.name)
  }

  /** Stored events that no longer match the contract (an older build's), skipped by `events`. */
  skippedEvents = 0

  /** Events, newest first, each validated against the contract (one that is not is skipped and counted). */
  events(q: {
    host?: string
    subject?: string
    type?: string
    /** ts >= since */
    since?: number
    /** ts < before */
    before?: number
    limit: number
  }): Event[] {
    const where: string[] = []
    const args: Array<string | number> = []
    if (q.host !== undefined) {
      where.push('host = ?')
      args.push(q.host)
    }
    if (q.subject !== undefined) {
      where.push('subject = ?')
      args.push(q.subject)
    }
    if (q.type !== undefined) {
      // A comma-separated list of types; "container.*" stands for every type under "container.".
      const ors: string[] = []
      for (const t of q.type.split(',')) {
        if (t.endsWith('.*')) {
          ors.push('substr(type, 1, ?) = ?')
          args.push(t.length - 1, t.slice(0, -1))
        } else {
          ors.push('type = ?')
          args.push(t)
        }
      }
      where.push(`(${ors.join(' OR ')})`)
    }
    if (q.since !== undefined) {
      where.push('ts >= ?')
      args.push(q.since)
    }
    if (q.before !== undefined) {
      where.push('ts < ?')
      args.push(q.before)
    }
    const sql = `SELECT id, payload FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts DESC, seq DESC LIMIT ?`
    return this.db
      .prepare<Array<string | number>, { id: string; payload: string }>(sql)
      .all(...args, q.limit)
      .flatMap((r) => {
        const e = parseEvent(r.payload)
        if (e) return [e]
        this.skippedEvents++
        this.onSkippedEvent(r.id, 'it does not match the event contract')
        return []
      })
  }

  seriesIdOf(host: string, name: string): number | null {
    return this.seriesId.get(host, name)?.id ?? null
  }

  /** The tier that serves [from, to] with buckets of `step` ms. */
  chooseTier(from: number, to: number, step: number, seriesIds: number[]): Tier {
    if (step >= TIER_MS['1h']) return '1h'
    if (step >= TIER_MS['1m']) return '1m'
    // Raw only where raw data still exists (retention removes it first); else the 1-minute rollups.
    const probeTo = Math.min(to, from + Math.max(step * 10, 600_000))
    if (seriesIds.some((id) => this.hasRaw.get(id, from, probeTo, id, probeTo, from))) return 'raw'
    return seriesIds.some((id) => this.hasRaw.get(id, from, to, id, to, from)) ? 'raw' : '1m'
  }

  /** Raw samples of a series in [from, to], in time order. */
  readRaw(id: number, from: number, to: number): { ts: number[]; values: number[] } {
    const ts: number[] = []
    const values: number[] = []
    for (const c of this.chunks.all(id, from, to)) {
      const d = decodeChunk(c.data)
      for (let i = 0; i < d.ts.length; i++) {
        const t = d.ts[i]!
        if (t >= from && t <= to) {
          ts.push(t)
          values.push(d.values[i]!)
        }
      }
    }
    for (const r of this.staged.iterate(id, from, to)) {
      ts.push(r.ts)
      values.push(r.value)
    }
    // Late samples (stored after newer ones were sealed) can make chunks overlap: restore time order.
    for (let i = 1; i < ts.length; i++) {
      if (ts[i]! < ts[i - 1]!) {
        const order = ts.map((_, k) => k).sort((a, b) => ts[a]! - ts[b]!)
        return { ts: order.map((k) => ts[k]!), values: order.map((k) => values[k]!) }
      }
    }
    return { ts, values }
  }

  /**
   * History of several series of one host on one time axis. Columns per series: avg, min, max.
   */
  query(
    host: string,
    names: string[],
    from: number,
    to: number,
    points: number,
  ): {
    tier: Tier
    stepMs: number
    x: number[]
    series: Array<{ avg: Array<number | null>; min: Array<number | null>; max: Array<number | null> }>
  } {
    const ids = names.map((n) => this.seriesIdOf(host, n))
    const known = ids.filter((i): i is number => i !== null)
    // The step buckets will really have: rounded up to a readable one, never finer than the tier.
    const wanted = niceStep((to - from) / points)
    const tier = known.length ? this.chooseTier(from, to, wanted, known) : '1m'
    const tierMs = tier === 'raw' ? 0 : TIER_MS[tier]
    const step = Math.max(tierMs, wanted)
    const perSeries: Array<Map<number, Aggregate>> = []
    let baseInterval = tierMs
    for (const id of ids) {
      const buckets = new Map<number, Aggregate>()
      perSeries.push(buckets)
      if (id === null) continue
      if (tier === 'raw') {
        const { ts, values } = this.readRaw(id, from, to)
        baseInterval = Math.max(baseInterval, medianDelta(ts))
        for (let i = 0; i < ts.length; i++) {
          const b = bucketOf(ts[i]!, step)
          const v = values[i]!
          const a = buckets.get(b)
          if (a) addSample(a, v)
          else buckets.set(b, { min: v, max: v, sum: v, count: 1 })
        }
      } else {
        for (const r of this.rollup[tier].all({ step, id, from: bucketOf(from, tierMs), to })) {
          buckets.set(r.bucket, { min: r.min, max: r.max, sum: r.sum, count: r.count })
        }
      }
    }
    const xs = [...new Set(perSeries.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b)
    // A gap is a jump of more than two steps or 2.5 sampling intervals; a null point is put in it.
    const gap = Math.max(2 * step, 2.5 * baseInterval)
    const x: number[] = []
    for (let i = 0; i < xs.length; i++) {
      if (i > 0 && xs[i]! - xs[i - 1]! > gap) x.push(xs[i - 1]! + step)
      x.push(xs[i]!)
    }
    const series = perSeries.map((m) => {
      const avg: Array<number | null> = []
      const min: Array<number | null> = []
      const max: Array<number | null> = []
      for (const t of x) {
        const a = m.get(t)
        avg.push(a ? round(a.sum / a.count) : null)
        min.push(a ? a.min : null)
        max.push(a ? a.max : null)
      }
      return { avg, min, max }
    })
    return { tier, stepMs: step, x, series }
  }
}

function round(v: number): number {
  return Math.abs(v) >= 1000 ? Math.round(v) : Math.round(v * 1000) / 1000
}

function medianDelta(ts: number[]): number {
  if (ts.length < 2) return 0
  const sample: number[] = []
  const stride = Math.max(1, Math.floor(ts.length / 200))
  for (let i = 1; i < ts.length; i += stride) sample.push(ts[i]! - ts[i - 1]!)
  sample.sort((a, b) => a - b)
  return sample[Math.floor(sample.length / 2)] ?? 0
}

const NICE = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map(
  (s) => s * 1000,
)

/** Rounds a step up to a readable one (1 s, 5 s, 1 min, 5 min, 1 h…), so buckets align across queries. */
export function niceStep(ms: number): number {
  for (const s of NICE) if (s >= ms) return s
  return Math.ceil(ms / 86_400_000) * 86_400_000
}

function parseEvent(payload: string): Event | null {
  try {
    const r = Event.safeParse(JSON.parse(payload))
    return r.success ? r.data : null
  } catch {
    return null
  }
}
