import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ApiError, Me, SessionInfo, TokenView, UsersResponse } from '@homelab/contracts'
import { afterEach, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { tempDir } from '../../../test/helpers/stack.js'
import {
  ADMIN,
  fromPeer,
  loginAs,
  PASSWORD,
  type TestApp,
  type TestAppOptions,
  testApp,
} from './route-test-kit.js'
import { LoginThrottle } from './throttle.js'

const apps: TestApp[] = []
afterEach(() => {
  for (const t of apps.splice(0)) t.dir.remove()
})
function app(o: TestAppOptions = {}): TestApp {
  const t = testApp(o)
  apps.push(t)
  return t
}
async function json<S extends z.ZodType>(res: Response, schema: S): Promise<z.infer<S>> {
  return schema.parse(await res.json())
}

const ORIGIN = { origin: 'http://pi:8080', host: 'pi:8080' }
const send = (method: string, body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json', ...ORIGIN, ...headers },
  body: JSON.stringify(body),
})
function login(t: TestApp, username: string, password: string, peer = '127.0.0.1', headers = {}) {
  return t.app.request('/api/auth/login', send('POST', { username, password }, headers), fromPeer(peer))
}
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })

describe('accounts and sessions', () => {
  it('logs in with a user name and password; an unknown user and a wrong password answer alike, at the same cost', async () => {
    const t = app()
    await t.deps.auth.accounts.add('alice', 'operator', PASSWORD)
    const ok = await login(t, 'alice', PASSWORD)
    expect(ok.status).toBe(200)
    expect(await json(ok, Me)).toStrictEqual({ name: 'alice', role: 'operator', via: 'password' })
    const cookie = ok.headers.get('set-cookie') ?? ''
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    expect(cookie).toMatch(/Path=\//)
    expect(cookie).not.toMatch(/Secure/)

    const timed = async (user: string, peer: string) => {
      const t0 = performance.now()
      const res = await login(t, user, 'not the password', peer)
      return { ms: performance.now() - t0, status: res.status, body: await res.json() }
    }
    await timed('nobody', '127.0.0.9') // the first unknown user also makes the dummy hash
    const wrong = await timed('alice', '127.0.0.2')
    const unknown = await timed('nobody', '127.0.0.3')
    expect(unknown.status).toBe(401)
    expect(wrong.status).toBe(401)
    expect(unknown.body).toStrictEqual(wrong.body)
    // Both paths run scrypt once (~tens of ms); answering an unknown user without it would take well under 1 ms.
    expect(wrong.ms).toBeGreaterThan(5)
    expect(unknown.ms).toBeGreaterThan(wrong.ms / 4)
    expect(t.audits.filter((a) => a.type === 'auth.login_failed')).toHaveLength(3)
    // What was typed as the name cannot forge a line in the log.
    expect((await login(t, 'x\nFAKE: admin logged in', 'y', '127.0.0.4')).status).toBe(401)
    expect(t.audits.at(-1)?.data.user).toBe('x?FAKE: admin logged in')
    expect(t.audits.find((a) => a.type === 'auth.login')?.data).toMatchObject({
      user: 'alice',
      via: 'password',
    })
    expect(t.deps.counters.snapshot()['auth.failed']).toBe(4)
  })

  it('ends a session when it is idle too long or too old, and a removed account or changed role counts at once', async () => {
    const t = app()
    const { cookie } = await loginAs(t, 'bob', 'operator')
    const value = cookie.split('=')[1]!
    const now = Date.now()
    expect(t.deps.auth.verifySession(value, now)?.role).toBe('operator')
    // The test app's sessions: 10 min idle, 1 h absolute.
    expect(t.deps.auth.verifySession(value, now + 11 * 60_000)).toBeNull()
    const again = (await loginAs(t, 'bob', 'operator')).cookie.split('=')[1]!
    let at = now
    for (let i = 0; i < 6; i++) {
      at += 9 * 60_000
      expect(t.deps.auth.verifySession(again, at), `after ${i + 1} × 9 min`).not.toBeNull()
    }
    expect(t.deps.auth.verifySession(again, now + 61 * 60_000)).toBeNull()

    const third = (await loginAs(t, 'bob', 'operator')).cookie
    await loginAs(t, 'root', 'admin')
    t.deps.auth.accounts.setRole('bob', 'viewer')
    const me = await t.app.request('/api/auth/me', { headers: { cookie: third } })
    expect((await json(me, Me)).role).toBe('viewer')
    const restart = await t.app.request(
      '/api/docker/containers/web/restart',
      { method: 'POST', headers: { cookie: third, ...ORIGIN } },
      fromPeer('127.0.0.1'),
    )
    expect(restart.status).toBe(403)
    t.deps.auth.accounts.remove('bob')
    expect((await t.app.request('/api/auth/me', { headers: { cookie: third } })).status).toBe(401)
  })

  it('admins manage users; the last admin cannot be demoted or removed; a reset password ends their sessions', async () => {
    const t = app()
    const admin = (await loginAs(t, 'root', 'admin')).cookie
    const as = (init: RequestInit) => ({
      ...init,
      headers: { ...(init.headers as Record<string, string>), cookie: admin },
    })
    const created = await t.app.request(
      '/api/users',
      as(send('POST', { name: 'carol', role: 'viewer', password: 'short' })),
    )
    expect(created.status).toBe(400)
    expect((await json(created, ApiError)).error.message).toMatch(/at least 10 characters/)
    expect(
      (
        await t.app.request(
          '/api/users',
          as(send('POST', { name: 'carol', role: 'viewer', password: PASSWORD })),
        )
      ).status,
    ).toBe(201)
    expect(
      (
        await t.app.request(
          '/api/users',
          as(send('POST', { name: 'CAROL', role: 'viewer', password: PASSWORD })),
        )
      ).status,
    ).toBe(409)
    const carol = (await loginAs(t, 'carol', 'viewer')).cookie
    // A viewer manages no one.
    expect((await t.app.request('/api/users', { headers: { cookie: carol } })).status).toBe(403)

    const list = await json(await t.app.request('/api/users', { headers: { cookie: admin } }), UsersResponse)
    expect(list.users.map((u) => [u.name, u.role, u.sessions])).toStrictEqual([
      ['carol', 'viewer', 1],
      ['root', 'admin', 1],
    ])
    const demote = await t.app.request('/api/users/root', as(send('PATCH', { role: 'operator' })))
    expect(demote.status).toBe(409)
    expect((await json(demote, ApiError)).error.message).toMatch(/last admin/)
    expect((await t.app.request('/api/users/root', as({ method: 'DELETE', headers: ORIGIN }))).status).toBe(
      409,
    )

    const reset = await t.app.request(
      '/api/users/carol',
      as(send('PATCH', { password: 'a brand new password' })),
    )
    expect(reset.status).toBe(200)
    expect((await t.app.request('/api/auth/me', { headers: { cookie: carol } })).status).toBe(401)
    expect((await login(t, 'carol', 'a brand new password')).status).toBe(200)
    expect((await t.app.request('/api/users/carol', as({ method: 'DELETE', headers: ORIGIN }))).status).toBe(
      200,
    )
    expect((await login(t, 'carol', 'a brand new password', '127.0.0.5')).status).toBe(401)
    expect(t.audits.map((a) => a.type)).toEqual(
      expect.arrayContaining(['user.created', 'user.changed', 'user.removed']),
    )
  })

  it('a user changes their own password with the current one; their other sessions end, this one is renewed', async () => {
    const t = app()
    const laptop = (await loginAs(t, 'dave', 'viewer')).cookie
    const phone = (await loginAs(t, 'dave', 'viewer')).cookie
    const change = (current: string) =>
      t.app.request(
        '/api/auth/password',
        { ...send('POST', { current, password: 'another good password' }, { cookie: laptop }) },
        fromPeer('127.0.0.1'),
      )
    expect((await change('wrong')).status).toBe(403)
    const ok = await change(PASSWORD)
    expect(ok.status).toBe(200)
    const renewed = `homelab_session=${/homelab_session=([^;]+)/.exec(ok.headers.get('set-cookie') ?? '')?.[1]}`
    expect((await t.app.request('/api/auth/me', { headers: { cookie: phone } })).status).toBe(401)
    expect((await t.app.request('/api/auth/me', { headers: { cookie: laptop } })).status).toBe(401)
    expect((await t.app.request('/api/auth/me', { headers: { cookie: renewed } })).status).toBe(200)
    // Log out everywhere.
    const all = await t.app.request('/api/auth/logout-all', {
      method: 'POST',
      headers: { cookie: renewed, ...ORIGIN },
    })
    expect(all.status).toBe(200)
    expect((await t.app.request('/api/auth/me', { headers: { cookie: renewed } })).status).toBe(401)
  })

  it('creates the first admin once with the setup code, and never again', async () => {
    const t = app()
    const info = await json(await t.app.request('/api/auth/session'), SessionInfo)
    expect(info).toStrictEqual({ user: null, setup: true, oidc: false })
    const code = t.deps.auth.pendingSetupCode()
    if (!code) throw new Error('no setup code')
    const setup = (c: string) =>
      t.app.request(
        '/api/auth/setup',
        send('POST', { code: c, username: 'owner', password: PASSWORD }),
        fromPeer('127.0.0.1'),
      )
    expect((await setup('x'.repeat(24))).status).toBe(401)
    const ok = await setup(code)
    expect(ok.status).toBe(201)
    expect(await json(ok, Me)).toStrictEqual({ name: 'owner', role: 'admin', via: 'password' })
    expect(ok.headers.get('set-cookie')).toMatch(/homelab_session=/)
    expect((await setup(code)).status).toBe(409)
    expect((await json(await t.app.request('/api/auth/session'), SessionInfo)).setup).toBe(false)
  })
})

describe('API tokens', () => {
  it('are made per user with no more than their role, act with no more than the owner has now, and end with them', async () => {
    const t = app()
    const erin = (await loginAs(t, 'erin', 'operator')).cookie
    const make = (role: string) =>
      t.app.request('/api/tokens', send('POST', { name: 'backup script', role }, { cookie: erin }))
    expect((await make('admin')).status).toBe(403)
    const res = await make('operator')
    expect(res.status).toBe(201)
    const created = TokenView.extend({ token: TokenView.shape.name }).parse(await res.json())
    expect(created.owner).toBe('erin')
    expect((await json(await t.app.request('/api/auth/me', bearer(created.token)), Me)).role).toBe('operator')
    // The token shows up in its owner's list without its secret; another user does not see it.
    const mine = await (await t.app.request('/api/tokens', { headers: { cookie: erin } })).json()
    expect(JSON.stringify(mine)).not.toContain(created.token)
    const frank = (await loginAs(t, 'frank', 'viewer')).cookie
    expect(await (await t.app.request('/api/tokens', { headers: { cookie: frank } })).json()).toStrictEqual({
      tokens: [],
    })
    expect(
      (
        await t.app.request(`/api/tokens/${created.id}`, {
          method: 'DELETE',
          headers: { cookie: frank, ...ORIGIN },
        })
      ).status,
    ).toBe(404)

    t.deps.auth.accounts.setRole('erin', 'viewer')
    expect((await json(await t.app.request('/api/auth/me', bearer(created.token)), Me)).role).toBe('viewer')
    // An API token does not open a browser session: only the break-glass token does.
    expect(
      (await t.app.request('/api/auth/login', send('POST', { token: created.token }), fromPeer('127.0.0.1')))
        .status,
    ).toBe(401)
    expect(
      (await t.app.request('/api/auth/login', send('POST', { token: ADMIN }), fromPeer('127.0.0.1'))).status,
    ).toBe(200)

    expect(
      (
        await t.app.request(`/api/tokens/${created.id}`, {
          method: 'DELETE',
          headers: { cookie: erin, ...ORIGIN },
        })
      ).status,
    ).toBe(200)
    expect((await t.app.request('/api/auth/me', bearer(created.token))).status).toBe(401)
    const second = t.deps.auth.accounts.createToken('erin', 'x', 'viewer')
    expect((await t.app.request('/api/auth/me', bearer(second.token))).status).toBe(200)
    await loginAs(t, 'root', 'admin')
    t.deps.auth.accounts.remove('erin')
    expect((await t.app.request('/api/auth/me', bearer(second.token))).status).toBe(401)
  })
})

describe('brute force', () => {
  it("backs off per account and address: the owner's own address is never locked out, nor is another address", async () => {
    const t = app({ throttle: new LoginThrottle({ freeTries: 3, perAddress: 8 }) })
    await t.deps.auth.accounts.add('gina', 'viewer', PASSWORD)
    const attacker = '127.0.0.66'
    for (let i = 0; i < 3; i++) expect((await login(t, 'gina', 'guess', attacker)).status).toBe(401)
    const fourth = await login(t, 'gina', 'guess', attacker)
    expect((await login(t, 'gina', 'guess', attacker)).status).toBe(429)
    expect(fourth.status).toBe(401)
    const refused = await login(t, 'gina', PASSWORD, attacker)
    expect(refused.status).toBe(429) // even the right password waits out the backoff from that address
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // The owner, from their own address, logs in at once.
    expect((await login(t, 'gina', PASSWORD, '127.0.0.7')).status).toBe(200)
    expect(t.deps.counters.snapshot()['auth.throttled']).toBe(2)
  })

  it('limits each address, where the address is the peer: a forged X-Forwarded-For from an untrusted peer changes nothing', async () => {
    const t = app({ throttle: new LoginThrottle({ perAddress: 4, freeTries: 100 }) })
    await t.deps.auth.accounts.add('hana', 'viewer', PASSWORD)
    for (let i = 0; i < 4; i++)
      expect(
        (await login(t, `user${i}`, 'x', '127.0.0.50', { 'x-forwarded-for': `10.0.0.${i}` })).status,
      ).toBe(401)
    expect((await login(t, 'hana', PASSWORD, '127.0.0.50', { 'x-forwarded-for': '10.9.9.9' })).status).toBe(
      429,
    )
    // Another address is not affected.
    expect((await login(t, 'hana', PASSWORD, '127.0.0.51')).status).toBe(200)
  })

  it('believes X-Forwarded-For and Forwarded only from a trusted proxy, taking the last address it did not add itself', async () => {
    const t = app({
      trustedProxies: '127.0.0.100/31',
      throttle: new LoginThrottle({ perAddress: 2, freeTries: 100 }),
    })
    await t.deps.auth.accounts.add('ivan', 'viewer', PASSWORD)
    const viaProxy = (xff: string) => login(t, 'ivan', 'x', '127.0.0.100', { 'x-forwarded-for': xff })
    // The client put a fake address first; the proxy appended the real one (203.0.113.5).
    expect((await viaProxy('1.2.3.4, 203.0.113.5')).status).toBe(401)
    expect((await viaProxy('5.6.7.8, 203.0.113.5')).status).toBe(401)
    expect((await viaProxy('9.9.9.9, 203.0.113.5')).status).toBe(429)
    // Another client behind the same proxy is not affected, nor is one named by the standard header.
    expect(
      (await login(t, 'ivan', PASSWORD, '127.0.0.101', { 'x-forwarded-for': '203.0.113.6' })).status,
    ).toBe(200)
    expect(
      (await login(t, 'ivan', PASSWORD, '127.0.0.100', { forwarded: 'for="[2001:db8::1]:4711";proto=https' }))
        .status,
    ).toBe(200)
    expect(t.audits.filter((a) => a.type === 'auth.login_failed').map((a) => a.data.address)).toStrictEqual([
      '203.0.113.5',
      '203.0.113.5',
    ])
  })
})

describe('forward auth', () => {
  const fa = {
    userHeader: 'Remote-User',
    groupsHeader: 'Remote-Groups',
    admin: ['admins'],
    operator: ['ops'],
  }

  it('takes the user and groups from a trusted proxy, and ignores (and counts) the same headers from anyone else', async () => {
    const t = app({ trustedProxies: '127.0.0.200', forwardAuth: fa })
    const asUser = (peer: string, groups: string) =>
      t.app.request(
        '/api/auth/me',
        { headers: { 'remote-user': 'jo', 'remote-groups': groups } },
        fromPeer(peer),
      )
    expect(await json(await asUser('127.0.0.200', 'family, ops'), Me)).toStrictEqual({
      name: 'jo',
      role: 'operator',
      via: 'proxy',
    })
    expect((await json(await asUser('127.0.0.200', 'admins'), Me)).role).toBe('admin')
    expect((await json(await asUser('127.0.0.200', 'family'), Me)).role).toBe('viewer')
    expect((await asUser('127.0.0.201', 'admins')).status).toBe(401)
    expect(t.deps.counters.snapshot()['auth.untrusted_header']).toBe(1)
    // A write authenticated by the proxy's header is a browser's: it needs this origin like a cookie does.
    const write = (origin: string) =>
      t.app.request(
        '/api/docker/containers/web/restart',
        { method: 'POST', headers: { 'remote-user': 'jo', 'remote-groups': 'ops', origin, host: 'pi:8080' } },
        fromPeer('127.0.0.200'),
      )
    expect((await write('https://evil.example')).status).toBe(403)
    expect((await write('http://pi:8080')).status).toBe(404) // past the login and origin checks: no such container
    // A proxy's user cannot take over a local account of the same name.
    await t.deps.auth.accounts.add('root', 'admin', PASSWORD)
    const takeover = await t.app.request(
      '/api/auth/me',
      { headers: { 'remote-user': 'root' } },
      fromPeer('127.0.0.200'),
    )
    expect(takeover.status).toBe(409)
  })
})

describe('base path', () => {
  it('serves the API under the prefix with cookies scoped to it, Secure when the trusted proxy says HTTPS', async () => {
    const t = app({ basePath: '/monitor', trustedProxies: '127.0.0.1' })
    await t.deps.auth.accounts.add('kim', 'viewer', PASSWORD)
    const res = await t.app.request(
      '/monitor/api/auth/login',
      send(
        'POST',
        { username: 'kim', password: PASSWORD },
        { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'home.example', origin: 'https://home.example' },
      ),
      fromPeer('127.0.0.1'),
    )
    expect(res.status).toBe(200)
    const cookie = res.headers.get('set-cookie') ?? ''
    expect(cookie).toMatch(/Path=\/monitor/)
    expect(cookie).toMatch(/Secure/)
    const session = `homelab_session=${/homelab_session=([^;]+)/.exec(cookie)?.[1]}`
    expect((await t.app.request('/monitor/api/auth/me', { headers: { cookie: session } })).status).toBe(200)
    expect((await t.app.request('/api/auth/me', { headers: { cookie: session } })).status).toBe(404)
    expect((await t.app.request('/monitor')).headers.get('location')).toBe('/monitor/')
  })

  it('writes the base path into the page wherever it is served, the prefix itself too', async () => {
    const web = tempDir()
    mkdirSync(join(web.path, 'assets'))
    writeFileSync(
      join(web.path, 'index.html'),
      '<!doctype html><html><head><title>x</title></head><body></body></html>',
    )
    const t = app({ basePath: '/monitor', webDir: web.path })
    for (const path of ['/monitor/', '/monitor/index.html', '/monitor/history', '/monitor/containers/web']) {
      const res = await t.app.request(path)
      expect(res.status, path).toBe(200)
      expect(await res.text(), path).toContain('<base href="/monitor/" />')
    }
    expect((await t.app.request('/')).headers.get('location')).toBe('/monitor/')
    web.remove()
  })
})
