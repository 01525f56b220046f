import {
  type Event,
  type LiveMessage,
  type Role,
  type ServiceStatus,
  type UnitView,
  unitView,
} from '@homelab/contracts'
import { useEffect, useMemo, useState } from 'preact/hooks'
import { api, HttpError, openLive } from '../api'
import { Empty } from '../components/empty'
import { CRASH_EVENTS, LogsPanel } from '../components/logs'
import { ago, bytes, pct } from '../format'
import { Confirm } from './containers'

type Action = 'start' | 'stop' | 'restart'
const ORDER: Record<string, number> = { failed: 0, activating: 1, deactivating: 2, reloading: 3, active: 4 }

function badge(state: string): string {
  return state === 'active' ? 'ok' : state === 'failed' ? 'bad' : state === 'inactive' ? 'muted' : 'warn'
}

/** The systemd units of a host: live states, failed first, search, a detail with a timeline, allowed controls. */
export function Services({ host, role }: { host: string; role: Role }) {
  const [units, setUnits] = useState<Map<string, UnitView>>(new Map())
  const [status, setStatus] = useState<ServiceStatus | null>(null)
  const [availability, setAvailability] = useState<string | null>(null)
  const [q, setQ] = useState('')
  // A unit opened from the address (`?unit=…`, a link from an alert) or a click.
  const [open, setOpen] = useState<string | null>(() => new URLSearchParams(location.search).get('unit'))
  const [ask, setAsk] = useState<{ name: string; action: Action } | null>(null)
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null)

  useEffect(() => {
    setUnits(new Map())
    api.units(host).then(
      (l) => setUnits((cur) => new Map([...l.map((u) => [u.name, u] as const), ...cur])),
      () => undefined,
    )
    return openLive(
      host,
      (m: LiveMessage) => {
        if (m.service !== 'systemd-collector') return
        if (m.channel === 'status') setStatus(m.payload)
        else if (m.channel === 'availability') setAvailability(m.payload)
        else if (m.channel === 'reading' && m.kind === 'unit' && m.entity !== null) {
          const name = m.entity
          const r = m.payload
          setUnits((cur) => {
            const next = new Map(cur)
            if (r === null) next.delete(name)
            else next.set(name, unitView(host, r.unit, r.stats, r.ts, false))
            return next
          })
        }
      },
      () => undefined,
    )
  }, [host])

  const list = useMemo(() => {
    const f = q.trim().toLowerCase()
    return [...units.values()]
      .filter((u) => !f || `${u.name} ${u.description}`.toLowerCase().includes(f))
      .sort(
        (a, b) => (ORDER[a.activeState] ?? 5) - (ORDER[b.activeState] ?? 5) || a.name.localeCompare(b.name),
      )
  }, [units, q])

  const run = () => {
    if (!ask) return
    const { name, action } = ask
    setAsk(null)
    setResult({ ok: true, text: `${action} ${name}…` })
    api.unitAction(host, name, action).then(
      (r) => setResult({ ok: true, text: `${action} ${name}: ${r.outcome} — ${r.message}` }),
      (e) =>
        setResult({
          ok: false,
          text: `${action} ${name} failed: ${e instanceof HttpError ? e.message : String(e)}`,
        }),
    )
  }
  const online = availability === 'online'
  const failed = list.filter((u) => u.activeState === 'failed').length
  const selected = open ? (units.get(open) ?? null) : null

  return (
    <main>
      <section class="facts">
        <h2>Services</h2>
        <span class="muted" data-testid="unit-count">
          {units.size} units{failed ? ` · ${failed} failed` : ''}
        </span>
      </section>
      {(!online || status?.state === 'unavailable') && (
        <div class="card warnbox" data-testid="systemd-unavailable">
          <strong>{online ? 'systemd is not reachable.' : 'The systemd-collector is not running.'}</strong>{' '}
          {status?.reason}
          <p class="hint">
            The collector reads systemd over the system bus: in a container, mount the host's{' '}
            <code>/run/dbus/system_bus_socket</code> (e.g. <code>-v /run/dbus:/run/dbus:ro</code>) or set{' '}
            <code>DBUS_SYSTEM_BUS_ADDRESS</code>. See “systemd access” in the README.
          </p>
        </div>
      )}
      {result && (
        <p class={result.ok ? 'notice' : 'error'} data-testid="command-result">
          {result.text}
        </p>
      )}
      <div class="toolbar">
        <input
          type="search"
          placeholder="search units"
          aria-label="search"
          value={q}
          onInput={(e) => setQ((e.target as HTMLInputElement).value)}
        />
      </div>
      <section class="grid-main">
        <div class="card scroll">
          {units.size === 0 && (
            <Empty testId="units-empty">
              No units yet: once it reaches systemd, the systemd-collector lists the units that match{' '}
              <code>HOMELAB_SYSTEMD_UNITS</code> (by default <code>*.service</code>).
            </Empty>
          )}
          {units.size > 0 && list.length === 0 && (
            <Empty testId="units-nomatch">No unit matches “{q}”.</Empty>
          )}
          <table data-testid="units" hidden={list.length === 0}>
            <thead>
              <tr>
                <th>unit</th>
                <th>state</th>
                <th class="num">memory</th>
                <th class="num">CPU</th>
                <th class="num">restarts</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.map((u) => {
                const why =
                  role === 'viewer'
                    ? 'your login is read-only (viewer)'
                    : !u.control.allowed
                      ? u.control.reason
                      : !online
                        ? 'the systemd-collector is offline'
                        : null
                const up = u.activeState === 'active' || u.activeState === 'activating'
                return (
                  <tr key={u.name} data-testid={`unit-${u.name}`} class={u.stale ? 'stale' : ''}>
                    <td>
                      <button type="button" class="link" onClick={() => setOpen(u.name)}>
                        {u.name}
                      </button>
                      <div class="muted small">{u.description}</div>
                    </td>
                    <td>
                      <span class={`badge ${badge(u.activeState)}`} data-testid="unit-state">
                        {u.activeState}
                      </span>{' '}
                      <span class="muted small">
                        {u.subState}
                        {u.since ? ` · ${ago(u.since)}` : ''}
                      </span>
                    </td>
                    <td class="num">{u.stats?.memoryBytes != null ? bytes(u.stats.memoryBytes) : '–'}</td>
                    <td class="num">{u.stats?.cpuPercent != null ? pct(u.stats.cpuPercent) : '–'}</td>
                    <td class="num">{u.nRestarts ?? '–'}</td>
                    <td>
                      {u.control.allowed && (
                        <span class="actions" title={why ?? undefined}>
                          {(['start', 'stop', 'restart'] as const).map((a) => (
                            <button
                              type="button"
                              key={a}
                              disabled={why !== null || (a === 'start' ? up : !up)}
                              data-testid={`${a}-${u.name}`}
                              onClick={() => setAsk({ name: u.name, action: a })}
                            >
                              {a}
                            </button>
                          ))}
                        </span>
                      )}
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </div>
        {selected && <UnitDetail host={host} u={selected} role={role} />}
      </section>
      {ask && <Confirm name={ask.name} action={ask.action} onYes={run} onNo={() => setAsk(null)} />}
    </main>
  )
}

function UnitDetail({ host, u, role }: { host: string; u: UnitView; role: Role }) {
  const [events, setEvents] = useState<Event[]>([])
  const [around, setAround] = useState<number | null>(() => {
    const at = Number(new URLSearchParams(location.search).get('logsAt'))
    return at > 0 ? at : null
  })
  const stamp = `${u.activeState}|${u.nRestarts}`
  useEffect(() => {
    api.unitHistory(host, u.name).then(
      (r) => setEvents(r.events),
      () => setEvents([]),
    )
  }, [host, u.name, stamp])
  const rows: Array<[string, string]> = [
    ['description', u.description],
    ['load', u.loadState],
    ['active', `${u.activeState} (${u.subState})`],
    ['unit file', u.unitFileState || '–'],
    ['result', u.result ?? '–'],
    ['main PID', u.mainPid ? String(u.mainPid) : '–'],
    ['restarts', u.nRestarts === null ? '–' : String(u.nRestarts)],
    ['since', u.since ? new Date(u.since).toLocaleString() : '–'],
    ['control', `${u.control.allowed ? 'allowed' : 'read-only'}: ${u.control.reason}`],
  ]
  return (
    <div class="card" data-testid="unit-detail">
      <h3 class="mono">{u.name}</h3>
      <table>
        <tbody>
          {rows.map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Timeline (7 days)</h3>
      <ul class="feed" data-testid="unit-timeline">
        {events
          .filter((e) => e.type !== 'unit.sync')
          .map((e) => (
            <li key={e.id} class={e.severity}>
              <span class="muted small">{new Date(e.ts).toLocaleString()}</span> {e.message}{' '}
              {CRASH_EVENTS.has(e.type) && (
                <button
                  type="button"
                  class="link small"
                  data-testid="logs-around"
                  onClick={() => setAround(e.ts)}
                >
                  logs around this
                </button>
              )}
            </li>
          ))}
      </ul>
      <LogsPanel target={{ kind: 'unit', host, name: u.name }} role={role} around={around} />
    </div>
  )
}
