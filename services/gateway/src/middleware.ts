import type { Role } from '@homelab/contracts'
import type { Context, MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import { AccountConflict } from './accounts.js'
import { accountPrincipal, hasRole, type Principal } from './auth.js'
import type { Env, GatewayDeps } from './context.js'
import { ApiFailure } from './errors.js'
import { splitGroups } from './sso.js'

export const SESSION_COOKIE = 'homelab_session'

/** The socket's peer address ('unknown' when there is no socket: a request made in-process). */
export function peerOf(c: Context<Env>): string {
  return c.env?.incoming?.socket.remoteAddress ?? 'unknown'
}

/** The client's address: the peer, or what a trusted proxy says the client's address is. */
export function clientOf(deps: GatewayDeps, c: Context<Env>): string {
  return deps.proxies.client(peerOf(c), {
    forwardedFor: c.req.header('x-forwarded-for'),
    forwarded: c.req.header('forwarded'),
  })
}

/**
 * The user a trusted proxy vouches for (forward auth: Authelia, Authentik, oauth2-proxy…), or null. The header from
 * a peer that is not a trusted proxy is ignored and counted: anyone can send `Remote-User: admin`.
 */
function proxyUser(deps: GatewayDeps, c: Context<Env>): Principal | null {
  const fa = deps.forwardAuth
  if (!fa) return null
  const name = c.req.header(fa.userHeader)?.trim()
  if (!name) return null
  if (!deps.proxies.trusts(peerOf(c))) {
    deps.counters.inc('auth.untrusted_header')
    deps.log.once(
      `untrusted-header:${peerOf(c)}`,
      `ignoring ${fa.userHeader} from ${peerOf(c)}: it is not in HOMELAB_TRUSTED_PROXIES`,
    )
    return null
  }
  const role = fa.roles.roleOf(splitGroups(fa.groupsHeader ? c.req.header(fa.groupsHeader) : undefined))
  if (role === null)
    throw new ApiFailure(403, 'forbidden', `${name} is in none of the groups given a role here`)
  try {
    const u = deps.auth.accounts.upsertExternal(name.slice(0, 64), role)
    return accountPrincipal(u, 'proxy')
  } catch (e) {
    if (e instanceof AccountConflict)
      throw new ApiFailure(409, 'conflict', `${e.message}: the proxy's user cannot take it over`)
    throw e
  }
}

/** Who the browser is, by a trusted proxy's header or the session cookie; null when neither says. */
export function browserPrincipal(deps: GatewayDeps, c: Context<Env>): Principal | null {
  let p: Principal | null = null
  try {
    p = proxyUser(deps, c)
  } catch (e) {
    if (!(e instanceof ApiFailure)) throw e
  }
  if (p) return p
  const cookie = getCookie(c, SESSION_COOKIE)
  return cookie ? deps.auth.verifySession(cookie) : null
}

/**
 * Requires a login: a bearer token (scripts), a trusted proxy's user header (forward auth), or the session cookie
 * (browser). Writes by cookie or proxy header — what a browser sends by itself — must come from this origin.
 */
export function requireLogin(deps: GatewayDeps): MiddlewareHandler<Env> {
  return async (c, next) => {
    const header = c.req.header('authorization')
    let principal: Principal | null = null
    if (header?.startsWith('Bearer ')) {
      principal = deps.auth.verifyBearer(header.slice(7).trim())
      if (!principal) {
        deps.counters.inc('auth.bad_token')
        throw new ApiFailure(
          401,
          'unauthorized',
          'the bearer token is not valid (revoked, or its owner is gone)',
        )
      }
    } else {
      principal = proxyUser(deps, c)
      if (!principal) {
        const cookie = getCookie(c, SESSION_COOKIE)
        principal = cookie ? deps.auth.verifySession(cookie) : null
      }
      if (!principal)
        throw new ApiFailure(
          401,
          'unauthorized',
          'log in first (POST /api/auth/login) or send a bearer token',
        )
      if (c.req.method !== 'GET' && c.req.method !== 'HEAD') requireSameOrigin(deps, c, true)
    }
    c.set('principal', principal)
    await next()
  }
}

/**
 * Refuses a request whose `Origin` is not this server's (403): one that names another site, `null` (a sandboxed
 * page, a data: URL) or something that is not an origin. With `required`, a request without `Origin` is refused too
 * — every browser sends it on a POST, PUT or DELETE, so only a forged request lacks it. This server is the Host the
 * request names (the `X-Forwarded-Host` of a trusted proxy), or HOMELAB_PUBLIC_URL's origin.
 */
export function requireSameOrigin(deps: GatewayDeps, c: Context<Env>, required = false): void {
  const origin = c.req.header('origin')
  if (origin === undefined) {
    if (required)
      throw new ApiFailure(
        403,
        'forbidden',
        'a write with a session cookie needs an Origin header (send a bearer token from scripts)',
      )
    return
  }
  let u: URL | null = null
  try {
    u = new URL(origin)
  } catch {
    u = null
  }
  if (u && (u.protocol === 'http:' || u.protocol === 'https:')) {
    if (deps.publicOrigin !== null && u.origin === deps.publicOrigin) return
    const forwarded = deps.proxies.trusts(peerOf(c))
      ? c.req.header('x-forwarded-host')?.split(',')[0]?.trim()
      : undefined
    const host = forwarded ?? c.req.header('host')
    if (host !== undefined && u.host === host) return
  }
  deps.counters.inc('http.cross_origin')
  throw new ApiFailure(403, 'forbidden', 'cross-origin request refused')
}

export function requireRole(role: Role): MiddlewareHandler<Env> {
  return async (c, next) => {
    if (!hasRole(c.get('principal'), role))
      throw new ApiFailure(403, 'forbidden', `this needs the ${role} role`)
    await next()
  }
}

/** Reads a JSON body, answering 415/400 when it is not JSON. */
export async function jsonBody(c: Context<Env>): Promise<unknown> {
  if (!(c.req.header('content-type') ?? '').includes('application/json')) {
    throw new ApiFailure(415, 'unsupported_media_type', 'send the body as application/json')
  }
  try {
    return await c.req.json()
  } catch {
    throw new ApiFailure(400, 'bad_request', 'the body is not valid JSON')
  }
}
