import { join } from 'node:path'
import { HistoryReader, openReader, openWriter } from '@homelab/storage'
import { Store } from '../../services/recorder/src/store.js'
import { fmt, header, line, percentile } from './util.js'

/** 30 days of one series at 1 s resolution, answered as ≤ 1,000 points. */
export function benchHistory(dir: string) {
  header('History: 30 days of one series at 1 s (2,592,000 samples) → ≤ 1,000 points')
  const path = join(dir, 'history.db')
  const db = openWriter(path)
  const store = new Store(db, { chunkSamples: 3600 })
  const end = Date.UTC(2026, 10, 1)
  const start = end - 30 * 86_400_000
  const t0 = performance.now()
  let v = 50
  const insert = db.transaction((from: number, to: number) => {
    for (let ts = from; ts < to; ts += 1000) {
      v = Math.min(100, Math.max(0, v + (Math.random() - 0.5) * 4))
      store.addSamples('bench', ts, [['cpu.usage', Math.round(v * 10) / 10]])
    }
  })
  for (let t = start; t < end; t += 3_600_000) insert(t, t + 3_600_000)
  db.transaction(() => store.sealAll())()
  line('built in', `${fmt((performance.now() - t0) / 1000, 1)} s`)
  db.close()

  const reader = new HistoryReader(openReader(path))
  for (const [label, from, to] of [
    ['30 days', start, end],
    ['7 days', end - 7 * 86_400_000, end],
    ['24 hours', end - 86_400_000, end],
    ['1 hour', end - 3_600_000, end],
  ] as const) {
    const times: number[] = []
    let points = 0
    let tier = ''
    for (let i = 0; i < 30; i++) {
      const t = performance.now()
      const r = reader.query('bench', ['cpu.usage'], from, to, 1000)
      times.push(performance.now() - t)
      points = r.x.length
      tier = r.tier
    }
    line(
      `${label} → ${points} points from the ${tier} tier (budget < 50 ms)`,
      `median ${fmt(percentile(times, 50))} ms, p95 ${fmt(percentile(times, 95))} ms`,
    )
  }
}
