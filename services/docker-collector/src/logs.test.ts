import { LOG_LIMITS } from '@homelab/contracts'
import { describe, expect, it } from 'vitest'
import { LogDemuxer } from './logs.js'

/** A frame of Docker's multiplexed log stream: 1 stdout, 2 stderr. */
const frame = (stream: 1 | 2, text: string) => {
  const body = Buffer.from(text, 'utf8')
  const head = Buffer.alloc(8)
  head[0] = stream
  head.writeUInt32BE(body.length, 4)
  return Buffer.concat([head, body])
}
const T1 = '2026-12-03T11:00:00.123456789Z'
const T2 = '2026-12-03T11:00:01.5Z'

describe("Docker's log stream as lines", () => {
  it('demultiplexes stdout and stderr, reads timestamps, and survives frames cut anywhere', () => {
    const all = Buffer.concat([frame(1, `${T1} hello\n`), frame(2, `${T2} oops\n`)])
    const d = new LogDemuxer(false, 'run-1')
    const lines = [...all].flatMap((_, i) => d.push(all.subarray(i, i + 1)))
    expect(lines).toStrictEqual([
      {
        ts: Date.parse(T1),
        at: T1,
        stream: 'stdout',
        priority: null,
        text: 'hello',
        truncated: false,
        instance: 'run-1',
      },
      {
        ts: Date.parse(T2),
        at: T2,
        stream: 'stderr',
        priority: null,
        text: 'oops',
        truncated: false,
        instance: 'run-1',
      },
    ])
    expect(d.end()).toStrictEqual([])
  })

  it('joins the parts of a line Docker split, each with its own timestamp', () => {
    const d = new LogDemuxer(false, null)
    const lines = [...d.push(frame(1, `${T1} first part `)), ...d.push(frame(1, `${T2} second part\n`))]
    expect(lines.map((l) => [l.text, l.at])).toStrictEqual([['first part second part', T1]])
  })

  it('reads a TTY container raw, keeps a last line without newline until the end, strips control characters', () => {
    const d = new LogDemuxer(true, null)
    expect(
      d.push(Buffer.from(`${T1} \u001b[31mred\u001b[0m\r\n${T2} no newline`)).map((l) => l.text),
    ).toStrictEqual(['[31mred[0m'])
    expect(d.end().map((l) => [l.text, l.stream])).toStrictEqual([['no newline', 'stdout']])
  })

  it('cuts a huge line with a marker and holds no more than a bounded part of it', () => {
    const d = new LogDemuxer(false, null)
    const huge = 'x'.repeat(LOG_LIMITS.maxLineChars * 10)
    const [line] = [...d.push(frame(1, `${T1} ${huge}`)), ...d.push(frame(1, `${T2} tail\n`))]
    expect(line!.truncated).toBe(true)
    expect(line!.text.length).toBeLessThan(LOG_LIMITS.maxLineChars + 64)
    expect(line!.text).toMatch(/… \[cut: \d+ more characters\]$/)
  })

  it('takes a line without a timestamp as written now', () => {
    const d = new LogDemuxer(false, null)
    const [l] = d.push(frame(1, 'plain\n'))
    expect(l!.text).toBe('plain')
    expect(Math.abs(l!.ts - Date.now())).toBeLessThan(5000)
  })
})
