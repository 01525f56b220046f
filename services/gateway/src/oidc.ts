import { type Role, UserName } from '@homelab/contracts'
import type { Logger } from '@homelab/service-kit'
import type { Configuration } from 'openid-client'
import { z } from 'zod'
import type { RoleMapping } from './sso.js'

export interface OidcSettings {
  issuer: URL
  clientId: string
  clientSecret: string | undefined
  /** Where the provider sends the browser back: HOMELAB_PUBLIC_URL + /api/auth/oidc/callback. */
  redirectUri: string
  scopes: string
  groupsClaim: string
  roles: RoleMapping
}

/** A single sign-on login refused, with what to tell the person (the callback answers it as a page). */
export class OidcRefusal extends Error {}

interface Pending {
  verifier: string
  nonce: string
  at: number
}

const PENDING_MS = 10 * 60_000
const MAX_PENDING = 1_000
const Claims = z.record(z.string(), z.unknown())

/** An openid-client error in words: its message and what caused it (the check that failed, the claim it saw). */
function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e)
  const cause = e.cause instanceof Error ? e.cause.message : ''
  const detail = z
    .object({ error_description: z.string().optional(), error: z.string().optional() })
    .safeParse(e.cause)
  const extra = cause || (detail.success ? (detail.data.error_description ?? detail.data.error ?? '') : '')
  return (extra && !e.message.includes(extra) ? `${e.message} (${extra})` : e.message).slice(0, 400)
}

const isLoopback = (u: URL) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(u.hostname)

/**
 * OIDC single sign-on: the authorization code flow with PKCE, a nonce and a state (openid-client, a certified
 * relying party: it checks the issuer, the audience, the signature, the nonce and RFC 9207's `iss`). Each login's
 * state is one-time and lives ten minutes; the browser that started it must bring it back in its cookie, so a
 * callback replayed, forged or opened in another browser is refused. The provider's groups claim maps to a role.
 * openid-client is loaded only when OIDC is configured.
 */
export class OidcLogin {
  private config: Configuration | null = null
  private readonly pending = new Map<string, Pending>()
  private lib: typeof import('openid-client') | null = null

  constructor(
    private readonly s: OidcSettings,
    private readonly log: Logger,
  ) {
    if (s.issuer.protocol !== 'https:' && !isLoopback(s.issuer))
      throw new Error(`HOMELAB_OIDC_ISSUER must be https:// (plain http only on loopback): ${s.issuer.href}`)
  }

  /** Reads the provider's metadata (at start, and again at a login while it has failed). */
  async discover(): Promise<Configuration> {
    if (this.config) return this.config
    this.lib ??= await import('openid-client')
    const lib = this.lib
    try {
      this.config = await lib.discovery(
        this.s.issuer,
        this.s.clientId,
        this.s.clientSecret,
        this.s.clientSecret ? lib.ClientSecretPost(this.s.clientSecret) : lib.None(),
        { execute: this.s.issuer.protocol === 'http:' ? [lib.allowInsecureRequests] : [], timeout: 10 },
      )
    } catch (e) {
      throw new OidcRefusal(
        `the provider ${this.s.issuer.href} cannot be reached or read: ${(e as Error).message}`,
      )
    }
    this.log.info(`OIDC: using ${this.s.issuer.href} as client ${this.s.clientId}`)
    return this.config
  }

  /** Starts a login: where to send the browser, and the state its cookie must bring back. */
  async begin(now = Date.now()): Promise<{ url: string; state: string }> {
    const config = await this.discover()
    const lib = this.lib!
    for (const [k, p] of this.pending)
      if (now - p.at > PENDING_MS || this.pending.size > MAX_PENDING) this.pending.delete(k)
    const verifier = lib.randomPKCECodeVerifier()
    const state = lib.randomState()
    const nonce = lib.randomNonce()
    this.pending.set(state, { verifier, nonce, at: now })
    const url = lib.buildAuthorizationUrl(config, {
      redirect_uri: this.s.redirectUri,
      scope: this.s.scopes,
      code_challenge: await lib.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    })
    return { url: url.href, state }
  }

  /**
   * Finishes a login from the callback's query and the state in the browser's cookie: the user's name and role. The
   * callback URL is the registered redirect URI with that query (behind a proxy the request's own URL differs).
   */
  async finish(
    query: string,
    cookieState: string | undefined,
    now = Date.now(),
  ): Promise<{ name: string; role: Role }> {
    const callback = new URL(this.s.redirectUri)
    callback.search = query
    const error = callback.searchParams.get('error')
    if (error) {
      const why = callback.searchParams.get('error_description') ?? error
      throw new OidcRefusal(`the provider refused the login: ${why.slice(0, 300)}`)
    }
    const state = callback.searchParams.get('state') ?? ''
    const p = this.pending.get(state)
    if (!p || state !== cookieState || now - p.at > PENDING_MS)
      throw new OidcRefusal(
        'this login link is not one this browser started, was used already, or is older than ten minutes: start again',
      )
    this.pending.delete(state) // one time, whatever happens next
    const config = await this.discover()
    const lib = this.lib!
    let claims: Record<string, unknown>
    try {
      const tokens = await lib.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: p.verifier,
        expectedNonce: p.nonce,
        expectedState: state,
        idTokenExpected: true,
      })
      claims = Claims.parse(tokens.claims() ?? {})
      const sub = typeof claims.sub === 'string' ? claims.sub : undefined
      if (sub && (claims[this.s.groupsClaim] === undefined || claims.preferred_username === undefined)) {
        const info = Claims.parse(await lib.fetchUserInfo(config, tokens.access_token, sub))
        claims = {
          ...info,
          ...claims,
          [this.s.groupsClaim]: claims[this.s.groupsClaim] ?? info[this.s.groupsClaim],
        }
      }
    } catch (e) {
      if (e instanceof OidcRefusal) throw e
      throw new OidcRefusal(`the provider's answer did not pass the checks: ${describe(e)}`)
    }
    const rawName = [claims.preferred_username, claims.email, claims.sub].find((v) => typeof v === 'string')
    const name = UserName.safeParse(rawName)
    if (!name.success)
      throw new OidcRefusal(`the provider's user name "${String(rawName).slice(0, 64)}" cannot be used here`)
    const g = claims[this.s.groupsClaim]
    const groups = Array.isArray(g)
      ? g.filter((x) => typeof x === 'string')
      : typeof g === 'string'
        ? [g]
        : []
    const role = this.s.roles.roleOf(groups)
    if (role === null) throw new OidcRefusal(`${name.data} is in none of the groups given a role here`)
    return { name: name.data, role }
  }
}
