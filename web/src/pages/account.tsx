import type { Me, Role, TokenView, UserView } from '@homelab/contracts'
import { useCallback, useEffect, useState } from 'preact/hooks'
import { api, HttpError } from '../api'
import { ago } from '../format'
import { inputValue } from '../forms'
import { ErrorLine, useSubmit } from './login'

const ROLES: Role[] = ['viewer', 'operator', 'admin']
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }
const message = (e: unknown) => (e instanceof HttpError ? e.message : 'cannot reach the gateway')
const selected = (e: Event): Role => {
  const v = e.target instanceof HTMLSelectElement ? e.target.value : 'viewer'
  return v === 'admin' || v === 'operator' ? v : 'viewer'
}

function PasswordForm({ onChanged }: { onChanged: () => void }) {
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [done, setDone] = useState(false)
  const { error, busy, submit } = useSubmit(async () => {
    await api.changePassword(current, next)
    setCurrent('')
    setNext('')
    setDone(true)
    onChanged()
  })
  return (
    <form class="card stack" onSubmit={submit} data-testid="password-form">
      <h3>Password</h3>
      <label for="current-password">Current password</label>
      <input
        id="current-password"
        type="password"
        autocomplete="current-password"
        value={current}
        onInput={(e) => setCurrent(inputValue(e))}
        required
      />
      <label for="next-password">New password (at least 10 characters)</label>
      <input
        id="next-password"
        type="password"
        autocomplete="new-password"
        value={next}
        onInput={(e) => setNext(inputValue(e))}
        required
        minLength={10}
      />
      <ErrorLine error={error} />
      {done && <p class="hint">Changed. Your other sessions have ended.</p>}
      <button type="submit" disabled={busy}>
        Change password
      </button>
    </form>
  )
}

function Tokens({ me }: { me: Me }) {
  const [tokens, setTokens] = useState<TokenView[] | null>(null)
  const [name, setName] = useState('')
  const [role, setRole] = useState<Role>('viewer')
  const [shown, setShown] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const load = useCallback(() => {
    api.tokens().then(
      (r) => setTokens(r.tokens),
      (e) => setError(message(e)),
    )
  }, [])
  useEffect(load, [load])
  const create = useSubmit(async () => {
    const t = await api.createToken(name.trim(), role)
    setShown(t.token)
    setName('')
    load()
  })
  const revoke = (t: TokenView) => {
    if (!confirm(`Revoke the token "${t.name}"? Scripts using it stop working at once.`)) return
    api.revokeToken(t.id).then(load, (e) => setError(message(e)))
  }
  return (
    <section class="card stack" data-testid="tokens">
      <h3>API tokens</h3>
      <p class="hint">
        For scripts: send <code>Authorization: Bearer …</code>. A token acts for you, with no more than your
        role.
      </p>
      <form class="toolbar" onSubmit={create.submit}>
        <input
          aria-label="token name"
          placeholder="what it is for"
          value={name}
          onInput={(e) => setName(inputValue(e))}
          required
          maxLength={64}
        />
        <select aria-label="token role" value={role} onChange={(e) => setRole(selected(e))}>
          {ROLES.filter((r) => RANK[r] <= RANK[me.role]).map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        <button type="submit" disabled={create.busy}>
          Create token
        </button>
      </form>
      <ErrorLine error={create.error ?? error} />
      {shown && (
        <p class="notice" data-testid="new-token">
          Copy it now — it is not shown again: <code class="secret">{shown}</code>{' '}
          <button type="button" class="ghost small" onClick={() => setShown(null)}>
            Done
          </button>
        </p>
      )}
      {tokens?.length === 0 && <p class="muted">No tokens yet.</p>}
      {tokens && tokens.length > 0 && (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Role</th>
                {me.role === 'admin' && <th>For</th>}
                <th>Created</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id} data-testid={`token-${t.name}`}>
                  <td>{t.name}</td>
                  <td>{t.role}</td>
                  {me.role === 'admin' && <td>{t.owner ?? 'CLI'}</td>}
                  <td>{ago(t.createdAt)}</td>
                  <td>{t.lastUsedAt === null ? 'never' : ago(t.lastUsedAt)}</td>
                  <td>
                    <button type="button" class="small" onClick={() => revoke(t)}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}

/** Your account: password, API tokens, log out everywhere. */
export function Account({ me, onLoggedOut }: { me: Me; onLoggedOut: () => void }) {
  const [error, setError] = useState<string | null>(null)
  return (
    <main class="stack narrow">
      <section class="card stack">
        <h3>
          {me.name} <span class="badge">{me.role}</span>
        </h3>
        <p class="muted small">
          Logged in{' '}
          {me.via === 'password'
            ? 'with your password'
            : me.via === 'proxy'
              ? 'by your reverse proxy (single sign-on)'
              : me.via === 'oidc'
                ? 'with single sign-on'
                : 'with the break-glass admin token'}
          .
        </p>
        <div class="toolbar">
          <button
            type="button"
            data-testid="logout-all"
            onClick={() => {
              if (confirm('Log out on every device and browser, this one too?'))
                api.logoutAll().then(onLoggedOut, (e) => setError(message(e)))
            }}
          >
            Log out everywhere
          </button>
        </div>
        <ErrorLine error={error} />
      </section>
      {me.via === 'password' && <PasswordForm onChanged={() => undefined} />}
      {me.via !== 'break-glass' || me.role === 'admin' ? <Tokens me={me} /> : null}
    </main>
  )
}

function AddUser({ onAdded }: { onAdded: () => void }) {
  const [name, setName] = useState('')
  const [role, setRole] = useState<Role>('viewer')
  const [password, setPassword] = useState('')
  const { error, busy, submit } = useSubmit(async () => {
    await api.addUser(name.trim(), role, password)
    setName('')
    setPassword('')
    onAdded()
  })
  return (
    <form class="card stack" onSubmit={submit} data-testid="add-user">
      <h3>Add a user</h3>
      <div class="toolbar">
        <input
          aria-label="user name"
          placeholder="user name"
          value={name}
          onInput={(e) => setName(inputValue(e))}
          required
        />
        <select aria-label="role" value={role} onChange={(e) => setRole(selected(e))}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        <input
          aria-label="password"
          type="password"
          autocomplete="new-password"
          placeholder="password (10+ characters)"
          value={password}
          onInput={(e) => setPassword(inputValue(e))}
          required
          minLength={10}
        />
        <button type="submit" disabled={busy}>
          Add
        </button>
      </div>
      <ErrorLine error={error} />
    </form>
  )
}

/** Admins: every account, its role, sessions and last login; add, change role, reset password, remove. */
export function Users({ me }: { me: Me }) {
  const [users, setUsers] = useState<UserView[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const load = useCallback(() => {
    api.users().then(
      (r) => setUsers(r.users),
      (e) => setError(message(e)),
    )
  }, [])
  useEffect(load, [load])
  const act = (p: Promise<unknown>) =>
    p.then(
      () => {
        setError(null)
        load()
      },
      (e) => setError(message(e)),
    )
  const reset = (u: UserView) => {
    const pw = prompt(`New password for ${u.name} (at least 10 characters). Their sessions end.`)
    if (pw) act(api.updateUser(u.name, { password: pw }))
  }
  return (
    <main class="stack narrow">
      <section class="card stack">
        <h3>Users</h3>
        <ErrorLine error={error} />
        {users && (
          <div class="scroll">
            <table data-testid="users">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Role</th>
                  <th>Sign-in</th>
                  <th>Last login</th>
                  <th>Sessions</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {users.map((u) => (
                  <tr key={u.name} data-testid={`user-${u.name}`}>
                    <td>
                      {u.name}
                      {u.name === me.name ? ' (you)' : ''}
                    </td>
                    <td>
                      <select
                        aria-label={`role of ${u.name}`}
                        value={u.role}
                        onChange={(e) => act(api.updateUser(u.name, { role: selected(e) }))}
                      >
                        {ROLES.map((r) => (
                          <option key={r} value={r}>
                            {r}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td>{u.source === 'local' ? 'password' : 'single sign-on'}</td>
                    <td>{u.lastLoginAt === null ? 'never' : ago(u.lastLoginAt)}</td>
                    <td>{u.sessions}</td>
                    <td class="actions">
                      {u.source === 'local' && (
                        <button type="button" class="small" onClick={() => reset(u)}>
                          Reset password
                        </button>
                      )}
                      <button
                        type="button"
                        class="small"
                        onClick={() =>
                          confirm(`Remove ${u.name} and their tokens?`) && act(api.removeUser(u.name))
                        }
                      >
                        Remove
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <AddUser onAdded={load} />
    </main>
  )
}
