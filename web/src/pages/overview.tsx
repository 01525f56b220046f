import type { HostFacts, HostSummary, LiveMessage, ServiceStatus, SystemReading } from '@homelab/contracts'
import { useEffect, useMemo, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import { api, openLive } from '../api'
import { liveOptions } from '../charts'
import { Chart } from '../components/chart'
import { ago, bytes, duration, pct, rate } from '../format'

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

  useEffect(() => {
    setReading(null)
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
        else if (m.channel === 'status' && m.payload) {
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
      {!r && <p class="muted">Waiting for the first reading from {host}…</p>}
      {r && (
        <section class="tiles">
          <Tile
            id="cpu"
            title="CPU"
            value={pct(r.cpu.usage)}
            sub={`load ${r.load.map((l) => l.toFixed(2)).join(' / ')}`}
            bar={r.cpu.usage}
          />
          <Tile
            id="memory"
            title="Memory"
            value={pct(r.memory.percent)}
            sub={`${bytes(r.memory.used)} of ${bytes(r.memory.total)}`}
            bar={r.memory.percent}
          />
          <Tile
            id="temperature"
            title="CPU temperature"
            value={r.cpuTemperature === null ? 'N/A' : `${r.cpuTemperature.toFixed(1)} °C`}
            sub={r.cpuTemperature === null ? 'no sensor on this machine' : ''}
          />
          <Tile
            id="uptime"
            title="Uptime"
            value={duration(r.uptimeSec)}
            sub={`swap ${bytes(r.memory.swapUsed)} of ${bytes(r.memory.swapTotal)}`}
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
                  (v) => `${v.toFixed(0)}%`,
                  100,
                )
              }
            />
          </div>
          <div class="card">
            <h3>Disks</h3>
            <table data-testid="filesystems">
              <tbody>
                {r.filesystems.map((f) => (
                  <tr key={f.mount}>
                    <td class="mono">{f.mount}</td>
                    <td class="wide">
                      <div class="bar">
                        <div style={{ width: `${f.percent}%` }} class={f.percent > 90 ? 'hot' : ''} />
                      </div>
                    </td>
                    <td class="num">{pct(f.percent)}</td>
                    <td class="num muted">{bytes(f.total)}</td>
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
          <div class="card">
            <h3>Network</h3>
            <table data-testid="network">
              <thead>
                <tr>
                  <th>interface</th>
                  <th class="num">in</th>
                  <th class="num">out</th>
                </tr>
              </thead>
              <tbody>
                {r.network.map((n) => (
                  <tr key={n.iface}>
                    <td class="mono">{n.iface}</td>
                    <td class="num">{rate(n.rxBytesPerSec)}</td>
                    <td class="num">{rate(n.txBytesPerSec)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="card">
            <h3>Services</h3>
            <table data-testid="services">
              <tbody>
                {services.map((s) => (
                  <tr key={s.name}>
                    <td>
                      <span
                        class={`dot ${s.availability === 'online' ? (s.status?.state === 'ok' || !s.status ? 'ok' : 'warn') : 'bad'}`}
                      />
                      {s.name}
                    </td>
                    <td>{s.availability}</td>
                    <td class="muted">
                      {s.status?.reason ?? (s.status ? `up since ${ago(s.status.startedAt)}` : '')}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
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
}: {
  id: string
  title: string
  value: string
  sub: string
  bar?: number
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
      <div class="muted small">{sub}</div>
    </div>
  )
}
