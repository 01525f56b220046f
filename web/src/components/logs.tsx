import { ApiError, type LogLine, LogStreamEvent, LogsResponse, type Role } from '@homelab/contracts'
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { z } from 'zod'
import { HttpError } from '../api'
import { url } from '../base'

/** Lines the panel keeps; older ones go first. */
const KEEP = 5000
const AROUND_MS = 60_000

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

const EndEvent = z.object({ reason: z.string() })

/** The data of a server-sent event, parsed as JSON (null when it is not). */
function dataOf(e: Event): unknown {
  try {
    return e instanceof MessageEvent && typeof e.data === 'string' ? JSON.parse(e.data) : null
  } catch {
    return null
  }
}

const PRIORITY = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const

export interface LogsTarget {
  kind: 'container' | 'unit'
  host: string
  name: string
}

function basePath(t: LogsTarget): string {
  return t.kind === 'container'
    ? `/api/docker/containers/${encodeURIComponent(t.name)}/logs`
    : `/api/services/${encodeURIComponent(t.name)}/logs`
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')
function stamp(ms: number): string {
  const d = new Date(ms)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
}
function toLocalInput(ms: number): string {
  return stamp(ms).slice(0, 16).replace(' ', 'T')
}

/** The text with every match of the search marked. */
function Highlight({ text, match }: { text: string; match: RegExp | null }) {
  if (!match) return <>{text}</>
  const parts: preact.JSX.Element[] = []
  let last = 0
  let i = 0
  for (const m of text.matchAll(match)) {
    if (m[0] === '' || m.index === undefined) break
    if (m.index > last) parts.push(<span key={i++}>{text.slice(last, m.index)}</span>)
    parts.push(<mark key={i++}>{m[0]}</mark>)
    last = m.index + m[0].length
  }
  parts.push(<span key={i++}>{text.slice(last)}</span>)
  return <>{parts}</>
}

const NO_LINES: LogLine[] = []

/**
 * A container's or unit's logs: live tail (pausable), search with highlighting, stream or priority filter, wrap,
 * a jump to a time, older lines on demand, download as text. `around` opens the minute either side of a moment
 * (a crash) instead of the live tail.
 */
export function LogsPanel({
  target,
  role,
  around,
}: {
  target: LogsTarget
  role: Role
  around?: number | null
}) {
  const [loadedLines, setLines] = useState<LogLine[]>([])
  /** Which view (target, query, window) the lines were read for: another view's lines are never shown. */
  const [loadedKey, setLoadedKey] = useState<string | null>(null)
  const [window, setWindow] = useState<[number, number] | null>(
    around ? [around - AROUND_MS, around + AROUND_MS] : null,
  )
  const [cursor, setCursor] = useState<number | null>(null)
  const [q, setQ] = useState('')
  const [applied, setApplied] = useState({ q: '', regex: false })
  const [regex, setRegex] = useState(false)
  const [filter, setFilter] = useState('')
  const [wrap, setWrap] = useState(true)
  const [paused, setPaused] = useState(false)
  const [waiting, setWaiting] = useState<LogLine[]>([])
  const [skipped, setSkipped] = useState(0)
  const [error, setError] = useState<string | null>(null)
  const [live, setLive] = useState(false)
  const [loading, setLoading] = useState(true)
  const pausedRef = useRef(paused)
  pausedRef.current = paused
  const box = useRef<HTMLDivElement>(null)

  useEffect(() => {
    if (around) setWindow([around - AROUND_MS, around + AROUND_MS])
  }, [around])

  const query = useMemo(() => {
    const p = new URLSearchParams({ host: target.host })
    if (applied.q) p.set('q', applied.q)
    if (applied.q && applied.regex) p.set('regex', 'true')
    if (filter && target.kind === 'container') p.set('stream', filter)
    if (filter && target.kind === 'unit') p.set('priority', filter)
    return p
  }, [target.host, target.kind, applied, filter])

  const match = useMemo(() => {
    if (!applied.q) return null
    try {
      return applied.regex
        ? new RegExp(applied.q, 'gi')
        : new RegExp(applied.q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi')
    } catch {
      return null
    }
  }, [applied])

  const allowed = RANK[role] >= RANK.operator
  // Between a change of view and the effect that reads it, the last view's lines would show for a frame (the live
  // tail under the header of a window): they are shown only once read for this view.
  const viewKey = `${target.kind}|${target.host}|${target.name}|${query.toString()}|${window ? window.join('-') : ''}`
  const current = loadedKey === viewKey
  const lines = current ? loadedLines : NO_LINES

  // A read (the window, or the last lines), then — without a window — the live tail on top of it.
  useEffect(() => {
    if (!allowed) return
    let stop = false
    let es: EventSource | null = null
    const key = viewKey
    setLines([])
    setWaiting([])
    setSkipped(0)
    setError(null)
    setLoading(true)
    setLive(false)
    const p = new URLSearchParams(query)
    if (window) {
      p.set('since', String(Math.round(window[0])))
      p.set('until', String(Math.round(window[1])))
      p.set('tail', '5000')
    } else p.set('tail', '300')
    fetch(url(`${basePath(target)}?${p}`), { credentials: 'same-origin' })
      .then(async (res) => {
        const body: unknown = await res.json().catch(() => null)
        if (stop) return
        if (!res.ok) {
          const e = ApiError.safeParse(body)
          throw new HttpError(res.status, 'error', e.success ? e.data.error.message : res.statusText)
        }
        const r = LogsResponse.parse(body)
        setLines(r.lines)
        setLoadedKey(key)
        setCursor(r.cursor)
        setLoading(false)
        if (window) return
        const last = r.lines.at(-1)?.ts ?? 0
        const s = new URLSearchParams(query)
        s.set('tail', '0')
        es = new EventSource(url(`${basePath(target)}/stream?${s}`))
        es.addEventListener('open', () => setLive(true))
        es.addEventListener('lines', (e) => {
          const m = LogStreamEvent.safeParse(dataOf(e))
          if (!m.success) return
          const fresh = m.data.lines.filter((l) => l.ts >= last)
          if (m.data.skipped) setSkipped((n) => n + m.data.skipped)
          if (pausedRef.current) setWaiting((w) => [...w, ...fresh].slice(-KEEP))
          else setLines((ls) => [...ls, ...fresh].slice(-KEEP))
        })
        es.addEventListener('end', (e) => {
          setLive(false)
          const data = EndEvent.safeParse(dataOf(e))
          setError(`the live tail ended: ${data.success ? data.data.reason : 'ended'}`)
          es?.close()
        })
        es.onerror = () => setLive(false)
      })
      .catch((e: unknown) => {
        if (stop) return
        setLoading(false)
        setError(e instanceof HttpError ? e.message : String(e))
      })
    return () => {
      stop = true
      es?.close()
    }
  }, [target.kind, target.host, target.name, query, window, allowed])

  // Follow the bottom while live and not paused.
  useEffect(() => {
    const el = box.current
    if (el && !paused && !window) el.scrollTop = el.scrollHeight
  }, [lines, paused, window])

  const older = async () => {
    if (cursor === null) return
    const p = new URLSearchParams(query)
    p.set('until', String(cursor))
    p.set('tail', '500')
    if (window) p.set('since', String(Math.round(window[0])))
    try {
      const r = LogsResponse.parse(
        await (await fetch(url(`${basePath(target)}?${p}`), { credentials: 'same-origin' })).json(),
      )
      setLines((ls) => [...r.lines, ...ls].slice(0, KEEP))
      setCursor(r.cursor)
    } catch (e) {
      setError(String(e))
    }
  }

  const download = () => {
    const text = lines
      .map(
        (l) =>
          `${stamp(l.ts)} ${l.stream === 'journal' ? (PRIORITY[l.priority ?? 6] ?? '') : l.stream} ${l.text}`,
      )
      .join('\n')
    const a = document.createElement('a')
    a.href = URL.createObjectURL(new Blob([`${text}\n`], { type: 'text/plain' }))
    a.download = `${target.host}-${target.name}-logs.txt`
    a.click()
    URL.revokeObjectURL(a.href)
  }

  if (!allowed)
    return (
      <div class="card" data-testid="logs-panel">
        <h3>Logs</h3>
        <p class="muted small" data-testid="logs-forbidden">
          Reading logs needs the operator role (logs often carry secrets); ask an admin, or see
          HOMELAB_LOGS_ROLE.
        </p>
      </div>
    )

  return (
    <div class="card logs" data-testid="logs-panel">
      <h3>
        Logs{' '}
        <span class="muted small" data-testid="logs-state">
          {window
            ? `${stamp(window[0])} – ${stamp(window[1])}`
            : live
              ? paused
                ? `paused · ${waiting.length} new`
                : 'live'
              : loading
                ? 'loading…'
                : 'not live'}
          {skipped > 0 ? ` · ${skipped} lines skipped (too many per second)` : ''}
        </span>
      </h3>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault()
          setApplied({ q: q.trim(), regex })
        }}
      >
        <input
          type="search"
          placeholder={regex ? 'regular expression' : 'search'}
          aria-label="search logs"
          value={q}
          onInput={(e) => setQ((e.target as HTMLInputElement).value)}
        />
        <label class="small">
          <input
            type="checkbox"
            checked={regex}
            onChange={(e) => setRegex((e.target as HTMLInputElement).checked)}
          />{' '}
          regex
        </label>
        <button type="submit" class="ghost small">
          Search
        </button>
        <select
          aria-label="filter lines"
          value={filter}
          onChange={(e) => setFilter((e.target as HTMLSelectElement).value)}
        >
          {target.kind === 'container' ? (
            <>
              <option value="">stdout and stderr</option>
              <option value="stdout">stdout</option>
              <option value="stderr">stderr</option>
            </>
          ) : (
            <>
              <option value="">every priority</option>
              <option value="3">err and worse</option>
              <option value="4">warning and worse</option>
              <option value="6">info and worse</option>
            </>
          )}
        </select>
        <label class="small">
          <input
            type="checkbox"
            checked={wrap}
            onChange={(e) => setWrap((e.target as HTMLInputElement).checked)}
          />{' '}
          wrap
        </label>
        <input
          type="datetime-local"
          aria-label="jump to a time"
          value={window ? toLocalInput(window[0] + AROUND_MS) : ''}
          onChange={(e) => {
            const ms = new Date((e.target as HTMLInputElement).value).getTime()
            if (Number.isFinite(ms)) setWindow([ms - AROUND_MS, ms + AROUND_MS])
          }}
        />
        {window ? (
          <button type="button" class="small" data-testid="logs-live" onClick={() => setWindow(null)}>
            Back to live
          </button>
        ) : (
          <button
            type="button"
            class="small"
            data-testid="logs-pause"
            aria-pressed={paused}
            onClick={() => {
              if (paused) {
                setLines((ls) => [...ls, ...waiting].slice(-KEEP))
                setWaiting([])
              }
              setPaused(!paused)
            }}
          >
            {paused ? 'Resume' : 'Pause'}
          </button>
        )}
        <button type="button" class="ghost small" onClick={download} disabled={lines.length === 0}>
          Download
        </button>
      </form>
      {error && (
        <p class="error small" data-testid="logs-error">
          {error}
        </p>
      )}
      {cursor !== null && (
        <button type="button" class="ghost small" data-testid="logs-older" onClick={() => void older()}>
          Older lines
        </button>
      )}
      <div class={`logbox${wrap ? ' wrap' : ''}`} ref={box} data-testid="log-lines" role="log">
        {!loading && current && lines.length === 0 && (
          <p class="muted small" data-testid="logs-empty">
            {applied.q ? `No line matches “${applied.q}”` : 'No lines'}
            {window ? ' in this window.' : ' yet: new ones appear here as they are written.'}
          </p>
        )}
        {lines.map((l, i) => {
          const prev = lines[i - 1]
          const restarted =
            prev && l.instance !== null && prev.instance !== null && l.instance !== prev.instance
          return (
            <div key={`${l.at}-${i}`}>
              {restarted && (
                <div class="log-boundary" data-testid="log-boundary">
                  {target.kind === 'container' ? 'restarted' : 'new invocation'}
                </div>
              )}
              <div
                class={`log-line ${l.stream}${l.priority !== null && l.priority <= 3 ? ' bad' : l.priority === 4 ? ' warn' : ''}`}
              >
                <span class="muted">{stamp(l.ts).slice(11)}</span>{' '}
                <span class="tag">
                  {l.stream === 'journal'
                    ? (PRIORITY[l.priority ?? 6] ?? '')
                    : l.stream === 'stderr'
                      ? 'err'
                      : 'out'}
                </span>{' '}
                <Highlight text={l.text} match={match} />
              </div>
            </div>
          )
        })}
      </div>
    </div>
  )
}

/** Events after which the logs around their moment tell why. */
export const CRASH_EVENTS: ReadonlySet<string> = new Set([
  'container.die',
  'container.oom',
  'container.restart',
  'container.health',
  'unit.failed',
  'unit.restart',
])
