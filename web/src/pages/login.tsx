import { useState } from 'preact/hooks'
import { api, HttpError } from '../api'

export function Login({ onLogin }: { onLogin: () => void }) {
  const [token, setToken] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await api.login(token.trim())
      onLogin()
    } catch (err) {
      setError(err instanceof HttpError ? err.message : 'cannot reach the gateway')
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class="login">
      <form onSubmit={submit} class="card">
        <h1>Homelab</h1>
        <label for="token">Access token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          required
          minLength={16}
        />
        <p class="hint">
          The admin token is in <code>data/secrets/admin-token</code> (or <code>HOMELAB_ADMIN_TOKEN</code>).
          Create viewer and operator tokens with <code>npm run token -- create NAME viewer</code>.
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  )
}
