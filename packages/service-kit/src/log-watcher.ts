import {
  type LogLine,
  type LogWatch,
  LogWatchesReading,
  MAX_WATCHED_LOGS,
  type ServiceName,
  type Topics,
} from '@homelab/contracts'
import { globToRegExp } from './glob.js'
import type { Counters, Logger } from './log.js'
import type { LogSource } from './log-server.js'
import type { MqttConnection } from './mqtt-connection.js'

export interface LogWatcherOptions {
  conn: MqttConnection
  topics: Topics
  host: string
  service: ServiceName
  log: Logger
  counters: Counters
  source: LogSource
  /** The names of the entities whose logs this collector owns now (containers, units). */
  targets: () => string[]
  /** How often matches are gathered into one `log.match` event per rule and entity. */
  flushMs?: number
}

interface Followed {
  watch: LogWatch
  target: string
  abort: AbortController
  count: number
  lines: string[]
}

/** How often the followed logs are checked against the entities (one that appeared, one that was removed). */
const RECONCILE_MS = 10_000

/**
 * The collector's side of log-pattern rules: reads the alerter's `reading/log-watches`, follows the logs of this
 * host's entities that a watch names (only those, at most MAX_WATCHED_LOGS), and publishes a `log.match` event per
 * rule and entity every few seconds while lines match — their count and the last lines, for the notification.
 */
export class LogWatcher {
  private watches: LogWatch[] = []
  private readonly followed = new Map<string, Followed>()
  private readonly undo: Array<() => void> = []
  private flushTimer: NodeJS.Timeout | null = null
  private reconcileTimer: NodeJS.Timeout | null = null
  private stopped = false

  constructor(private readonly o: LogWatcherOptions) {}

  /** The filter of every alerter's watches (the alerter publishes under its own host). */
  private get filter(): string {
    return `${this.o.topics.base}/+/alerter/reading/log-watches`
  }

  start(): void {
    this.undo.push(
      this.o.conn.subscribe(this.filter, 1),
      this.o.conn.onMessage((topic, payload) => this.onMessage(topic, payload)),
    )
  }

  /** Timers run only while a watch is in force: a collector without log rules never wakes for them. */
  private timers(on: boolean): void {
    if (on && !this.flushTimer) {
      this.flushTimer = setInterval(() => this.flush(), this.o.flushMs ?? 2000)
      this.reconcileTimer = setInterval(() => this.reconcile(), RECONCILE_MS)
    } else if (!on && this.flushTimer) {
      clearInterval(this.flushTimer)
      if (this.reconcileTimer) clearInterval(this.reconcileTimer)
      this.flushTimer = null
      this.reconcileTimer = null
    }
  }

  stop(): void {
    this.stopped = true
    for (const u of this.undo.splice(0)) u()
    this.timers(false)
    this.flush()
    for (const f of this.followed.values()) f.abort.abort()
    this.followed.clear()
  }

  /** The logs followed now, as `rule target` (for tests and the status). */
  get following(): string[] {
    return [...this.followed.values()].map((f) => `${f.watch.rule} ${f.target}`)
  }

  private onMessage(topic: string, payload: Buffer): void {
    const t = this.o.topics.parse(topic)
    if (t?.channel !== 'reading' || t.service !== 'alerter' || t.kind !== 'log-watches') return
    let doc: LogWatchesReading | null = null
    try {
      const r = LogWatchesReading.safeParse(JSON.parse(payload.toString('utf8')))
      doc = r.success ? r.data : null
    } catch {}
    if (payload.length > 0 && !doc) {
      this.o.counters.inc('logs.invalid_watches')
      this.o.log.once('invalid-watches', `ignoring log watches on ${topic} that do not match their schema`)
      return
    }
    this.watches = (doc?.watches ?? []).filter(
      (w) => w.service === this.o.service && globToRegExp(w.hosts).test(this.o.host),
    )
    this.flush()
    this.timers(this.watches.length > 0)
    this.reconcile()
  }

  /** Follows what the watches name now and stops following what they no longer do. */
  reconcile(): void {
    if (this.stopped) return
    const wanted = new Map<string, { watch: LogWatch; target: string }>()
    const targets = this.watches.length ? this.o.targets() : []
    for (const watch of this.watches) {
      const re = globToRegExp(watch.targets)
      for (const target of targets)
        if (re.test(target)) wanted.set(`${watch.rule}\u0000${target}`, { watch, target })
    }
    for (const [key, f] of this.followed)
      if (!wanted.has(key) || JSON.stringify(wanted.get(key)?.watch) !== JSON.stringify(f.watch)) {
        f.abort.abort()
        this.followed.delete(key)
      }
    let over = 0
    for (const [key, w] of wanted) {
      if (this.followed.has(key)) continue
      if (this.followed.size >= MAX_WATCHED_LOGS) {
        over++
        continue
      }
      this.follow(key, w.watch, w.target)
    }
    if (over > 0) {
      this.o.counters.inc('logs.watches_over_limit', over)
      this.o.log.once(
        `watch-limit:${over}`,
        `log rules name ${wanted.size} logs here; following the first ${MAX_WATCHED_LOGS} (narrow the rules' targets)`,
      )
    }
  }

  private follow(key: string, watch: LogWatch, target: string): void {
    const f: Followed = { watch, target, abort: new AbortController(), count: 0, lines: [] }
    this.followed.set(key, f)
    const onLines = (lines: LogLine[]) => {
      f.count += lines.length
      for (const l of lines) f.lines.push(l.text.slice(0, 500))
      if (f.lines.length > 10) f.lines.splice(0, f.lines.length - 10)
    }
    this.o.source
      .follow({ target, tail: 0, search: watch.search }, onLines, f.abort.signal)
      .then(({ ended }) => ended)
      .catch((e: unknown) => {
        this.o.counters.inc('logs.watch_errors')
        this.o.log.once(
          `watch:${watch.rule}:${target}`,
          `cannot follow the log of ${target} for rule ${watch.rule}:`,
          e,
        )
      })
      .finally(() => {
        // Ended on its own (removed, the source went away): the next reconcile follows it again if still wanted.
        if (this.followed.get(key) === f) this.followed.delete(key)
      })
  }

  private flush(): void {
    for (const f of this.followed.values()) {
      if (f.count === 0) continue
      const { count, lines } = f
      f.count = 0
      f.lines = []
      const what = f.watch.search.regex ? `/${f.watch.search.q}/` : `"${f.watch.search.q}"`
      this.o.conn.publishEvent({
        type: 'log.match',
        severity: 'warning',
        subject: f.target,
        message:
          `${f.target}: ${count} log line${count === 1 ? '' : 's'} matched ${what}: ${lines.join(' | ')}`.slice(
            0,
            2000,
          ),
        data: { rule: f.watch.rule, count, lines },
      })
      this.o.counters.inc('logs.matches', count)
    }
  }
}
