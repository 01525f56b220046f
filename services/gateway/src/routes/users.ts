import {
  NewToken,
  NewUser,
  type Role,
  roleAtLeast,
  type TokenView,
  UserName,
  UserPatch,
} from '@homelab/contracts'
import { Hono } from 'hono'
import { AccountConflict } from '../accounts.js'
import type { Principal } from '../auth.js'
import type { Env, GatewayDeps } from '../context.js'
import { ApiFailure, parseInput } from '../errors.js'
import { clientOf, jsonBody, requireLogin, requireRole } from '../middleware.js'

/** Runs an account change, answering 409 with its message when the rules refuse it (the last admin, a name taken). */
async function conflicts<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f()
  } catch (e) {
    if (e instanceof AccountConflict) throw new ApiFailure(409, 'conflict', e.message)
    throw e
  }
}

/** Accounts, managed by admins (the CLI `npm run user` does the same on the database). */
export function userRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()
  app.use('*', requireLogin(deps), requireRole('admin'))
  const audit = (
    type: 'user.created' | 'user.changed' | 'user.removed',
    by: Principal,
    user: string,
    message: string,
    role?: Role,
  ) =>
    deps.audit({
      type,
      severity: 'info',
      subject: user,
      message,
      data: { user, by: by.name, ...(role ? { role } : {}) },
    })
  const nameParam = (raw: string) => parseInput(UserName, raw, 'user name')

  app.get('/', (c) =>
    c.json({
      users: deps.auth.accounts.list().map((u) => deps.auth.accounts.view(u, deps.auth.sessionCount(u))),
    }),
  )
  app.post('/', async (c) => {
    const body = parseInput(NewUser, await jsonBody(c), 'body')
    const u = await conflicts(() => deps.auth.accounts.add(body.name, body.role, body.password))
    const by = c.get('principal')
    audit('user.created', by, u.name, `${u.name} (${u.role}) created by ${by.name}`, u.role)
    return c.json(deps.auth.accounts.view(u, 0), 201)
  })
  app.patch('/:name', async (c) => {
    const name = nameParam(c.req.param('name'))
    const patch = parseInput(UserPatch, await jsonBody(c), 'body')
    const by = c.get('principal')
    if (!deps.auth.accounts.get(name)) throw new ApiFailure(404, 'not_found', `no user named "${name}"`)
    if (patch.role) await conflicts(() => deps.auth.accounts.setRole(name, patch.role!))
    if (patch.password) {
      await conflicts(() => deps.auth.accounts.setPassword(name, patch.password!))
      // A password set by an admin (a reset) ends the user's sessions: whoever had it is out.
      deps.auth.endSessionsOf(name)
    }
    const u = deps.auth.accounts.get(name)!
    const what = [patch.role ? `role ${patch.role}` : '', patch.password ? 'password reset' : '']
      .filter(Boolean)
      .join(', ')
    audit('user.changed', by, u.name, `${u.name}: ${what} by ${by.name}`, u.role)
    return c.json(deps.auth.accounts.view(u, deps.auth.sessionCount(u)))
  })
  app.delete('/:name', async (c) => {
    const name = nameParam(c.req.param('name'))
    const by = c.get('principal')
    const u = deps.auth.accounts.get(name)
    if (!u || !(await conflicts(() => deps.auth.accounts.remove(name))))
      throw new ApiFailure(404, 'not_found', `no user named "${name}"`)
    deps.auth.endSessionsOf(u.name)
    audit('user.removed', by, u.name, `${u.name} removed by ${by.name}`)
    return c.json({ ok: true })
  })
  return app
}

/**
 * API tokens for scripts. Anyone logged in makes their own, with a role no higher than theirs (it acts for them,
 * and never with more than they have now); each sees and revokes their own, admins every token.
 */
export function tokenRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()
  app.use('*', requireLogin(deps))
  const mine = (p: Principal, t: TokenView) =>
    p.role === 'admin' || (p.account !== null && t.owner?.toLowerCase() === p.account.toLowerCase())

  app.get('/', (c) => {
    const p = c.get('principal')
    return c.json({ tokens: deps.auth.accounts.tokens().filter((t) => mine(p, t)) })
  })
  app.post('/', async (c) => {
    const p = c.get('principal')
    const t = parseInput(NewToken, await jsonBody(c), 'body')
    if (!roleAtLeast(p.role, t.role))
      throw new ApiFailure(403, 'forbidden', `a token cannot have more than your role (${p.role})`)
    const created = deps.auth.accounts.createToken(p.account, t.name, t.role)
    deps.log.info(`token "${t.name}" (${t.role}) created by ${p.name}`)
    deps.audit({
      type: 'token.created',
      severity: 'info',
      subject: p.name,
      message: `token "${t.name}" (${t.role}) created by ${p.name} from ${clientOf(deps, c)}`,
      data: { user: p.account ?? p.name, by: p.name, role: t.role, token: created.id },
    })
    return c.json(created, 201)
  })
  app.delete('/:id', (c) => {
    const p = c.get('principal')
    const id = c.req.param('id')
    const t = deps.auth.accounts.tokens().find((x) => x.id === id)
    if (!t || !mine(p, t) || !deps.auth.accounts.removeToken(id))
      throw new ApiFailure(404, 'not_found', 'no token of yours with that id')
    deps.audit({
      type: 'token.revoked',
      severity: 'info',
      subject: t.owner ?? t.name,
      message: `token "${t.name}" revoked by ${p.name}`,
      data: { user: t.owner ?? t.name, by: p.name, token: t.id },
    })
    return c.json({ ok: true })
  })
  return app
}
