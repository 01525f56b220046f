import { LoginRequest, Role } from '@homelab/contracts'
import { Hono } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { z } from 'zod'
import type { Env, GatewayDeps } from '../context.js'
import { ApiFailure, parseInput } from '../errors.js'
import { jsonBody, requireLogin, requireRole, requireSameOrigin, SESSION_COOKIE } from '../middleware.js'

export function authRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()
  app.post('/login', async (c) => {
    requireSameOrigin(c)
    const addr = c.req.header('x-forwarded-for')?.split(',')[0]?.trim() ?? 'local'
    if (deps.limiter.blocked(addr))
      throw new ApiFailure(429, 'too_many_requests', 'too many failed logins; wait a minute')
    const { token } = parseInput(LoginRequest, await jsonBody(c), 'body')
    const p = deps.auth.verifyToken(token)
    if (!p) {
      deps.limiter.fail(addr)
      deps.counters.inc('auth.failed')
      throw new ApiFailure(401, 'unauthorized', 'that token is not valid')
    }
    // A new session at every login (a cookie set before it is never reused), the old one revoked.
    const before = getCookie(c, SESSION_COOKIE)
    if (before) deps.auth.sessions.revoke(before)
    setCookie(c, SESSION_COOKIE, deps.auth.issueSession(p), {
      httpOnly: true,
      sameSite: 'Strict',
      secure: deps.secureCookies,
      path: '/',
      maxAge: Math.floor(deps.sessionTtlMs / 1000),
    })
    return c.json({ name: p.name, role: p.role })
  })
  // Logging out revokes the session on the server: the cookie is worthless from then on, wherever it was copied.
  app.post('/logout', (c) => {
    requireSameOrigin(c)
    const cookie = getCookie(c, SESSION_COOKIE)
    if (cookie) deps.auth.sessions.revoke(cookie)
    deleteCookie(c, SESSION_COOKIE, { path: '/' })
    return c.json({ ok: true })
  })
  // For the web app: 200 whether or not logged in, so a first visit logs no failed request.
  app.get('/session', (c) => {
    const cookie = getCookie(c, SESSION_COOKIE)
    const p = cookie ? deps.auth.verifySession(cookie) : null
    return c.json({ user: p ? { name: p.name, role: p.role } : null })
  })
  app.get('/me', requireLogin(deps), (c) => {
    const p = c.get('principal')
    return c.json({ name: p.name, role: p.role })
  })
  return app
}

const NewToken = z.object({ name: z.string().min(1).max(64), role: Role }).strict()

export function tokenRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()
  app.use('*', requireLogin(deps), requireRole('admin'))
  app.get('/', (c) => c.json({ tokens: deps.auth.listTokens() }))
  app.post('/', async (c) => {
    const t = parseInput(NewToken, await jsonBody(c), 'body')
    const created = deps.auth.createToken(t.name, t.role)
    deps.log.info(`token "${t.name}" (${t.role}) created by ${c.get('principal').name}`)
    return c.json({ id: created.id, name: t.name, role: t.role, token: created.token }, 201)
  })
  app.delete('/:id', (c) => {
    if (!deps.auth.deleteToken(c.req.param('id')))
      throw new ApiFailure(404, 'not_found', 'no token with that id')
    return c.json({ ok: true })
  })
  return app
}
