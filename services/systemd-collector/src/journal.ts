import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { LOG_LIMITS, type LogLine, type LogSelector, UnitName } from '@homelab/contracts'
import { boundedText, LogError, type LogSource, searchPredicate, selectLines } from '@homelab/service-kit'
import { z } from 'zod'

/** The fields of `journalctl -o json` the collector reads (MESSAGE is an array of bytes when it is not text). */
const JournalEntry = z.object({
  __REALTIME_TIMESTAMP: z.string().regex(/^\d+$/),
  MESSAGE: z.union([z.string(), z.array(z.number().int().min(0).max(255)), z.null()]).optional(),
  PRIORITY: z
    .string()
    .regex(/^[0-7]$/)
    .optional(),
  _SYSTEMD_INVOCATION_ID: z.string().max(64).optional(),
  INVOCATION_ID: z.string().max(64).optional(),
})

const FIELDS = 'MESSAGE,PRIORITY,_SYSTEMD_INVOCATION_ID,INVOCATION_ID'

/** One line of `journalctl -o json` as a log line; null when it is not an entry. Pure. */
export function journalLine(json: string): LogLine | null {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch {
    return null
  }
  const e = JournalEntry.safeParse(raw)
  if (!e.success) return null
  const us = e.data.__REALTIME_TIMESTAMP
  const m = e.data.MESSAGE
  const { text, truncated } = boundedText(
    typeof m === 'string' ? m : Array.isArray(m) ? Buffer.from(m).toString('utf8') : '',
  )
  return {
    ts: Math.floor(Number(us) / 1000),
    at: us,
    stream: 'journal',
    priority: e.data.PRIORITY === undefined ? null : Number(e.data.PRIORITY),
    text,
    truncated,
    instance: e.data._SYSTEMD_INVOCATION_ID ?? e.data.INVOCATION_ID ?? null,
  }
}

/** Whether a journal directory holds journal files (directly or in a machine-id folder). journalctl says nothing when it does not. */
function hasJournalFiles(dir: string): boolean {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isFile() && e.name.endsWith('.journal')) return true
      if (e.isDirectory() && readdirSync(join(dir, e.name)).some((f) => f.endsWith('.journal'))) return true
    }
  } catch {}
  return false
}

const MAX_READS = 4
const READ_BUFFER_CHARS = 8 * 1024 * 1024

export interface JournalOptions {
  /** A journal directory to read (the host's /var/log/journal mounted in a container), or null for the system's. */
  dir: string | null
  /** Whether a unit is one the collector watches (logs of others are not served). */
  known: (unit: string) => boolean
  /** The journalctl binary. */
  journalctl?: string
}

/**
 * The systemd-collector's logs: a unit's journal through `journalctl -o json -u UNIT` (its own lines and systemd's
 * about it), read as a stream and cut to bounds; a follow is `journalctl -f`, ended with the request.
 */
export class JournalLogs implements LogSource {
  private reads = 0

  constructor(private readonly o: JournalOptions) {}

  private unit(target: string): string {
    const name = UnitName.safeParse(target)
    if (!name.success || !this.o.known(name.data))
      throw new LogError('not_found', `no unit named "${target}" is monitored here`)
    return name.data
  }

  private args(unit: string, sel: LogSelector, lines: number, follow: boolean): string[] {
    const a = ['-o', 'json', `--output-fields=${FIELDS}`, '--no-pager', '-q', '-u', unit, '-n', String(lines)]
    if (this.o.dir) a.unshift('-D', this.o.dir)
    else a.unshift('-m')
    if (sel.since !== undefined) a.push(`--since=@${(sel.since / 1000).toFixed(3)}`)
    if (sel.until !== undefined && !follow) a.push(`--until=@${(sel.until / 1000).toFixed(3)}`)
    if (sel.priority !== undefined) a.push(`-p${sel.priority}`)
    if (follow) a.push('-f')
    return a
  }

  /** Runs journalctl, handing each entry to `onLine`; resolves when it exits. Throws LogError for a journal it cannot read. */
  private run(
    args: string[],
    signal: AbortSignal,
    onLine: (l: LogLine) => void,
  ): { started: Promise<void>; done: Promise<void> } {
    if (this.o.dir && !hasJournalFiles(this.o.dir))
      throw new LogError(
        'unavailable',
        `no journal files in ${this.o.dir}: mount the host's /var/log/journal there read-only (a host with a volatile journal: /run/log/journal)`,
      )
    const child = spawn(this.o.journalctl ?? 'journalctl', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 2000) stderr += d.toString('utf8')
    })
    createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (json) => {
      const l = journalLine(json)
      if (l) onLine(l)
    })
    let spawned: () => void = () => undefined
    let failed: (e: Error) => void = () => undefined
    const started = new Promise<void>((resolve, reject) => {
      spawned = resolve
      failed = reject
    })
    const done = new Promise<void>((resolve, reject) => {
      child.on('spawn', () => spawned())
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (signal.aborted) return resolve()
        const err =
          e.code === 'ENOENT'
            ? new LogError(
                'unavailable',
                'journalctl is not installed here (Debian: apt-get install systemd)',
              )
            : new LogError('failed', `journalctl: ${e.message}`)
        failed(err)
        reject(err)
      })
      child.on('close', (code) => {
        if (signal.aborted || code === 0) {
          if (/No journal files were (found|opened)/i.test(stderr))
            return reject(
              new LogError(
                'unavailable',
                `no journal files${this.o.dir ? ` in ${this.o.dir}` : ''}: mount the host's /var/log/journal read-only into the systemd-collector (see docs/configuration.md)`,
              ),
            )
          return resolve()
        }
        reject(new LogError('failed', `journalctl exited with ${code}: ${stderr.trim().slice(0, 500)}`))
      })
    })
    // A failure before the start is reported by `started`; `done` then carries the same rejection.
    done.catch(() => undefined)
    return { started, done }
  }

  async read(sel: LogSelector, signal: AbortSignal) {
    searchPredicate(sel.search)
    const unit = this.unit(sel.target)
    if (this.reads >= MAX_READS)
      throw new LogError('busy', `already reading ${MAX_READS} logs: try again in a moment`)
    this.reads++
    try {
      const scan = sel.search ? LOG_LIMITS.maxScan : sel.tail
      const lines: LogLine[] = []
      let chars = 0
      let dropped = false
      const { started, done } = this.run(this.args(unit, sel, scan, false), signal, (l) => {
        lines.push(l)
        chars += l.text.length
        while (chars > READ_BUFFER_CHARS && lines.length > 1) {
          chars -= lines.shift()!.text.length
          dropped = true
        }
      })
      await started
      await done
      const exhausted = !dropped && !signal.aborted && lines.length < scan
      return { subject: unit, ...selectLines(lines, sel, exhausted) }
    } finally {
      this.reads--
    }
  }

  async follow(sel: LogSelector, onLines: (lines: LogLine[]) => void, signal: AbortSignal) {
    const match = searchPredicate(sel.search)
    const unit = this.unit(sel.target)
    const { started, done } = this.run(this.args(unit, sel, sel.tail, true), signal, (l) => {
      if (
        (sel.priority === undefined || l.priority === null || l.priority <= sel.priority) &&
        (!match || match(l.text))
      )
        onLines([l])
    })
    await started
    return { subject: unit, ended: done }
  }
}
