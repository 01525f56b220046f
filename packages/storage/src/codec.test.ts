import { describe, expect, it } from 'vitest'
import { decodeChunk, encodeChunk } from './codec.js'

function roundTrip(ts: number[], values: number[]) {
  const d = decodeChunk(encodeChunk(ts, values))
  expect([...d.ts]).toStrictEqual(ts)
  expect([...d.values]).toStrictEqual(values)
}

describe('chunk codec', () => {
  it('round-trips regular samples with decimals exactly', () => {
    const ts = Array.from({ length: 720 }, (_, i) => 1_700_000_000_000 + i * 5000)
    const values = ts.map((_, i) => Math.round((50 + 30 * Math.sin(i / 10)) * 10) / 10)
    roundTrip(ts, values)
  })

  it('round-trips irregular timestamps, negatives, large integers and full-precision floats', () => {
    roundTrip([1, 2, 10, 11, 1000, 1001], [-5.5, 0, 3_456_789_012, -1e-7, Math.PI, 1e300])
    roundTrip([5], [Number.MAX_SAFE_INTEGER])
    roundTrip([], [])
  })

  it('stores a regularly sampled, slowly changing series in under 2 bytes per sample', () => {
    const ts = Array.from({ length: 720 }, (_, i) => 1_700_000_000_000 + i * 5000)
    let mem = 3_000_000_000
    const values = ts.map((_, i) => (mem += ((i * 7919) % 13) * 4096 - 24_576))
    const bytes = encodeChunk(ts, values).length
    expect(bytes / ts.length).toBeLessThan(2)
  })

  it('rejects a chunk of an unknown format', () => {
    expect(() => decodeChunk(Buffer.from([9, 0]))).toThrow(/unknown chunk format/)
  })
})
