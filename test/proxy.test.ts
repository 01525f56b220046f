import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import type { Gateway } from '@homelab/gateway'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildWeb, launchChromium } from './helpers/browser.js'
import { chromiumPath, describeWith } from './helpers/infra.js'
import { freePort } from './helpers/net.js'
import { nginxPath, startNginx } from './helpers/nginx.js'
import {
  HOST,
  startGateway,
  startRecorder,
  startSysCollector,
  startTestBroker,
  tempDir,
  waitFor,
} from './helpers/stack.js'

const exe = chromiumPath()
const ADMIN = 'admin-token-for-proxy-tests-00001'
const PASSWORD = 'a password behind the proxy'
const cleanups: Array<() => Promise<void> | void> = []

/**
 * The dashboard behind a real nginx on loopback: at / with a password login, and at /monitor/ with forward auth
 * (nginx's auth_request asking a stand-in for Authelia, which cannot run here, and passing Remote-User/Remote-Groups).
 * nginx connects to the gateway from 127.0.0.3, the only trusted proxy; the browser connects from 127.0.0.1.
 */
describeWith(
  'nginx and Chromium',
  exe !== null && nginxPath() !== null,
  'Install them with `apt-get install -y nginx-light chromium`.',
)('the dashboard behind a reverse proxy (nginx), at / and under /monitor/', () => {
  let dir: ReturnType<typeof tempDir>
  let broker: Awaited<ReturnType<typeof startTestBroker>>
  let browser: Browser
  let authServer: Server
  let authPort = 0
  const errors: string[] = []

  beforeAll(async () => {
    dir = tempDir()
    cleanups.push(dir.remove)
    await buildWeb(join(dir.path, 'web'))
    broker = await startTestBroker(dir.path)
    cleanups.push(() => broker.broker.stop())
    const rec = startRecorder(dir.path, broker.url, 'recorder', broker.credentials.recorder)
    cleanups.push(() => rec.stop())
    await rec.conn.whenConnected()
    const sys = await startSysCollector(
      broker.url,
      'sys-collector',
      broker.credentials['sys-collector'],
      1000,
    )
    cleanups.push(() => sys.stop())
    // The forward-auth stand-in: whoever brings its session cookie is fiona, in the admins group.
    authServer = createServer((req, res) => {
      if ((req.headers.cookie ?? '').includes('sso_session=fiona')) {
        res.writeHead(200, { 'Remote-User': 'fiona', 'Remote-Groups': 'family,admins' })
      } else res.writeHead(401)
      res.end()
    })
    await new Promise<void>((r) => authServer.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => new Promise<void>((r) => authServer.close(() => r())))
    const a = authServer.address()
    authPort = typeof a === 'object' && a ? a.port : 0
    browser = await launchChromium()
    cleanups.push(() => browser.close())
  })

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function gateway(extra: Record<string, string>): Promise<Gateway> {
    const gw = await startGateway(
      dir.path,
      broker.url,
      'gateway',
      broker.credentials.gateway,
      ADMIN,
      join(dir.path, 'web'),
      1500,
      { HOMELAB_TRUSTED_PROXIES: '127.0.0.3', ...extra },
    )
    await gw.start()
    return gw
  }

  const location = (gwPort: number) => `
      proxy_pass http://127.0.0.1:${gwPort};
      proxy_bind 127.0.0.3;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;`

  async function page(url: string): Promise<Page> {
    const p = await (await browser.newContext()).newPage()
    p.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} (${m.location().url})`))
    p.on('pageerror', (e) => errors.push(String(e)))
    await p.goto(url)
    return p
  }

  /** The live tiles change: the stream reaches the browser through the proxy as it is written. */
  async function liveThroughProxy(p: Page): Promise<void> {
    await p.waitForSelector('[data-testid=tile-cpu-value]', { timeout: 20_000 })
    const read = () => p.$$eval('[data-testid$=-value]', (els) => els.map((e) => e.textContent).join('|'))
    const first = await read()
    await expect.poll(read, { timeout: 15_000, interval: 500 }).not.toBe(first)
  }

  it('at /: logs in with a password through the proxy, live, with the client address the proxy saw (a spoofed one ignored)', async () => {
    const gw = await gateway({})
    cleanups.push(() => gw.stop())
    await gw.auth.accounts.add('owner', 'admin', PASSWORD)
    const port = await freePort()
    const nginx = await startNginx(
      join(dir.path, 'nginx-root'),
      `server { listen 127.0.0.1:${port}; location / { ${location(gw.port)} } }`,
      [port],
    )
    cleanups.push(() => nginx.stop())
    const base = `http://127.0.0.1:${port}`
    const p = await page(base)
    await p.setExtraHTTPHeaders({ 'X-Forwarded-For': '6.6.6.6' })
    await p.fill('#username', 'owner')
    await p.fill('#password', PASSWORD)
    await p.click('button[type=submit]')
    await liveThroughProxy(p)
    // The login is an event in the log, from the browser's own address: nginx appended it after the spoofed one.
    const login = await waitFor(async () => {
      const r = await fetch(`${base}/api/events?host=${HOST}&type=auth.login`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      })
      const body: { events: Array<{ data: { user?: string; address?: string } }> } = await r.json()
      return body.events.find((e) => e.data.user === 'owner')
    })
    expect(login.data.address).toBe('127.0.0.1')
    const cookies = await p.context().cookies()
    expect(cookies.find((c) => c.name === 'homelab_session')).toMatchObject({
      path: '/',
      httpOnly: true,
      sameSite: 'Strict',
    })
    // One small message on a quiet stream arrives at once (nginx would hold it without the gateway's
    // X-Accel-Buffering: no: the answer's headers came only with the first keep-alive ping, 15 s later).
    const opened = Date.now()
    const stream = await fetch(`${base}/api/live?host=quiet-host`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    })
    const reader = stream.body?.getReader()
    if (!reader) throw new Error('no stream')
    gw.conn.publishEvent({
      type: 'test.ping',
      severity: 'info',
      subject: 'ping',
      message: 'ping',
      data: {},
      host: 'quiet-host',
    })
    let got = ''
    while (!got.includes('test.ping')) {
      const chunk = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`nothing after 3 s: ${got}`)), 3000),
        ),
      ])
      if (chunk.done) break
      got += new TextDecoder().decode(chunk.value)
    }
    expect(got).toContain('test.ping')
    expect(Date.now() - opened).toBeLessThan(3000)
    await reader.cancel()
    expect(errors).toStrictEqual([])
    await p.context().close()
    await nginx.stop()
    await gw.stop()
  })

  it('at /monitor/: forward auth from the trusted proxy logs fiona in as admin, live; the same header straight to the gateway counts for nothing', async () => {
    const gw = await gateway({
      HOMELAB_BASE_PATH: '/monitor',
      HOMELAB_AUTH_HEADER: 'Remote-User',
      HOMELAB_AUTH_GROUPS_HEADER: 'Remote-Groups',
      HOMELAB_AUTH_ADMIN_GROUPS: 'admins',
    })
    cleanups.push(() => gw.stop())
    const port = await freePort()
    const nginx = await startNginx(
      join(dir.path, 'nginx-monitor'),
      `server {
        listen 127.0.0.1:${port};
        location = /sso-verify {
          internal;
          proxy_pass http://127.0.0.1:${authPort}/verify;
          proxy_pass_request_body off;
          proxy_set_header Content-Length "";
        }
        location /monitor/ {
          auth_request /sso-verify;
          auth_request_set $sso_user $upstream_http_remote_user;
          auth_request_set $sso_groups $upstream_http_remote_groups;
          proxy_set_header Remote-User $sso_user;
          proxy_set_header Remote-Groups $sso_groups;
          ${location(gw.port)}
        }
      }`,
      [port],
    )
    cleanups.push(() => nginx.stop())
    const base = `http://127.0.0.1:${port}`
    // Without the single sign-on session, the proxy refuses.
    expect((await fetch(`${base}/monitor/`)).status).toBe(401)
    const ctx = await browser.newContext()
    await ctx.addCookies([{ name: 'sso_session', value: 'fiona', url: base }])
    const p = await ctx.newPage()
    p.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} (${m.location().url})`))
    await p.goto(`${base}/monitor/`)
    await liveThroughProxy(p)
    expect(await p.textContent('[data-testid=account-link]')).toBe('fiona (admin)')
    // Links, assets and API calls stay under the prefix.
    await p.click('text=History')
    expect(new URL(p.url()).pathname).toBe('/monitor/history')
    await p.reload()
    await p.waitForSelector('[data-testid=history-meta]')
    const assets = await p.$$eval('script[src]', (els) =>
      els.map((e) => (e instanceof HTMLScriptElement ? e.src : '')),
    )
    expect(assets.every((a) => new URL(a).pathname.startsWith('/monitor/assets/'))).toBe(true)
    // Straight to the gateway (not through the trusted proxy), the same header is ignored, and counted.
    const direct = await fetch(`http://127.0.0.1:${gw.port}/monitor/api/auth/me`, {
      headers: { 'Remote-User': 'fiona', 'Remote-Groups': 'admins' },
    })
    expect(direct.status).toBe(401)
    expect(errors).toStrictEqual([])
    await p.context().close()
    await nginx.stop()
    await gw.stop()
  })
})
