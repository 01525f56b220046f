import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildWeb, launchChromium } from './helpers/browser.js'
import { type FakeProviders, startFakeProviders } from './helpers/fake-providers.js'
import { chromiumPath, describeWith } from './helpers/infra.js'
import { startAlerter, startGateway, startRecorder, startTestBroker, tempDir } from './helpers/stack.js'

/**
 * Notification channels from the dashboard, in Chromium: the first-run screen that adds a channel and sends a test,
 * then the Alerts page's channel editor (a bad token's refusal shown, fixed, saved, routed, removed), against the
 * real gateway and alerter, with the providers' stand-ins answering.
 */
const exe = chromiumPath()
const ADMIN = 'admin-token-for-channel-tests-001'
const PASSWORD = 'a password for the channel tests'
const cleanups: Array<() => Promise<void> | void> = []

describeWith(
  'Chromium',
  exe !== null,
  'Install it with `apt-get install -y chromium` (or set CHROMIUM_PATH).',
)('notification channels in the dashboard', () => {
  let base = ''
  let browser: Browser
  let fake: FakeProviders
  let setupCode = ''
  let rulesFile = ''
  const errors: string[] = []

  beforeAll(async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    await buildWeb(join(dir.path, 'web'))
    fake = await startFakeProviders()
    cleanups.push(() => fake.close())
    const b = await startTestBroker(dir.path)
    cleanups.push(() => b.broker.stop())
    // The recorder keeps the command events the rules page lists as its audit.
    const rec = startRecorder(dir.path, b.url, 'recorder', b.credentials.recorder)
    cleanups.push(() => rec.stop())
    await rec.conn.whenConnected()
    const gw = await startGateway(
      dir.path,
      b.url,
      'gateway',
      b.credentials.gateway,
      ADMIN,
      join(dir.path, 'web'),
      8000,
    )
    await gw.start()
    cleanups.push(() => gw.stop())
    setupCode = gw.auth.pendingSetupCode() ?? ''
    base = `http://127.0.0.1:${gw.port}`
    const alerter = startAlerter(
      dir.path,
      b.url,
      b.credentials.alerter,
      { httpTimeoutMs: 2000 },
      { telegram: fake.url, discord: fake.url, slackHooks: fake.url, slackApi: fake.url, pushover: fake.url },
    )
    cleanups.push(() => alerter.stop())
    rulesFile = join(dir.path, 'alert-rules.json')
    browser = await launchChromium()
    cleanups.push(() => browser.close())
  })

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  const track = (page: Page) => {
    page.setDefaultTimeout(10_000)
    page.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} (${m.location().url})`))
    page.on('pageerror', (e) => errors.push(String(e)))
  }
  const rules = () => JSON.parse(readFileSync(rulesFile, 'utf8'))
  const host = () => fake.url.replace('http://', '')

  it('the first-run screen adds a channel and sends a test before the owner leaves it', async () => {
    expect(setupCode).not.toBe('')
    const page = await browser.newPage()
    track(page)
    await page.goto(`${base}/setup#${setupCode}`)
    await page.fill('#new-password', PASSWORD)
    await page.fill('#again', PASSWORD)
    await page.click('[data-testid=setup-form] button[type=submit]')
    await page.waitForSelector('[data-testid=setup-notify]')
    const { user, password } = fake.tokens.ntfy
    await page.fill(
      '[data-testid=channel-form] input[name=url]',
      `ntfy://${user}:${password}@${host()}/homelab?scheme=http`,
    )
    await page.click('[data-testid=try-channel]')
    await expect
      .poll(() => page.textContent('[data-testid=channel-form-answer]'), { timeout: 10_000 })
      .toMatch(/^test sent to phone: ntfy accepted message ntfy\d+$/)
    const test = fake.received.find((r) => r.provider === 'ntfy')
    expect(JSON.parse(test?.body ?? '{}')).toMatchObject({
      topic: 'homelab',
      title: expect.stringMatching(/^\[test\]/),
    })
    await page.click('[data-testid=channel-form] button[type=submit]')
    await expect
      .poll(() => page.textContent('[data-testid=setup-channel-saved]'), { timeout: 10_000 })
      .toMatch(
        /^channel phone: added, sending to ntfy:\/\/127\.0\.0\.1:\d+\/…, minimum severity warning, notified by default$/,
      )
    // In the rules file as the owner would have written it, the URL whole (the file is the owner's, mode 0600).
    expect(rules().channels.phone).toEqual({
      type: 'url',
      url: `ntfy://${user}:${password}@${host()}/homelab?scheme=http`,
      minSeverity: 'warning',
    })
    expect(rules().defaults.notify).toContain('phone')
    await page.click('[data-testid=setup-finish]')
    await page.waitForSelector('nav')
    await page.close()
  })

  it('the Alerts page lists channels with their health, and an admin adds, fixes, tests, routes and removes one', async () => {
    const page = await browser.newPage()
    track(page)
    await page.goto(`${base}/alerts`)
    await page.fill('#username', 'admin')
    await page.fill('#password', PASSWORD)
    await page.click('button[type=submit]')
    const phone = '[data-testid=channel][data-channel=phone]'
    await page.waitForSelector(phone, { timeout: 20_000 })
    // The URL is never shown whole: the topic and password stay out of the page.
    const row = (await page.textContent(phone)) ?? ''
    expect(row).toMatch(/phone.*ntfy/)
    expect(row).not.toContain(fake.tokens.ntfy.password)
    expect(row).not.toContain('homelab?')
    expect(await page.content()).not.toContain(fake.tokens.ntfy.password)
    // Nothing went through it yet (the first-run test was of the URL before it was saved); a test now makes it ok.
    expect(await page.textContent(`${phone} [data-testid=channel-health]`)).toBe('not used yet')
    await page.click(`${phone} [data-testid=test-channel]`)
    await expect
      .poll(() => page.textContent(`${phone} [data-testid=channel-test-answer]`), { timeout: 10_000 })
      .toMatch(/^test sent to phone: ntfy accepted message ntfy\d+$/)
    await expect
      .poll(() => page.textContent(`${phone} [data-testid=channel-health]`), { timeout: 10_000 })
      .toBe('ok')

    // A Gotify channel with a wrong token: the provider's refusal is shown on the form, before anything is saved.
    await page.click('[data-testid=add-channel]')
    const form = '[data-testid=channel-form]'
    await page.fill(`${form} input[name=name]`, 'gotify')
    await page.fill(`${form} input[name=url]`, `gotify://${host()}/Wrong.Token12?disabletls=yes`)
    await page.click(`${form} [data-testid=try-channel]`)
    await expect
      .poll(() => page.textContent(`${form} [data-testid=channel-form-answer]`), { timeout: 10_000 })
      .toMatch(
        /^test to gotify failed: Gotify answered HTTP 401: Unauthorized: you need to provide a valid access token/,
      )
    expect(rules().channels.gotify).toBeUndefined()
    // A malformed URL is refused with the part and the form expected.
    await page.fill(`${form} input[name=url]`, `gotify://${host()}/`)
    await page.click(`${form} button[type=submit]`)
    await expect
      .poll(() => page.textContent(`${form} [data-testid=channel-form-answer]`))
      .toMatch(/url: the application token \(the last path part\) is missing; expected gotify:\/\/<host>/)
    // Fixed: the test arrives, and it is saved with quiet hours, for critical alerts only, not as a default.
    await page.fill(`${form} input[name=url]`, `gotify://${host()}/${fake.tokens.gotify}?disabletls=yes`)
    await page.click(`${form} [data-testid=try-channel]`)
    await expect
      .poll(() => page.textContent(`${form} [data-testid=channel-form-answer]`), { timeout: 10_000 })
      .toMatch(/^test sent to gotify: Gotify stored message \d+$/)
    await page.selectOption(`${form} select[name=minSeverity]`, 'critical')
    await page.uncheck(`${form} input[name=default]`)
    await page.check(`${form} input[name=quiet]`)
    await page.fill(`${form} input[name=quietFrom]`, '23:00')
    await page.fill(`${form} input[name=quietTo]`, '06:30')
    await page.click(`${form} button[type=submit]`)
    const gotify = '[data-testid=channel][data-channel=gotify]'
    await page.waitForSelector(gotify, { timeout: 10_000 })
    expect(await page.textContent('[data-testid=alert-note]')).toMatch(
      /^channel gotify: added, sending to gotify:\/\/127\.0\.0\.1:\d+\/…, minimum severity critical, quiet 23:00–06:30 \(except critical\)$/,
    )
    expect(await page.textContent(gotify)).toContain('quiet 23:00–06:30')
    expect(rules().channels.gotify).toMatchObject({
      type: 'url',
      minSeverity: 'critical',
      quietHours: { from: '23:00', to: '06:30', except: 'critical' },
    })
    expect(rules().defaults.notify).not.toContain('gotify')

    // "Send a test" on the saved channel shows the provider's answer on its row.
    await page.click(`${gotify} [data-testid=test-channel]`)
    await expect
      .poll(() => page.textContent(`${gotify} [data-testid=channel-test-answer]`), { timeout: 10_000 })
      .toMatch(/^test sent to gotify: Gotify stored message \d+$/)

    // Route one rule to it alone.
    const rule = '[data-testid=rule][data-rule=cpu-high]'
    await page.click(`${rule} [data-testid=route-rule]`)
    await page.check(`${rule} input[name=route-gotify]`)
    await page.click(`${rule} [data-testid=rule-routing] button[type=submit]`)
    await expect
      .poll(() => page.textContent(`${rule} [data-testid=rule-routes]`), { timeout: 10_000 })
      .toMatch(/^gotify change/)
    expect(rules().rules.find((r: { id: string }) => r.id === 'cpu-high').notify).toEqual(['gotify'])
    // A channel a rule routes to is not removed behind its back.
    page.once('dialog', (d) => void d.accept())
    await page.click(`${gotify} [data-testid=remove-channel]`)
    await expect
      .poll(() => page.textContent('[data-testid=alert-note]'))
      .toBe('rules "cpu-high" notify "gotify"; route them elsewhere first')
    await page.click(`${rule} [data-testid=route-rule]`)
    await page.click(`${rule} [data-testid=rule-routing] button.ghost`)
    await expect.poll(() => page.textContent(`${rule} [data-testid=rule-routes]`)).toContain('(defaults)')
    page.once('dialog', (d) => void d.accept())
    await page.click(`${gotify} [data-testid=remove-channel]`)
    await expect.poll(() => page.$(gotify), { timeout: 10_000 }).toBeNull()
    expect(rules().channels.gotify).toBeUndefined()
    // Every change is in the audit, by whom.
    await expect
      .poll(() => page.textContent('[data-testid=rule-audit]'), { timeout: 10_000 })
      .toMatch(/channel gotify: removed/)
    expect(errors.filter((e) => !/status of 4\d\d/.test(e))).toEqual([])
    await page.close()
  })

  it('an operator creates rules from a form for any metric or event, and removes one', async () => {
    errors.length = 0
    const page = await browser.newPage()
    track(page)
    await page.goto(`${base}/alerts`)
    await page.fill('#username', 'admin')
    await page.fill('#password', PASSWORD)
    await page.click('button[type=submit]')
    await page.click('[data-testid=add-rule]')
    const form = '[data-testid=rule-form]'
    await page.fill(`${form} input[name=name]`, 'Media disk full')
    await page.selectOption(`${form} select[name=severity]`, 'critical')
    await page.selectOption(`${form} select[name=metric]`, 'fs.percent')
    await page.fill(`${form} input[name=label]`, '/srv*')
    await page.selectOption(`${form} select[name=op]`, '>=')
    // Refused by the alerter as the rules file would be: a percentage cannot pass 100.
    await page.fill(`${form} input[name=value]`, '150')
    await page.click(`${form} button[type=submit]`)
    await expect
      .poll(() => page.textContent('[data-testid=rule-form-error]'), { timeout: 10_000 })
      .toBe('value: fs.percent is a percentage: 150 is outside 0–100')
    await page.fill(`${form} input[name=value]`, '90')
    await page.fill(`${form} input[name=resolveValue]`, '85')
    await page.uncheck(`${form} input[name=notify-defaults]`)
    await page.check(`${form} input[name=notify-phone]`)
    await page.click(`${form} button[type=submit]`)
    await expect
      .poll(() => page.textContent('[data-testid=alert-note]'), { timeout: 10_000 })
      .toBe('rule media-disk-full: added (fs.percent >= 90)')
    const row = '[data-testid=rule][data-rule=media-disk-full]'
    await page.waitForSelector(row, { timeout: 10_000 })
    expect(await page.textContent(row)).toMatch(/fs\.percent\{mount=\/srv\*\} >= 90.*for 5m/)
    expect(rules().rules.find((r: { id: string }) => r.id === 'media-disk-full')).toEqual({
      id: 'media-disk-full',
      name: 'Media disk full',
      severity: 'critical',
      notify: ['phone'],
      type: 'threshold',
      metric: 'fs.percent',
      labels: { mount: '/srv*' },
      op: '>=',
      value: 90,
      for: '5m',
      resolve: { value: 85, for: '0s' },
      unit: '%',
    })
    // An event pattern: three container events of one container within ten minutes.
    await page.click('[data-testid=add-rule]')
    await page.check(`${form} input[name=type] >> nth=1`)
    await page.fill(`${form} input[name=name]`, 'Flaky web')
    await page.selectOption(`${form} select[name=event]`, 'container.*')
    await page.fill(`${form} input[name=subject]`, 'web*')
    await page.fill(`${form} input[name=count]`, '3')
    await page.click(`${form} button[type=submit]`)
    await expect
      .poll(() => page.textContent('[data-testid=alert-note]'), { timeout: 10_000 })
      .toBe('rule flaky-web: added (container.*)')
    expect(rules().rules.find((r: { id: string }) => r.id === 'flaky-web')).toMatchObject({
      type: 'event',
      match: { event: 'container.*', subject: 'web*' },
      count: 3,
      within: '10m',
    })
    page.once('dialog', (d) => void d.accept())
    await page.click('[data-testid=rule][data-rule=flaky-web] [data-testid=remove-rule]')
    await expect.poll(() => page.$('[data-testid=rule][data-rule=flaky-web]'), { timeout: 10_000 }).toBeNull()
    expect(rules().rules.some((r: { id: string }) => r.id === 'flaky-web')).toBe(false)
    expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([])
    await page.close()
  })

  it("the Help page renders the API from the gateway's OpenAPI document", async () => {
    errors.length = 0 // the refusals above were expected
    const page = await browser.newPage()
    track(page)
    await page.goto(`${base}/help`)
    await page.fill('#username', 'admin')
    await page.fill('#password', PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForSelector('[data-testid=help-page] [data-testid=endpoint]', { timeout: 20_000 })
    const doc = await (await fetch(`${base}/api/openapi.json`)).json()
    const documented = Object.values(doc.paths).reduce(
      (n: number, ops) => n + Object.keys(ops as object).length,
      0,
    )
    expect(await page.locator('[data-testid=endpoint]').count()).toBe(documented)
    const put = page.locator('[data-testid=endpoint][data-operation=putApiAlertsChannelsName]')
    await put.locator('summary').click()
    const text = (await put.textContent()) ?? ''
    expect(text).toContain('PUT /api/alerts/channels/{name}')
    expect(text).toContain('The admin role.')
    expect(text).toMatch(/Body \(JSON\).*url\?.*minSeverity\?.*quietHours\?/s)
    expect(text).toMatch(/200 the executor answered done.*outcome/s)
    await page.fill('input[type=search]', 'processes')
    await expect.poll(() => page.locator('[data-testid=endpoint]').count()).toBe(1)
    expect(errors).toEqual([])
    await page.close()
  })
})
