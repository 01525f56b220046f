import { LoginRequest, type Me, PasswordChange, type SessionInfo, SetupRequest } from '@homelab/contracts'
import { type Context, Hono } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { AccountConflict } from '../accounts.js'
import { accountPrincipal, type Principal } from '../auth.js'
import type { Env, GatewayDeps } from '../context.js'
import { ApiFailure, parseInput } from '../errors.js'
import {
  browserPrincipal,
  clientOf,
  jsonBody,
  peerOf,
  requireLogin,
  requireSameOrigin,
  SESSION_COOKIE,
} from '../middleware.js'
import { OidcRefusal } from '../oidc.js'

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch,
  )

/** Control characters (newlines, escapes) replaced by `?`. */
const printable = (s: string) =>
  Array.from(s, (ch) => (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f ? '?' : ch)).join('')

const me = (p: Principal): Me => ({ name: p.name, role: p.role, via: p.via })

/** Whether the browser reached us over HTTPS (directly, or as a trusted proxy says). */
function overHttps(deps: GatewayDeps, c: Context<Env>): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true
  return (
    deps.proxies.trusts(peerOf(c)) && c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https'
  )
}

/** Sets a new session cookie for the principal, ending the session the browser had (a cookie is never reused). */
export function startSession(deps: GatewayDeps, c: Context<Env>, p: Principal): void {
  const before = getCookie(c, SESSION_COOKIE)
  if (before) deps.auth.sessions.revoke(before)
  setCookie(c, SESSION_COOKIE, deps.auth.issueSession(p), {
    httpOnly: true,
    sameSite: 'Strict',
    secure: deps.secureCookies || overHttps(deps, c),
    path: deps.basePath || '/',
    maxAge: Math.floor(deps.sessionTtlMs / 1000),
  })
}

function endSessionCookie(deps: GatewayDeps, c: Context<Env>): void {
  const cookie = getCookie(c, SESSION_COOKIE)
  if (cookie) deps.auth.sessions.revoke(cookie)
  deleteCookie(c, SESSION_COOKIE, { path: deps.basePath || '/' })
}

/** Refuses (429, with Retry-After) while this client must wait before trying this account again. */
function throttled(deps: GatewayDeps, c: Context<Env>, client: string, account: string): void {
  const wait = deps.throttle.waitMs(client, account)
  if (wait === 0) return
  deps.counters.inc('auth.throttled')
  c.header('Retry-After', String(Math.ceil(wait / 1000)))
  throw new ApiFailure(
    429,
    'too_many_requests',
    `too many failed logins; try again in ${Math.ceil(wait / 1000)} s`,
  )
}

export function authRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()
  const audit = (
    type: 'auth.login' | 'auth.login_failed' | 'auth.logout' | 'auth.logout_all' | 'auth.password_changed',
    user: string,
    message: string,
    extra: { via?: string; address?: string; reason?: string; role?: Principal['role'] } = {},
  ) =>
    deps.audit({
      type,
      severity: type === 'auth.login_failed' ? 'warning' : 'info',
      subject: user,
      message,
      data: { user, ...extra },
    })

  app.post('/login', async (c) => {
    requireSameOrigin(deps, c)
    const client = clientOf(deps, c)
    const body = parseInput(LoginRequest, await jsonBody(c), 'body')
    // What was typed as the user name goes into the log and the event: control characters cannot forge lines there.
    const account = 'token' in body ? '(admin token)' : printable(body.username)
    throttled(deps, c, client, account)
    let p: Principal | null
    if ('token' in body) {
      p = deps.auth.verifyBearer(body.token)
      // API tokens are for scripts; only the break-glass admin token opens a browser session.
      if (p && p.via !== 'break-glass') p = null
    } else p = await deps.auth.verifyPassword(body.username, body.password)
    if (!p) {
      deps.throttle.fail(client, account)
      deps.counters.inc('auth.failed')
      audit(
        'auth.login_failed',
        account.slice(0, 64),
        `failed login as ${account.slice(0, 64)} from ${client}`,
        {
          address: client,
          via: 'token' in body ? 'break-glass' : 'password',
        },
      )
      throw new ApiFailure(
        401,
        'unauthorized',
        'token' in body ? 'that token is not valid' : 'wrong user name or password',
      )
    }
    deps.throttle.succeed(client, account)
    startSession(deps, c, p)
    deps.counters.inc('auth.logins')
    audit('auth.login', p.name, `${p.name} logged in from ${client}`, {
      address: client,
      via: p.via,
      role: p.role,
    })
    return c.json(me(p))
  })

  // The first admin, with the one-time code `npm start` printed (only while no account exists).
  app.post('/setup', async (c) => {
    requireSameOrigin(deps, c, true)
    const client = clientOf(deps, c)
    throttled(deps, c, client, '(setup)')
    const body = parseInput(SetupRequest, await jsonBody(c), 'body')
    if (deps.auth.pendingSetupCode() === null)
      throw new ApiFailure(
        409,
        'conflict',
        'an account exists already: log in (setup is for the first admin only)',
      )
    const p = await deps.auth.setup(body.code, body.username, body.password)
    if (!p) {
      deps.throttle.fail(client, '(setup)')
      deps.counters.inc('auth.failed')
      throw new ApiFailure(401, 'unauthorized', 'that setup code is not valid (it is printed by `npm start`)')
    }
    deps.audit({
      type: 'user.created',
      severity: 'info',
      subject: p.name,
      message: `${p.name} (admin) created with the setup code from ${client}`,
      data: { user: p.name, role: 'admin', by: 'setup', address: client },
    })
    startSession(deps, c, p)
    return c.json(me(p), 201)
  })

  // Logging out revokes the session on the server: the cookie is worthless from then on, wherever it was copied.
  app.post('/logout', (c) => {
    requireSameOrigin(deps, c)
    const p = (() => {
      const cookie = getCookie(c, SESSION_COOKIE)
      return cookie ? deps.auth.verifySession(cookie) : null
    })()
    endSessionCookie(deps, c)
    if (p) audit('auth.logout', p.name, `${p.name} logged out`, { address: clientOf(deps, c) })
    return c.json({ ok: true })
  })

  // For the web app: 200 whether or not logged in, so a first visit logs no failed request.
  app.get('/session', (c) => {
    const p = browserPrincipal(deps, c)
    const info: SessionInfo = {
      user: p ? me(p) : null,
      setup: deps.auth.pendingSetupCode() !== null,
      oidc: deps.oidc !== null,
    }
    return c.json(info)
  })

  // OIDC: off to the provider, with a one-time state this browser must bring back (SameSite=Lax: the provider's
  // redirect back is a cross-site navigation, which a Strict cookie would not come with).
  const OIDC_COOKIE = 'homelab_oidc'
  const oidcCookiePath = `${deps.basePath}/api/auth/oidc`
  app.get('/oidc/login', async (c) => {
    if (!deps.oidc)
      throw new ApiFailure(404, 'not_found', 'single sign-on is not configured (HOMELAB_OIDC_ISSUER)')
    let started: { url: string; state: string }
    try {
      started = await deps.oidc.begin()
    } catch (e) {
      if (e instanceof OidcRefusal) return refusedPage(c, e.message, 502)
      throw e
    }
    setCookie(c, OIDC_COOKIE, started.state, {
      httpOnly: true,
      sameSite: 'Lax',
      secure: deps.secureCookies || overHttps(deps, c),
      path: oidcCookiePath,
      maxAge: 600,
    })
    return c.redirect(started.url, 302)
  })
  app.get('/oidc/callback', async (c) => {
    if (!deps.oidc)
      throw new ApiFailure(404, 'not_found', 'single sign-on is not configured (HOMELAB_OIDC_ISSUER)')
    const client = clientOf(deps, c)
    const state = getCookie(c, OIDC_COOKIE)
    deleteCookie(c, OIDC_COOKIE, { path: oidcCookiePath })
    try {
      const who = await deps.oidc.finish(new URL(c.req.url).search, state)
      let u: ReturnType<typeof deps.auth.accounts.upsertExternal>
      try {
        u = deps.auth.accounts.upsertExternal(who.name, who.role)
      } catch (e) {
        if (e instanceof AccountConflict)
          throw new OidcRefusal(
            `${e.message}: single sign-on cannot take it over (an admin can rename or remove it)`,
          )
        throw e
      }
      const p = accountPrincipal(u, 'oidc')
      startSession(deps, c, p)
      deps.counters.inc('auth.logins')
      audit('auth.login', p.name, `${p.name} logged in with single sign-on from ${client}`, {
        address: client,
        via: 'oidc',
        role: p.role,
      })
      return c.redirect(`${deps.basePath}/`, 302)
    } catch (e) {
      if (!(e instanceof OidcRefusal)) throw e
      deps.counters.inc('auth.failed')
      audit('auth.login_failed', '(single sign-on)', `single sign-on refused from ${client}: ${e.message}`, {
        address: client,
        via: 'oidc',
        reason: e.message,
      })
      return refusedPage(c, e.message, 400)
    }
  })

  const refusedPage = (c: Context<Env>, message: string, status: 400 | 502) =>
    c.html(
      `<!doctype html><meta charset="utf-8"><title>Login refused</title><main style="font:16px system-ui;margin:3em auto;max-width:40em"><h1>Single sign-on did not log you in</h1><p data-testid="sso-error">${escapeHtml(message)}</p><p><a href="${escapeHtml(deps.basePath)}/">Back to the login page</a></p></main>`,
      status,
    )

  app.get('/me', requireLogin(deps), (c) => c.json(me(c.get('principal'))))

  // Log out everywhere: every session of this account ends, this one too.
  app.post('/logout-all', requireLogin(deps), (c) => {
    const p = c.get('principal')
    const n = p.account !== null ? deps.auth.endSessionsOf(p.account) : deps.auth.sessions.revokeAll(p.id)
    endSessionCookie(deps, c)
    audit('auth.logout_all', p.name, `${p.name} logged out everywhere (${n} sessions)`, {
      address: clientOf(deps, c),
    })
    return c.json({ ok: true, sessions: n })
  })

  // A user changes their own password: the current one is checked (and throttled like a login); every other session
  // of theirs ends, and this one is replaced.
  app.post('/password', requireLogin(deps), async (c) => {
    const p = c.get('principal')
    const user = p.account !== null && p.via === 'password' ? deps.auth.accounts.get(p.account) : null
    if (user?.source !== 'local')
      throw new ApiFailure(
        403,
        'forbidden',
        'only an account with a password here can change it (log in with it)',
      )
    const body = parseInput(PasswordChange, await jsonBody(c), 'body')
    const client = clientOf(deps, c)
    throttled(deps, c, client, user.name)
    if (!(await deps.auth.verifyPassword(user.name, body.current))) {
      deps.throttle.fail(client, user.name)
      deps.counters.inc('auth.failed')
      throw new ApiFailure(403, 'forbidden', 'the current password is not right')
    }
    await deps.auth.accounts.setPassword(user.name, body.password)
    const cookie = getCookie(c, SESSION_COOKIE)
    if (cookie) deps.auth.sessions.revokeOthers(p.id, cookie)
    startSession(deps, c, p)
    audit('auth.password_changed', user.name, `${user.name} changed their password`, { address: client })
    return c.json({ ok: true })
  })
  return app
}
