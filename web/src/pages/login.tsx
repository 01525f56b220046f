import type { SessionInfo } from '@homelab/contracts'
import { useState } from 'preact/hooks'
import { api, HttpError } from '../api'
import { url } from '../base'
import { ChannelForm } from '../components/channels'
import { inputValue } from '../forms'

/** Runs a form's action, showing its error (the gateway's message) under the form. */
function useSubmit(action: () => Promise<void>) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await action()
    } catch (err) {
      setError(err instanceof HttpError ? err.message : 'cannot reach the gateway')
    } finally {
      setBusy(false)
    }
  }
  return { error, busy, submit, setError }
}

function ErrorLine({ error }: { error: string | null }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null
}

/** The login page: user name and password; single sign-on when configured; the break-glass token when needed. */
export function Login({ session, onLogin }: { session: SessionInfo | null; onLogin: () => void }) {
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [token, setToken] = useState('')
  const [breakGlass, setBreakGlass] = useState(false)
  const { error, busy, submit } = useSubmit(async () => {
    if (breakGlass) await api.loginWithToken(token.trim())
    else await api.login(username.trim(), password)
    onLogin()
  })
  return (
    <main class="login">
      <form onSubmit={submit} class="card" data-testid="login-form">
        <h1>Homelab</h1>
        {session?.setup && (
          <p class="hint" data-testid="setup-needed">
            No account exists yet. Open the setup link <code>npm start</code> printed, or create the first
            admin with <code>npm run user -- add NAME admin</code>.
          </p>
        )}
        {breakGlass ? (
          <>
            <label for="token">Break-glass admin token</label>
            <input
              id="token"
              name="token"
              type="password"
              autocomplete="off"
              value={token}
              onInput={(e) => setToken(inputValue(e))}
              required
              minLength={16}
            />
            <p class="hint">
              For when no account can log in: the token is in <code>data/secrets/admin-token</code> (or{' '}
              <code>HOMELAB_ADMIN_TOKEN</code>).
            </p>
          </>
        ) : (
          <>
            <label for="username">User name</label>
            <input
              id="username"
              name="username"
              autocomplete="username"
              autocapitalize="none"
              value={username}
              onInput={(e) => setUsername(inputValue(e))}
              required
            />
            <label for="password">Password</label>
            <input
              id="password"
              name="password"
              type="password"
              autocomplete="current-password"
              value={password}
              onInput={(e) => setPassword(inputValue(e))}
              required
            />
          </>
        )}
        <ErrorLine error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        {session?.oidc && !breakGlass && (
          <a class="button" href={url('/api/auth/oidc/login')} data-testid="sso-login">
            Log in with single sign-on
          </a>
        )}
        <button type="button" class="ghost small" onClick={() => setBreakGlass(!breakGlass)}>
          {breakGlass ? 'Log in with a user name' : 'Use the break-glass admin token'}
        </button>
      </form>
    </main>
  )
}

/**
 * `/setup#<code>`: creates the first admin with the one-time code `npm start` printed, then offers to add a
 * notification channel and send a test, so that the owner's phone buzzes before they leave the setup.
 */
export function Setup({ onDone }: { onDone: () => void }) {
  const [step, setStep] = useState<'account' | 'notify'>('account')
  const [saved, setSaved] = useState<string | null>(null)
  const [code, setCode] = useState(location.hash.slice(1))
  const [username, setUsername] = useState('admin')
  const [password, setPassword] = useState('')
  const [again, setAgain] = useState('')
  const { error, busy, submit, setError } = useSubmit(async () => {
    if (password !== again) {
      setError('the two passwords differ')
      return
    }
    await api.setup(code.trim(), username.trim(), password)
    history.replaceState(null, '', url('/'))
    setStep('notify')
  })
  if (step === 'notify')
    return (
      <main class="login">
        <div class="card stack" data-testid="setup-notify">
          <h1>Get alerts on your phone</h1>
          <p class="hint">
            Paste the notification URL of the app you use (ntfy, Telegram, Discord, Gotify, Pushover, Matrix,
            Slack, e-mail …), send a test, and save it. Every rule notifies it; change that later on the
            Alerts page.
          </p>
          <ChannelForm
            existing={null}
            compact
            onDone={(note) => {
              if (note.ok) setSaved(note.text)
            }}
          />
          {saved && (
            <p class="notice" data-testid="setup-channel-saved">
              {saved}
            </p>
          )}
          <button
            type="button"
            class={saved ? 'primary' : 'ghost'}
            onClick={onDone}
            data-testid="setup-finish"
          >
            {saved ? 'Open the dashboard' : 'Skip for now'}
          </button>
        </div>
      </main>
    )
  return (
    <main class="login">
      <form onSubmit={submit} class="card" data-testid="setup-form">
        <h1>Create the first admin</h1>
        <p class="hint">
          This account manages the others. The setup code works once and only while no account exists.
        </p>
        <label for="code">Setup code</label>
        <input
          id="code"
          autocomplete="off"
          value={code}
          onInput={(e) => setCode(inputValue(e))}
          required
          minLength={16}
        />
        <label for="username">User name</label>
        <input
          id="username"
          autocomplete="username"
          autocapitalize="none"
          value={username}
          onInput={(e) => setUsername(inputValue(e))}
          required
        />
        <label for="new-password">Password (at least 10 characters)</label>
        <input
          id="new-password"
          type="password"
          autocomplete="new-password"
          value={password}
          onInput={(e) => setPassword(inputValue(e))}
          required
          minLength={10}
        />
        <label for="again">Password again</label>
        <input
          id="again"
          type="password"
          autocomplete="new-password"
          value={again}
          onInput={(e) => setAgain(inputValue(e))}
          required
          minLength={10}
        />
        <ErrorLine error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create and log in'}
        </button>
      </form>
    </main>
  )
}

export { ErrorLine, useSubmit }
