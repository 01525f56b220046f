import { z } from 'zod'
import { EpochMs, envelopeShape } from './envelope.js'

/**
 * Logs of a container or a unit, read on demand from the collector that owns it (the gateway never touches Docker or
 * the journal) over MQTT 5 request/response, and never stored:
 *
 *   gateway → `<base>/<host>/<service>/logs`            LogRequest (responseTopic + correlationData)
 *   collector → the request's responseTopic             LogChunk, one or more, same correlationData
 *
 * A `read` is answered by chunks ending with `done: true`; a `follow` streams chunks until the gateway sends `stop`,
 * or until its lease runs out (LOG_LIMITS.leaseMs without a `renew`, so a gateway that went away costs nothing).
 */
export const LOG_LIMITS = {
  /** Lines one `read` answers at most (`tail`). */
  maxTail: 5000,
  defaultTail: 200,
  /** Lines a `read` looks through for matches of `q` before it answers with what it found and a cursor. */
  maxScan: 50_000,
  /** A line longer than this is cut, marked with `truncated`. */
  maxLineChars: 8192,
  /** Bytes of lines in one chunk (the bus carries documents up to 256 KiB). */
  maxChunkBytes: 96 * 1024,
  maxChunkLines: 500,
  /** Bytes one `read` answers at most; past it the answer stops early with a cursor for more. */
  maxAnswerBytes: 2 * 1024 * 1024,
  /** Lines a follow forwards per second; past it lines are counted as skipped, never queued. */
  maxFollowLinesPerSec: 2000,
  /** A follow that is not renewed within this ends. */
  leaseMs: 30_000,
  /** Follows one collector serves at once. */
  maxFollows: 16,
  /** Characters of a search. */
  maxQueryChars: 200,
} as const

/** Which output of a container a line came from; `journal` for a unit's lines. */
export const LogStream = z.enum(['stdout', 'stderr', 'journal'])
export type LogStream = z.infer<typeof LogStream>

export const LogLine = z.object({
  /** When it was written, epoch ms (Docker's or the journal's timestamp). */
  ts: EpochMs,
  /** The source's own precise timestamp (Docker's RFC 3339 with nanoseconds, the journal's µs), for cursors. */
  at: z.string().max(40),
  stream: LogStream,
  /** syslog priority 0 (emerg) – 7 (debug) for journal lines; null for containers. */
  priority: z.number().int().min(0).max(7).nullable(),
  text: z.string().max(LOG_LIMITS.maxLineChars + 64),
  /** The line was longer than LOG_LIMITS.maxLineChars and is cut. */
  truncated: z.boolean(),
  /**
   * Which run it belongs to: the container's start time, or the unit's invocation id. A change between lines is a
   * restart; the dashboard marks it.
   */
  instance: z.string().max(64).nullable(),
})
export type LogLine = z.infer<typeof LogLine>

/** What a search looks for: a literal (case-insensitive) by default, or a bounded regular expression. */
export const LogSearch = z.object({
  q: z.string().min(1).max(LOG_LIMITS.maxQueryChars),
  regex: z.boolean(),
})

/** One log question, as the gateway asks it and the collector answers it. Times are epoch ms. */
export const LogSelector = z.object({
  /** The container's name or id prefix, or the unit's name. */
  target: z.string().min(1).max(256),
  since: EpochMs.optional(),
  until: EpochMs.optional(),
  tail: z.number().int().min(1).max(LOG_LIMITS.maxTail).default(LOG_LIMITS.defaultTail),
  search: LogSearch.optional(),
  /** Containers: which output (both by default). */
  stream: z.enum(['stdout', 'stderr']).optional(),
  /** Units: the least urgent priority shown (`3`: err and worse). */
  priority: z.number().int().min(0).max(7).optional(),
})
export type LogSelector = z.infer<typeof LogSelector>

export const LogRequest = z.discriminatedUnion('op', [
  z.object({
    v: z.literal(1),
    op: z.literal('read'),
    requestedBy: z.string().min(1).max(128),
    ...LogSelector.shape,
  }),
  z.object({
    v: z.literal(1),
    op: z.literal('follow'),
    requestedBy: z.string().min(1).max(128),
    ...LogSelector.shape,
    /** Lines of history sent before the live ones (0: only new lines). */
    tail: z.number().int().min(0).max(LOG_LIMITS.maxTail).default(0),
  }),
  /** Ends a follow (its correlation data names it). */
  z.object({ v: z.literal(1), op: z.literal('stop') }),
  /** Keeps a follow alive for another lease. */
  z.object({ v: z.literal(1), op: z.literal('renew') }),
])
export type LogRequest = z.infer<typeof LogRequest>

export const LogErrorCode = z.enum(['not_found', 'refused', 'bad_request', 'unavailable', 'failed', 'busy'])

export const LogChunk = z.object({
  v: z.literal(1),
  /** 0, 1, 2, … within one request: a gap means chunks were lost on the way. */
  seq: z.number().int().min(0),
  /** Oldest first. */
  lines: z.array(LogLine).max(LOG_LIMITS.maxChunkLines),
  /** The last chunk of a read, or the end of a follow (stopped, lease over, the source went away). */
  done: z.boolean(),
  /** Lines a follow did not forward (past LOG_LIMITS.maxFollowLinesPerSec) since the previous chunk. */
  skipped: z.number().int().min(0).default(0),
  /**
   * On a read's last chunk: where older lines continue (ask again with `until` = cursor), or null when the answer
   * reaches the start of what was asked for.
   */
  cursor: EpochMs.nullable().default(null),
  /** Lines looked through for a search. */
  scanned: z.number().int().min(0).optional(),
  /** The entity as the collector names it (a container's name for an id prefix). */
  subject: z.string().max(256).optional(),
  error: z.object({ code: LogErrorCode, message: z.string().max(1000) }).optional(),
})
export type LogChunk = z.infer<typeof LogChunk>

/** Event data sent over SSE by GET …/logs/stream (`event: lines`), the dashboard's schema for it. */
export const LogStreamEvent = z.object({
  lines: z.array(LogLine),
  skipped: z.number().int().min(0),
  /** Chunks lost between the collector and the gateway. */
  lost: z.number().int().min(0),
})
export type LogStreamEvent = z.infer<typeof LogStreamEvent>

/** GET …/logs: a bounded answer, oldest line first. */
export const LogsResponse = z.object({
  host: z.string(),
  target: z.string(),
  lines: z.array(LogLine),
  /** Older lines continue before this time (`until=<cursor>` asks for them); null: nothing older in the range. */
  cursor: EpochMs.nullable(),
  /** Lines looked through for a search (`q`). */
  scanned: z.number().int().min(0).nullable(),
})
export type LogsResponse = z.infer<typeof LogsResponse>

/** A time in a query: epoch ms, or an ISO 8601 date-time. */
const QueryTime = z
  .string()
  .max(40)
  .transform((s, ctx) => {
    const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s)
    if (!Number.isFinite(ms) || ms < 0) {
      ctx.addIssue({ code: 'custom', message: 'a time is epoch milliseconds or an ISO 8601 date-time' })
      return z.NEVER
    }
    return ms
  })

/** The query of GET …/logs and …/logs/stream. */
export const LogQuery = z
  .object({
    host: z.string().max(63).optional(),
    since: QueryTime.optional(),
    until: QueryTime.optional(),
    tail: z.coerce.number().int().min(0).max(LOG_LIMITS.maxTail).optional(),
    /** A literal, matched ignoring case; with `regex=true` a regular expression (nested quantifiers refused). */
    q: z.string().min(1).max(LOG_LIMITS.maxQueryChars).optional(),
    regex: z.enum(['true', 'false']).optional(),
    stream: z.enum(['stdout', 'stderr']).optional(),
    priority: z.coerce.number().int().min(0).max(7).optional(),
  })
  .strict()
  .refine((q) => q.since === undefined || q.until === undefined || q.since < q.until, {
    message: 'since must be before until',
    path: ['since'],
  })
export type LogQuery = z.infer<typeof LogQuery>

/** A log the alerter wants watched: the lines of matching containers or units that match a pattern. */
export const LogWatch = z.object({
  /** The alert rule it serves (the `log.match` events carry it). */
  rule: z.string().min(1).max(64),
  service: z.enum(['docker-collector', 'systemd-collector']),
  /** Globs over host ids and over container or unit names. */
  hosts: z.string().min(1).max(256),
  targets: z.string().min(1).max(256),
  search: z.object({ q: z.string().min(1).max(LOG_LIMITS.maxQueryChars), regex: z.boolean() }),
})
export type LogWatch = z.infer<typeof LogWatch>

/** How many logs a collector follows for watches at most (more are reported, not followed). */
export const MAX_WATCHED_LOGS = 32

/**
 * `reading/log-watches` (retained, under the alerter's host): the log-pattern rules in force, for the collectors
 * that own logs. Each follows only the logs a watch names and publishes `log.match` events.
 */
export const LogWatchesReading = z.object({
  ...envelopeShape,
  source: z.literal('alerter'),
  watches: z.array(LogWatch).max(200),
})
export type LogWatchesReading = z.infer<typeof LogWatchesReading>

export const LOG_EVENT_TYPES = ['log.match'] as const

/**
 * `data` of `log.match` (subject: the container or unit): lines of a watched log that matched a rule's pattern,
 * gathered over a few seconds — how many, and the last of them.
 */
export const LogMatchData = z
  .object({
    rule: z.string().max(64),
    count: z.number().int().min(1),
    lines: z.array(z.string().max(500)).max(10),
  })
  .loose()
export type LogMatchData = z.infer<typeof LogMatchData>
