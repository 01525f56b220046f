import { type Event as BusEvent, type HistoryResponse, splitSeries } from '@homelab/contracts'
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import { api, HttpError } from '../api'
import { historyOptions, type Marker, markersPlugin } from '../charts'
import { Chart } from '../components/chart'
import { bytes, duration, type Fmt, numberTicks, percentFmt, rate } from '../format'

const plain: Fmt = Object.assign((v: number) => v.toFixed(2), {
  ticks: (vals: readonly number[], step: number) => numberTicks(vals, step),
})
const uptimeFmt: Fmt = (v: number) => duration(v)

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
    fmt: Object.assign((v: number) => `${v.toFixed(0)} °C`, {
      ticks: (vals: readonly number[], step: number) => numberTicks(vals, step, ' °C'),
    }),
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

export function History({ host }: { host: string }) {
  const [range, setRange] = useState<(typeof RANGES)[number]['id']>('1h')
  const [zoom, setZoom] = useState<[number, number] | null>(null)
  const [series, setSeriesState] = useState('cpu.usage')
  // A zoom belongs to the series it was made on.
  const setSeries = (v: string) => {
    setZoom(null)
    setSeriesState(v)
  }
  const [all, setAll] = useState<string[]>([])
  const [data, setData] = useState<HistoryResponse | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [alertEvents, setAlertEvents] = useState<BusEvent[]>([])

  useEffect(() => {
    api.series(host).then(
      (r) => setAll(r.series),
      () => setAll([]),
    )
  }, [host])

  useEffect(() => {
    const ms = RANGES.find((r) => r.id === range)!.ms
    const [from, to] = zoom ?? [Date.now() - ms, Date.now()]
    let cancelled = false
    setError(null)
    // The data and the alerts on this series (fired and resolved in the range, drawn as markers) arrive together, so
    // the chart draws its markers with the data.
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
    Promise.all([api.history(host, series, from, to, 800), alerts])
      .then(([d, a]) => {
        if (cancelled) return
        setAlertEvents(a)
        setData(d)
      })
      .catch((e) => {
        if (cancelled) return
        setData(null)
        setError(e instanceof HttpError ? e.message : String(e))
      })
    return () => {
      cancelled = true
    }
  }, [host, series, range, zoom])

  const m = metricFor(series)
  const markers = useMemo<Marker[]>(
    () => alertEvents.map((e) => ({ ts: e.ts, color: e.type === 'alert.firing' ? '#dc2626' : '#16a34a' })),
    [alertEvents],
  )
  const markersRef = useRef(markers)
  markersRef.current = markers
  const plotData = useMemo<uPlot.AlignedData>(
    () => (data ? [data.columns[0], data.columns[1], data.columns[2], data.columns[3]] : [[], [], [], []]),
    [data],
  )
  // Only what this host has (no "CPU temperature" where there is no sensor), grouped, named.
  const choices = useMemo(() => {
    const have = all.filter((s) => !s.startsWith('cpu.core'))
    const list = [...new Set([...fixed.map((f) => f.series).filter((s) => have.includes(s)), ...have])]
    const groups = new Map<string, Metric[]>()
    for (const s of list) {
      const m = metricFor(s)
      groups.set(m.group, [...(groups.get(m.group) ?? []), m])
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
      <div class="card">
        <h3>
          {m.label}{' '}
          {data && (
            <span class="muted small" data-testid="history-meta">
              {data.tier} tier · {data.columns[0].length} points · step {duration(Math.round(step / 1000))}
            </span>
          )}
        </h3>
        {error && <p class="error">{error}</p>}
        <Chart
          testId="history-chart"
          optionsKey={`${series}`}
          height={320}
          data={plotData}
          options={(w) => ({
            ...historyOptions(
              w,
              320,
              m.label,
              m.color,
              m.fmt,
              (from, to) => setZoom([from, to]),
              m.yRange,
              () => windowRef.current,
            ),
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
          Drag across the chart to zoom. The shaded band spans the minimum and maximum behind each point; gaps
          are periods without data.
        </p>
      </div>
    </main>
  )
}
