import { createHash, randomBytes } from 'node:crypto'
import type { Db } from '@homelab/storage'

/** The gateway's own database: accounts, their API tokens, login sessions. Never edit a released migration. */
export const GATEWAY_MIGRATIONS: readonly string[] = [
  /* 1: sessions, by the hash of their cookie; a session is revoked by deleting its row. */ `
  CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX sessions_by_principal ON sessions (principal);
  `,
  /* 2: accounts and their API tokens. Sessions now name an account (`user:<name>`) or the break-glass token, and
     say how they were opened; the sessions of the token-only logins before accounts end (log in again). */ `
  CREATE TABLE users (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL,
    password TEXT,
    source TEXT NOT NULL DEFAULT 'local',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_login_at INTEGER
  ) WITHOUT ROWID;
  CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    owner TEXT COLLATE NOCASE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX api_tokens_by_owner ON api_tokens (owner);
  DELETE FROM sessions;
  ALTER TABLE sessions ADD COLUMN via TEXT NOT NULL DEFAULT 'password';
  `,
]

const hash = (token: string) => createHash('sha256').update(token).digest('hex')

export interface SessionOptions {
  /** Absolute lifetime from login. */
  ttlMs: number
  /** A session unused for this long ends. */
  idleMs: number
}

/**
 * Server-side login sessions: the cookie holds 32 random bytes; the database holds only their SHA-256, who they
 * belong to, and when they expire (absolute and idle). Logging out deletes the row, so a copied cookie is useless
 * from that moment on.
 */
export class Sessions {
  private readonly st

  constructor(
    db: Db,
    private readonly o: SessionOptions,
  ) {
    this.st = {
      add: db.prepare<[string, string, string, number, number, number]>(
        'INSERT INTO sessions (hash, principal, via, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      get: db.prepare<[string], { principal: string; via: string; last_seen: number; expires_at: number }>(
        'SELECT principal, via, last_seen, expires_at FROM sessions WHERE hash = ?',
      ),
      count: db.prepare<[string, number], { n: number }>(
        'SELECT count(*) AS n FROM sessions WHERE principal = ? AND expires_at > ?',
      ),
      delOthers: db.prepare<[string, string]>('DELETE FROM sessions WHERE principal = ? AND hash != ?'),
      touch: db.prepare<[number, string]>('UPDATE sessions SET last_seen = ? WHERE hash = ?'),
      del: db.prepare<[string]>('DELETE FROM sessions WHERE hash = ?'),
      delPrincipal: db.prepare<[string]>('DELETE FROM sessions WHERE principal = ?'),
      prune: db.prepare<[number, number]>('DELETE FROM sessions WHERE expires_at <= ? OR last_seen <= ?'),
    }
  }

  /** A new session for a principal; returns the cookie value (shown nowhere else). */
  create(principal: string, via: string, now = Date.now()): string {
    const token = randomBytes(32).toString('base64url')
    this.st.add.run(hash(token), principal, via, now, now, now + this.o.ttlMs)
    return token
  }

  /** The principal of a live session, or null (unknown, expired, idle too long, revoked). */
  verify(token: string, now = Date.now()): { principal: string; via: string } | null {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null
    const h = hash(token)
    const r = this.st.get.get(h)
    if (!r) return null
    if (r.expires_at <= now || r.last_seen + this.o.idleMs <= now) {
      this.st.del.run(h)
      return null
    }
    // Written at most once a minute: a dashboard's requests do not each cost a write.
    if (now - r.last_seen > 60_000) this.st.touch.run(now, h)
    return { principal: r.principal, via: r.via }
  }

  /** How many live sessions a principal has. */
  count(principal: string, now = Date.now()): number {
    return this.st.count.get(principal, now)?.n ?? 0
  }

  /** Ends every session of a principal but the one with this cookie (a password change keeps its own session). */
  revokeOthers(principal: string, keep: string): number {
    return this.st.delOthers.run(principal, hash(keep)).changes
  }

  revoke(token: string): void {
    this.st.del.run(hash(token))
  }

  /** Ends every session of a principal (log out everywhere; a removed token). */
  revokeAll(principal: string): number {
    return this.st.delPrincipal.run(principal).changes
  }

  prune(now = Date.now()): number {
    return this.st.prune.run(now, now - this.o.idleMs).changes
  }
}
