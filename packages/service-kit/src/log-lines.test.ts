import type { LogLine } from '@homelab/contracts'
import { describe, expect, it } from 'vitest'
import { LogError, searchPredicate, selectLines } from './log-lines.js'

const line = (ts: number, text: string, priority: number | null = null): LogLine => ({
  ts,
  at: String(ts),
  stream: 'stdout',
  priority,
  text,
  truncated: false,
  instance: null,
})

describe('log searches', () => {
  it('matches literals ignoring case, and safe regular expressions', () => {
    expect(searchPredicate({ q: 'ERROR', regex: false })!('an error here')).toBe(true)
    expect(searchPredicate({ q: 'a.c', regex: false })!('abc')).toBe(false)
    const re = searchPredicate({ q: '^tick [0-9]+$', regex: true })!
    expect(re('tick 12')).toBe(true)
    expect(re('tick x')).toBe(false)
    expect(searchPredicate(undefined)).toBeNull()
  })

  it('refuses patterns that could take exponential time, backreferences and invalid ones, with the reason', () => {
    for (const [q, why] of [
      ['(a+)+$', /exponential/],
      ['(x*)*y', /exponential/],
      ['(a)\\1', /backreferences/],
      ['(?=a)b', /lookarounds/],
      ['([a-', /not a valid regular expression/],
    ] as const) {
      let err: unknown
      try {
        searchPredicate({ q, regex: true })
      } catch (e) {
        err = e
      }
      expect(err, q).toBeInstanceOf(LogError)
      expect((err as LogError).code).toBe('bad_request')
      expect((err as LogError).message).toMatch(why)
    }
  })
})

describe('selecting the lines of an answer', () => {
  const lines = Array.from({ length: 10 }, (_, i) =>
    line(1000 + i * 10, i % 2 ? `odd ${i}` : `even ${i}`, i % 8),
  )

  it('applies the window, priority and search, keeps the newest `tail`, and says where older ones continue', () => {
    const r = selectLines(lines, { target: 'x', tail: 2, search: { q: 'odd', regex: false } }, true)
    expect(r.lines.map((l) => l.text)).toStrictEqual(['odd 7', 'odd 9'])
    expect(r.cursor).toBe(1070)
    expect(r.scanned).toBe(10)
    const all = selectLines(lines, { target: 'x', tail: 100, since: 1020, until: 1050 }, true)
    expect(all.lines.map((l) => l.ts)).toStrictEqual([1020, 1030, 1040])
    expect(all.cursor).toBeNull()
    expect(
      selectLines(lines, { target: 'x', tail: 100, priority: 2 }, true).lines.map((l) => l.priority),
    ).toStrictEqual([0, 1, 2, 0, 1])
  })

  it('gives a cursor at the oldest line looked at when the source stopped before the start of the range', () => {
    const r = selectLines(lines, { target: 'x', tail: 100, search: { q: 'even 0', regex: false } }, false)
    expect(r.lines.map((l) => l.text)).toStrictEqual(['even 0'])
    expect(r.cursor).toBe(1000)
  })
})
