import { describe, expect, it } from 'vitest'
import { bytes, byteTicks, duration, numberTicks, pct, rate, timeTicks } from './format'

describe('format', () => {
  it('writes bytes in binary units, one decimal below 100', () => {
    expect(bytes(0)).toBe('0 B')
    expect(bytes(1023)).toBe('1023 B')
    expect(bytes(1536)).toBe('1.5 KiB')
    expect(bytes(150 * 1024 * 1024)).toBe('150 MiB')
    expect(bytes(null)).toBe('–')
    expect(bytes(Number.NaN)).toBe('–')
    expect(rate(2048)).toBe('2.0 KiB/s')
    expect(pct(12.345)).toBe('12.3 %')
    expect(pct(undefined)).toBe('–')
  })

  it('shortens durations to their two largest units', () => {
    expect(duration(59)).toBe('59s')
    expect(duration(60)).toBe('1m')
    expect(duration(3 * 3600 + 5 * 60)).toBe('3h 5m')
    expect(duration(2 * 86400 + 7 * 3600)).toBe('2d 7h')
  })
})

describe('axis ticks', () => {
  const MiB = 1024 * 1024
  const GiB = 1024 * MiB

  it('labels byte ticks in one unit with the decimals their step needs, never two alike', () => {
    const vals = [24 * GiB, 24 * GiB + 100 * MiB, 24 * GiB + 200 * MiB, 24 * GiB + 300 * MiB]
    const labels = byteTicks(vals, 100 * MiB)
    expect(labels).toStrictEqual(['24.00 GiB', '24.10 GiB', '24.20 GiB', '24.29 GiB'])
    expect(new Set(labels).size).toBe(vals.length)
    expect(byteTicks([0, 512 * MiB, GiB, 1.5 * GiB], 512 * MiB)).toStrictEqual([
      '0.0 GiB',
      '0.5 GiB',
      '1.0 GiB',
      '1.5 GiB',
    ])
    expect(byteTicks([0, 50 * MiB, 100 * MiB, 150 * MiB], 50 * MiB)).toStrictEqual([
      '0 MiB',
      '50 MiB',
      '100 MiB',
      '150 MiB',
    ])
    expect(rate.ticks?.([0, 2048], 2048)).toStrictEqual(['0 KiB/s', '2 KiB/s'])
  })

  it('labels time ticks with the time of day, and the date under the first and at each new day', () => {
    const t = new Date(2026, 11, 1, 23, 50).getTime()
    const labels = timeTicks([t, t + 5 * 60_000, t + 10 * 60_000, t + 15 * 60_000], 5 * 60_000)
    expect(labels[0]).toMatch(/^23:50\n.+/)
    expect(labels[1]).toBe('23:55')
    expect(labels[2]).toMatch(/^00:00\n.+/)
    expect(labels[2]?.split('\n')[1]).not.toBe(labels[0]?.split('\n')[1])
    expect(labels[3]).toBe('00:05')
    expect(timeTicks([t, t + 30_000], 30_000)[1]).toBe('23:50:30')
    expect(timeTicks([t, t + 86_400_000], 86_400_000).every((l) => !l.includes(':'))).toBe(true)
    expect(numberTicks([0, 0.25, 0.5], 0.25)).toStrictEqual(['0.00', '0.25', '0.50'])
    expect(numberTicks([0, 25, 50], 25, '%')).toStrictEqual(['0%', '25%', '50%'])
  })
})
