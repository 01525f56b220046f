import type { Event, HistoryResponse } from '@homelab/contracts'
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import { api, HttpError } from '../api'
import { historyOptions, type Marker, markersPlugin } from '../charts'
import { Chart } from '../components/chart'
import { bytes, rate } from '../format'

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
  color: string
  fmt: (v: number) => string
}

const fixed: Metric[] = [
  { series: 'cpu.usage', label: 'CPU %', color: '#3b82f6', fmt: (v) => `${v.toFixed(0)}%` },
  { series: 'mem.percent', label: 'Memory %', color: '#10b981', fmt: (v) => `${v.toFixed(0)}%` },
  { series: 'cpu.temperature', label: 'CPU °C', color: '#ef4444', fmt: (v) => `${v.toFixed(0)}°` },
  { series: 'load.1', label: 'Load (1 min)', color: '#a855f7', fmt: (v) => v.toFixed(2) },
]

function metricFor(series: string): Metric {
  const f = fixed.find((m) => m.series === series)
  if (f) return f
  if (series.startsWith('fs.percent'))
    return { series, label: series, color: '#f59e0b', fmt: (v) => `${v.toFixed(0)}%` }
  if (series.startsWith('net.') || series.startsWith('disk.read_bps') || series.startsWith('disk.write_bps'))
    return { series, label: series, color: '#06b6d4', fmt: rate }
  if (series.startsWith('mem.') || series.startsWith('fs.') || series.startsWith('swap.'))
    return { series, label: series, color: '#10b981', fmt: bytes }
  return { series, label: series, color: '#64748b', fmt: (v) => v.toFixed(1) }
}

export function History({ host }: { host: string }) {
  const [range, setRange] = useState<(typeof RANGES)[number]['id']>('1h')
  const [zoom, setZoom] = useState<[number, number] | null>(null)
  const [series, setSeries] = useState('cpu.usage')
  const [all, setAll] = useState<string[]>([])
  const [data, setData] = useState<HistoryResponse | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [alertEvents, setAlertEvents] = useState<Event[]>([])

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
        () => [] as Event[],
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
  const choices = useMemo(
    () => [...new Set([...fixed.map((f) => f.series), ...all.filter((s) => !s.startsWith('cpu.core'))])],
    [all],
  )

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
          {choices.map((s) => (
            <option key={s} value={s}>
              {metricFor(s).label}
            </option>
          ))}
        </select>
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
              {data.tier} tier · {data.columns[0].length} points · step {Math.round(data.stepMs / 1000)} s
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
            ...historyOptions(w, 320, m.label, m.color, m.fmt, (from, to) => setZoom([from, to])),
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
