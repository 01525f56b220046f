import type { ProbeConfigReading, ProbeEntry, ProbesResponse, ProbeView, Role } from '@homelab/contracts'
import { useEffect, useState } from 'preact/hooks'
import { api, HttpError } from '../api'
import { Empty } from '../components/empty'
import { ProbeForm, ProbesFileBar } from '../components/probe-editor'
import { ago } from '../format'

const pct = (v: number | null) => (v === null ? '–' : `${v >= 99.995 ? '100' : v.toFixed(2)} %`)

/** A day of latency as a line (no chart library: 48 points, one path). */
function Sparkline({ values }: { values: Array<number | null> }) {
  const nums = values.filter((v): v is number => v !== null)
  if (nums.length < 2) return <span class="muted small">–</span>
  const max = Math.max(...nums) || 1
  const w = 120
  const h = 24
  const step = w / Math.max(1, values.length - 1)
  let d = ''
  values.forEach((v, i) => {
    if (v === null) return
    d += `${d === '' || values[i - 1] === null ? 'M' : 'L'}${(i * step).toFixed(1)},${(h - (v / max) * (h - 2) - 1).toFixed(1)}`
  })
  return (
    <svg
      class="sparkline"
      width={w}
      height={h}
      viewBox={`0 0 ${w} ${h}`}
      role="img"
      aria-label={`latency up to ${Math.round(max)} ms`}
    >
      <path d={d} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  )
}

function Row({
  p,
  hosts,
  actions,
}: {
  p: ProbeView
  hosts: boolean
  /** An admin's edit and remove buttons, for a probe of the file that can be edited here. */
  actions: { edit: () => void; remove: () => void } | null
}) {
  const r = p.reading
  const warnCert = r.cert !== null && r.cert.daysLeft < 14
  return (
    <tr data-testid="probe" data-probe={r.probe.id} data-up={String(r.up)} class={p.stale ? 'stale' : ''}>
      <td>
        <span class={`dot ${r.up ? 'ok' : 'bad'}`} /> <strong>{r.probe.name}</strong>
        {hosts && <span class="muted small"> on {p.host}</span>}
        <div class="muted small mono">
          {r.probe.type.toUpperCase()} {r.probe.target}
        </div>
      </td>
      <td class="small" data-label="State">
        <span class={`badge ${r.up ? 'ok' : 'bad'}`}>{r.up ? 'up' : 'down'}</span>{' '}
        <span class="muted">for {ago(r.since).replace(/ ago$/, '')}</span>
        {r.reason && (
          <div class={r.up ? 'muted' : 'error'} data-testid="probe-reason">
            {r.reason}
          </div>
        )}
      </td>
      <td class="num small" data-label="Latency">
        {r.latencyMs === null ? '–' : `${Math.round(r.latencyMs)} ms`}
        {r.status !== null && <div class="muted">HTTP {r.status}</div>}
        {r.lossPercent !== null && r.lossPercent > 0 && <div class="warn">{r.lossPercent} % lost</div>}
      </td>
      <td data-label="24 h">
        <Sparkline values={p.latency} />
      </td>
      <td class="num small" data-label="Uptime" data-testid="probe-uptime">
        <div>24 h {pct(p.uptime.day)}</div>
        <div class="muted">7 d {pct(p.uptime.week)}</div>
        <div class="muted">30 d {pct(p.uptime.month)}</div>
      </td>
      <td class="small" data-label="Certificate" data-testid="probe-cert">
        {r.cert ? (
          <span class={warnCert || !r.cert.chainValid ? 'warn' : ''}>
            {r.cert.daysLeft} days{!r.cert.chainValid ? ' · not verified' : ''}
            {!r.cert.hostnameMatch ? ' · other name' : ''}
          </span>
        ) : (
          <span class="muted">–</span>
        )}
        {actions && (
          <div>
            <button type="button" class="ghost small" data-testid="probe-edit" onClick={actions.edit}>
              Edit
            </button>{' '}
            <button type="button" class="ghost small" data-testid="probe-remove" onClick={actions.remove}>
              Remove
            </button>
          </div>
        )}
      </td>
    </tr>
  )
}

/**
 * Probes: a status board of every probe — up or down and since when, why, latency now and over the day, uptime over
 * 24 h, 7 d and 30 d, the certificate's days left — down first.
 */
export function Probes({ role, host }: { role: Role; host: string | null }) {
  const [data, setData] = useState<ProbesResponse | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [config, setConfig] = useState<ProbeConfigReading | null>(null)
  /** The probe being edited (null: a new one); undefined: no form open. */
  const [editing, setEditing] = useState<ProbeEntry | null | undefined>(undefined)
  const admin = role === 'admin' && host !== null
  const load = () => {
    api.probes().then(
      (d) => {
        setData(d)
        setError(null)
      },
      (e) => setError(e instanceof HttpError ? e.message : String(e)),
    )
    // Admins edit the probes file of the host in view (its probe-collector holds it).
    if (admin)
      api.probeConfig(host).then(
        (c) => setConfig(c.config),
        () => setConfig(null),
      )
  }
  useEffect(() => {
    load()
    const t = setInterval(load, 5000)
    return () => clearInterval(t)
  }, [admin, host])
  const remove = async (id: string) => {
    if (!host || !confirm(`Remove the probe "${id}" from the probes file?`)) return
    try {
      await api.removeProbe(host, id)
      load()
    } catch (e) {
      setError(e instanceof HttpError ? e.message : String(e))
    }
  }
  const entry = (p: ProbeView) =>
    config?.writable && p.host === host ? config.probes.find((e) => e.id === p.reading.probe.id) : undefined
  const probes = data?.probes ?? []
  const down = probes.filter((p) => !p.reading.up).length
  const hosts = new Set(probes.map((p) => p.host)).size > 1
  return (
    <main data-testid="probes-page">
      {error && <p class="error">{error}</p>}
      <div class="card">
        <h3>
          Probes{' '}
          <span class="muted small" data-testid="probes-summary">
            {data ? `${probes.length - down} up, ${down} down` : ''}
          </span>
        </h3>
        {admin && config && <ProbesFileBar config={config} onAdd={() => setEditing(null)} />}
        {host && editing !== undefined && (
          <ProbeForm
            key={editing?.id ?? '(new)'}
            host={host}
            entry={editing}
            onDone={() => {
              setEditing(undefined)
              load()
            }}
          />
        )}
        {data && probes.length === 0 ? (
          <Empty testId="probes-empty">
            No probes yet: name what to check (HTTP, TCP, TLS certificates, DNS, ping) in the probes file,{' '}
            <code>probes.json</code> in the data folder (docs/probes.md); it is read again when it changes.
          </Empty>
        ) : (
          <table class="cards" data-testid="probes">
            <thead>
              <tr>
                <th>Probe</th>
                <th>State</th>
                <th class="num">Latency</th>
                <th>24 h</th>
                <th class="num">Uptime</th>
                <th>Certificate</th>
              </tr>
            </thead>
            <tbody>
              {probes.map((p) => (
                <Row
                  key={`${p.host}/${p.reading.probe.id}`}
                  p={p}
                  hosts={hosts}
                  actions={(() => {
                    const e = entry(p)
                    return e ? { edit: () => setEditing(e), remove: () => void remove(e.id) } : null
                  })()}
                />
              ))}
            </tbody>
          </table>
        )}
      </div>
    </main>
  )
}
