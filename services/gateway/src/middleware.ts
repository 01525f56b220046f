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
      // Cookie-authenticated writes must be same-origin JSON (SameSite=Strict already stops cross-site cookies).
      if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
        const origin = c.req.header('origin')
        const host = c.req.header('host')
        if (origin && host && new URL(origin).host !== host)
          throw new ApiFailure(403, 'forbidden', 'cross-origin request refused')
      }
    }
    c.set('principal', principal)
    await next()
  }
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
