import {
  type ContainerHistory,
  type ContainerView,
  containerView,
  type Event,
  type LiveMessage,
  type Role,
  type ServiceStatus,
} from '@homelab/contracts'
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import { api, HttpError, openLive } from '../api'
import { url } from '../base'
import { historyOptions, type Marker, markersPlugin } from '../charts'
import { Chart } from '../components/chart'
import { Empty } from '../components/empty'
import { CRASH_EVENTS, LogsPanel } from '../components/logs'
import { ago, bytes, pct, percentFmt, rate } from '../format'

const SPARK = 60
const FEED_TYPES = 'container.die,container.oom,container.restart,container.health'
type Action = 'start' | 'stop' | 'restart'

/** A live document as the list shows it (same shape as GET /api/docker/containers). */
/**
 * Repeats of the same thing close together (a container OOM-killed a dozen times in one second, a restart loop)
 * become one line with a count, even with other events between them, so they cannot push everything else out of
 * the feed. Events are newest first; a repeat joins its group while within `withinMs` of the group's oldest.
 */
export function collapse(events: readonly Event[], withinMs = 60_000): Array<{ e: Event; count: number }> {
  const out: Array<{ e: Event; count: number; oldest: number }> = []
  const open = new Map<string, { e: Event; count: number; oldest: number }>()
  for (const e of events) {
    const key = `${e.type}\n${e.subject}\n${e.message}`
    const g = open.get(key)
    if (g && g.oldest - e.ts <= withinMs) {
      g.count++
      g.oldest = e.ts
      continue
    }
    const n = { e, count: 1, oldest: e.ts }
    open.set(key, n)
    out.push(n)
  }
  return out.map(({ e, count }) => ({ e, count }))
}

/** Is this event worth the feed: a crash, an OOM, a restart, a container turning unhealthy. */
function notable(e: Event): boolean {
  if (e.type === 'container.die') return e.data.exitCode !== 0
  if (e.type === 'container.health') return e.data.health === 'unhealthy'
  return e.type === 'container.oom' || e.type === 'container.restart'
}

function useDocker(host: string) {
  const [views, setViews] = useState<Map<string, ContainerView>>(new Map())
  const [spark, setSpark] = useState<Map<string, number[]>>(new Map())
  const [status, setStatus] = useState<ServiceStatus | null>(null)
  const [availability, setAvailability] = useState<string | null>(null)
  const [feed, setFeed] = useState<Event[]>([])
  const [loaded, setLoaded] = useState(false)

  useEffect(() => {
    setViews(new Map())
    setSpark(new Map())
    setLoaded(false)
    api.containers(host).then(
      (list) => {
        setViews((cur) => {
          const m = new Map(list.map((v) => [v.containerName, v]))
          for (const [k, v] of cur) m.set(k, v) // live documents that arrived first are newer
          return m
        })
        setLoaded(true)
      },
      () => setLoaded(true),
    )
    api.events({ host, type: FEED_TYPES, limit: 100 }).then(
      (r) => setFeed(r.events.filter(notable).slice(0, 100)),
      () => undefined,
    )
    return openLive(
      host,
      (m: LiveMessage) => {
        if (m.service !== 'docker-collector') return
        if (m.channel === 'status') setStatus(m.payload)
        else if (m.channel === 'availability') setAvailability(m.payload)
        else if (m.channel === 'event') {
          const e = m.payload
          if (notable(e)) setFeed((f) => [e, ...f.filter((x) => x.id !== e.id)].slice(0, 100))
        } else if (m.channel === 'reading' && m.kind === 'container' && m.entity !== null) {
          const name = m.entity
          if (m.payload === null) {
            setViews((cur) => {
              const next = new Map(cur)
              next.delete(name)
              return next
            })
            return
          }
          const v = containerView(host, m.payload.container, m.payload.stats, m.payload.ts, false)
          setViews((cur) => new Map(cur).set(v.containerName, v))
          const cpu = v.stats?.cpuPercent
          if (cpu !== null && cpu !== undefined)
            setSpark((cur) =>
              new Map(cur).set(v.containerName, [...(cur.get(v.containerName) ?? []), cpu].slice(-SPARK)),
            )
        }
      },
      () => undefined,
    )
  }, [host])

  const online = availability === 'online'
  return { views, spark, status, online, availability, feed, loaded }
}

function Sparkline({ values }: { values: number[] }) {
  if (values.length < 2) return <svg class="spark" viewBox="0 0 60 16" aria-hidden="true" />
  const max = Math.max(100, ...values)
  const pts = values.map((v, i) => `${(i / (SPARK - 1)) * 60},${16 - (v / max) * 15}`).join(' ')
  return (
    <svg class="spark" viewBox="0 0 60 16" aria-hidden="true">
      <polyline points={pts} fill="none" stroke="var(--accent)" stroke-width="1.2" />
    </svg>
  )
}

function StateBadge({ v }: { v: ContainerView }) {
  const cls = v.state === 'running' ? 'ok' : v.state === 'exited' && v.exitCode !== 0 ? 'bad' : 'muted'
  return (
    <span class={`badge ${cls}`} data-testid="state">
      {v.state}
      {v.state === 'exited' && v.exitCode !== null ? ` (${v.exitCode})` : ''}
    </span>
  )
}

function HealthBadge({ v }: { v: ContainerView }) {
  if (v.health === 'none') return null
  const cls = v.health === 'healthy' ? 'ok' : v.health === 'unhealthy' ? 'bad' : 'warn'
  return <span class={`badge ${cls}`}>{v.health}</span>
}

/** Start/stop/restart buttons with a confirmation; disabled with the reason where not allowed. */
function Actions({
  v,
  role,
  online,
  onAsk,
}: {
  v: ContainerView
  role: Role
  online: boolean
  onAsk: (a: Action) => void
}) {
  const why =
    role === 'viewer'
      ? 'your login is read-only (viewer): an operator can do this'
      : !v.control.allowed
        ? v.control.reason
        : !online
          ? 'the docker-collector is offline'
          : null
  const running = v.state === 'running' || v.state === 'restarting'
  return (
    <span class="actions" title={why ?? undefined} data-testid="actions">
      {(['start', 'stop', 'restart'] as const).map((a) => (
        <button
          type="button"
          key={a}
          disabled={why !== null || (a === 'start' ? running : !running)}
          onClick={() => onAsk(a)}
          data-testid={`${a}-${v.containerName}`}
        >
          {a}
        </button>
      ))}
    </span>
  )
}

export function Confirm({
  name,
  action,
  onYes,
  onNo,
}: {
  name: string
  action: Action
  onYes: () => void
  onNo: () => void
}) {
  return (
    <div class="modal" role="dialog" aria-modal="true" aria-label={`${action} ${name}`}>
      <div class="card">
        <p>
          {action[0]!.toUpperCase() + action.slice(1)} <strong class="mono">{name}</strong>?
        </p>
        <div class="toolbar">
          <button type="button" class="primary" onClick={onYes} data-testid="confirm">
            {action}
          </button>
          <button type="button" onClick={onNo}>
            Cancel
          </button>
        </div>
      </div>
    </div>
  )
}

function useCommand(host: string) {
  const [ask, setAsk] = useState<{ name: string; action: Action } | null>(null)
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null)
  const [busy, setBusy] = useState(false)
  const run = () => {
    if (!ask) return
    const { name, action } = ask
    setAsk(null)
    setBusy(true)
    setResult({ ok: true, text: `${action} ${name}…` })
    api
      .containerAction(host, name, action)
      .then(
        (r) => setResult({ ok: true, text: `${action} ${name}: ${r.outcome} — ${r.message}` }),
        (e) =>
          setResult({
            ok: false,
            text: `${action} ${name} failed: ${e instanceof HttpError ? e.message : String(e)}`,
          }),
      )
      .finally(() => setBusy(false))
  }
  const dialog = ask && <Confirm name={ask.name} action={ask.action} onYes={run} onNo={() => setAsk(null)} />
  const banner = result && (
    <p class={result.ok ? 'notice' : 'error'} data-testid="command-result" aria-busy={busy}>
      {result.text}
    </p>
  )
  return { ask: (name: string, action: Action) => setAsk({ name, action }), dialog, banner }
}

/** What to tell the owner when the collector cannot see Docker. */
function Unavailable({
  status,
  availability,
}: {
  status: ServiceStatus | null
  availability: string | null
}) {
  if (availability === 'online' && status?.state !== 'unavailable') return null
  return (
    <div class="card warnbox" data-testid="docker-unavailable">
      <strong>
        {availability !== 'online' ? 'The docker-collector is not running.' : 'Docker is not reachable.'}
      </strong>{' '}
      {status?.reason && <span>{status.reason}</span>}
      <p class="hint">
        The collector needs the Docker API: on a host install, the user running it must be in the{' '}
        <code>docker</code> group; in a container, mount <code>/var/run/docker.sock</code> (read-only is
        enough for monitoring) or point <code>DOCKER_HOST</code> at a socket proxy. See “Docker access” in the
        README.
      </p>
    </div>
  )
}

export function Containers({
  host,
  role,
  name,
  open,
}: {
  host: string
  role: Role
  name: string | null
  open: (name: string | null) => void
}) {
  const d = useDocker(host)
  const cmd = useCommand(host)
  if (name) {
    return (
      <ContainerDetail
        host={host}
        role={role}
        v={d.views.get(name) ?? null}
        name={name}
        online={d.online}
        onBack={() => open(null)}
        cmd={cmd}
      />
    )
  }
  return <ContainerList d={d} role={role} open={open} cmd={cmd} />
}

type SortKey = 'name' | 'cpu' | 'memory' | 'state'

function ContainerList({
  d,
  role,
  open,
  cmd,
}: {
  d: ReturnType<typeof useDocker>
  role: Role
  open: (name: string) => void
  cmd: ReturnType<typeof useCommand>
}) {
  const [filter, setFilter] = useState('')
  const [show, setShow] = useState<'all' | 'running' | 'stopped' | 'problems'>('all')
  const [sort, setSort] = useState<SortKey>('name')

  const groups = useMemo(() => {
    const f = filter.trim().toLowerCase()
    const list = [...d.views.values()].filter((v) => {
      if (
        f &&
        !`${v.containerName} ${v.image} ${v.composeProject ?? ''} ${v.composeService ?? ''}`
          .toLowerCase()
          .includes(f)
      )
        return false
      if (show === 'running') return v.state === 'running'
      if (show === 'stopped') return v.state !== 'running'
      if (show === 'problems')
        return (
          v.health === 'unhealthy' || (v.state === 'exited' && v.exitCode !== 0) || v.state === 'restarting'
        )
      return true
    })
    const key: Record<SortKey, (v: ContainerView) => number | string> = {
      name: (v) => v.containerName,
      cpu: (v) => -(v.stats?.cpuPercent ?? -1),
      memory: (v) => -(v.stats?.memoryUsed ?? -1),
      state: (v) => (v.state === 'running' ? 1 : 0),
    }
    list.sort((a, b) => {
      const x = key[sort](a)
      const y = key[sort](b)
      return x < y ? -1 : x > y ? 1 : a.containerName.localeCompare(b.containerName)
    })
    const by = new Map<string, ContainerView[]>()
    for (const v of list) {
      const g = v.composeProject ?? ''
      by.set(g, [...(by.get(g) ?? []), v])
    }
    return [...by.entries()].sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b)))
  }, [d.views, filter, show, sort])

  const running = [...d.views.values()].filter((v) => v.state === 'running').length
  return (
    <main>
      <section class="facts">
        <h2>Containers</h2>
        <span class="muted" data-testid="container-count">
          {running} running of {d.views.size}
        </span>
      </section>
      <Unavailable status={d.status} availability={d.availability} />
      {cmd.banner}
      <div class="toolbar">
        <input
          type="search"
          placeholder="filter by name, image, project"
          aria-label="filter"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        <select
          aria-label="show"
          value={show}
          onChange={(e) => setShow((e.target as HTMLSelectElement).value as typeof show)}
        >
          <option value="all">all</option>
          <option value="running">running</option>
          <option value="stopped">stopped</option>
          <option value="problems">problems</option>
        </select>
        <select
          aria-label="sort"
          value={sort}
          onChange={(e) => setSort((e.target as HTMLSelectElement).value as SortKey)}
        >
          <option value="name">sort by name</option>
          <option value="cpu">sort by CPU</option>
          <option value="memory">sort by memory</option>
          <option value="state">stopped first</option>
        </select>
      </div>
      <section class="grid-main">
        <div class="card scroll">
          {d.loaded && d.views.size === 0 && (
            <Empty testId="containers-empty">
              No containers on this host: containers appear here as soon as Docker reports them.
            </Empty>
          )}
          {d.views.size > 0 && groups.length === 0 && (
            <Empty testId="containers-nomatch">No container matches this filter.</Empty>
          )}
          <table data-testid="containers" hidden={groups.length === 0}>
            <thead>
              <tr>
                <th>container</th>
                <th>state</th>
                <th class="num">CPU</th>
                <th />
                <th class="num">memory</th>
                <th class="num">net in / out</th>
                <th />
              </tr>
            </thead>
            {groups.map(([project, vs]) => (
              <tbody key={project}>
                <tr class="group">
                  <th colSpan={7}>{project === '' ? 'not in a compose project' : `compose: ${project}`}</th>
                </tr>
                {vs.map((v) => (
                  <tr
                    key={v.containerName}
                    data-testid={`row-${v.containerName}`}
                    class={v.stale ? 'stale' : ''}
                  >
                    <td>
                      <a
                        href={url(`/containers/${encodeURIComponent(v.containerName)}`)}
                        onClick={(e) => {
                          e.preventDefault()
                          open(v.containerName)
                        }}
                      >
                        {v.containerName}
                      </a>
                      <div class="muted small mono">{v.image}</div>
                    </td>
                    <td>
                      <StateBadge v={v} /> <HealthBadge v={v} />
                      <div class="muted small">
                        {v.statusText}
                        {v.restartCount > 0 ? ` · ${v.restartCount} restarts` : ''}
                      </div>
                    </td>
                    <td class="num" data-testid="cpu">
                      {v.stats ? pct(v.stats.cpuPercent) : '–'}
                    </td>
                    <td>
                      <Sparkline values={d.spark.get(v.containerName) ?? []} />
                    </td>
                    <td class="num" data-testid="memory">
                      {v.stats ? bytes(v.stats.memoryUsed) : '–'}
                      {v.stats && v.memoryLimitSet !== null && (
                        <div class="bar">
                          <div
                            style={{ width: `${Math.min(100, v.stats.memoryPercent)}%` }}
                            class={v.stats.memoryPercent > 90 ? 'hot' : ''}
                          />
                        </div>
                      )}
                    </td>
                    <td class="num small">
                      {v.stats ? `${rate(v.stats.networkRxRate)} / ${rate(v.stats.networkTxRate)}` : ''}
                    </td>
                    <td>
                      <Actions
                        v={v}
                        role={role}
                        online={d.online}
                        onAsk={(a) => cmd.ask(v.containerName, a)}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            ))}
          </table>
        </div>
        <div class="card">
          <h3>Crashes, OOMs and restarts</h3>
          {d.feed.length === 0 && <p class="muted small">Nothing lately.</p>}
          <ul class="feed" data-testid="feed">
            {collapse(d.feed)
              .slice(0, 20)
              .map(({ e, count }) => (
                <li key={e.id} class={e.severity}>
                  <span class="muted small">{ago(e.ts)}</span> {e.message}
                  {count > 1 && <span class="muted small"> ×{count}</span>}
                </li>
              ))}
          </ul>
        </div>
      </section>
      {cmd.dialog}
    </main>
  )
}

const RANGES = [
  { id: '1h', ms: 3_600_000 },
  { id: '6h', ms: 6 * 3_600_000 },
  { id: '24h', ms: 24 * 3_600_000 },
  { id: '7d', ms: 7 * 86_400_000 },
] as const

const MARKER_COLORS: Record<string, string> = {
  'container.die': '#ef4444',
  'container.oom': '#b91c1c',
  'container.start': '#10b981',
  'container.restart': '#f59e0b',
  'container.stop': '#64748b',
  'container.health': '#a855f7',
  'command.result': '#3b82f6',
  'alert.firing': '#dc2626',
  'alert.resolved': '#16a34a',
}

function ContainerDetail({
  host,
  role,
  v,
  name,
  online,
  onBack,
  cmd,
}: {
  host: string
  role: Role
  v: ContainerView | null
  name: string
  online: boolean
  onBack: () => void
  cmd: ReturnType<typeof useCommand>
}) {
  const [range, setRange] = useState<(typeof RANGES)[number]['id']>('1h')
  const [zoom, setZoom] = useState<[number, number] | null>(null)
  const [h, setH] = useState<ContainerHistory | null>(null)
  const [error, setError] = useState<string | null>(null)
  // Logs around a moment: from the address (a link from an alert) or an event below.
  const [around, setAround] = useState<number | null>(() => {
    const at = Number(new URLSearchParams(location.search).get('logsAt'))
    return at > 0 ? at : null
  })
  // Refetch when the container changes state (a restart shows up as a marker at once).
  const stamp = v ? `${v.state}|${v.restartCount}|${v.startedAt}` : ''

  useEffect(() => {
    const ms = RANGES.find((r) => r.id === range)!.ms
    const [from, to] = zoom ?? [Date.now() - ms, Date.now()]
    api.containerHistory(host, name, from, to, 600).then(
      (r) => {
        setH(r)
        setError(null)
      },
      (e) => setError(e instanceof HttpError ? e.message : String(e)),
    )
  }, [host, name, range, zoom, stamp])

  const markers = useMemo<Marker[]>(
    () =>
      ((h?.events ?? []) as Event[])
        .filter((e) => e.type !== 'container.sync' && e.type !== 'container.kill')
        .map((e) => ({ ts: e.ts, color: MARKER_COLORS[e.type] ?? '#64748b' })),
    [h],
  )
  // The charts are built once; their marker plugin reads the current markers through this ref.
  const markersRef = useRef(markers)
  markersRef.current = markers
  const charts = [
    { key: 'cpu', label: 'CPU % (100 = one core)', color: '#3b82f6', fmt: percentFmt },
    { key: 'memUsed', label: 'Memory', color: '#10b981', fmt: bytes },
    { key: 'netRx', label: 'Network in', color: '#06b6d4', fmt: rate },
    { key: 'netTx', label: 'Network out', color: '#0891b2', fmt: rate },
  ] as const
  return (
    <main>
      <section class="facts">
        <button type="button" class="ghost" onClick={onBack}>
          ← Containers
        </button>
        <h2 class="mono" data-testid="detail-name">
          {name}
        </h2>
        {v && <StateBadge v={v} />}
        {v && <HealthBadge v={v} />}
        {v && <Actions v={v} role={role} online={online} onAsk={(a) => cmd.ask(name, a)} />}
      </section>
      {cmd.banner}
      {!v && h && (
        <p class="notice" data-testid="container-gone">
          This container is not on {host} any more (it was removed or renamed). Its history until then is
          below.
        </p>
      )}
      {v && (
        <p class="muted small">
          {v.image} · id <span class="mono">{v.containerId.slice(0, 12)}</span>
          {v.composeProject ? ` · compose ${v.composeProject}/${v.composeService}` : ''} · {v.restartCount}{' '}
          restarts
          {v.startedAt ? ` · started ${ago(v.startedAt)}` : ''}
          {v.ports.length > 0 &&
            ` · ports ${v.ports.map((p) => (p.publicPort ? `${p.publicPort}→${p.privatePort}/${p.type}` : `${p.privatePort}/${p.type}`)).join(', ')}`}
          {' · '}
          {v.control.allowed ? 'control allowed' : 'read-only'}: {v.control.reason}
        </p>
      )}
      <div class="toolbar">
        <fieldset class="segmented">
          <legend class="muted small">range</legend>
          {RANGES.map((r) => (
            <button
              type="button"
              key={r.id}
              aria-pressed={range === r.id && !zoom}
              onClick={() => {
                setZoom(null)
                setRange(r.id)
              }}
            >
              {r.id}
            </button>
          ))}
        </fieldset>
        {h && (
          <span class="muted small" data-testid="detail-meta">
            {h.tier} tier · {h.x.length} points · {markers.length} events
          </span>
        )}
      </div>
      {error && <p class="error">{error}</p>}
      {h && (
        <section class="grid2">
          {charts.map((c) => {
            const s = h.series[c.key]
            const data: uPlot.AlignedData = [h.x, s.avg, s.min, s.max]
            return (
              <div class="card" key={c.key}>
                <h3>{c.label}</h3>
                <Chart
                  testId={`detail-${c.key}`}
                  optionsKey={`${name}-${c.key}`}
                  height={180}
                  data={data}
                  options={(w) => ({
                    ...historyOptions(w, 180, c.label, c.color, c.fmt, (from, to) => setZoom([from, to])),
                    plugins: [markersPlugin(() => markersRef.current)],
                  })}
                />
              </div>
            )
          })}
        </section>
      )}
      {h && (
        <div class="card">
          <h3>Events</h3>
          <ul class="feed" data-testid="detail-events">
            {(h.events as Event[]).map((e) => (
              <li key={e.id} class={e.severity}>
                <span class="dot" style={{ background: MARKER_COLORS[e.type] ?? '#64748b' }} />
                <span class="muted small">{new Date(e.ts).toLocaleString()}</span> {e.message}{' '}
                {CRASH_EVENTS.has(e.type) && (
                  <button
                    type="button"
                    class="link small"
                    data-testid="logs-around"
                    onClick={() => {
                      setAround(e.ts)
                      document.querySelector('[data-testid=logs-panel]')?.scrollIntoView()
                    }}
                  >
                    logs around this
                  </button>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
      <LogsPanel target={{ kind: 'container', host, name }} role={role} around={around} />
      {cmd.dialog}
    </main>
  )
}
