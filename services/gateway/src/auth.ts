import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { type AuthMethod, type Role, Role as RoleSchema, roleAtLeast } from '@homelab/contracts'
import { type Db, openDb } from '@homelab/storage'
import { z } from 'zod'
import { Accounts, type User } from './accounts.js'
import { dummyHash, verifyPassword } from './passwords.js'
import { GATEWAY_MIGRATIONS, type SessionOptions, Sessions } from './sessions.js'

/** Who a request acts for. `account`: the user it acts as (tokens act for their owner); null for break-glass. */
export interface Principal {
  id: string
  name: string
  role: Role
  via: AuthMethod
  account: string | null
}

export function hasRole(p: Principal, needed: Role): boolean {
  return roleAtLeast(p.role, needed)
}

function writeSecret(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  writeFileSync(`${path}.tmp`, content, { mode: 0o600 })
  chmodSync(`${path}.tmp`, 0o600)
  renameSync(`${path}.tmp`, path)
}

export function adminTokenPath(dataDir: string): string {
  return join(dataDir, 'secrets', 'admin-token')
}

export function gatewayDbPath(dataDir: string): string {
  return join(dataDir, 'gateway', 'gateway.db')
}

const BREAK_GLASS: Principal = {
  id: 'break-glass',
  name: 'break-glass admin',
  role: 'admin',
  via: 'break-glass',
  account: null,
}

const LegacyTokens = z.object({
  tokens: z.array(
    z.object({
      id: z.string().regex(/^[a-z0-9]{8,32}$/),
      name: z.string().min(1).max(64),
      role: RoleSchema,
      hash: z.string().regex(/^[0-9a-f]{64}$/),
      createdAt: z.number().int(),
    }),
  ),
})

/**
 * Who is who: accounts with passwords, their API tokens, login sessions, and the break-glass admin token
 * (HOMELAB_ADMIN_TOKEN, or generated once into <data>/secrets/admin-token, 0600) — the way in when no account can
 * log in. While no account exists, a one-time setup code (in memory, new at each start) lets the first admin be
 * created from the browser.
 */
export class Auth {
  private readonly adminHash: Buffer
  /** Where the generated admin token is, or null when it came from the environment. */
  readonly generatedAdminTokenPath: string | null
  readonly db: Db
  readonly sessions: Sessions
  readonly accounts: Accounts
  private setupCode: string | null = null

  constructor(dataDir: string, adminToken: string | undefined, sessions: SessionOptions) {
    this.db = openDb(gatewayDbPath(dataDir), GATEWAY_MIGRATIONS)
    this.sessions = new Sessions(this.db, sessions)
    this.accounts = new Accounts(this.db)
    let token = adminToken
    this.generatedAdminTokenPath = null
    if (!token) {
      const p = adminTokenPath(dataDir)
      if (!existsSync(p)) writeSecret(p, `${randomBytes(24).toString('base64url')}\n`)
      token = readFileSync(p, 'utf8').trim()
      this.generatedAdminTokenPath = p
    }
    this.adminHash = createHash('sha256').update(token).digest()
    this.importLegacyTokens(join(dataDir, 'secrets', 'tokens.json'))
    if (this.accounts.count() === 0) this.setupCode = randomBytes(18).toString('base64url')
  }

  /** API tokens from before accounts lived in tokens.json; they keep working, moved into the database once. */
  private importLegacyTokens(path: string): void {
    if (!existsSync(path)) return
    const parsed = LegacyTokens.safeParse(JSON.parse(readFileSync(path, 'utf8')))
    if (parsed.success) this.accounts.importLegacy(parsed.data.tokens)
    renameSync(path, `${path}.imported`)
  }

  close(): void {
    this.db.close()
  }

  /** The one-time code for creating the first admin, while no account exists. */
  pendingSetupCode(): string | null {
    if (this.setupCode !== null && this.accounts.count() > 0) this.setupCode = null
    return this.setupCode
  }

  /** Uses the setup code (once): creates the first admin. Null when the code is wrong or used. */
  async setup(code: string, username: string, password: string): Promise<Principal | null> {
    const expected = this.pendingSetupCode()
    if (expected === null || !sameSecret(code, expected)) return null
    this.setupCode = null
    const u = await this.accounts.add(username, 'admin', password)
    return accountPrincipal(u, 'password')
  }

  /** The principal a bearer token stands for (the break-glass token or an API token), or null. */
  verifyBearer(secret: string): Principal | null {
    const h = createHash('sha256').update(secret).digest()
    if (timingSafeEqual(h, this.adminHash)) return BREAK_GLASS
    const t = this.accounts.verifyToken(secret)
    if (!t) return null
    return { id: `token:${t.id}`, name: t.owner ?? t.name, role: t.role, via: 'token', account: t.owner }
  }

  /**
   * Checks a user name and password. A user who does not exist, a single sign-on account and a wrong password all
   * answer null after the same scrypt work, so neither the answer nor its time tells which.
   */
  async verifyPassword(username: string, password: string): Promise<Principal | null> {
    const u = this.accounts.get(username)
    const hash = u?.password ?? (await dummyHash())
    const ok = await verifyPassword(password, hash)
    if (!ok || !u || u.password === null) return null
    return accountPrincipal(u, 'password')
  }

  /** A new session for the principal (its id and how it logged in are stored); the value goes in the cookie. */
  issueSession(p: Principal, now = Date.now()): string {
    if (p.account !== null && p.via !== 'token') this.accounts.loggedIn(p.account, now)
    return this.sessions.create(p.id, p.via, now)
  }

  /** The principal of a live session, as its account is now (a changed role counts at once; a removed one is out). */
  verifySession(cookie: string, now = Date.now()): Principal | null {
    const s = this.sessions.verify(cookie, now)
    if (!s) return null
    if (s.principal === BREAK_GLASS.id) return BREAK_GLASS
    if (!s.principal.startsWith('user:')) return null
    const u = this.accounts.get(s.principal.slice(5))
    return u ? accountPrincipal(u, s.via === 'oidc' ? 'oidc' : 'password') : null
  }

  /** Ends every session of an account (log out everywhere; a removed account; a password reset). */
  endSessionsOf(account: string): number {
    return this.sessions.revokeAll(`user:${this.accounts.get(account)?.name ?? account}`)
  }

  sessionCount(u: User): number {
    return this.sessions.count(`user:${u.name}`)
  }
}

export function accountPrincipal(u: User, via: AuthMethod): Principal {
  return { id: `user:${u.name}`, name: u.name, role: u.role, via, account: u.name }
}

/** Constant-time comparison of two secrets of any length (compares their hashes). */
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}
