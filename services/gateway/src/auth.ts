import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { type Role, Role as RoleSchema } from '@homelab/contracts'
import { openDb } from '@homelab/storage'
import { z } from 'zod'
import { GATEWAY_MIGRATIONS, type SessionOptions, Sessions } from './sessions.js'

const TokenEntry = z.object({
  id: z.string().regex(/^[a-z0-9]{8,32}$/),
  name: z.string().min(1).max(64),
  role: RoleSchema,
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.number().int(),
})
type TokenEntry = z.infer<typeof TokenEntry>
const TokensFile = z.object({ tokens: z.array(TokenEntry) })

export interface Principal {
  id: string
  name: string
  role: Role
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }
export function hasRole(p: Principal, needed: Role): boolean {
  return RANK[p.role] >= RANK[needed]
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

function writeSecret(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  writeFileSync(`${path}.tmp`, content, { mode: 0o600 })
  chmodSync(`${path}.tmp`, 0o600)
  renameSync(`${path}.tmp`, path)
}

export function adminTokenPath(dataDir: string): string {
  return join(dataDir, 'secrets', 'admin-token')
}

/**
 * API tokens and login sessions. Tokens are random, stored only as SHA-256 hashes in <data>/secrets/tokens.json
 * (0600) — except the admin token, which is HOMELAB_ADMIN_TOKEN or generated once into <data>/secrets/admin-token.
 * Sessions are server-side (see sessions.ts): logging out revokes one, deleting a token revokes its sessions.
 */
export class Auth {
  private tokens: TokenEntry[] = []
  private tokensMtime = -1
  private readonly tokensPath: string
  private readonly admin: { hash: Buffer }
  /** Where the generated admin token is, or null when it came from the environment. */
  readonly generatedAdminTokenPath: string | null
  readonly sessions: Sessions

  constructor(dataDir: string, adminToken: string | undefined, sessions: SessionOptions) {
    this.tokensPath = join(dataDir, 'secrets', 'tokens.json')
    this.sessions = new Sessions(openDb(join(dataDir, 'gateway', 'gateway.db'), GATEWAY_MIGRATIONS), sessions)
    let token = adminToken
    this.generatedAdminTokenPath = null
    if (!token) {
      const p = adminTokenPath(dataDir)
      if (!existsSync(p)) writeSecret(p, `${randomBytes(24).toString('base64url')}\n`)
      token = readFileSync(p, 'utf8').trim()
      this.generatedAdminTokenPath = p
    }
    this.admin = { hash: createHash('sha256').update(token).digest() }
  }

  private load(): TokenEntry[] {
    let mtime = 0
    try {
      mtime = statSync(this.tokensPath).mtimeMs
    } catch {
      this.tokens = []
      return this.tokens
    }
    if (mtime !== this.tokensMtime) {
      const parsed = TokensFile.safeParse(JSON.parse(readFileSync(this.tokensPath, 'utf8')))
      this.tokens = parsed.success ? parsed.data.tokens : []
      this.tokensMtime = mtime
    }
    return this.tokens
  }

  /** The principal a bearer token stands for, or null. */
  verifyToken(token: string): Principal | null {
    const h = createHash('sha256').update(token).digest()
    if (h.length === this.admin.hash.length && timingSafeEqual(h, this.admin.hash))
      return { id: 'admin', name: 'admin', role: 'admin' }
    const hex = h.toString('hex')
    const t = this.load().find((e) => timingSafeEqual(Buffer.from(e.hash), Buffer.from(hex)))
    return t ? { id: t.id, name: t.name, role: t.role } : null
  }

  private principalById(id: string): Principal | null {
    if (id === 'admin') return { id: 'admin', name: 'admin', role: 'admin' }
    const t = this.load().find((e) => e.id === id)
    return t ? { id: t.id, name: t.name, role: t.role } : null
  }

  /** A new session for the principal; the value goes in the cookie. */
  issueSession(p: Principal, now = Date.now()): string {
    return this.sessions.create(p.id, now)
  }

  /** The principal of a live session (its token, if not the admin, must still exist). */
  verifySession(cookie: string, now = Date.now()): Principal | null {
    const id = this.sessions.verify(cookie, now)
    return id === null ? null : this.principalById(id)
  }

  createToken(name: string, role: Role): { id: string; token: string } {
    const tokens = this.load()
    const id = randomBytes(6).toString('hex')
    const token = `hl_${randomBytes(24).toString('base64url')}`
    const entry: TokenEntry = { id, name, role, hash: sha256(token), createdAt: Date.now() }
    writeSecret(this.tokensPath, `${JSON.stringify({ tokens: [...tokens, entry] }, null, 2)}\n`)
    this.tokensMtime = -1
    return { id, token }
  }

  listTokens(): Array<Omit<TokenEntry, 'hash'>> {
    return this.load().map(({ hash: _h, ...rest }) => rest)
  }

  deleteToken(id: string): boolean {
    const tokens = this.load()
    const left = tokens.filter((t) => t.id !== id)
    if (left.length === tokens.length) return false
    writeSecret(this.tokensPath, `${JSON.stringify({ tokens: left }, null, 2)}\n`)
    this.tokensMtime = -1
    this.sessions.revokeAll(id)
    return true
  }
}

/** Counts failed logins per client address and refuses more than `limit` a minute. */
export class LoginLimiter {
  private readonly fails = new Map<string, number[]>()
  constructor(private readonly limit = 10) {}
  blocked(addr: string, now = Date.now()): boolean {
    const list = (this.fails.get(addr) ?? []).filter((t) => now - t < 60_000)
    this.fails.set(addr, list)
    return list.length >= this.limit
  }
  fail(addr: string, now = Date.now()): void {
    const list = this.fails.get(addr) ?? []
    list.push(now)
    this.fails.set(addr, list)
    if (this.fails.size > 10_000) this.fails.clear()
  }
}
