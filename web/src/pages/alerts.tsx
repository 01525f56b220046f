import type { Alert, AlertsResponse, HostSummary, Role, RulesResponse, RuleView } from '@homelab/contracts'
import { useCallback, useEffect, useState } from 'preact/hooks'
import { api, HttpError } from '../api'
import { url } from '../base'
import { Channels } from '../components/channels'
import { Empty } from '../components/empty'
import { RuleForm } from '../components/rule-form'
import { ago } from '../format'

const SEVERITY_BADGE = { critical: 'bad', warning: 'warn', info: 'muted' } as const
const SILENCE_CHOICES = [
  { label: '1 h', minutes: 60 },
  { label: '4 h', minutes: 240 },
  { label: '1 day', minutes: 1440 },
  { label: '1 week', minutes: 10_080 },
]

function fmtValue(v: number | null): string {
  if (v === null) return '–'
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1)
}

function seconds(ms: number): string {
  return String(Math.round(ms / 1000))
}

/**
 * Alerts: open alerts (firing first), what operators can do with them (acknowledge, silence), the rules with their
 * current evaluation and a threshold editor, the channels, deliveries that failed, and the history.
 */
export function Alerts({ role, onCount }: { role: Role; onCount: (n: number) => void }) {
  const [data, setData] = useState<AlertsResponse | null>(null)
  const [rules, setRules] = useState<RulesResponse | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null)
  const [editing, setEditing] = useState<string | null>(null)
  const [adding, setAdding] = useState(false)
  const operator = role === 'operator' || role === 'admin'

  const [sources, setSources] = useState<Map<string, string | null>>(new Map())
  const noDataFor = (src: string | null): string | null =>
    src === null || sources.size === 0
      ? null
      : sources.has(src)
        ? (sources.get(src) ?? null)
        : `no host runs the ${src}`
  const load = useCallback(() => {
    // One snapshot for the whole page: the open alerts, the rules and the collectors' states land together, and a
    // rule's "firing" is counted from the same open alerts the list above shows (the two never disagree).
    Promise.all([api.alerts(), api.alertRules().catch(() => null), api.hosts().catch(() => null)]).then(
      ([d, r, h]) => {
        setData(d)
        if (r) setRules(r)
        if (h) setSources(collectorStates(h.hosts))
        onCount(d.firing)
        setError(null)
      },
      (e) => setError(e instanceof HttpError ? e.message : String(e)),
    )
  }, [onCount])

  useEffect(() => {
    load()
    const t = setInterval(load, 3000)
    return () => clearInterval(t)
  }, [load])

  // A notification's link (/alerts#<alert id>): once the alerts are in, show that one.
  const [arrived, setArrived] = useState(false)
  useEffect(() => {
    if (arrived || !data) return
    setArrived(true)
    const id = location.hash.slice(1)
    if (/^[a-z0-9]{12}$/.test(id)) document.getElementById(id)?.scrollIntoView({ block: 'center' })
  }, [data, arrived])

  const act = async (what: string, p: Promise<{ message: string }>) => {
    try {
      const r = await p
      setNote({ ok: true, text: r.message })
    } catch (e) {
      setNote({ ok: false, text: `${what}: ${e instanceof HttpError ? e.message : String(e)}` })
    }
    load()
  }

  const alerts = data?.alerts ?? []
  return (
    <main data-testid="alerts-page">
      {data && data.alerter !== 'online' && (
        <p class="warnbox" data-testid="alerter-offline">
          The alerter is {data.alerter}: no rule is evaluated and nothing is sent until it is back
          {data.alerts.length ? '; the alerts below are the last it published' : ''}.
        </p>
      )}
      {error && <p class="error">{error}</p>}
      {note && (
        <p class={note.ok ? 'notice' : 'error'} data-testid="alert-note">
          {note.text}
        </p>
      )}
      <div class="card">
        <h3>
          Open alerts <span class="muted small">{data ? `${data.firing} firing` : ''}</span>
        </h3>
        {alerts.length === 0 ? (
          <p class="muted" data-testid="no-alerts">
            Nothing is firing.
          </p>
        ) : (
          <table data-testid="open-alerts" class="cards">
            <thead>
              <tr>
                <th>State</th>
                <th>Alert</th>
                <th>Host</th>
                <th>Of</th>
                <th class="wide">What</th>
                <th>Since</th>
                {operator && <th />}
              </tr>
            </thead>
            <tbody>
              {alerts.map((a) => (
                <AlertRow key={a.id} a={a} operator={operator} act={act} />
              ))}
            </tbody>
          </table>
        )}
      </div>

      <div class="card">
        <h3>
          Rules{' '}
          {rules?.file && (
            <span class="muted small">
              from {rules.file}
              {rules.loadedAt ? `, loaded ${ago(rules.loadedAt)}` : ''}
            </span>
          )}
        </h3>
        {rules?.rejected && (
          <div class="warnbox" data-testid="rules-rejected">
            The rules file was rejected {ago(rules.rejected.at)}; the previous rules stay in force:
            <ul>
              {rules.rejected.errors.map((e) => (
                <li key={e} class="mono small">
                  {e}
                </li>
              ))}
            </ul>
          </div>
        )}
        {operator &&
          (adding ? (
            <RuleForm
              channels={(rules?.channels ?? []).map((c) => c.name)}
              onCancel={() => setAdding(false)}
              onDone={(n) => {
                setNote(n)
                setAdding(false)
                load()
              }}
            />
          ) : (
            <button type="button" onClick={() => setAdding(true)} data-testid="add-rule">
              New rule
            </button>
          ))}
        {rules && rules.rules.length === 0 && (
          <Empty testId="rules-empty">
            No rules: the rules file has none. Removing the file brings back the default rules at the next
            start.
          </Empty>
        )}
        <table data-testid="rules" class="cards" hidden={rules?.rules.length === 0}>
          <thead>
            <tr>
              <th>Rule</th>
              <th class="wide">Condition</th>
              <th>Now</th>
              <th>Sends to</th>
              {operator && <th />}
            </tr>
          </thead>
          <tbody>
            {(rules?.rules ?? []).map((r) => (
              <RuleRow
                key={r.id}
                r={r}
                firing={alerts.filter((a) => a.rule === r.id && a.state === 'firing').length}
                noData={noDataFor(r.source)}
                operator={operator}
                channels={(rules?.channels ?? []).map((c) => c.name)}
                editing={editing === r.id}
                onEdit={() => setEditing(editing === r.id ? null : r.id)}
                remove={async () => {
                  if (!confirm(`Remove the rule "${r.name}"?`)) return
                  await act(`removing ${r.id}`, api.removeRule(r.id))
                }}
                save={async (patch) => {
                  try {
                    const res = await api.updateRule(r.id, patch)
                    setNote({ ok: true, text: res.message })
                    setEditing(null)
                    load()
                    return null
                  } catch (e) {
                    return e instanceof HttpError ? e.message : String(e)
                  }
                }}
              />
            ))}
          </tbody>
        </table>
      </div>

      <div class="grid2">
        <div class="card">
          <h3>Channels</h3>
          <Channels
            channels={rules?.channels ?? null}
            admin={role === 'admin'}
            onChange={(n) => {
              setNote(n)
              load()
            }}
          />
          <h3>Failed deliveries</h3>
          {(data?.failedDeliveries ?? []).length === 0 ? (
            <p class="muted small">None.</p>
          ) : (
            <ul class="feed" data-testid="failed-deliveries">
              {(data?.failedDeliveries ?? []).map((e) => (
                <li key={e.id} class="warning">
                  <span class="muted small">{new Date(e.ts).toLocaleString()}</span> {e.message}
                </li>
              ))}
            </ul>
          )}
        </div>
        <div class="card">
          <h3>History</h3>
          <ul class="feed" data-testid="alert-history">
            {(data?.history ?? []).map((e) => (
              <li key={e.id} class={e.type === 'alert.firing' ? e.severity : ''}>
                <span class={`dot ${e.type === 'alert.firing' ? 'bad' : 'ok'}`} />
                <span class="muted small">{new Date(e.ts).toLocaleString()}</span> <strong>{e.host}</strong>{' '}
                {e.message}
              </li>
            ))}
          </ul>
          {rules && rules.audit.length > 0 && (
            <>
              <h3>Rule changes</h3>
              <ul class="feed" data-testid="rule-audit">
                {rules.audit.map((e) => (
                  <li key={e.id}>
                    <span class="muted small">{new Date(e.ts).toLocaleString()}</span> {e.message}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      </div>
    </main>
  )
}

/** Where the logs of an alert's container or unit are, around the moment it started; null for other alerts. */
function logsLink(a: Alert): string | null {
  const at = String(a.since)
  if (a.labels.name && /^container/.test(a.rule))
    return url(
      `/containers/${encodeURIComponent(a.labels.name)}?${new URLSearchParams({ host: a.host, logsAt: at })}`,
    )
  if (a.labels.unit)
    return url(`/services?${new URLSearchParams({ host: a.host, unit: a.labels.unit, logsAt: at })}`)
  return null
}

function AlertRow({
  a,
  operator,
  act,
}: {
  a: Alert
  operator: boolean
  act: (what: string, p: Promise<{ message: string }>) => Promise<void>
}) {
  const silenced = a.silencedUntil !== null && a.silencedUntil > Date.now()
  return (
    <tr data-testid="open-alert" data-state={a.state} id={a.id}>
      <td>
        <span class={`badge ${a.state === 'firing' ? SEVERITY_BADGE[a.severity] : 'muted'}`}>
          {a.state === 'firing' ? a.severity : 'pending'}
        </span>
      </td>
      <td>
        <strong>{a.name}</strong>
        {a.ack && <div class="muted small">acknowledged by {a.ack.by}</div>}
        {silenced && (
          <div class="muted small">
            silenced until {new Date(a.silencedUntil!).toLocaleString()} by {a.silencedBy}
          </div>
        )}
      </td>
      <td data-label="Host">{a.host}</td>
      <td class="mono small" data-label="What">
        {a.subject}
        {logsLink(a) && (
          <div>
            <a href={logsLink(a)!} class="small" data-testid="alert-logs">
              logs around this
            </a>
          </div>
        )}
      </td>
      <td class="small">{a.message}</td>
      <td class="small" data-label="Since">
        {ago(a.firingSince ?? a.since)}
      </td>
      {operator && (
        <td class="actions">
          {a.state === 'firing' &&
            (a.ack ? (
              <button
                type="button"
                class="ghost"
                onClick={() => act('unack', api.alertAction(a.id, 'unack'))}
              >
                Unack
              </button>
            ) : (
              <button type="button" onClick={() => act('acknowledge', api.alertAction(a.id, 'ack'))}>
                Acknowledge
              </button>
            ))}
          {silenced ? (
            <button
              type="button"
              class="ghost"
              onClick={() => act('unsilence', api.alertAction(a.id, 'unsilence'))}
            >
              Unsilence
            </button>
          ) : (
            <select
              aria-label={`silence ${a.name}`}
              value=""
              onChange={(e) => {
                const m = Number((e.target as HTMLSelectElement).value)
                if (m) void act('silence', api.silence(a.id, m))
              }}
            >
              <option value="">Silence…</option>
              {SILENCE_CHOICES.map((c) => (
                <option key={c.minutes} value={c.minutes}>
                  for {c.label}
                </option>
              ))}
            </select>
          )}
        </td>
      )}
    </tr>
  )
}

/**
 * Per collector, why no host gives its data (null: at least one does): "docker-collector: Docker is not running here".
 * A collector that no host runs is absent.
 */
function collectorStates(hosts: HostSummary[]): Map<string, string | null> {
  const out = new Map<string, string | null>()
  for (const h of hosts)
    for (const s of h.services) {
      const ok = s.availability === 'online' && s.state !== 'unavailable'
      if (ok) out.set(s.service, null)
      else if (out.get(s.service) !== null)
        out.set(
          s.service,
          s.availability !== 'online' ? `${s.service} is offline` : (s.reason ?? `${s.service}: unavailable`),
        )
    }
  return out
}

function RuleRow({
  r,
  firing,
  noData,
  operator,
  channels,
  editing,
  onEdit,
  remove,
  save,
}: {
  r: RuleView
  /** The channels a rule can be routed to. */
  channels: string[]
  /** Firing alerts of this rule, from the open alerts (the one source). */
  firing: number
  /** Why its collector gives no data (null when it does). */
  noData: string | null
  operator: boolean
  editing: boolean
  onEdit: () => void
  remove: () => void
  save: (patch: {
    value?: number
    resolveValue?: number
    forMs?: number
    resolveForMs?: number
    enabled?: boolean
    notify?: string[] | null
  }) => Promise<string | null>
}) {
  const [routing, setRouting] = useState<string[] | null>(null)
  const pending = r.instances.filter((i) => i.state === 'pending').length
  const t = r.threshold
  const [form, setForm] = useState({ value: '', resolveValue: '', forS: '', resolveForS: '' })
  const [err, setErr] = useState<string | null>(null)
  // The form is filled in the same click that opens it: filled by an effect after the first render, it could
  // overwrite what the operator had already typed (a quick fill saved the old values instead).
  const toggleEdit = () => {
    if (!editing && t)
      setForm({
        value: String(t.value),
        resolveValue: String(t.resolveValue),
        forS: seconds(t.forMs),
        resolveForS: seconds(t.resolveForMs),
      })
    setErr(null)
    onEdit()
  }
  const num = (s: string) => (s.trim() === '' ? Number.NaN : Number(s))
  return (
    <>
      <tr data-testid="rule" data-rule={r.id} class={r.enabled ? '' : 'stale'}>
        <td>
          <strong>{r.name}</strong>
          <div class="muted small mono">{r.id}</div>
        </td>
        <td class="small">
          <span class={`badge ${SEVERITY_BADGE[r.severity]}`}>{r.severity}</span> {r.summary}
          {!r.enabled && <span class="muted"> (disabled)</span>}
        </td>
        <td class="small" data-testid="rule-now" data-label="Now">
          {firing > 0 && <span class="badge bad">{firing} firing</span>}{' '}
          {pending > 0 && <span class="badge warn">{pending} pending</span>}{' '}
          {t
            ? r.instances
                .slice(0, 4)
                .map(
                  (i) =>
                    `${i.host === r.instances[0]?.host ? '' : `${i.host} `}${i.subject} ${fmtValue(i.value)}${t.unit ? ` ${t.unit}` : ''}`,
                )
                .join(' · ') || (
                <span class="muted" data-testid={noData ? 'rule-no-data' : undefined}>
                  {noData ? `no data: ${noData}` : 'no data yet'}
                </span>
              )
            : firing + pending === 0 &&
              (noData ? (
                <span class="muted" data-testid="rule-no-data" title={noData}>
                  no data: {noData}
                </span>
              ) : (
                <span class="muted">ok</span>
              ))}
        </td>
        <td class="small" data-label="Sends to" data-testid="rule-routes">
          {r.notify.join(', ') || <span class="muted">nowhere</span>}
          {!r.ownRouting && r.notify.length > 0 && <span class="muted"> (defaults)</span>}
          {operator && (
            <button
              type="button"
              class="link small"
              data-testid="route-rule"
              onClick={() => setRouting(routing ? null : r.ownRouting ? r.notify : [])}
            >
              {routing ? ' cancel' : ' change'}
            </button>
          )}
          {routing && (
            <form
              class="stack small"
              data-testid="rule-routing"
              onSubmit={async (e) => {
                e.preventDefault()
                const err = await save({ notify: routing })
                if (!err) setRouting(null)
              }}
            >
              {channels.map((name) => (
                <label key={name}>
                  <input
                    type="checkbox"
                    name={`route-${name}`}
                    checked={routing.includes(name)}
                    onChange={(e) =>
                      setRouting(
                        (e.target as HTMLInputElement).checked
                          ? [...routing, name]
                          : routing.filter((n) => n !== name),
                      )
                    }
                  />{' '}
                  {name}
                </label>
              ))}
              <div class="toolbar">
                <button type="submit" class="primary">
                  Save
                </button>
                <button
                  type="button"
                  class="ghost"
                  onClick={async () => {
                    if (!(await save({ notify: null }))) setRouting(null)
                  }}
                >
                  Use the defaults
                </button>
              </div>
            </form>
          )}
        </td>
        {operator && (
          <td class="actions">
            {t && (
              <button type="button" class="ghost" onClick={toggleEdit} data-testid="edit-rule">
                {editing ? 'Cancel' : 'Edit'}
              </button>
            )}
            <button type="button" class="ghost" onClick={() => void save({ enabled: !r.enabled })}>
              {r.enabled ? 'Disable' : 'Enable'}
            </button>
            <button type="button" class="ghost" onClick={remove} data-testid="remove-rule">
              Remove
            </button>
          </td>
        )}
      </tr>
      {editing && t && (
        <tr>
          <td colSpan={5}>
            <form
              class="toolbar"
              data-testid="rule-editor"
              onSubmit={async (e) => {
                e.preventDefault()
                const patch = {
                  value: num(form.value),
                  resolveValue: num(form.resolveValue),
                  forMs: num(form.forS) * 1000,
                  resolveForMs: num(form.resolveForS) * 1000,
                }
                const bad = Object.entries(patch).find(([, v]) => !Number.isFinite(v))
                if (bad) return setErr(`${bad[0]} must be a number`)
                // A percentage stays within 0–100 (the alerter refuses it too; this says so before the round trip).
                const out = [patch.value, patch.resolveValue].find(
                  (v) => (t.min !== null && v < t.min) || (t.max !== null && v > t.max),
                )
                if (out !== undefined) return setErr(`${out}${t.unit} is outside ${t.min}–${t.max}${t.unit}`)
                setErr(await save(patch))
              }}
            >
              <label>
                Fires when {t.op}{' '}
                <input
                  name="value"
                  size={6}
                  value={form.value}
                  onInput={(e) => setForm({ ...form, value: (e.target as HTMLInputElement).value })}
                />
              </label>
              <label>
                for (s){' '}
                <input
                  name="for"
                  size={5}
                  value={form.forS}
                  onInput={(e) => setForm({ ...form, forS: (e.target as HTMLInputElement).value })}
                />
              </label>
              <label>
                resolves past{' '}
                <input
                  name="resolveValue"
                  size={6}
                  value={form.resolveValue}
                  onInput={(e) => setForm({ ...form, resolveValue: (e.target as HTMLInputElement).value })}
                />
              </label>
              <label>
                for (s){' '}
                <input
                  name="resolveFor"
                  size={5}
                  value={form.resolveForS}
                  onInput={(e) => setForm({ ...form, resolveForS: (e.target as HTMLInputElement).value })}
                />
              </label>
              <button type="submit" class="primary">
                Save
              </button>
              {err && (
                <span class="error" data-testid="rule-error">
                  {err}
                </span>
              )}
            </form>
          </td>
        </tr>
      )}
    </>
  )
}
