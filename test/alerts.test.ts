import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { join } from 'node:path'
import type { AlerterService } from '@homelab/alerter'
import {
  AlertNotification,
  AlertsReading,
  AlertsResponse,
  createTopics,
  Event,
  RulesResponse,
} from '@homelab/contracts'
import type { MqttClient } from 'mqtt'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { buildWeb, launchChromium } from './helpers/browser.js'
import { chromiumPath, describeWith } from './helpers/infra.js'
import { syntheticReading } from './helpers/readings.js'
import {
  accountWithToken,
  agentClient,
  connectClient,
  HOST,
  startAlerter,
  startGateway,
  startRecorder,
  startSysCollector,
  startTestBroker,
  TEST_PASSWORD,
  tempDir,
  waitFor,
} from './helpers/stack.js'

const ADMIN = 'admin-token-for-tests-0123456789'
const topics = createTopics('homelab')
const cleanups: Array<() => Promise<void> | void> = []
let dir = ''
let url = ''
let creds: Awaited<ReturnType<typeof startTestBroker>>['credentials']
let base = ''
let viewer = ''
let operator = ''
let rulesFile = ''
let alerter: AlerterService
/** One publisher per driven host, each an enrolled machine's sys-collector (a user is bound to its host). */
const publishers = new Map<string, MqttClient>()
const publisher = (host: string) => publishers.get(host)!
let watcher: MqttClient
const events: Event[] = []
const notified: AlertNotification[] = []

/** A webhook receiver that fails the first two deliveries it gets (HTTP 500), then accepts. */
const hook = {
  server: null as Server | null,
  url: '',
  requests: [] as Array<{ key: string | undefined; status: number; body: AlertNotification }>,
  get accepted() {
    return this.requests.filter((r) => r.status === 200).map((r) => r.body)
  },
}

function rules(extra: object[] = []) {
  return {
    channels: {
      hook: { type: 'webhook', url: '', headers: { 'x-homelab-test': 'yes' } },
      bus: { type: 'mqtt', topic: 'alerts' },
    },
    defaults: { notify: ['hook', 'bus'] },
    rules: [
      {
        id: 'cpu-hot',
        name: 'CPU hot',
        type: 'threshold',
        metric: 'cpu.usage',
        hosts: 'drive-*',
        op: '>',
        value: 90,
        for: '2s',
        resolve: { value: 50, for: '1s' },
        unit: '%',
      },
      { id: 'collector-offline', type: 'availability', services: 'sys-collector', for: '2s' },
      { id: 'host-silent', type: 'stale', reading: 'system', hosts: HOST, intervals: 3, atLeast: '1s' },
      ...extra,
    ],
  }
}

function writeRules(content: unknown): void {
  const text = typeof content === 'string' ? content : JSON.stringify(content, null, 2)
  writeFileSync(rulesFile, text.replace('"url": ""', `"url": "${hook.url}"`))
}

function newAlerter(): AlerterService {
  return startAlerter(dir, url, creds.alerter, { rulesFile })
}

async function call<S extends z.ZodType>(
  method: string,
  path: string,
  schema: S | null,
  token = ADMIN,
  body?: unknown,
  status = 200,
): Promise<z.infer<S>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  })
  const json: unknown = await res.json()
  expect(res.status, JSON.stringify(json)).toBe(status)
  return (schema ? schema.parse(json) : json) as z.infer<S>
}

/** Publishes one system reading for `host` with this CPU usage, as the sys-collector would. */
function drive(host: string, cpu: number): void {
  const r = syntheticReading(Date.now(), 0, host)
  r.cpu.usage = cpu
  publisher(host).publish(topics.reading(host, 'sys-collector', 'system'), JSON.stringify(r), {
    qos: 1,
    retain: true,
  })
}

/** Drives a host at this CPU usage every 200 ms until `until` says stop. */
async function driveWhile(
  host: string,
  cpu: number,
  until: () => boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const start = Date.now()
  while (!until()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out driving ${host} at ${cpu}`)
    drive(host, cpu)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const alertEvents = (type: string, host?: string) =>
  events.filter((e) => e.type === type && (host === undefined || e.host === host))

beforeAll(async () => {
  const d = tempDir('hl-alerts-')
  cleanups.push(d.remove)
  dir = d.path
  rulesFile = join(dir, 'alert-rules.json')
  hook.server = createServer((req: IncomingMessage, res) => {
    let body = ''
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8')
    })
    req.on('end', () => {
      const status = hook.requests.length < 2 ? 500 : 200
      expect(req.headers['x-homelab-test']).toBe('yes')
      hook.requests.push({
        key: req.headers['idempotency-key'] as string | undefined,
        status,
        body: AlertNotification.parse(JSON.parse(body)),
      })
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'not now')
    })
  })
  await new Promise<void>((r) => hook.server!.listen(0, '127.0.0.1', r))
  const addr = hook.server.address()
  hook.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hook`
  cleanups.push(() => new Promise<void>((r) => hook.server!.close(() => r())))

  const b = await startTestBroker(dir)
  cleanups.push(() => b.broker.stop())
  url = b.url
  creds = b.credentials
  const recorder = startRecorder(dir, url, 'recorder', creds.recorder)
  cleanups.push(() => recorder.stop())
  await recorder.conn.whenConnected()
  await buildWeb(join(dir, 'web'))
  const gw = await startGateway(dir, url, 'gateway', creds.gateway, ADMIN, join(dir, 'web'))
  await gw.start()
  cleanups.push(() => gw.stop())
  base = `http://127.0.0.1:${gw.port}`
  viewer = await accountWithToken(gw, 'tv', 'viewer')
  operator = await accountWithToken(gw, 'ops', 'operator')

  for (const h of ['drive-a', 'drive-b', 'drive-c', 'drive-x', 'drive-ui']) {
    const c = await agentClient(b, dir, h)
    publishers.set(h, c)
    cleanups.push(() => void c.end(true))
  }
  // Home Assistant's user sees what an automation would: the alert events and the notification topic.
  watcher = await connectClient(url, 'homeassistant', 'ha-password-123')
  cleanups.push(() => void watcher.end(true))
  watcher.on('message', (topic, payload) => {
    const t = topics.parse(topic)
    if (t?.channel === 'event' && t.service === 'alerter')
      events.push(Event.parse(JSON.parse(payload.toString())))
    if (t?.channel === 'notify') notified.push(AlertNotification.parse(JSON.parse(payload.toString())))
  })
  await watcher.subscribeAsync(['homelab/+/alerter/event/+', 'homelab/+/alerter/notify/+'], { qos: 1 })

  writeRules(rules())
  alerter = newAlerter()
  cleanups.push(() => alerter.stop())
  await alerter.conn.whenConnected()
})

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('alerts end to end (our broker, the recorder, the gateway, a local webhook receiver)', () => {
  it('a threshold fires after its duration; a receiver failing twice still gets exactly one message per change', async () => {
    const host = 'drive-a'
    await driveWhile(host, 95, () => alertEvents('alert.firing', host).length > 0)
    const firing = alertEvents('alert.firing', host)[0]!
    const alert = (firing.data as { alert: { since: number; firingSince: number; episode: string } }).alert
    expect(alert.firingSince - alert.since).toBeGreaterThanOrEqual(2000)
    expect(firing).toMatchObject({ source: 'alerter', subject: 'system', severity: 'warning' })

    // Retries with backoff: two 500s, then accepted; every attempt carries the same idempotency key.
    await waitFor(() => hook.accepted.length === 1, 10_000, 'the firing notification to be accepted')
    expect(hook.requests.map((r) => r.status)).toEqual([500, 500, 200])
    expect(new Set(hook.requests.map((r) => r.key))).toEqual(new Set([`${alert.episode}:firing`]))
    expect(hook.accepted[0]).toMatchObject({ state: 'firing', alert: { rule: 'cpu-hot', host, value: 95 } })
    await waitFor(() => notified.length === 1, 5000, 'the MQTT notification')
    expect(notified[0]?.id).toBe(`${alert.episode}:firing`)

    // Restart the alerter while the alert still fires: nothing new is announced, the alert is the same one.
    await alerter.stop()
    alerter = newAlerter()
    await alerter.conn.whenConnected()
    const deadline = Date.now() + 3000
    await driveWhile(host, 96, () => Date.now() > deadline)
    expect(alertEvents('alert.firing', host)).toHaveLength(1)
    expect(hook.requests).toHaveLength(3)
    expect(notified).toHaveLength(1)
    const state = await call('GET', `/api/alerts`, AlertsResponse)
    expect(state.alerts.find((a) => a.host === host)).toMatchObject({
      state: 'firing',
      episode: alert.episode,
      value: 96,
    })

    // Back to normal: resolved once, delivered once (to both channels).
    await driveWhile(host, 10, () => alertEvents('alert.resolved', host).length > 0)
    await waitFor(
      () => hook.accepted.length === 2 && notified.length === 2,
      5000,
      'the resolved notifications',
    )
    await new Promise((r) => setTimeout(r, 1000))
    expect(hook.accepted.map((n) => [n.state, n.id])).toEqual([
      ['firing', `${alert.episode}:firing`],
      ['resolved', `${alert.episode}:resolved`],
    ])
    expect(notified.map((n) => n.state)).toEqual(['firing', 'resolved'])
    expect(alertEvents('alert.resolved', host)[0]?.data).toMatchObject({
      reason: 'condition',
      state: 'resolved',
    })

    // Both are in the recorder's event log (the gateway's history).
    const history = await waitFor(async () => {
      const r = await call('GET', `/api/alerts?host=${host}`, AlertsResponse)
      return r.history.length === 2 ? r : null
    })
    expect(history.history.map((e) => (e as Event).type)).toEqual(['alert.resolved', 'alert.firing'])
    expect(history.alerts).toEqual([])
  })

  it('operators acknowledge, silence and edit thresholds through the gateway; viewers cannot', async () => {
    const host = 'drive-b'
    await driveWhile(host, 99, () => alertEvents('alert.firing', host).length > 0)
    const list = await waitFor(async () => {
      const r = await call('GET', '/api/alerts', AlertsResponse, viewer)
      return r.alerts.some((a) => a.host === host) ? r : null
    })
    expect(list.alerter).toBe('online')
    expect(list.firing).toBeGreaterThanOrEqual(1)
    expect(await call('GET', '/api/alerts/count', null, viewer)).toMatchObject({ alerter: 'online' })
    const a = list.alerts.find((x) => x.host === host)!
    await call('POST', `/api/alerts/${a.id}/ack`, null, viewer, undefined, 403)
    await call('POST', `/api/alerts/${a.id}/ack`, null, operator)
    await call('POST', `/api/alerts/${a.id}/silence`, null, operator, { minutes: 30 })
    await call('POST', `/api/alerts/${a.id}/silence`, null, operator, { minutes: -1 }, 400)
    await call('POST', '/api/alerts/not-an-id/ack', null, operator, undefined, 400)
    await call('POST', '/api/alerts/000000000000/ack', null, operator, undefined, 404)
    const acked = await waitFor(async () => {
      const r = await call('GET', '/api/alerts', AlertsResponse)
      const x = r.alerts.find((y) => y.id === a.id)
      return x?.ack && x.silencedUntil ? x : null
    })
    expect(acked.ack?.by).toBe('ops')
    expect(acked.silencedBy).toBe('ops')
    expect(acked.silencedUntil! - Date.now()).toBeGreaterThan(29 * 60_000)

    // A silenced alert resolves in the log but sends nothing.
    const before = hook.requests.length
    await driveWhile(host, 5, () => alertEvents('alert.resolved', host).length > 0)
    await new Promise((r) => setTimeout(r, 1000))
    expect(hook.requests.length).toBe(before)

    // Thresholds from the UI: validated as a whole, written to the file, audited.
    await call('PATCH', '/api/alerts/rules/cpu-hot', null, viewer, { value: 85 }, 403)
    const bad = (await call(
      'PATCH',
      '/api/alerts/rules/cpu-hot',
      null,
      operator,
      { resolveValue: 95 },
      400,
    )) as {
      error: { message: string }
    }
    expect(bad.error.message).toMatch(
      /rule "cpu-hot" \(rules\[0\]\): resolve\.value: must be at most value \(90\)/,
    )
    await call('PATCH', '/api/alerts/rules/cpu-hot', null, operator, { value: -1, nonsense: 1 }, 400)
    await call('PATCH', '/api/alerts/rules/no-such-rule', null, operator, { value: 1 }, 404)
    await call('PATCH', '/api/alerts/rules/collector-offline', null, operator, { value: 1 }, 400)
    await call('PATCH', '/api/alerts/rules/cpu-hot', null, operator, { value: 85, forMs: 3000 })
    const onDisk = JSON.parse(readFileSync(rulesFile, 'utf8')) as { rules: Array<Record<string, unknown>> }
    expect(onDisk.rules[0]).toMatchObject({ id: 'cpu-hot', value: 85, for: '3s' })
    const rulesView = await waitFor(async () => {
      const r = await call('GET', '/api/alerts/rules', RulesResponse, viewer)
      return r.rules.find((x) => x.id === 'cpu-hot')?.threshold?.value === 85 && r.audit.length > 0 ? r : null
    })
    expect(rulesView.rules.find((x) => x.id === 'cpu-hot')).toMatchObject({
      threshold: { op: '>', value: 85, forMs: 3000, resolveValue: 50, resolveForMs: 1000 },
      notify: ['hook', 'bus'],
    })
    expect(rulesView.channels.map((c) => c.name).sort()).toEqual(['bus', 'hook'])
    expect(rulesView.audit[0]).toMatchObject({
      type: 'command.result',
      data: { action: 'update_rule', requestedBy: 'ops', outcome: 'done', target: 'cpu-hot' },
      message: expect.stringContaining('value 90 → 85'),
    })
    // Put it back for the other tests.
    await call('PATCH', '/api/alerts/rules/cpu-hot', null, ADMIN, { value: 90, forMs: 2000 })
  })

  it('bad rules are rejected with the rule and the field named, and the previous rules stay in force', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [
        rules([{ id: 'typo', type: 'threshold', metric: 'cpu.usgae', op: '>', value: 1 }]),
        /^rule "typo" \(rules\[3\]\): metric: unknown metric "cpu\.usgae"/,
      ],
      [
        rules([{ id: 'neg', type: 'threshold', metric: 'cpu.usage', op: '>', value: 1, for: '-5m' }]),
        /^rule "neg" \(rules\[3\]\): for: must be a duration of at least 0/,
      ],
      ['{ "rules": [ { "id": "half"', /^the file is not valid JSON/],
    ]
    for (const [content, expected] of cases) {
      const rejectedBefore = alertEvents('alert.rules_rejected').length
      writeRules(content)
      await waitFor(
        () => alertEvents('alert.rules_rejected').length > rejectedBefore,
        10_000,
        'the rejection',
      )
      const ev = alertEvents('alert.rules_rejected').at(-1)!
      expect((ev.data as { errors: string[] }).errors[0]).toMatch(expected)
      const view = await waitFor(async () => {
        const r = await call('GET', '/api/alerts/rules', RulesResponse)
        return r.rejected && expected.test(r.rejected.errors[0] ?? '') ? r : null
      })
      // The rules in force are the previous ones.
      expect(view.rules.map((r) => r.id)).toEqual(['cpu-hot', 'collector-offline', 'host-silent'])
    }
    // ...and they still work: a new host over the threshold fires.
    await driveWhile('drive-c', 97, () => alertEvents('alert.firing', 'drive-c').length > 0)
    // A status that says so, and recovery when the file is fixed.
    writeRules(rules())
    const fixed = await waitFor(async () => {
      const r = await call('GET', '/api/alerts/rules', RulesResponse)
      return r.rejected === null ? r : null
    })
    expect(fixed.rules).toHaveLength(3)
    expect(alertEvents('alert.rules_loaded').length).toBeGreaterThan(0)
  })

  it('bad input on MQTT is counted and dropped; the alerter keeps evaluating', async () => {
    const invalid0 = alerter.counters.get('messages.invalid')
    const cmdInvalid0 = alerter.counters.get('commands.invalid')
    const refused0 = alerter.counters.get('commands.refused')
    publisher('drive-x').publish(topics.event('drive-x', 'sys-collector', 'container.die'), 'not json', {
      qos: 1,
    })
    publisher('drive-x').publish(
      topics.event('drive-x', 'sys-collector', 'container.die'),
      JSON.stringify({ v: 1, ts: Date.now(), host: 'other-host', source: 'sys-collector' }),
      { qos: 1 },
    )
    publisher('drive-x').publish(topics.reading('drive-x', 'sys-collector', 'system'), '{"cpu":"hot"}', {
      qos: 1,
    })
    publisher('drive-x').publish(topics.reading('drive-x', 'sys-collector', 'nonsense'), '{}', { qos: 1 })
    await waitFor(
      () => alerter.counters.get('messages.invalid') - invalid0 >= 4,
      5000,
      'four invalid messages counted',
    )
    // Commands the alerter does not take are dropped before they run; one for an unknown alert is not_found.
    const notFound0 = alerter.counters.get('commands.not_found')
    watcher.publish(
      topics.cmd(HOST, 'alerter'),
      '{"v":1,"action":"explode","target":"x","requestedBy":"ha"}',
      {
        qos: 1,
      },
    )
    watcher.publish(topics.set(HOST, 'alerter', '000000000000'), 'ack', { qos: 1 })
    await waitFor(
      () => alerter.counters.get('commands.invalid') - cmdInvalid0 >= 1,
      5000,
      'the unknown action counted',
    )
    await waitFor(
      () => alerter.counters.get('commands.not_found') - notFound0 >= 1,
      5000,
      'the unknown alert',
    )
    // Still evaluating; a plain `silence` on its set topic has no end time: refused (and audited), not run.
    await driveWhile('drive-x', 99, () => alertEvents('alert.firing', 'drive-x').length > 0)
    const id = (alertEvents('alert.firing', 'drive-x')[0]!.data as { alert: { id: string } }).alert.id
    watcher.publish(topics.set(HOST, 'alerter', id), 'silence', { qos: 1 })
    await waitFor(() => alerter.counters.get('commands.refused') - refused0 >= 1, 5000, 'the silence refused')
    const state = await call('GET', '/api/alerts', AlertsResponse)
    expect(state.alerts.find((a) => a.id === id)?.silencedUntil).toBeNull()
  })

  it('a stopped collector raises its silence alerts after the configured time; restarting it resolves them', async () => {
    let sys = await startSysCollector(url, 'sys-collector', creds['sys-collector'], 500)
    await waitFor(async () => {
      const r = await call('GET', '/api/alerts/rules', RulesResponse)
      return r.rules.find((x) => x.id === 'host-silent')?.instances.length === 0 && sys.conn.connected
    })
    await new Promise((r) => setTimeout(r, 1500))
    expect(alertEvents('alert.firing', HOST)).toEqual([])
    const stoppedAt = Date.now()
    await sys.stop()
    await waitFor(
      () => alertEvents('alert.firing', HOST).length === 2,
      10_000,
      'the offline and silent alerts',
    )
    const fired = alertEvents('alert.firing', HOST)
    expect(fired.map((e) => (e.data as { alert: { rule: string } }).alert.rule).sort()).toEqual([
      'collector-offline',
      'host-silent',
    ])
    const offline = fired.find(
      (e) => (e.data as { alert: { rule: string } }).alert.rule === 'collector-offline',
    )!
    expect(offline.subject).toBe('sys-collector')
    expect(offline.ts - stoppedAt).toBeGreaterThanOrEqual(2000)
    const doc = await waitFor(async () => {
      const r = await call('GET', '/api/alerts', AlertsResponse)
      return r.alerts.filter((a) => a.host === HOST).length === 2 ? r : null
    })
    expect(doc.alerts.every((a) => a.state === 'firing')).toBe(true)
    expect(AlertsReading.shape.firing.parse(doc.firing)).toBeGreaterThanOrEqual(2)

    sys = await startSysCollector(url, 'sys-collector', creds['sys-collector'], 500)
    cleanups.push(() => sys.stop())
    await waitFor(() => alertEvents('alert.resolved', HOST).length === 2, 10_000, 'both resolved')
  })
})

describeWith(
  'Chromium',
  chromiumPath() !== null,
  'Install it with `apt-get install -y chromium` (or set CHROMIUM_PATH).',
)('the alerts page in a real browser', () => {
  let browser: Browser

  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('shows the firing count in the navigation, firing alerts first, acknowledges, edits a threshold, marks the chart', async () => {
    const host = 'drive-ui'
    await driveWhile(host, 99, () => alertEvents('alert.firing', host).length > 0)
    const errors: string[] = []
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    page.on('pageerror', (e) => errors.push(String(e)))
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
    await page.goto(`${base}/alerts`)
    await page.fill('#username', 'ops')
    await page.fill('#password', TEST_PASSWORD)
    await page.click('button[type=submit]')

    // The badge counts what fires now.
    await expect
      .poll(async () => Number(await page.textContent('[data-testid=alert-badge]')), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(1)
    const row = page.locator('[data-testid=open-alert]', { hasText: host })
    await row.waitFor({ timeout: 10_000 })
    expect(await row.getAttribute('data-state')).toBe('firing')
    expect(await page.locator('[data-testid=open-alert]').first().getAttribute('data-state')).toBe('firing')
    await row.getByRole('button', { name: 'Acknowledge' }).click()
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain('acknowledged by ops')

    // The rules with their current evaluation; a threshold edit is validated by the alerter.
    const rule = page.locator('[data-testid=rule][data-rule=cpu-hot]')
    await expect
      .poll(() => rule.locator('[data-testid=rule-now]').textContent(), { timeout: 10_000 })
      .toContain('firing')
    await rule.locator('[data-testid=edit-rule]').click()
    const editor = page.locator('[data-testid=rule-editor]')
    await editor.locator('input[name=resolveValue]').fill('95')
    await editor.getByRole('button', { name: 'Save' }).click()
    await expect
      .poll(() => page.textContent('[data-testid=rule-error]'))
      .toContain('resolve.value: must be at most value (90)')
    errors.length = 0 // the refused edit's 400 is expected
    await editor.locator('input[name=resolveValue]').fill('50')
    await editor.locator('input[name=value]').fill('91')
    await editor.getByRole('button', { name: 'Save' }).click()
    await expect.poll(() => page.textContent('[data-testid=alert-note]')).toContain('value 90 → 91')
    await expect
      .poll(() => page.textContent('[data-testid=rule-audit]'), { timeout: 10_000 })
      .toContain('value 90 → 91')
    await call('PATCH', '/api/alerts/rules/cpu-hot', null, ADMIN, { value: 90 })

    // The chart of the series it concerns carries the alert as a marker (and lists it under the chart).
    await page.goto(`${base}/history?host=${host}`)
    await expect
      .poll(() => page.textContent('[data-testid=history-alerts]'), { timeout: 10_000 })
      .toContain('CPU hot')
    expect(errors).toEqual([])
    await page.close()
  })
})
