import type { Role } from '@homelab/contracts'
import type { MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import { hasRole } from './auth.js'
import type { Env, GatewayDeps } from './context.js'
import { ApiFailure } from './errors.js'

export const SESSION_COOKIE = 'homelab_session'

/** Requires a login: a bearer token (scripts) or the session cookie (browser). */
export function requireLogin(deps: GatewayDeps): MiddlewareHandler<Env> {
  return async (c, next) => {
    const header = c.req.header('authorization')
    let principal = null
    if (header?.startsWith('Bearer ')) {
      principal = deps.auth.verifyToken(header.slice(7).trim())
      if (!principal) throw new ApiFailure(401, 'unauthorized', 'the bearer token is not valid')
    } else {
      const cookie = getCookie(c, SESSION_COOKIE)
      principal = cookie ? deps.auth.verifySession(cookie) : null
      if (!principal)
        throw new ApiFailure(
          401,
          'unauthorized',
          'log in first (POST /api/auth/login) or send a bearer token',
        )
      // Cookie-authenticated writes must come from this origin (SameSite=Strict already stops cross-site cookies;
      // this also refuses same-site pages on other ports and old browsers).
      if (c.req.method !== 'GET' && c.req.method !== 'HEAD') requireSameOrigin(c, true)
    }
    c.set('principal', principal)
    await next()
  }
}

/**
 * Refuses a request whose `Origin` is not this server's (403): one that names another site, `null` (a sandboxed
 * page, a data: URL) or something that is not an origin. With `required`, a request without `Origin` is refused too
 * — every browser sends it on a POST, PUT or DELETE, so only a forged request lacks it.
 */
export function requireSameOrigin(c: Parameters<MiddlewareHandler>[0], required = false): void {
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
  let host: string | null = null
  try {
    const u = new URL(origin)
    host = u.protocol === 'http:' || u.protocol === 'https:' ? u.host : null
  } catch {
    host = null
  }
  if (host === null || host !== c.req.header('host'))
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
export async function jsonBody(c: Parameters<MiddlewareHandler>[0]): Promise<unknown> {
  if (!(c.req.header('content-type') ?? '').includes('application/json')) {
    throw new ApiFailure(415, 'unsupported_media_type', 'send the body as application/json')
  }
  try {
    return await c.req.json()
  } catch {
    throw new ApiFailure(400, 'bad_request', 'the body is not valid JSON')
  }
}
