import { LOG_LIMITS, type LogLine, type LogSelector } from '@homelab/contracts'
import safeRegex from 'safe-regex2'

/** A log request the collector cannot serve, with the code the gateway turns into an HTTP status. */
export class LogError extends Error {
  constructor(
    readonly code: 'not_found' | 'refused' | 'bad_request' | 'unavailable' | 'failed' | 'busy',
    message: string,
  ) {
    super(message)
  }
}

/**
 * Turns a search into a line predicate: a literal, matched ignoring case, or a regular expression that is checked
 * first — at most LOG_LIMITS.maxQueryChars, no backreferences or lookarounds, and no nested quantifiers (safe-regex2's
 * star-height check), so a pattern such as `(a+)+$` is refused instead of blocking the collector. Lines are at most
 * LOG_LIMITS.maxLineChars, which bounds the work of every match. Throws LogError('bad_request') with the reason.
 */
export function searchPredicate(search: LogSelector['search']): ((text: string) => boolean) | null {
  if (!search) return null
  if (search.q.length > LOG_LIMITS.maxQueryChars)
    throw new LogError('bad_request', `a search is at most ${LOG_LIMITS.maxQueryChars} characters`)
  if (!search.regex) {
    const needle = search.q.toLowerCase()
    return (text) => text.toLowerCase().includes(needle)
  }
  if (/\\[1-9k]|\(\?<?[=!]/.test(search.q))
    throw new LogError('bad_request', 'a log search may not use backreferences or lookarounds')
  let re: RegExp
  try {
    re = new RegExp(search.q, 'i')
  } catch (e) {
    throw new LogError('bad_request', `not a valid regular expression: ${(e as Error).message}`)
  }
  if (!safeRegex(re, { limit: 25 }))
    throw new LogError(
      'bad_request',
      'this regular expression could take exponential time (nested quantifiers such as (a+)+): simplify it',
    )
  return (text) => re.test(text)
}

/** A line as the bus carries it: cut past LOG_LIMITS.maxLineChars, control characters but tab removed. */
export function boundedText(raw: string): { text: string; truncated: boolean } {
  // Control characters but tab go (a terminal escape in a log must not reach the page as one).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  const clean = raw.replace(/\r$/, '').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '')
  if (clean.length <= LOG_LIMITS.maxLineChars) return { text: clean, truncated: false }
  return {
    text: `${clean.slice(0, LOG_LIMITS.maxLineChars)} … [cut: ${clean.length - LOG_LIMITS.maxLineChars} more characters]`,
    truncated: true,
  }
}

/**
 * The answer of a read from the lines a source produced (oldest first) for a selector: the time window, the
 * search, the last `tail` of what is left. The cursor says where older lines continue: before the first line
 * returned when more matched than fit, or before the oldest line looked at when the source stopped looking
 * (`exhausted` false: it read its scan limit, not the whole range).
 */
export function selectLines(
  lines: LogLine[],
  sel: LogSelector,
  exhausted: boolean,
): { lines: LogLine[]; cursor: number | null; scanned: number } {
  const match = searchPredicate(sel.search)
  const kept = lines.filter(
    (l) =>
      (sel.since === undefined || l.ts >= sel.since) &&
      (sel.until === undefined || l.ts < sel.until) &&
      (sel.priority === undefined || l.priority === null || l.priority <= sel.priority) &&
      (!match || match(l.text)),
  )
  let out = kept.slice(-sel.tail)
  // Bounded in bytes too: the newest lines are the ones kept.
  let bytes = 0
  let from = out.length
  while (from > 0 && bytes + out[from - 1]!.text.length + 120 <= LOG_LIMITS.maxAnswerBytes) {
    bytes += out[from - 1]!.text.length + 120
    from--
  }
  out = out.slice(from)
  const cut = out.length < kept.length
  const cursor = cut ? (out[0]?.ts ?? null) : exhausted ? null : (lines[0]?.ts ?? null)
  return { lines: out, cursor, scanned: lines.length }
}
