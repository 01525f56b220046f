import type { FleetHost } from '@homelab/contracts'
import { useEffect, useMemo, useState } from 'preact/hooks'
import { api, HttpError } from '../api'
import { ago, bytes, duration, rate } from '../format'
import { perfMark } from '../perf'

type SortKey =
  | 'host'
  | 'cpu'
  | 'memory'
  | 'disk'
  | 'temperature'
  | 'load'
  | 'network'
  | 'containers'
  | 'alerts'
  | 'seen'

const SORT_KEYS: Array<[SortKey, string]> = [
  ['host', 'Host'],
  ['cpu', 'CPU'],
  ['memory', 'Memory'],
  ['disk', 'Disk'],
  ['temperature', 'Temperature'],
  ['load', 'Load'],
  ['network', 'Network'],
  ['containers', 'Containers'],
  ['alerts', 'Alerts'],
  ['seen', 'Last seen'],
]

const value = (h: FleetHost, k: SortKey): number | string => {
  switch (k) {
    case 'host':
      return h.host
    case 'cpu':
      return h.cpu ?? -1
    case 'memory':
      return h.memoryPercent ?? -1
    case 'disk':
      return h.disk?.percent ?? -1
    case 'temperature':
      return h.temperature ?? -1
    case 'load':
      return h.load1 ?? -1
    case 'network':
      return (h.netRxPerSec ?? 0) + (h.netTxPerSec ?? 0)
    case 'containers':
      return h.containers?.running ?? -1
    case 'alerts':
      return h.alerts
    case 'seen':
      return h.lastSeen ?? 0
  }
}

/** A line of the last hour's values, scaled 0–100 (for percentages). */
function Sparkline({ points }: { points: Array<number | null> }) {
  const xs = points.map((v, i) =>
    v === null
      ? null
      : `${((i / Math.max(1, points.length - 1)) * 80).toFixed(1)},${(20 - (Math.min(100, v) / 100) * 20).toFixed(1)}`,
  )
  const d = xs.filter((p): p is string => p !== null).join(' ')
  return (
    <svg class="spark" viewBox="0 0 80 20" preserveAspectRatio="none" aria-hidden="true">
      {d && <polyline points={d} fill="none" stroke="currentColor" stroke-width="1.5" />}
    </svg>
  )
}

const level = (v: number | null, warn: number, bad: number) =>
  v === null ? '' : v >= bad ? 'bad' : v >= warn ? 'warn' : ''

/** Every host in one table: the home page when there is more than one. */
export function Fleet({ onOpen }: { onOpen: (host: string) => void }) {
  const [hosts, setHosts] = useState<FleetHost[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'host', desc: false })
  const [sparks, setSparks] = useState<Record<string, Array<number | null>>>({})

  useEffect(() => {
    const load = () =>
      api.fleet().then(
        (r) => {
          setHosts(r.hosts)
          setError(null)
        },
        (e) => setError(e instanceof HttpError ? e.message : 'cannot reach the gateway'),
      )
    load()
    const t = setInterval(load, 5000)
    return () => clearInterval(t)
  }, [])
  const names = (hosts ?? []).map((h) => h.host).join(',')
  useEffect(() => {
    // The last hour of CPU per host, refreshed each minute.
    const load = () => {
      const now = Date.now()
      for (const host of names.split(',').filter(Boolean))
        api.history(host, 'cpu.usage', now - 3_600_000, now, 60).then(
          (h) => setSparks((s) => ({ ...s, [host]: h.columns[1] })),
          () => undefined,
        )
    }
    load()
    const t = setInterval(load, 60_000)
    return () => clearInterval(t)
  }, [names])

  const rows = useMemo(() => {
    const list = [...(hosts ?? [])]
    list.sort((a, b) => {
      const x = value(a, sort.key)
      const y = value(b, sort.key)
      const c = typeof x === 'string' && typeof y === 'string' ? x.localeCompare(y) : Number(x) - Number(y)
      return sort.desc ? -c : c
    })
    return list
  }, [hosts, sort])

  // After the rows are on screen (effects run after paint): for the UI bench.
  useEffect(() => {
    if (rows.length) perfMark('rendered fleet')
  }, [rows])

  const head = (key: SortKey, label: string) => (
    <th aria-sort={sort.key === key ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
      <button
        type="button"
        class="ghost sort"
        data-testid={`sort-${key}`}
        onClick={() => setSort({ key, desc: sort.key === key ? !sort.desc : key !== 'host' })}
      >
        {label}
        {sort.key === key ? (sort.desc ? ' ↓' : ' ↑') : ''}
      </button>
    </th>
  )

  return (
    <main>
      <div class="card">
        <h3>
          Fleet <span class="muted small">{hosts ? `${hosts.length} hosts` : ''}</span>
        </h3>
        {/* On a phone the table is one card per host and has no header to click: sort here. */}
        <div class="toolbar phone-only">
          <select
            aria-label="sort by"
            data-testid="sort-select"
            value={sort.key}
            onChange={(e) => {
              const key = SORT_KEYS.find(
                (k) => e.target instanceof HTMLSelectElement && k[0] === e.target.value,
              )?.[0]
              if (key) setSort({ key, desc: key !== 'host' })
            }}
          >
            {SORT_KEYS.map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
          <button
            type="button"
            class="small"
            data-testid="sort-direction"
            onClick={() => setSort({ ...sort, desc: !sort.desc })}
          >
            {sort.desc ? '↓ highest first' : '↑ lowest first'}
          </button>
        </div>
        {error && <p class="error">{error}</p>}
        {hosts?.length === 0 && (
          <p class="muted">No host has reported yet: start a sys-collector (npm start does).</p>
        )}
        {hosts && hosts.length > 0 && (
          <div class="scroll">
            <table class="cards fleet" data-testid="fleet">
              <thead>
                <tr>
                  {head('host', 'Host')}
                  {head('cpu', 'CPU')}
                  {head('memory', 'Memory')}
                  {head('disk', 'Disk')}
                  {head('temperature', 'Temp')}
                  {head('load', 'Load')}
                  {head('network', 'Network')}
                  {head('containers', 'Containers')}
                  {head('alerts', 'Alerts')}
                  {head('seen', 'Last seen')}
                </tr>
              </thead>
              <tbody>
                {rows.map((h) => (
                  <tr key={h.host} data-testid={`fleet-${h.host}`} class={h.silent ? 'stale' : ''}>
                    <td>
                      <a
                        href={`?host=${encodeURIComponent(h.host)}`}
                        onClick={(e) => {
                          e.preventDefault()
                          onOpen(h.host)
                        }}
                      >
                        <strong>{h.host}</strong>
                      </a>{' '}
                      {h.silent ? (
                        <span class="badge bad" data-testid="silent">
                          silent
                        </span>
                      ) : h.services.problems.length > 0 ? (
                        <span class="badge warn" title={h.services.problems.join(', ')}>
                          {h.services.problems.length} service{h.services.problems.length > 1 ? 's' : ''} down
                        </span>
                      ) : (
                        <span class="badge ok">up {h.uptimeSec === null ? '' : duration(h.uptimeSec)}</span>
                      )}
                    </td>
                    <td data-label="CPU" class={level(h.cpu, 70, 90)}>
                      <span class="num">{h.cpu === null ? '–' : `${h.cpu.toFixed(0)}%`}</span>{' '}
                      <Sparkline points={sparks[h.host] ?? []} />
                    </td>
                    <td data-label="Memory" class={level(h.memoryPercent, 80, 90)}>
                      {h.memoryPercent === null
                        ? '–'
                        : `${h.memoryPercent.toFixed(0)}% · ${bytes(h.memoryUsed)} of ${bytes(h.memoryTotal)}`}
                    </td>
                    <td data-label="Disk" class={level(h.disk?.percent ?? null, 80, 90)}>
                      {h.disk ? `${h.disk.percent.toFixed(0)}% ${h.disk.mount}` : '–'}
                    </td>
                    <td data-label="Temp" class={level(h.temperature, 70, 80)}>
                      {h.temperature === null ? '–' : `${h.temperature.toFixed(0)} °C`}
                    </td>
                    <td data-label="Load">
                      {h.load1 === null ? '–' : h.load1.toFixed(2)}
                      {h.cores ? <span class="muted small"> / {h.cores}</span> : null}
                    </td>
                    <td data-label="Network" class="small">
                      {h.netRxPerSec === null ? '–' : `↓ ${rate(h.netRxPerSec)} ↑ ${rate(h.netTxPerSec)}`}
                    </td>
                    <td data-label="Containers">
                      {h.containers
                        ? `${h.containers.running} / ${h.containers.total}${h.containers.unhealthy ? ` · ${h.containers.unhealthy} unhealthy` : ''}`
                        : '–'}
                    </td>
                    <td data-label="Alerts">
                      {h.alerts > 0 ? (
                        <span class="badge bad">{h.alerts} firing</span>
                      ) : (
                        <span class="muted">none</span>
                      )}
                    </td>
                    <td data-label="Last seen" class="small">
                      {ago(h.lastSeen)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </main>
  )
}
