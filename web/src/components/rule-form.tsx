import { EVENT_TYPES, METRICS, PERCENT_METRICS, type RuleInput, Severity } from '@homelab/contracts'
import { useState } from 'preact/hooks'
import { api, HttpError } from '../api'
import { inputValue, selectValue } from '../forms'

const OPS = ['>', '>=', '<', '<='] as const
const METRIC_NAMES = [...METRICS.keys()].sort()
/** Event types, and a prefix for each domain (`container.*` matches every container event). */
const EVENT_CHOICES = [
  ...new Set([...[...EVENT_TYPES].map((t) => `${t.split('.')[0]}.*`), ...EVENT_TYPES]),
].sort()

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)

const seconds = (s: string) => Math.round(Number(s) * 1000)

/**
 * A new rule from a form: a threshold on any metric the collectors publish (with its label, hysteresis and
 * durations) or a pattern of events (a type or a domain's prefix, a subject glob, a count in a window). The alerter
 * checks it with the whole rules file; its refusal is shown as it says it.
 */
export function RuleForm({
  channels,
  onDone,
  onCancel,
}: {
  channels: string[]
  onDone: (note: { ok: boolean; text: string }) => void
  onCancel: () => void
}) {
  const [type, setType] = useState<'threshold' | 'event'>('threshold')
  const [name, setName] = useState('')
  const [severity, setSeverity] = useState<Severity>('warning')
  const [hosts, setHosts] = useState('')
  const [metric, setMetric] = useState('cpu.usage')
  const [label, setLabel] = useState('')
  const [op, setOp] = useState<(typeof OPS)[number]>('>')
  const [value, setValue] = useState('90')
  const [forS, setForS] = useState('300')
  const [resolveValue, setResolveValue] = useState('')
  const [event, setEvent] = useState('container.died')
  const [subject, setSubject] = useState('')
  const [count, setCount] = useState('1')
  const [withinS, setWithinS] = useState('600')
  const [notify, setNotify] = useState<string[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const labelName = METRICS.get(metric)?.label ?? null

  const build = (): RuleInput | string => {
    const id = slug(name)
    if (!id) return 'give the rule a name'
    const common = {
      id,
      name: name.trim(),
      severity,
      ...(hosts.trim() ? { hosts: hosts.trim() } : {}),
      ...(notify ? { notify } : {}),
    }
    if (type === 'threshold') {
      const v = Number(value)
      if (value.trim() === '' || !Number.isFinite(v)) return 'the value must be a number'
      const rv = resolveValue.trim() === '' ? undefined : Number(resolveValue)
      if (rv !== undefined && !Number.isFinite(rv)) return 'the resolve value must be a number'
      return {
        ...common,
        type: 'threshold',
        metric,
        ...(labelName && label.trim() ? { labels: { [labelName]: label.trim() } } : {}),
        op,
        value: v,
        forMs: seconds(forS || '0'),
        ...(rv !== undefined ? { resolveValue: rv } : {}),
        resolveForMs: 0,
        ...(PERCENT_METRICS.has(metric) ? { unit: '%' } : {}),
      }
    }
    const n = Number(count)
    if (!Number.isInteger(n) || n < 1) return 'the count must be a whole number from 1'
    return {
      ...common,
      type: 'event',
      event,
      ...(subject.trim() ? { subject: subject.trim() } : {}),
      count: n,
      ...(n > 1 ? { withinMs: seconds(withinS || '600') } : {}),
      resolveAfterMs: 15 * 60_000,
    }
  }

  return (
    <form
      class="card stack"
      data-testid="rule-form"
      onSubmit={async (e) => {
        e.preventDefault()
        const rule = build()
        if (typeof rule === 'string') return setError(rule)
        try {
          const r = await api.addRule(rule)
          setError(null)
          onDone({ ok: true, text: r.message })
        } catch (err) {
          setError(err instanceof HttpError ? err.message : String(err))
        }
      }}
    >
      <div class="toolbar">
        <label>
          <input
            type="radio"
            name="type"
            checked={type === 'threshold'}
            onChange={() => setType('threshold')}
          />{' '}
          a metric passes a threshold
        </label>
        <label>
          <input type="radio" name="type" checked={type === 'event'} onChange={() => setType('event')} />{' '}
          events happen
        </label>
      </div>
      <div class="toolbar">
        <label>
          Name <input name="name" required value={name} onInput={(e) => setName(inputValue(e))} />
        </label>
        <label>
          Severity{' '}
          <select
            name="severity"
            value={severity}
            onChange={(e) => setSeverity(Severity.parse(selectValue(e)))}
          >
            <option value="info">info</option>
            <option value="warning">warning</option>
            <option value="critical">critical</option>
          </select>
        </label>
        <label>
          Hosts{' '}
          <input
            name="hosts"
            placeholder="* (all)"
            size={10}
            value={hosts}
            onInput={(e) => setHosts(inputValue(e))}
          />
        </label>
      </div>
      {type === 'threshold' ? (
        <div class="toolbar">
          <label>
            Metric{' '}
            <select name="metric" value={metric} onChange={(e) => setMetric(selectValue(e))}>
              {METRIC_NAMES.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          </label>
          {labelName && (
            <label>
              {labelName}{' '}
              <input
                name="label"
                placeholder="* (any)"
                size={12}
                value={label}
                onInput={(e) => setLabel(inputValue(e))}
              />
            </label>
          )}
          <select
            name="op"
            aria-label="comparison"
            value={op}
            onChange={(e) => {
              const v = selectValue(e)
              const found = OPS.find((o) => o === v)
              if (found) setOp(found)
            }}
          >
            {OPS.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
          <input
            name="value"
            aria-label="value"
            size={6}
            value={value}
            onInput={(e) => setValue(inputValue(e))}
          />
          <label>
            for (s) <input name="for" size={5} value={forS} onInput={(e) => setForS(inputValue(e))} />
          </label>
          <label>
            resolves past{' '}
            <input
              name="resolveValue"
              size={6}
              placeholder="the value"
              value={resolveValue}
              onInput={(e) => setResolveValue(inputValue(e))}
            />
          </label>
        </div>
      ) : (
        <div class="toolbar">
          <label>
            Event{' '}
            <select name="event" value={event} onChange={(e) => setEvent(selectValue(e))}>
              {EVENT_CHOICES.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
          <label>
            of{' '}
            <input
              name="subject"
              placeholder="* (any)"
              size={12}
              value={subject}
              onInput={(e) => setSubject(inputValue(e))}
            />
          </label>
          <label>
            at least <input name="count" size={3} value={count} onInput={(e) => setCount(inputValue(e))} />{' '}
            times
          </label>
          {Number(count) > 1 && (
            <label>
              within (s){' '}
              <input name="within" size={5} value={withinS} onInput={(e) => setWithinS(inputValue(e))} />
            </label>
          )}
        </div>
      )}
      {channels.length > 0 && (
        <div class="toolbar small">
          Sends to:
          <label>
            <input
              type="checkbox"
              name="notify-defaults"
              checked={notify === null}
              onChange={() => setNotify(notify === null ? [] : null)}
            />{' '}
            the defaults
          </label>
          {notify !== null &&
            channels.map((c) => (
              <label key={c}>
                <input
                  type="checkbox"
                  name={`notify-${c}`}
                  checked={notify.includes(c)}
                  onChange={(e) =>
                    setNotify(
                      e.target instanceof HTMLInputElement && e.target.checked
                        ? [...notify, c]
                        : notify.filter((n) => n !== c),
                    )
                  }
                />{' '}
                {c}
              </label>
            ))}
        </div>
      )}
      <div class="toolbar">
        <button type="submit" class="primary">
          Add the rule
        </button>
        <button type="button" class="ghost" onClick={onCancel}>
          Cancel
        </button>
        {error && (
          <span class="error" data-testid="rule-form-error">
            {error}
          </span>
        )}
      </div>
    </form>
  )
}
