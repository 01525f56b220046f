import {
  type Alert,
  type ContainerView,
  type DisksReading,
  type HostFacts,
  type HostSummary,
  isVirtualInterface,
  type LiveMessage,
  type ProcessesReading,
  type ServiceStatus,
  type SystemReading,
  type UnitView,
  type UpsReading,
} from '@homelab/contracts'
import type { ComponentChildren } from 'preact'
import { useEffect, useMemo, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import { api, openLive } from '../api'
import { url } from '../base'
import { liveOptions } from '../charts'
import { Chart } from '../components/chart'
import { Empty } from '../components/empty'
import { DiskHealthCard, UpsCard } from '../components/hardware'
import { Processes } from '../components/processes'
import { ago, bytes, duration, pct, percentFmt, rate } from '../format'
import { perfMark } from '../perf'

const WINDOW_MS = 15 * 60_000

interface Live {
  x: number[]
  cpu: Array<number | null>
  mem: Array<number | null>
}

function push(l: Live, r: SystemReading): Live {
  const cut = r.ts - WINDOW_MS
  let i = 0
  while (i < l.x.length && l.x[i]! < cut) i++
  if (l.x.length && r.ts <= l.x[l.x.length - 1]!) return l
  // A missed sample leaves a gap rather than a line drawn across it.
  const last = l.x[l.x.length - 1]
  const gap = last !== undefined && r.ts - last > 2.5 * r.intervalMs
  return {
    x: [...l.x.slice(i), ...(gap ? [last + r.intervalMs] : []), r.ts],
    cpu: [...l.cpu.slice(i), ...(gap ? [null] : []), r.cpu.usage],
    mem: [...l.mem.slice(i), ...(gap ? [null] : []), r.memory.percent],
  }
}

export function Overview({ host, summary }: { host: string; summary: HostSummary | undefined }) {
  const [reading, setReading] = useState<SystemReading | null>(null)
  const [facts, setFacts] = useState<HostFacts | null>(null)
  const [status, setStatus] = useState<Record<string, ServiceStatus>>({})
  const [avail, setAvail] = useState<Record<string, string>>({})
  const [connected, setConnected] = useState(false)
  const [live, setLive] = useState<Live>({ x: [], cpu: [], mem: [] })
  const [containers, setContainers] = useState<ContainerView[] | null>(null)
  const [units, setUnits] = useState<UnitView[] | null>(null)
  const [alerts, setAlerts] = useState<Alert[]>([])
  const [allNics, setAllNics] = useState(false)
  const [processes, setProcesses] = useState<ProcessesReading | null>(null)
  const [diskHealth, setDiskHealth] = useState<DisksReading | null>(null)
  const [ups, setUps] = useState<Record<string, UpsReading>>({})

  useEffect(() => {
    // What the other pages detail, summarised here: refreshed every 5 s (containers, units) and 10 s (alerts).
    let stop = false
    setContainers(null)
    setUnits(null)
    const load = () => {
      api.containers(host).then(
        (c) => !stop && setContainers(c),
        () => !stop && setContainers(null),
      )
      api.units(host).then(
        (u) => !stop && setUnits(u),
        () => !stop && setUnits(null),
      )
      api.alerts().then(
        (a) => !stop && setAlerts(a.alerts.filter((x) => x.host === host && x.state === 'firing')),
        () => undefined,
      )
    }
    load()
    const t = setInterval(load, 5000)
    return () => {
      stop = true
      clearInterval(t)
    }
  }, [host])

  useEffect(() => {
    setReading(null)
    setProcesses(null)
    setDiskHealth(null)
    setUps({})
    setLive({ x: [], cpu: [], mem: [] })
    const to = Date.now()
    // Backfill the live charts from history, then append what the stream brings.
    Promise.all([
      api.history(host, 'cpu.usage', to - WINDOW_MS, to, 900),
      api.history(host, 'mem.percent', to - WINDOW_MS, to, 900),
    ])
      .then(([c, m]) => {
        setLive((l) => {
          if (l.x.length > 0 && c.columns[0].length === 0) return l
          const x = c.columns[0]
          const memAt = new Map(m.columns[0].map((t, i) => [t, m.columns[1][i] ?? null]))
          const firstLive = l.x[0] ?? Number.POSITIVE_INFINITY
          const keep = x.map((_t, i) => i).filter((i) => x[i]! < firstLive)
          return {
            x: [...keep.map((i) => x[i]!), ...l.x],
            cpu: [...keep.map((i) => c.columns[1][i] ?? null), ...l.cpu],
            mem: [...keep.map((i) => memAt.get(x[i]!) ?? null), ...l.mem],
          }
        })
      })
      .catch(() => undefined)
    return openLive(
      host,
      (m: LiveMessage) => {
        if (m.channel === 'reading' && m.kind === 'system' && m.payload) {
          const r = m.payload
          setReading(r)
          setLive((l) => push(l, r))
        } else if (m.channel === 'reading' && m.kind === 'facts' && m.payload) setFacts(m.payload)
        else if (m.channel === 'reading' && m.kind === 'processes') setProcesses(m.payload)
        else if (m.channel === 'reading' && m.kind === 'disks') setDiskHealth(m.payload)
        else if (m.channel === 'reading' && m.kind === 'ups' && m.entity !== null) {
          const name = m.entity
          const doc = m.payload
          setUps((u) => {
            const { [name]: _gone, ...rest } = u
            return doc ? { ...rest, [name]: doc } : rest
          })
        } else if (m.channel === 'status' && m.payload) {
          const status = m.payload
          setStatus((s) => ({ ...s, [m.service]: status }))
        } else if (m.channel === 'availability') setAvail((a) => ({ ...a, [m.service]: m.payload }))
      },
      setConnected,
    )
  }, [host])

  const cpuData = useMemo<uPlot.AlignedData>(() => [live.x, live.cpu, live.mem], [live])
  const services = useMemo(() => {
    const names = new Set([...Object.keys(avail), ...(summary?.services.map((s) => s.service) ?? [])])
    return [...names].sort().map((n) => ({
      name: n,
      availability: avail[n] ?? summary?.services.find((s) => s.service === n)?.availability ?? 'unknown',
      status: status[n],
    }))
  }, [avail, status, summary])

  const r = reading
  const nics = (r?.network ?? []).filter(
    (n) =>
      allNics ||
      ((!isVirtualInterface(n.iface) || n.rxBytesPerSec + n.txBytesPerSec > 0) && n.rxBytes + n.txBytes > 0),
  )
  return (
    <main>
      <section class="facts">
        <h2>{host}</h2>
        <span class={`dot ${connected ? 'ok' : 'bad'}`} title={connected ? 'live' : 'reconnecting'} />
        {facts && (
          <span class="muted">
            {facts.model} · {facts.os} · kernel {facts.kernel} · {facts.cpuCores} cores
          </span>
        )}
      </section>
      {!r && (
        <Empty testId="overview-waiting">
          Waiting for the first reading from {host}: the sys-collector sends one every interval (5 s by
          default). If this stays, the <a href={url('/health')}>Health</a> page says whether it runs.
        </Empty>
      )}
      {r && (
        <section class="tiles">
          <Tile
            id="cpu"
            title="CPU"
            value={pct(r.cpu.usage)}
            sub={`load ${r.load.map((l) => l.toFixed(2)).join(' / ')} · ${r.cpu.cores.length} cores`}
            bar={r.cpu.usage}
          >
            <div class="cores" data-testid="cores" title="each core">
              {r.cpu.cores.map((c, i) => (
                <span key={i} title={`core ${i}: ${c.toFixed(0)}%`}>
                  <span style={{ height: `${Math.max(2, Math.min(100, c))}%` }} class={c > 90 ? 'hot' : ''} />
                </span>
              ))}
            </div>
          </Tile>
          <Tile
            id="memory"
            title="Memory"
            value={pct(r.memory.percent)}
            sub={`${bytes(r.memory.used)} used · ${bytes(r.memory.available)} free of ${bytes(r.memory.total)}`}
            bar={r.memory.percent}
          />
          <Tile
            id="temperature"
            title="CPU temperature"
            value={r.cpuTemperature === null ? 'N/A' : `${r.cpuTemperature.toFixed(1)} °C`}
            sub={
              r.cpuTemperature === null
                ? r.temperatures.length
                  ? `no CPU sensor; ${r.temperatures.length} others below`
                  : 'no sensor on this machine'
                : r.temperatures.length > 1
                  ? `hottest of ${r.temperatures.length}: ${Math.max(...r.temperatures.map((t) => t.celsius)).toFixed(0)} °C`
                  : ''
            }
          />
          <Tile
            id="uptime"
            title="Uptime"
            value={duration(r.uptimeSec)}
            sub={
              r.memory.swapTotal > 0
                ? `swap ${bytes(r.memory.swapUsed)} used of ${bytes(r.memory.swapTotal)}`
                : 'no swap'
            }
          />
        </section>
      )}
      {r && (
        <section class="grid2">
          <div class="card">
            <h3>CPU and memory, last 15 minutes</h3>
            <Chart
              testId="live-chart"
              optionsKey="live"
              height={200}
              data={cpuData}
              options={(w) =>
                liveOptions(
                  w,
                  200,
                  [
                    { label: 'CPU %', color: '#3b82f6' },
                    { label: 'Memory %', color: '#10b981' },
                  ],
                  percentFmt,
                  100,
                )
              }
            />
          </div>
          <div class="card">
            <h3>Disks</h3>
            {r.filesystems.length === 0 && (
              <Empty testId="filesystems-empty">
                No filesystem reported: the sys-collector lists mounted filesystems with a size (in a
                container, mount the host's root read-only, e.g. <code>-v /:/host:ro</code>).
              </Empty>
            )}
            <table data-testid="filesystems" class="cards" hidden={r.filesystems.length === 0}>
              <thead>
                <tr>
                  <th>mount</th>
                  <th class="wide" />
                  <th class="num">used</th>
                  <th class="num">free</th>
                  <th class="num">size</th>
                </tr>
              </thead>
              <tbody>
                {r.filesystems.map((f) => (
                  <tr key={f.mount}>
                    <td class="mono">
                      {f.mount} <span class="muted small">{pct(f.percent)}</span>
                    </td>
                    <td class="wide">
                      <div class="bar">
                        <div style={{ width: `${f.percent}%` }} class={f.percent > 90 ? 'hot' : ''} />
                      </div>
                    </td>
                    <td class="num" data-label="used">
                      {bytes(f.used)}
                    </td>
                    <td class="num" data-label="free">
                      {bytes(Math.max(0, f.total - f.used))}
                    </td>
                    <td class="num muted" data-label="size">
                      {bytes(f.total)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {r.disks.length > 0 && (
              <table>
                <thead>
                  <tr>
                    <th>disk</th>
                    <th class="num">read</th>
                    <th class="num">write</th>
                  </tr>
                </thead>
                <tbody>
                  {r.disks.map((d) => (
                    <tr key={d.name}>
                      <td class="mono">{d.name}</td>
                      <td class="num">{rate(d.readBytesPerSec)}</td>
                      <td class="num">{rate(d.writeBytesPerSec)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
          {diskHealth && <DiskHealthCard reading={diskHealth} stale={avail['sys-collector'] === 'offline'} />}
          {Object.keys(ups).length > 0 && (
            <UpsCard
              ups={Object.values(ups).sort((a, b) => a.ups.name.localeCompare(b.ups.name))}
              stale={avail['sys-collector'] === 'offline'}
            />
          )}
          {r.temperatures.length > 0 && (
            <div class="card">
              <h3>Temperatures</h3>
              <table data-testid="temperatures">
                <tbody>
                  {r.temperatures.map((t) => (
                    <tr key={t.sensor}>
                      <td class="mono small">{t.sensor}</td>
                      <td class="wide">
                        <div class="bar">
                          <div
                            style={{ width: `${Math.min(100, Math.max(0, t.celsius))}%` }}
                            class={t.celsius > 80 ? 'hot' : ''}
                          />
                        </div>
                      </td>
                      <td class="num">{t.celsius.toFixed(1)} °C</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div class="card">
            <h3>Network</h3>
            {nics.length === 0 && (
              <Empty testId="network-empty">
                {r.network.length === 0
                  ? 'No network interface reported by this host.'
                  : `None of the ${r.network.length} interfaces is a real one that has carried traffic; the button below lists them all.`}
              </Empty>
            )}
            <table data-testid="network" hidden={nics.length === 0}>
              <thead>
                <tr>
                  <th>interface</th>
                  <th class="num">in</th>
                  <th class="num">out</th>
                </tr>
              </thead>
              <tbody>
                {nics.map((n) => (
                  <tr key={n.iface}>
                    <td class="mono">{n.iface}</td>
                    <td class="num">{rate(n.rxBytesPerSec)}</td>
                    <td class="num">{rate(n.txBytesPerSec)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {r.network.length > 0 && (
              <button
                type="button"
                class="ghost small"
                data-testid="all-interfaces"
                onClick={() => setAllNics(!allNics)}
              >
                {allNics
                  ? 'Only real interfaces'
                  : `All ${r.network.length} interfaces (virtual and unused too)`}
              </button>
            )}
          </div>
          <Summaries host={host} containers={containers} units={units} alerts={alerts} />
          <Processes reading={processes} containers={containers} />
          <MonitorHealth services={services} />
        </section>
      )}
    </main>
  )
}

function Tile({
  id,
  title,
  value,
  sub,
  bar,
  children,
}: {
  id: string
  title: string
  value: string
  sub: string
  bar?: number
  children?: ComponentChildren
}) {
  return (
    <div class="card tile" data-testid={`tile-${id}`}>
      <div class="muted">{title}</div>
      <div class="value" data-testid={`tile-${id}-value`}>
        {value}
      </div>
      {bar !== undefined && (
        <div class="bar">
          <div style={{ width: `${Math.min(100, bar)}%` }} class={bar > 90 ? 'hot' : ''} />
        </div>
      )}
      {children}
      <div class="muted small">{sub}</div>
    </div>
  )
}

const link = (path: string, text: string) => <a href={url(path)}>{text}</a>

/** Containers, units and open alerts of this host in a few lines each; the pages have the rest. */
function Summaries({
  host,
  containers,
  units,
  alerts,
}: {
  host: string
  containers: ContainerView[] | null
  units: UnitView[] | null
  alerts: Alert[]
}) {
  const running = containers?.filter((c) => c.state === 'running') ?? []
  const unhealthy = containers?.filter((c) => c.health === 'unhealthy') ?? []
  const restarting = containers?.filter((c) => c.state === 'restarting') ?? []
  useEffect(() => {
    if (containers?.length) perfMark('rendered overview-containers')
  }, [containers])
  const byCpu = [...running]
    .sort((a, b) => (b.stats?.cpuPercent ?? 0) - (a.stats?.cpuPercent ?? 0))
    .slice(0, 5)
  const byMem = [...running]
    .sort((a, b) => (b.stats?.memoryUsed ?? 0) - (a.stats?.memoryUsed ?? 0))
    .slice(0, 5)
  const failed = units?.filter((u) => u.activeState === 'failed') ?? []
  const active = units?.filter((u) => u.activeState === 'active') ?? []
  return (
    <>
      <div class="card" data-testid="containers-summary">
        <h3>Containers {link('/containers', 'all')}</h3>
        {containers === null || containers.length === 0 ? (
          <p class="muted small">No containers on {host} (or no Docker: the Containers page says which).</p>
        ) : (
          <>
            <p>
              <strong>{running.length}</strong> running of {containers.length}
              {unhealthy.length > 0 && <span class="badge bad"> {unhealthy.length} unhealthy</span>}
              {restarting.length > 0 && <span class="badge warn"> {restarting.length} restarting</span>}
            </p>
            <div class="grid2 tight">
              <table class="small">
                <thead>
                  <tr>
                    <th>top CPU</th>
                    <th class="num" />
                  </tr>
                </thead>
                <tbody>
                  {byCpu.map((c) => (
                    <tr key={c.containerName}>
                      <td class="mono ellipsis">{c.containerName}</td>
                      <td class="num">
                        {c.stats?.cpuPercent === null || !c.stats ? '–' : `${c.stats.cpuPercent.toFixed(0)}%`}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <table class="small">
                <thead>
                  <tr>
                    <th>top memory</th>
                    <th class="num" />
                  </tr>
                </thead>
                <tbody>
                  {byMem.map((c) => (
                    <tr key={c.containerName}>
                      <td class="mono ellipsis">{c.containerName}</td>
                      <td class="num">{bytes(c.stats?.memoryUsed)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </div>
      <div class="card" data-testid="units-summary">
        <h3>Units {link('/services', 'all')}</h3>
        {units === null || units.length === 0 ? (
          <p class="muted small">
            No systemd units seen on {host} (or no systemd: the Services page says which).
          </p>
        ) : (
          <>
            <p>
              <strong>{active.length}</strong> active of {units.length}
              {failed.length > 0 ? (
                <span class="badge bad"> {failed.length} failed</span>
              ) : (
                <span class="muted"> · none failed</span>
              )}
            </p>
            {failed.length > 0 && (
              <ul class="feed">
                {failed.slice(0, 8).map((u) => (
                  <li key={u.name} class="warning">
                    <span class="mono">{u.name}</span>{' '}
                    <span class="muted small">{u.result ?? u.subState}</span>
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </div>
      <div class="card" data-testid="alerts-summary">
        <h3>Open alerts {link('/alerts', 'all')}</h3>
        {alerts.length === 0 ? (
          <p class="muted small">Nothing is firing on {host}.</p>
        ) : (
          <ul class="feed">
            {alerts.slice(0, 8).map((a) => (
              <li key={a.id} class={a.severity}>
                <span class={`badge ${a.severity === 'critical' ? 'bad' : 'warn'}`}>{a.severity}</span>{' '}
                {a.message} <span class="muted small">{ago(a.firingSince ?? a.since)}</span>
              </li>
            ))}
          </ul>
        )}
      </div>
    </>
  )
}

interface ServiceRow {
  name: string
  availability: string
  status: ServiceStatus | undefined
}

/** The monitor's own services as one line; their details on a click. */
function MonitorHealth({ services }: { services: ServiceRow[] }) {
  const [open, setOpen] = useState(false)
  const problems = services.filter(
    (s) => s.availability !== 'online' || (s.status && s.status.state !== 'ok'),
  )
  return (
    <div class="card" data-testid="monitor-health">
      <h3>
        Monitor{' '}
        <span class={`badge ${problems.length === 0 ? 'ok' : 'warn'}`} data-testid="monitor-state">
          {problems.length === 0
            ? `all ${services.length} services ok`
            : `${problems.length} of ${services.length} need a look`}
        </span>{' '}
        <button type="button" class="ghost small" onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? 'hide' : 'details'}
        </button>{' '}
        <a href={url('/health')} class="small">
          every host
        </a>
      </h3>
      {(open ? services : problems).length > 0 && (
        <table data-testid="services" class="cards">
          <tbody>
            {(open ? services : problems).map((s) => (
              <tr key={s.name}>
                <td>
                  <span
                    class={`dot ${s.availability === 'online' ? (s.status?.state === 'ok' || !s.status ? 'ok' : 'warn') : 'bad'}`}
                  />
                  {s.name}
                </td>
                <td>{s.availability}</td>
                <td class="muted small clamp">
                  {s.status?.reason ?? (s.status ? `up since ${ago(s.status.startedAt)}` : '')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}
