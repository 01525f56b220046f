import { type ChannelInput, type ChannelView, type CommandResult, Severity } from '@homelab/contracts'
import { Fragment } from 'preact'
import { useState } from 'preact/hooks'
import { api, HttpError } from '../api'
import { ago } from '../format'
import { Empty } from './empty'

/** What a user pastes, per provider: the forms the alerter reads (docs/notifications.md has each in full). */
export const URL_EXAMPLES = [
  ['ntfy', 'ntfy://ntfy.sh/my-homelab-alerts'],
  ['Telegram', 'telegram://123456:ABC-token@telegram?chats=@mychannel'],
  ['Discord', 'discord://<token>@<webhook id>'],
  ['Slack', 'slack://hook:T000-B000-XXXX@webhook'],
  ['Gotify', 'gotify://gotify.example.org/<app token>'],
  ['Pushover', 'pushover://shoutrrr:<api token>@<user key>'],
  ['Matrix', 'matrix://user:password@matrix.example.org/?rooms=homelab:example.org'],
  ['E-mail', 'smtp://user:pass@mail.example.org:587/?from=pi@example.org&to=me@example.org'],
  ['Webhook', 'https://hooks.example.org/alerts'],
] as const

const HEALTH_BADGE = { ok: 'ok', retrying: 'warn', failing: 'bad', unknown: 'muted' } as const

const outcome = (r: CommandResult): { ok: boolean; text: string } => ({
  ok: r.outcome === 'done',
  text: r.message,
})
const failed = (e: unknown): { ok: boolean; text: string } => ({
  ok: false,
  text: e instanceof HttpError ? e.message : String(e),
})

/**
 * The notification channels: where alerts go, whether their last delivery arrived, and for admins adding one from a
 * pasted URL, trying it ("send a test", the provider's answer shown), changing and removing it.
 */
export function Channels({
  channels,
  admin,
  onChange,
}: {
  channels: ChannelView[] | null
  admin: boolean
  onChange: (note: { ok: boolean; text: string }) => void
}) {
  const [editing, setEditing] = useState<string | 'new' | null>(null)
  const [answer, setAnswer] = useState<Record<string, { ok: boolean; text: string }>>({})
  const test = async (name: string) => {
    setAnswer({ ...answer, [name]: { ok: true, text: 'sending…' } })
    const a = await api.testChannel(name).then(outcome, failed)
    setAnswer((prev) => ({ ...prev, [name]: a }))
  }
  return (
    <>
      {channels && channels.length === 0 && (
        <Empty testId="channels-empty">
          No channel: alerts are kept and shown here, but sent nowhere.
          {admin ? ' Add one to have them reach your phone.' : ''}
        </Empty>
      )}
      <table data-testid="channels" class="cards" hidden={!channels || channels.length === 0}>
        <tbody>
          {(channels ?? []).map((c) => (
            <Fragment key={c.name}>
              <tr data-testid="channel" data-channel={c.name}>
                <td>
                  <strong>{c.name}</strong> <span class="muted small">{c.type}</span>
                  {c.isDefault && <span class="muted small"> · default</span>}
                </td>
                <td class="mono small">{c.target}</td>
                <td class="small">
                  <span
                    class={`badge ${HEALTH_BADGE[c.health.state]}`}
                    data-testid="channel-health"
                    title={c.health.error ?? ''}
                  >
                    {c.health.state === 'unknown' ? 'not used yet' : c.health.state}
                  </span>{' '}
                  <span class="num">
                    {c.sent} sent
                    {c.pending ? ` · ${c.pending} waiting` : ''}
                    {c.failed ? ` · ${c.failed} failed` : ''}
                  </span>
                  {c.quietHours && (
                    <div class="muted">
                      quiet {c.quietHours.from}–{c.quietHours.to}
                      {c.quietHours.except ? ` (${c.quietHours.except} still sent)` : ''}
                    </div>
                  )}
                  {c.health.state === 'failing' && c.health.error && (
                    <div class="error" data-testid="channel-error">
                      {c.health.error}
                      {c.health.at ? ` (${ago(c.health.at)})` : ''}
                    </div>
                  )}
                  {answer[c.name] && (
                    <div class={answer[c.name]?.ok ? 'notice' : 'error'} data-testid="channel-test-answer">
                      {answer[c.name]?.text}
                    </div>
                  )}
                </td>
                {admin && (
                  <td class="actions">
                    <button
                      type="button"
                      class="ghost"
                      onClick={() => void test(c.name)}
                      data-testid="test-channel"
                    >
                      Send a test
                    </button>
                    {c.origin === 'file' && (
                      <>
                        <button
                          type="button"
                          class="ghost"
                          onClick={() => setEditing(editing === c.name ? null : c.name)}
                          data-testid="edit-channel"
                        >
                          {editing === c.name ? 'Cancel' : 'Edit'}
                        </button>
                        <button
                          type="button"
                          class="ghost"
                          data-testid="remove-channel"
                          onClick={async () => {
                            if (!confirm(`Remove the channel "${c.name}"?`)) return
                            onChange(await api.removeChannel(c.name).then(outcome, failed))
                          }}
                        >
                          Remove
                        </button>
                      </>
                    )}
                  </td>
                )}
              </tr>
              {editing === c.name && (
                <tr>
                  <td colSpan={4}>
                    <ChannelForm
                      existing={c}
                      onDone={(note) => {
                        onChange(note)
                        if (note.ok) setEditing(null)
                      }}
                    />
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
      {admin &&
        (editing === 'new' ? (
          <ChannelForm
            existing={null}
            onDone={(note) => {
              onChange(note)
              if (note.ok) setEditing(null)
            }}
            onCancel={() => setEditing(null)}
          />
        ) : (
          <button type="button" onClick={() => setEditing('new')} data-testid="add-channel">
            Add a channel
          </button>
        ))}
    </>
  )
}

/**
 * A channel's form: its name and URL (a saved channel's URL is never shown; left empty it stays), the least severity
 * it takes, quiet hours, whether rules notify it by default. "Send a test" tries the URL typed before it is saved.
 */
export function ChannelForm({
  existing,
  onDone,
  onCancel,
  compact = false,
}: {
  existing: ChannelView | null
  onDone: (note: { ok: boolean; text: string }) => void
  onCancel?: () => void
  /** The first-run screen: name and URL only. */
  compact?: boolean
}) {
  const [name, setName] = useState(existing?.name ?? 'phone')
  const [url, setUrl] = useState('')
  const [minSeverity, setMinSeverity] = useState<Severity>(existing?.minSeverity ?? 'warning')
  const [quiet, setQuiet] = useState(existing?.quietHours !== null && existing?.quietHours !== undefined)
  const [from, setFrom] = useState(existing?.quietHours?.from ?? '22:00')
  const [to, setTo] = useState(existing?.quietHours?.to ?? '07:00')
  const [except, setExcept] = useState<Severity | ''>(existing?.quietHours?.except ?? 'critical')
  const [isDefault, setIsDefault] = useState(existing?.isDefault ?? true)
  const [answer, setAnswer] = useState<{ ok: boolean; text: string } | null>(null)
  const [busy, setBusy] = useState(false)

  const input = (): ChannelInput => ({
    ...(url.trim() ? { url: url.trim() } : {}),
    minSeverity,
    quietHours: quiet ? { from, to, ...(except ? { except } : {}) } : null,
    default: isDefault,
  })
  const run = async (what: () => Promise<{ ok: boolean; text: string }>) => {
    setBusy(true)
    try {
      return await what()
    } finally {
      setBusy(false)
    }
  }
  return (
    <form
      class="card stack"
      data-testid="channel-form"
      onSubmit={async (e) => {
        e.preventDefault()
        const note = await run(() => api.setChannel(name, input()).then(outcome, failed))
        setAnswer(note.ok ? null : note)
        onDone(note)
      }}
    >
      {!existing && (
        <label>
          Name{' '}
          <input
            name="name"
            required
            pattern="[A-Za-z0-9_\-]{1,64}"
            value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </label>
      )}
      <label>
        {existing ? 'New URL (leave empty to keep the current one)' : 'Notification URL'}
        <input
          name="url"
          class="mono"
          autocomplete="off"
          spellcheck={false}
          required={!existing}
          placeholder={URL_EXAMPLES[0][1]}
          value={url}
          onInput={(e) => setUrl((e.target as HTMLInputElement).value)}
        />
      </label>
      <details class="small muted">
        <summary>URL forms</summary>
        <ul class="mono">
          {URL_EXAMPLES.map(([label, example]) => (
            <li key={label}>
              {label}: {example}
            </li>
          ))}
        </ul>
      </details>
      {!compact && (
        <div class="toolbar">
          <label>
            Sends alerts from{' '}
            <select
              name="minSeverity"
              value={minSeverity}
              onChange={(e) => setMinSeverity(Severity.parse((e.target as HTMLSelectElement).value))}
            >
              <option value="info">info</option>
              <option value="warning">warning</option>
              <option value="critical">critical</option>
            </select>
          </label>
          <label>
            <input
              type="checkbox"
              name="default"
              checked={isDefault}
              onChange={(e) => setIsDefault((e.target as HTMLInputElement).checked)}
            />{' '}
            every rule without its own routing notifies it
          </label>
        </div>
      )}
      {!compact && (
        <div class="toolbar">
          <label>
            <input
              type="checkbox"
              name="quiet"
              checked={quiet}
              onChange={(e) => setQuiet((e.target as HTMLInputElement).checked)}
            />{' '}
            quiet hours
          </label>
          {quiet && (
            <>
              <label>
                from{' '}
                <input
                  name="quietFrom"
                  type="time"
                  value={from}
                  onInput={(e) => setFrom((e.target as HTMLInputElement).value)}
                />
              </label>
              <label>
                to{' '}
                <input
                  name="quietTo"
                  type="time"
                  value={to}
                  onInput={(e) => setTo((e.target as HTMLInputElement).value)}
                />
              </label>
              <label>
                still send{' '}
                <select
                  name="quietExcept"
                  value={except}
                  onChange={(e) => {
                    const v = (e.target as HTMLSelectElement).value
                    setExcept(v === '' ? '' : Severity.parse(v))
                  }}
                >
                  <option value="critical">critical</option>
                  <option value="warning">warning and critical</option>
                  <option value="">nothing</option>
                </select>
              </label>
            </>
          )}
        </div>
      )}
      <div class="toolbar">
        <button type="submit" class="primary" disabled={busy}>
          Save
        </button>
        <button
          type="button"
          disabled={busy || (!url.trim() && !existing)}
          data-testid="try-channel"
          onClick={async () => {
            setAnswer({ ok: true, text: 'sending…' })
            setAnswer(await run(() => api.testChannel(name, url.trim() || undefined).then(outcome, failed)))
          }}
        >
          Send a test
        </button>
        {onCancel && (
          <button type="button" class="ghost" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
      {answer && (
        <p class={answer.ok ? 'notice' : 'error'} data-testid="channel-form-answer">
          {answer.text}
        </p>
      )}
    </form>
  )
}
