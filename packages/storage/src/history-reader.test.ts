import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeChunk } from './codec.js'
import { HistoryReader, niceStep } from './history-reader.js'
import { openWriter } from './schema.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function db() {
  const dir = mkdtempSync(join(tmpdir(), 'hr-'))
  dirs.push(dir)
  const d = openWriter(join(dir, 'h.db'))
  d.prepare("INSERT INTO series (id, host, name, created_at) VALUES (1, 'h', 'x', 0)").run()
  return d
}

const H = 3_600_000

describe('history reader', () => {
  it('answers a long range from the hourly rollups, merging buckets with their min and max', () => {
    const d = db()
    const ins = d.prepare(
      'INSERT INTO rollup_1h (series_id, bucket, min, max, sum, count) VALUES (1, ?, ?, ?, ?, ?)',
    )
    // 10 days of hours: value = hour index, one spike of 100 at hour 5.
    for (let h = 0; h < 240; h++) ins.run(h * H, h === 5 ? 1 : h, h === 5 ? 100 : h, h * 2, 2)
    const r = new HistoryReader(d).query('h', ['x'], 0, 240 * H - 1, 120)
    expect(r.tier).toBe('1h')
    expect(r.stepMs).toBe(2 * H)
    expect(r.x.slice(0, 3)).toStrictEqual([0, 2 * H, 4 * H])
    expect(r.series[0]!.avg.slice(0, 3)).toStrictEqual([0.5, 2.5, 4.5])
    // The spike survives as the max of its bucket although the average hides it.
    expect(r.series[0]!.max[2]).toBe(100)
    expect(r.series[0]!.min[2]).toBe(1)
  })

  it('answers a short range from raw samples and marks a gap with a null point', () => {
    const d = db()
    const ts = [0, 5000, 10_000, 15_000, 60_000, 65_000] // 45 s without data
    d.prepare(
      'INSERT INTO raw_chunks (series_id, start_ts, end_ts, count, data) VALUES (1, 0, 65000, 6, ?)',
    ).run(encodeChunk(ts, [1, 2, 3, 4, 5, 6]))
    const r = new HistoryReader(d).query('h', ['x'], 0, 70_000, 100)
    expect(r.tier).toBe('raw')
    expect(r.x).toStrictEqual([0, 5000, 10_000, 15_000, 16_000, 60_000, 65_000]) // the null one step (1 s) after the last sample
    expect(r.series[0]!.avg).toStrictEqual([1, 2, 3, 4, null, 5, 6])
  })

  it('rounds steps up to readable ones', () => {
    expect(niceStep(2_592_000)).toBe(H)
    expect(niceStep(604_800)).toBe(900_000)
    expect(niceStep(3_600)).toBe(5_000)
  })

  it('returns events typed by their contract, newest first, and skips (and counts) a row that is not one', () => {
    const d = db()
    const insert = d.prepare(
      'INSERT INTO events (id, ts, host, source, type, subject, severity, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    )
    const event = (id: string, ts: number) => ({
      v: 1,
      ts,
      host: 'h',
      source: 'docker-collector',
      id,
      type: 'container.die',
      severity: 'warning',
      subject: 'web',
      message: 'web exited with code 1',
      data: { exitCode: 1 },
    })
    insert.run(
      'event-0001',
      1000,
      'h',
      'docker-collector',
      'container.die',
      'web',
      'warning',
      JSON.stringify(event('event-0001', 1000)),
    )
    insert.run(
      'event-0002',
      2000,
      'h',
      'docker-collector',
      'container.die',
      'web',
      'warning',
      '{"not":"an event"}',
    )
    insert.run(
      'event-0003',
      3000,
      'h',
      'docker-collector',
      'container.die',
      'web',
      'warning',
      JSON.stringify(event('event-0003', 3000)),
    )
    const told: string[] = []
    const r = new HistoryReader(d, (id) => told.push(id))
    const got = r.events({ host: 'h', type: 'container.*', limit: 10 })
    expect(got.map((e) => [e.id, e.data.exitCode])).toStrictEqual([
      ['event-0003', 1],
      ['event-0001', 1],
    ])
    expect(r.skippedEvents).toBe(1)
    expect(told).toStrictEqual(['event-0002'])
    d.close()
  })
})
