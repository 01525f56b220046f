import { PROBE_TYPES, type ProbeConfigReading, type ProbeEntry, ProbeType } from '@homelab/contracts'
import { useState } from 'preact/hooks'
import { api, HttpError } from '../api'
import { inputValue, selectValue } from '../forms'

/** The form's fields per probe type (the rest of an entry — headers, body, JSON checks — is kept as it is). */
const FIELDS: Record<
  ProbeType,
  Array<{ key: string; label: string; placeholder: string; number?: boolean }>
> = {
  http: [
    { key: 'url', label: 'URL', placeholder: 'https://nas.lan/health' },
    { key: 'status', label: 'Accepted status', placeholder: '200-399' },
    { key: 'keyword', label: 'Body contains', placeholder: '(optional)' },
  ],
  tcp: [
    { key: 'host', label: 'Host', placeholder: 'db.lan' },
    { key: 'port', label: 'Port', placeholder: '5432', number: true },
  ],
  tls: [
    { key: 'host', label: 'Host', placeholder: 'mail.example.org' },
    { key: 'port', label: 'Port', placeholder: '443', number: true },
  ],
  dns: [
    { key: 'name', label: 'Name', placeholder: 'nas.lan' },
    { key: 'record', label: 'Record', placeholder: 'A' },
    { key: 'server', label: 'Server', placeholder: "(the system's)" },
    { key: 'expect', label: 'Expected answer', placeholder: '(optional)' },
  ],
  icmp: [
    { key: 'host', label: 'Host', placeholder: 'router.lan' },
    { key: 'count', label: 'Packets', placeholder: '3', number: true },
  ],
}

const text = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '')

/** What the form sends: the entry as it was, its form fields replaced (empty: the default), for another type anew. */
export function probeBody(
  base: ProbeEntry | null,
  type: ProbeType,
  values: Record<string, string>,
): Record<string, unknown> {
  const { id: _id, ...rest } = base ?? { id: '', type }
  const out: Record<string, unknown> = base && base.type === type ? { ...rest } : { type }
  out.type = type
  for (const key of ['name', 'interval', 'timeout', ...FIELDS[type].map((f) => f.key)]) {
    const f = FIELDS[type].find((x) => x.key === key)
    const v = (values[key] ?? '').trim()
    if (v === '') delete out[key]
    else out[key] = f?.number && /^\d+$/.test(v) ? Number(v) : v
  }
  return out
}

/** Adds or edits one probe of the probes file; the collector's refusal (naming the field) is shown as it says it. */
export function ProbeForm({
  host,
  entry,
  onDone,
}: {
  host: string
  entry: ProbeEntry | null
  onDone: () => void
}) {
  const [type, setType] = useState<ProbeType>(entry?.type ?? 'http')
  const [id, setId] = useState(entry?.id ?? '')
  const [values, setValues] = useState<Record<string, string>>(() => {
    const v: Record<string, string> = {}
    if (entry) for (const [k, x] of Object.entries(entry)) v[k] = text(x)
    return v
  })
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const set = (key: string) => (e: Event) => setValues({ ...values, [key]: inputValue(e) })
  const save = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const r = await api.setProbe(host, id.trim(), probeBody(entry, type, values))
      if (r.outcome !== 'done') setError(r.message)
      else onDone()
    } catch (err) {
      setError(err instanceof HttpError ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form class="card" data-testid="probe-form" onSubmit={save}>
      <h3>{entry ? `Edit probe ${entry.id}` : 'New probe'}</h3>
      <div class="toolbar">
        <label>
          Id
          <input
            name="id"
            value={id}
            disabled={entry !== null}
            required
            placeholder="nas-web"
            onInput={(e) => setId(inputValue(e))}
          />
        </label>
        <label>
          Name
          <input name="name" value={values.name ?? ''} placeholder="(the id)" onInput={set('name')} />
        </label>
        <label>
          Type
          <select
            name="type"
            value={type}
            onChange={(e) => {
              const t = ProbeType.safeParse(selectValue(e))
              if (t.success) setType(t.data)
            }}
          >
            {PROBE_TYPES.map((t) => (
              <option key={t} value={t}>
                {t.toUpperCase()}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div class="toolbar">
        {FIELDS[type].map((f) => (
          <label key={f.key}>
            {f.label}
            <input
              name={f.key}
              value={values[f.key] ?? ''}
              placeholder={f.placeholder}
              inputMode={f.number ? 'numeric' : undefined}
              onInput={set(f.key)}
            />
          </label>
        ))}
      </div>
      <div class="toolbar">
        <label>
          Every
          <input name="interval" value={values.interval ?? ''} placeholder="60s" onInput={set('interval')} />
        </label>
        <label>
          Time-out
          <input name="timeout" value={values.timeout ?? ''} placeholder="10s" onInput={set('timeout')} />
        </label>
      </div>
      {entry && Object.keys(entry).some((k) => ['headers', 'body', 'json'].includes(k)) && (
        <p class="muted small">
          Headers, body and JSON checks are kept as the file has them (their values stay hidden).
        </p>
      )}
      {error && (
        <p class="error" data-testid="probe-form-error">
          {error}
        </p>
      )}
      <div class="toolbar">
        <button type="submit" disabled={busy}>
          {busy ? 'Saving…' : 'Save'}
        </button>
        <button type="button" class="ghost" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  )
}

/** The admin's view of the probes file: where it is, whether it can be edited here, and each probe's actions. */
export function ProbesFileBar({ config, onAdd }: { config: ProbeConfigReading; onAdd: () => void }) {
  return (
    <p class="small" data-testid="probes-file">
      <span class="muted">
        {config.probes.length} probes in <code class="mono">{config.file}</code>
        {config.writable ? '' : ' (read-only here: edit it on the host)'}
      </span>{' '}
      {config.writable && (
        <button type="button" class="small" data-testid="probe-add" onClick={onAdd}>
          Add a probe
        </button>
      )}
      {config.rejected && (
        <span class="error" data-testid="probes-rejected">
          {' '}
          The file's last version was rejected: {config.rejected.errors[0]}
        </span>
      )}
    </p>
  )
}
