import { type Event as BusEvent, type HistoryResponse, splitSeries } from '@homelab/contracts'
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import { api, HttpError } from '../api'
import { historyOptions, type Marker, markersPlugin, multiOptions, uPlotJoin } from '../charts'
import { Chart } from '../components/chart'
import { bytes, duration, type Fmt, numberTicks, percentFmt, rate } from '../format'

const plain: Fmt = Object.assign((v: number) => v.toFixed(2), {
  ticks: (vals: readonly number[], step: number) => numberTicks(vals, step),
})
const uptimeFmt: Fmt = (v: number) => duration(v)
const celsius: Fmt = Object.assign((v: number) => `${v.toFixed(0)} °C`, {
  ticks: (vals: readonly number[], step: number) => numberTicks(vals, step, ' °C'),
})

const RANGES = [
  { id: '1h', ms: 3_600_000 },
  { id: '6h', ms: 6 * 3_600_000 },
  { id: '24h', ms: 24 * 3_600_000 },
  { id: '7d', ms: 7 * 86_400_000 },
  { id: '30d', ms: 30 * 86_400_000 },
] as const

interface Metric {
  series: string
  label: string
  /** The picker's group. */
  group: string
  color: string
  fmt: Fmt
  /** A fixed y range (0–100 for percentages). */
  yRange?: [number, number]
}

const PERCENT: [number, number] = [0, 100]
const fixed: Metric[] = [
  { series: 'cpu.usage', label: 'CPU %', group: 'CPU', color: '#3b82f6', fmt: percentFmt, yRange: PERCENT },
  {
    series: 'mem.percent',
    label: 'Memory %',
    group: 'Memory',
    color: '#10b981',
    fmt: percentFmt,
    yRange: PERCENT,
  },
  {
    series: 'cpu.temperature',
    label: 'CPU temperature',
    group: 'CPU',
    color: '#ef4444',
    fmt: celsius,
  },
  { series: 'load.1', label: 'Load (1 min)', group: 'CPU', color: '#a855f7', fmt: plain },
]

/** Readable names for the series the collectors publish (`net.tx_bps{iface=eth0}` → "Network sent · eth0"). */
const NAMES: Array<{
  metric: string
  label: string
  group: string
  color: string
  fmt: Fmt
  yRange?: [number, number]
}> = [
  { metric: 'load.5', label: 'Load (5 min)', group: 'CPU', color: '#a855f7', fmt: plain },
  { metric: 'load.15', label: 'Load (15 min)', group: 'CPU', color: '#a855f7', fmt: plain },
  { metric: 'mem.used', label: 'Memory used', group: 'Memory', color: '#10b981', fmt: bytes },
  { metric: 'mem.available', label: 'Memory available', group: 'Memory', color: '#10b981', fmt: bytes },
  { metric: 'swap.used', label: 'Swap used', group: 'Memory', color: '#14b8a6', fmt: bytes },
  { metric: 'mem.total', label: 'Memory size', group: 'Memory', color: '#10b981', fmt: bytes },
  { metric: 'swap.total', label: 'Swap size', group: 'Memory', color: '#14b8a6', fmt: bytes },
  {
    metric: 'cpu.user',
    label: 'CPU user %',
    group: 'CPU',
    color: '#3b82f6',
    fmt: percentFmt,
    yRange: PERCENT,
  },
  {
    metric: 'cpu.system',
    label: 'CPU system %',
    group: 'CPU',
    color: '#6366f1',
    fmt: percentFmt,
    yRange: PERCENT,
  },
  {
    metric: 'cpu.iowait',
    label: 'CPU I/O wait %',
    group: 'CPU',
    color: '#f97316',
    fmt: percentFmt,
    yRange: PERCENT,
  },
  {
    metric: 'fs.percent',
    label: 'Disk used %',
    group: 'Disks',
    color: '#f59e0b',
    fmt: percentFmt,
    yRange: PERCENT,
  },
  { metric: 'fs.used', label: 'Disk used', group: 'Disks', color: '#f59e0b', fmt: bytes },
  { metric: 'fs.total', label: 'Disk size', group: 'Disks', color: '#f59e0b', fmt: bytes },
  { metric: 'disk.read_iops', label: 'Disk reads/s', group: 'Disks', color: '#06b6d4', fmt: plain },
  { metric: 'disk.write_iops', label: 'Disk writes/s', group: 'Disks', color: '#0891b2', fmt: plain },
  { metric: 'disk.read_bps', label: 'Disk read', group: 'Disks', color: '#06b6d4', fmt: rate },
  { metric: 'disk.write_bps', label: 'Disk write', group: 'Disks', color: '#0891b2', fmt: rate },
  { metric: 'net.rx_bps', label: 'Network received', group: 'Network', color: '#06b6d4', fmt: rate },
  { metric: 'net.tx_bps', label: 'Network sent', group: 'Network', color: '#0891b2', fmt: rate },
  { metric: 'uptime', label: 'Uptime', group: 'System', color: '#64748b', fmt: uptimeFmt },
  { metric: 'temp.celsius', label: 'Temperature', group: 'Sensors', color: '#ef4444', fmt: celsius },
  {
    metric: 'proc.cpu',
    label: 'Process CPU % of a core',
    group: 'Processes',
    color: '#3b82f6',
    fmt: percentFmt,
  },
  { metric: 'proc.rss', label: 'Process memory', group: 'Processes', color: '#10b981', fmt: bytes },
  { metric: 'proc.count', label: 'Processes', group: 'Processes', color: '#64748b', fmt: plain },
  { metric: 'proc.running', label: 'Processes running', group: 'Processes', color: '#a855f7', fmt: plain },
]

function metricFor(series: string): Metric {
  const f = fixed.find((m) => m.series === series)
  if (f) return f
  const { metric, labels } = splitSeries(series)
  const n = NAMES.find((x) => x.metric === metric)
  const where = Object.values(labels)[0]
  if (n) return { series, ...n, label: where ? `${n.label} · ${where}` : n.label }
  return { series, label: series, group: 'Other', color: '#64748b', fmt: plain }
}

const pad2 = (n: number) => String(n).padStart(2, '0')
/** A time as a datetime-local input's value (local time, to the minute). */
function toLocalInput(ms: number): string {
  const d = new Date(ms)
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}`
}
function fromLocalInput(e: Event): number | null {
  const v = e.target instanceof HTMLInputElement ? e.target.value : ''
  const ms = v ? new Date(v).getTime() : Number.NaN
  return Number.isFinite(ms) ? ms : null
}

const COLORS = ['#3b82f6', '#10b981', '#f59e0b', '#ef4444', '#a855f7', '#06b6d4', '#64748b', '#ec4899']
const MAX_LINES = 8
type RangeId = (typeof RANGES)[number]['id']

/** What the address says (shareable: host, series, range or from–to, across hosts, compare). */
function fromAddress() {
  const q = new URLSearchParams(location.search)
  const series = (q.get('series') ?? 'cpu.usage').split(',').filter(Boolean).slice(0, MAX_LINES)
  const range = RANGES.find((r) => r.id === q.get('range'))?.id ?? '1h'
  const from = Number(q.get('from'))
  const to = Number(q.get('to'))
  return {
    series: series.length ? series : ['cpu.usage'],
    range,
    zoom: from > 0 && to > from ? ([from, to] as [number, number]) : null,
    across: q.get('across') === '1',
    compare: q.get('compare') === '1',
  }
}

interface Line {
  host: string
  series: string
  /** Drawn a period later than it happened (the previous period, for comparison). */
  shift: number
  label: string
  color: string
}

export function History({ host }: { host: string }) {
  const initial = useMemo(fromAddress, [])
  const [range, setRange] = useState<RangeId>(initial.range)
  const [zoom, setZoom] = useState<[number, number] | null>(initial.zoom)
  const [picked, setPicked] = useState<string[]>(initial.series)
  const [across, setAcross] = useState(initial.across)
  const [compare, setCompare] = useState(initial.compare)
  const [all, setAll] = useState<string[]>([])
  const [hosts, setHosts] = useState<string[]>([])
  const [answers, setAnswers] = useState<HistoryResponse[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [alertEvents, setAlertEvents] = useState<BusEvent[]>([])
  const series = picked[0] ?? 'cpu.usage'
  // A zoom belongs to the series it was made on.
  const setSeries = (v: string) => {
    setZoom(null)
    setPicked([v])
  }

  useEffect(() => {
    api.series(host).then(
      (r) => setAll(r.series),
      () => setAll([]),
    )
    api.hosts().then(
      (r) => setHosts(r.hosts.map((h) => h.host)),
      () => setHosts([]),
    )
  }, [host])

  // The lines: each picked series on this host; or the first on every host; each with its previous period.
  const lines = useMemo<Line[]>(() => {
    const span = zoom ? zoom[1] - zoom[0] : RANGES.find((r) => r.id === range)!.ms
    const base: Line[] = across
      ? (hosts.length ? hosts : [host]).slice(0, MAX_LINES).map((h, i) => ({
          host: h,
          series,
          shift: 0,
          label: `${metricFor(series).label} · ${h}`,
          color: COLORS[i % COLORS.length]!,
        }))
      : picked.map((sr, i) => ({
          host,
          series: sr,
          shift: 0,
          label: metricFor(sr).label,
          color: picked.length === 1 ? metricFor(sr).color : COLORS[i % COLORS.length]!,
        }))
    if (!compare) return base
    return [
      ...base,
      ...base.map((l) => ({
        ...l,
        shift: span,
        label: `${l.label} (previous ${RANGES.find((r) => r.id === range)?.id ?? 'period'})`,
      })),
    ].slice(0, MAX_LINES * 2)
  }, [across, hosts, host, series, picked, compare, range, zoom])
  const key = lines.map((l) => `${l.host}|${l.series}|${l.shift}`).join(',')

  // The address follows what is shown, so it can be shared or bookmarked.
  useEffect(() => {
    const q = new URLSearchParams({ host, series: picked.join(','), range })
    if (zoom) {
      q.set('from', String(Math.round(zoom[0])))
      q.set('to', String(Math.round(zoom[1])))
    }
    if (across) q.set('across', '1')
    if (compare) q.set('compare', '1')
    history.replaceState(null, '', `${location.pathname}?${q}`)
  }, [host, picked, range, zoom, across, compare])

  useEffect(() => {
    const ms = RANGES.find((r) => r.id === range)!.ms
    const [from, to] = zoom ?? [Date.now() - ms, Date.now()]
    let cancelled = false
    setError(null)
    // The data and the alerts on the first series (fired and resolved in the range, drawn as markers) arrive
    // together, so the chart draws its markers with the data.
    const alerts = api
      .events({
        host,
        type: 'alert.firing,alert.resolved',
        since: Math.round(from),
        before: Math.round(to),
        limit: 500,
      })
      .then(
        (r) => r.events.filter((e) => (e.data.alert as { series?: string } | undefined)?.series === series),
        () => [] as BusEvent[],
      )
    const points = lines.length > 2 ? 400 : 800
    Promise.all([
      Promise.all(lines.map((l) => api.history(l.host, l.series, from - l.shift, to - l.shift, points))),
      alerts,
    ])
      .then(([d, a]) => {
        if (cancelled) return
        setAlertEvents(a)
        setAnswers(d)
      })
      .catch((e) => {
        if (cancelled) return
        setAnswers(null)
        setError(e instanceof HttpError ? e.message : String(e))
      })
    return () => {
      cancelled = true
    }
  }, [key, range, zoom])

  const m = metricFor(series)
  const data = answers?.[0] ?? null
  const markers = useMemo<Marker[]>(
    () => alertEvents.map((e) => ({ ts: e.ts, color: e.type === 'alert.firing' ? '#dc2626' : '#16a34a' })),
    [alertEvents],
  )
  const markersRef = useRef(markers)
  markersRef.current = markers
  const single = lines.length === 1
  const plotData = useMemo<uPlot.AlignedData>(() => {
    if (!answers || answers.length !== lines.length)
      return single ? [[], [], [], []] : [[], ...lines.map(() => [])]
    if (single && answers[0])
      return [answers[0].columns[0], answers[0].columns[1], answers[0].columns[2], answers[0].columns[3]]
    // One time axis for all the lines (a line without a sample at a time has a gap there).
    return uPlotJoin(
      answers.map((a, i) => [a.columns[0].map((t) => t + (lines[i]?.shift ?? 0)), a.columns[1]]),
    )
  }, [answers, key])
  // Only what this host has (no "CPU temperature" where there is no sensor), grouped, named.
  const choices = useMemo(() => {
    const have = all.filter((s) => !s.startsWith('cpu.core'))
    const list = [...new Set([...fixed.map((f) => f.series).filter((s) => have.includes(s)), ...have])]
    const groups = new Map<string, Metric[]>()
    for (const sr of list) {
      const mm = metricFor(sr)
      groups.set(mm.group, [...(groups.get(mm.group) ?? []), mm])
    }
    return [...groups.entries()]
  }, [all])
  const shown = useMemo<[number, number]>(() => {
    const ms = RANGES.find((r) => r.id === range)!.ms
    return zoom ?? [data?.to !== undefined ? data.to - ms : Date.now() - ms, data?.to ?? Date.now()]
  }, [zoom, range, data])
  const windowRef = useRef(shown)
  windowRef.current = shown
  // The samples' own spacing (the raw tier's step is the collector's interval, not the query's resolution).
  const step = useMemo(() => {
    const t = data?.columns[0] ?? []
    if (t.length < 2) return data?.stepMs ?? 0
    const gaps = t
      .slice(1)
      .map((v, i) => v - (t[i] ?? v))
      .sort((a, b) => a - b)
    return Math.max(data?.stepMs ?? 0, gaps[Math.floor(gaps.length / 2)] ?? 0)
  }, [data])
  // Another series on the same chart must share its unit (one y axis).
  const sameUnit = (sr: string) => metricFor(sr).fmt === m.fmt && !picked.includes(sr)

  return (
    <main>
      <section class="toolbar">
        <fieldset class="segmented" aria-label="range">
          {RANGES.map((r) => (
            <button
              type="button"
              key={r.id}
              data-testid={`range-${r.id}`}
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
        <select
          value={series}
          onChange={(e) => setSeries((e.target as HTMLSelectElement).value)}
          aria-label="series"
        >
          {choices.map(([group, metrics]) => (
            <optgroup key={group} label={group}>
              {metrics.map((c) => (
                <option key={c.series} value={c.series}>
                  {c.label}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
        {!across && picked.length < MAX_LINES && (
          <select
            aria-label="add series"
            data-testid="add-series"
            value=""
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value
              if (v) setPicked([...picked, v])
            }}
          >
            <option value="">+ series in {m.fmt === percentFmt ? '%' : 'the same unit'}…</option>
            {choices
              .flatMap(([, metrics]) => metrics.filter((c) => sameUnit(c.series)))
              .map((c) => (
                <option key={c.series} value={c.series}>
                  {c.label}
                </option>
              ))}
          </select>
        )}
        <label class="small">
          <input
            type="checkbox"
            data-testid="across-hosts"
            checked={across}
            onChange={() => setAcross(!across)}
          />{' '}
          every host
        </label>
        <label class="small">
          <input
            type="checkbox"
            data-testid="compare"
            checked={compare}
            onChange={() => setCompare(!compare)}
          />{' '}
          previous period
        </label>
        <span class="custom-range">
          <input
            type="datetime-local"
            aria-label="from"
            data-testid="range-from"
            value={toLocalInput(shown[0])}
            onChange={(e) => {
              const from = fromLocalInput(e)
              if (from !== null && from < shown[1]) setZoom([from, shown[1]])
            }}
          />
          <span class="muted">–</span>
          <input
            type="datetime-local"
            aria-label="to"
            data-testid="range-to"
            value={toLocalInput(shown[1])}
            onChange={(e) => {
              const to = fromLocalInput(e)
              if (to !== null && to > shown[0]) setZoom([shown[0], to])
            }}
          />
        </span>
        {zoom && (
          <button type="button" onClick={() => setZoom(null)}>
            Reset zoom
          </button>
        )}
      </section>
      {!across && picked.length > 1 && (
        <p class="chips" data-testid="picked">
          {picked.map((sr, i) => (
            <span key={sr} class="badge" style={{ borderColor: COLORS[i % COLORS.length] }}>
              {metricFor(sr).label}
              {i > 0 && (
                <button
                  type="button"
                  class="ghost small"
                  aria-label={`remove ${metricFor(sr).label}`}
                  onClick={() => setPicked(picked.filter((x) => x !== sr))}
                >
                  ×
                </button>
              )}
            </span>
          ))}
        </p>
      )}
      <div class="card">
        <h3>
          {single ? m.label : across ? `${m.label} on every host` : `${picked.length} series`}{' '}
          {data && (
            <span class="muted small" data-testid="history-meta">
              {data.tier} tier · {data.columns[0].length} points · step {duration(Math.round(step / 1000))}
              {lines.length > 1 ? ` · ${lines.length} lines` : ''}
            </span>
          )}
        </h3>
        {error && <p class="error">{error}</p>}
        {answers?.every((a) => a.columns[0].length === 0) && (
          <p class="muted" data-testid="history-empty">
            No samples in this range: {host} was not reporting {single ? m.label : 'these series'} then (the
            monitor was not running, or the series is newer). Try a longer range.
          </p>
        )}
        <Chart
          testId="history-chart"
          optionsKey={key}
          height={320}
          data={plotData}
          options={(w) => ({
            ...(single
              ? historyOptions(
                  w,
                  320,
                  m.label,
                  m.color,
                  m.fmt,
                  (from, to) => setZoom([from, to]),
                  m.yRange,
                  () => windowRef.current,
                )
              : multiOptions(
                  w,
                  320,
                  lines.map((l) => ({ label: l.label, color: l.color, dash: l.shift > 0 })),
                  m.fmt,
                  (from, to) => setZoom([from, to]),
                  m.yRange,
                  () => windowRef.current,
                )),
            plugins: [markersPlugin(() => markersRef.current)],
          })}
        />
        {alertEvents.length > 0 && (
          <ul class="feed" data-testid="history-alerts">
            {alertEvents.map((e) => (
              <li key={e.id} class={e.type === 'alert.firing' ? e.severity : ''}>
                <span class={`dot ${e.type === 'alert.firing' ? 'bad' : 'ok'}`} />
                <span class="muted small">{new Date(e.ts).toLocaleString()}</span> {e.message}
              </li>
            ))}
          </ul>
        )}
        <p class="muted small">
          Drag across the chart to zoom.{' '}
          {single ? 'The shaded band spans the minimum and maximum behind each point; ' : ''}
          gaps are periods without data. The address names what is shown: share it or bookmark it.
        </p>
      </div>
    </main>
  )
}
