import type { QuietHours, Severity } from '@homelab/contracts'

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 }
const MINUTE = 60_000

const minutes = (hhmm: string): number => {
  const [h = '0', m = '0'] = hhmm.split(':')
  return Number(h) * 60 + Number(m)
}

/** The minute of the day (0–1439) and the second within it, at `now` in a time zone (default: the process's). */
function clock(now: number, timezone: string | undefined): { minute: number; intoMinuteMs: number } {
  const parts = new Intl.DateTimeFormat('en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    ...(timezone ? { timeZone: timezone } : {}),
  }).formatToParts(now)
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0)
  return { minute: get('hour') * 60 + get('minute'), intoMinuteMs: now % MINUTE }
}

/**
 * When a message of this severity may go out, if the channel's quiet hours hold it back now; null when it may go now.
 * The hours may span midnight (22:00–07:00); `except` lets the severe through.
 */
export function quietUntil(q: QuietHours | undefined, severity: Severity, now: number): number | null {
  if (!q) return null
  if (q.except && RANK[severity] >= RANK[q.except]) return null
  const from = minutes(q.from)
  const to = minutes(q.to)
  const { minute, intoMinuteMs } = clock(now, q.timezone)
  const inside = from < to ? minute >= from && minute < to : minute >= from || minute < to
  if (!inside) return null
  const left = (to - minute + 1440) % 1440
  return now - intoMinuteMs + left * MINUTE
}
