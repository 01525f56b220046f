import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import type { Gateway } from '@homelab/gateway'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildWeb, launchChromium } from './helpers/browser.js'
import { chromiumPath, describeWith } from './helpers/infra.js'
import { freePort } from './helpers/net.js'
import { startIssuer, type TestIssuer } from './helpers/oidc-provider.js'
import { startGateway, startTestBroker, tempDir } from './helpers/stack.js'

const exe = chromiumPath()
const ADMIN = 'admin-token-for-access-tests-0001'
const PASSWORD = 'the first admin password'
const cleanups: Array<() => Promise<void> | void> = []

describeWith(
  'Chromium',
  exe !== null,
  'Install it with `apt-get install -y chromium` (or set CHROMIUM_PATH).',
)('access in a real browser: first admin, accounts, tokens, cross-site safety, single sign-on', () => {
  let base = ''
  let gw: Gateway
  let browser: Browser
  let issuer: TestIssuer
  const errors: string[] = []

  beforeAll(async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    await buildWeb(join(dir.path, 'web'))
    const b = await startTestBroker(dir.path)
    cleanups.push(() => b.broker.stop())
    const port = await freePort()
    base = `http://127.0.0.1:${port}`
    issuer = await startIssuer(`${base}/api/auth/oidc/callback`)
    cleanups.push(() => issuer.stop())
    gw = await startGateway(
      dir.path,
      b.url,
      'gateway',
      b.credentials.gateway,
      ADMIN,
      join(dir.path, 'web'),
      1500,
      {
        HOMELAB_PORT: String(port),
        HOMELAB_PUBLIC_URL: base,
        HOMELAB_OIDC_ISSUER: issuer.issuer,
        HOMELAB_OIDC_CLIENT_ID: issuer.clientId,
        HOMELAB_OIDC_CLIENT_SECRET: issuer.clientSecret,
        HOMELAB_AUTH_ADMIN_GROUPS: 'homelab-admins',
        HOMELAB_AUTH_OPERATOR_GROUPS: 'homelab-ops',
      },
    )
    await gw.start()
    cleanups.push(() => gw.stop())
    browser = await launchChromium()
    cleanups.push(() => browser.close())
  })

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function open(path = '/'): Promise<Page> {
    const page = await (await browser.newContext()).newPage()
    page.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} (${m.location().url})`))
    page.on('pageerror', (e) => errors.push(String(e)))
    page.on('dialog', (d) => void d.accept(d.type() === 'prompt' ? 'a reset password 123' : undefined))
    await page.goto(`${base}${path}`)
    return page
  }

  async function logIn(page: Page, user: string, password: string): Promise<void> {
    await page.fill('#username', user)
    await page.fill('#password', password)
    await page.click('button[type=submit]')
    await expect
      .poll(() => page.textContent('[data-testid=account-link]'), { timeout: 10_000 })
      .toContain(user)
  }

  it('creates the first admin from the setup link, then manages users and tokens from the dashboard', async () => {
    const page = await open()
    await page.waitForSelector('[data-testid=setup-needed]')
    const code = gw.auth.pendingSetupCode()
    expect(code).not.toBeNull()
    await page.goto(`${base}/setup#${code}`)
    await page.fill('#username', 'owner')
    await page.fill('#new-password', PASSWORD)
    await page.fill('#again', PASSWORD)
    await page.click('button[type=submit]')
    // The first run offers a notification channel next; this owner skips it.
    await page.click('[data-testid=setup-finish]')
    await expect.poll(() => page.textContent('[data-testid=account-link]')).toBe('owner (admin)')
    expect(gw.auth.pendingSetupCode()).toBeNull()

    // Users: add a viewer.
    await page.click('text=Users')
    await page.fill('[data-testid=add-user] [aria-label="user name"]', 'vera')
    await page.fill('[data-testid=add-user] [aria-label=password]', 'vera has a long password')
    await page.click('[data-testid=add-user] button[type=submit]')
    await page.waitForSelector('[data-testid=user-vera]')
    expect(await page.textContent('[data-testid=user-vera]')).toContain('never')

    // Account: a token for a script, shown once, that works as a bearer token.
    await page.click('[data-testid=account-link]')
    await page.fill('[aria-label="token name"]', 'backup')
    await page.click('[data-testid=tokens] button[type=submit]')
    const token = (await page.textContent('[data-testid=new-token] code')) ?? ''
    expect(token).toMatch(/^hl_/)
    const me = await fetch(`${base}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(await me.json()).toStrictEqual({ name: 'owner', role: 'viewer', via: 'token' })
    await page.reload()
    await page.waitForSelector('[data-testid=token-backup]')
    expect(await page.content()).not.toContain(token)

    // Log out; the viewer logs in and sees no Users page.
    await page.click('text=Log out')
    await page.waitForSelector('[data-testid=login-form]')
    await logIn(page, 'vera', 'vera has a long password')
    expect(await page.textContent('[data-testid=account-link]')).toBe('vera (viewer)')
    expect(await page.$('header >> text=Users')).toBeNull()
    // No recorder runs here: the Overview's history answers 503 (no database yet), as it should.
    expect(errors.filter((e) => !/401|\/api\/history/.test(e))).toStrictEqual([])
    await page.context().close()
  })

  it('refuses a cross-site form POST that would restart a container, with the session cookie the browser sends along', async () => {
    const page = await open()
    await logIn(page, 'owner', PASSWORD)
    // Another site on this machine (another port is another origin; the cookie still goes along: same site).
    const evil: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html')
      res.end(
        `<form id="f" method="POST" action="${base}/api/docker/containers/web/restart?host=x"><input name="a" value="1"></form><script>document.getElementById('f').submit()</script>`,
      )
    })
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => new Promise<void>((r) => evil.close(() => r())))
    const address = evil.address()
    const evilPort = typeof address === 'object' && address ? address.port : 0
    const answer = page.waitForResponse((r) => r.url().includes('/containers/web/restart'))
    await page.goto(`http://127.0.0.1:${evilPort}/`)
    const res = await answer
    expect(res.request().headers().cookie ?? (await res.request().allHeaders()).cookie).toContain(
      'homelab_session=',
    )
    expect(res.status()).toBe(403)
    expect(await res.text()).toContain('cross-origin request refused')
    await page.context().close()
  })

  it('logs in through a real OIDC provider with PKCE, the groups claim giving the role', async () => {
    const page = await open()
    await page.click('[data-testid=sso-login]')
    await page.waitForSelector('input[name=login]')
    expect(new URL(page.url()).origin).toBe(issuer.issuer)
    await page.fill('input[name=login]', 'admin-alice')
    await page.fill('input[name=password]', 'anything')
    await page.click('button[type=submit]')
    await page.click('button[type=submit]:has-text("Continue")')
    await expect
      .poll(() => page.textContent('[data-testid=account-link]'), { timeout: 15_000 })
      .toBe('admin-alice (admin)')
    const me = await page.evaluate(() => fetch('api/auth/me').then((r) => r.json()))
    expect(me).toStrictEqual({ name: 'admin-alice', role: 'admin', via: 'oidc' })
    expect(gw.auth.accounts.get('admin-alice')?.source).toBe('sso')
    await page.context().close()
  })

  it('refuses a callback with a forged issuer, the same callback replayed, one from another browser, and an error', async () => {
    const page = await open()
    // Stop the browser at the provider's redirect back, to try the callback in ways it should not be used. (The
    // DevTools protocol's Fetch domain sees requests that are redirects' targets, which page.route does not.)
    let callback = ''
    const cdp = await page.context().newCDPSession(page)
    cdp.on('Fetch.requestPaused', (e) => {
      callback = e.request.url
      void cdp.send('Fetch.failRequest', { requestId: e.requestId, errorReason: 'Aborted' })
    })
    await cdp.send('Fetch.enable', {
      patterns: [{ urlPattern: '*/api/auth/oidc/callback*', requestStage: 'Request' }],
    })
    await page.click('[data-testid=sso-login]')
    await page.fill('input[name=login]', 'ops-olga')
    await page.fill('input[name=password]', 'anything')
    await page.click('button[type=submit]')
    await page.click('button[type=submit]:has-text("Continue")', { noWaitAfter: true })
    await expect.poll(() => callback).toContain('code=')
    await cdp.send('Fetch.disable')
    const u = new URL(callback)
    expect(u.searchParams.get('iss')).toBe(issuer.issuer)

    const forged = new URL(callback)
    forged.searchParams.set('iss', 'http://127.0.0.1:1/evil')
    await page.goto(forged.href)
    const forgedAnswer = (await page.textContent('[data-testid=sso-error]')) ?? ''
    expect(forgedAnswer).toMatch(/did not pass the checks.*iss/i)
    // The state was spent by that attempt: the real callback now is a replay.
    await page.goto(callback)
    expect(await page.textContent('[data-testid=sso-error]')).toMatch(
      /not one this browser started|used already/,
    )

    // A callback opened in another browser (no state cookie) is refused too.
    const other = await open('/api/auth/oidc/callback?code=abc&state=def')
    expect(await other.textContent('[data-testid=sso-error]')).toMatch(/not one this browser started/)
    const denied = await open(
      '/api/auth/oidc/callback?error=access_denied&error_description=The+user+said+no',
    )
    expect(await denied.textContent('[data-testid=sso-error]')).toContain('The user said no')
    expect(gw.auth.accounts.get('ops-olga')).toBeNull()
    for (const p of [page, other, denied]) await p.context().close()
  })

  it("refuses a code the provider issued to another application (the gateway is not that code's audience)", async () => {
    const page = await open()
    // The browser is sent to the provider as the other application (client_id swapped in the gateway's redirect).
    await page.route(/\/api\/auth\/oidc\/login/, async (route) => {
      const r = await route.fetch({ maxRedirects: 0 })
      const to = new URL(r.headers().location ?? '')
      to.searchParams.set('client_id', 'other-app')
      await route.fulfill({ response: r, headers: { ...r.headers(), location: to.href } })
    })
    await page.click('[data-testid=sso-login]')
    await page.fill('input[name=login]', 'mallory')
    await page.fill('input[name=password]', 'anything')
    await page.click('button[type=submit]')
    await page.click('button[type=submit]:has-text("Continue")')
    await page.waitForSelector('[data-testid=sso-error]')
    expect(await page.textContent('[data-testid=sso-error]')).toMatch(
      /did not pass the checks.*(grant|client)/i,
    )
    expect(gw.auth.accounts.get('mallory')).toBeNull()
    await page.context().close()
  })
})
