import { describe, expect, it } from 'vitest'
import { bytes, duration, pct, rate } from './format'

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
    expect(duration(59)).toBe('0m')
    expect(duration(3 * 3600 + 5 * 60)).toBe('3h 5m')
    expect(duration(2 * 86400 + 7 * 3600)).toBe('2d 7h')
  })
})
