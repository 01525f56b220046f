import { createHash, randomBytes } from 'node:crypto'
import { lowerRole, type Role, Role as RoleSchema, type TokenView, type UserView } from '@homelab/contracts'
import type { Db } from '@homelab/storage'
import { z } from 'zod'
import { hashPassword } from './passwords.js'

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

/** A refusal of an account change the rules forbid (the last admin, a name taken): the routes answer 409. */
export class AccountConflict extends Error {}

interface UserRow {
  name: string
  role: string
  password: string | null
  source: string
  created_at: number
  last_login_at: number | null
}
interface TokenRow {
  id: string
  owner: string | null
  name: string
  role: string
  created_at: number
  last_used_at: number | null
}

export interface User {
  name: string
  role: Role
  source: 'local' | 'sso'
  /** The scrypt hash; null for a single sign-on account (it has no password here). */
  password: string | null
  createdAt: number
  lastLoginAt: number | null
}

const Source = z.enum(['local', 'sso'])

/**
 * Accounts and their API tokens, in the gateway's database (the CLI opens the same file: a change it makes counts at
 * the next request). Tokens are stored as SHA-256 hashes of 32 random bytes and looked up by that hash: the lookup's
 * timing can only tell a guesser about hashes, never about a token. A token acts with the lower of its own role and
 * its owner's current one, and ends with its owner.
 */
export class Accounts {
  private readonly st

  constructor(private readonly db: Db) {
    this.st = {
      user: db.prepare<[string], UserRow>('SELECT * FROM users WHERE name = ?'),
      users: db.prepare<[], UserRow>('SELECT * FROM users ORDER BY name'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM users'),
      admins: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM users WHERE role = 'admin'"),
      add: db.prepare<[string, string, string | null, string, number, number]>(
        'INSERT INTO users (name, role, password, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      setRole: db.prepare<[string, number, string]>(
        'UPDATE users SET role = ?, updated_at = ? WHERE name = ?',
      ),
      setPassword: db.prepare<[string, number, string]>(
        'UPDATE users SET password = ?, updated_at = ? WHERE name = ?',
      ),
      loggedIn: db.prepare<[number, string]>('UPDATE users SET last_login_at = ? WHERE name = ?'),
      remove: db.prepare<[string]>('DELETE FROM users WHERE name = ?'),
      token: db.prepare<[string], TokenRow>(
        'SELECT id, owner, name, role, created_at, last_used_at FROM api_tokens WHERE hash = ?',
      ),
      tokens: db.prepare<[], TokenRow>(
        'SELECT id, owner, name, role, created_at, last_used_at FROM api_tokens ORDER BY created_at',
      ),
      addToken: db.prepare<[string, string, string | null, string, string, number]>(
        'INSERT INTO api_tokens (id, hash, owner, name, role, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      usedToken: db.prepare<[number, string]>('UPDATE api_tokens SET last_used_at = ? WHERE id = ?'),
      removeToken: db.prepare<[string]>('DELETE FROM api_tokens WHERE id = ?'),
      removeTokensOf: db.prepare<[string]>('DELETE FROM api_tokens WHERE owner = ?'),
    }
  }

  private static user(r: UserRow): User {
    return {
      name: r.name,
      role: RoleSchema.catch('viewer').parse(r.role),
      source: Source.catch('local').parse(r.source),
      password: r.password,
      createdAt: r.created_at,
      lastLoginAt: r.last_login_at,
    }
  }

  private static token(r: TokenRow): TokenView {
    return {
      id: r.id,
      owner: r.owner,
      name: r.name,
      role: RoleSchema.catch('viewer').parse(r.role),
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
    }
  }

  get(name: string): User | null {
    const r = this.st.user.get(name)
    return r ? Accounts.user(r) : null
  }

  list(): User[] {
    return this.st.users.all().map(Accounts.user)
  }

  count(): number {
    return this.st.count.get()?.n ?? 0
  }

  /** A new local account. Throws AccountConflict when the name is taken (names are compared ignoring case). */
  async add(name: string, role: Role, password: string, now = Date.now()): Promise<User> {
    const hash = await hashPassword(password)
    if (this.get(name)) throw new AccountConflict(`a user named "${name}" exists`)
    this.st.add.run(name, role, hash, 'local', now, now)
    return this.get(name)!
  }

  /**
   * The account a single sign-on login maps to, created at its first login; its role follows the provider's groups
   * at every login. A local account of the same name is refused (the provider cannot take it over).
   */
  upsertExternal(name: string, role: Role, now = Date.now()): User {
    const u = this.get(name)
    if (u && u.source !== 'sso') throw new AccountConflict(`"${name}" is a local account`)
    if (!u) this.st.add.run(name, role, null, 'sso', now, now)
    // The provider's groups decide, even for the last admin (the break-glass token stays as the way back in).
    else if (u.role !== role) this.st.setRole.run(role, now, name)
    return this.get(name)!
  }

  private lastAdminGuard(name: string, change: string): void {
    const u = this.get(name)
    if (u?.role === 'admin' && (this.st.admins.get()?.n ?? 0) <= 1)
      throw new AccountConflict(
        `"${name}" is the last admin: ${change} would leave no one to manage accounts`,
      )
  }

  private changeRole(name: string, role: Role, now: number): void {
    if (role !== 'admin') this.lastAdminGuard(name, 'taking the admin role away')
    this.st.setRole.run(role, now, name)
  }

  /** Changes a role; the last admin keeps theirs (no lockout). False when there is no such user. */
  setRole(name: string, role: Role, now = Date.now()): boolean {
    if (!this.get(name)) return false
    this.db.transaction(() => this.changeRole(name, role, now))()
    return true
  }

  async setPassword(name: string, password: string, now = Date.now()): Promise<boolean> {
    const hash = await hashPassword(password)
    const u = this.get(name)
    if (!u) return false
    if (u.source !== 'local') throw new AccountConflict(`"${name}" logs in through single sign-on`)
    this.st.setPassword.run(hash, now, name)
    return true
  }

  loggedIn(name: string, now = Date.now()): void {
    this.st.loggedIn.run(now, name)
  }

  /** Removes an account and its tokens (the caller ends its sessions). The last admin stays. */
  remove(name: string): boolean {
    return this.db.transaction(() => {
      if (!this.get(name)) return false
      this.lastAdminGuard(name, 'removing them')
      this.st.removeTokensOf.run(name)
      this.st.remove.run(name)
      return true
    })()
  }

  /** The token a secret stands for, with the role it acts with now; null when unknown or its owner is gone. */
  verifyToken(secret: string, now = Date.now()): TokenView | null {
    const r = this.st.token.get(sha256(secret))
    if (!r) return null
    const t = Accounts.token(r)
    let role = t.role
    if (t.owner !== null) {
      const owner = this.get(t.owner)
      if (!owner) return null
      role = lowerRole(role, owner.role)
    }
    // Written at most once a minute, like a session's last use.
    if (t.lastUsedAt === null || now - t.lastUsedAt > 60_000) this.st.usedToken.run(now, t.id)
    return { ...t, role }
  }

  createToken(
    owner: string | null,
    name: string,
    role: Role,
    now = Date.now(),
  ): TokenView & { token: string } {
    const id = randomBytes(6).toString('hex')
    const token = `hl_${randomBytes(32).toString('base64url')}`
    this.st.addToken.run(id, sha256(token), owner, name, role, now)
    return { id, owner, name, role, createdAt: now, lastUsedAt: null, token }
  }

  tokens(): TokenView[] {
    return this.st.tokens.all().map(Accounts.token)
  }

  removeToken(id: string): boolean {
    return this.st.removeToken.run(id).changes > 0
  }

  /** Tokens from before accounts (tokens.json: stored hashes), kept as CLI tokens with their ids and roles. */
  importLegacy(
    entries: ReadonlyArray<{ id: string; name: string; role: Role; hash: string; createdAt: number }>,
  ): number {
    const insert = this.db.prepare<[string, string, string, string, number]>(
      'INSERT OR IGNORE INTO api_tokens (id, hash, owner, name, role, created_at) VALUES (?, ?, NULL, ?, ?, ?)',
    )
    return this.db.transaction(() =>
      entries.reduce((n, e) => n + insert.run(e.id, e.hash, e.name, e.role, e.createdAt).changes, 0),
    )()
  }

  view(u: User, sessions: number): UserView {
    return {
      name: u.name,
      role: u.role,
      source: u.source,
      createdAt: u.createdAt,
      lastLoginAt: u.lastLoginAt,
      sessions,
    }
  }
}
