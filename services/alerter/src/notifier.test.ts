import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Alert, AlertNotification } from '@homelab/contracts'
import { Counters, createLogger } from '@homelab/service-kit'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { channelSender, Notifier } from './notifier.js'
import type { Channel } from './rules.js'
import { AlertStore, type Delivery } from './store.js'

const alert: Alert = {
  id: 'abcdef012345',
  rule: 'cpu-high',
  name: 'CPU busy',
  severity: 'critical',
  host: 'pi',
  subject: 'system',
  labels: {},
  series: 'cpu.usage',
  state: 'firing',
  since: 1,
  firingSince: 2,
  episode: 'ep-1',
  value: 97,
  message: 'cpu.usage on pi is 97.0% (> 90% for 5m)',
  ack: null,
  silencedUntil: null,
  silencedBy: null,
}

function notification(i: number, state: 'firing' | 'resolved' = 'firing'): AlertNotification {
  return {
    v: 1,
    id: `ep-${i}:${state}`,
    state,
    alert: { ...alert, episode: `ep-${i}` },
    reason: state === 'resolved' ? 'condition' : null,
    title: `[critical] CPU busy on pi #${i}`,
    message: alert.message,
    ts: 1000 + i,
  }
}

let dir = ''
let store: AlertStore
let server: Server
let url = ''
let requests: Array<{ path: string; headers: IncomingHttpHeaders; body: string }> = []
let answer = 200

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hl-notifier-'))
  store = new AlertStore(join(dir, 'alerter.db'))
  requests = []
  answer = 200
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8')
    })
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, body })
      res.writeHead(answer).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const a = server.address()
  url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`
})

afterEach(async () => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
  await new Promise<void>((r) => server.close(() => r()))
})

function notifier(channels: Record<string, Channel>, clock: { now: number }, gaveUp: Delivery[] = []) {
  const n = new Notifier({
    store,
    now: () => clock.now,
    send: channelSender({ publishMqtt: () => undefined, timeoutMs: 1000 }),
    host: 'pi',
    retryBaseMs: 1000,
    retryMaxMs: 60_000,
    maxAttempts: 3,
    onGiveUp: (d) => gaveUp.push(d),
    log: createLogger('test', () => undefined),
    counters: new Counters(),
  })
  n.setChannels(new Map(Object.entries(channels)))
  return n
}

function enqueue(channel: string, i: number, now: number, state: 'firing' | 'resolved' = 'firing') {
  const n = notification(i, state)
  store.addDelivery({
    id: `${n.id}:${channel}`,
    channel,
    alertId: alert.id,
    rule: alert.rule,
    episode: `ep-${i}`,
    state,
    payload: n,
    status: 'pending',
    nextAt: now,
    now,
  })
}

/** Runs the pump and waits for what it started. */
async function step(n: Notifier): Promise<void> {
  n.pump()
  await new Promise((r) => setTimeout(r, 50))
}

const limit = { max: 30, per: 3_600_000 }

describe('notifier', () => {
  it('posts the JSON to a webhook with its headers and the idempotency key', async () => {
    const clock = { now: 0 }
    const n = notifier(
      {
        hook: {
          type: 'webhook',
          url: `${url}/hook`,
          headers: { 'x-token': 's3cret' },
          minSeverity: 'info',
          rateLimit: limit,
        },
      },
      clock,
    )
    enqueue('hook', 1, 0)
    await step(n)
    expect(requests).toHaveLength(1)
    expect(requests[0]?.path).toBe('/hook')
    expect(requests[0]?.headers['content-type']).toBe('application/json')
    expect(requests[0]?.headers['idempotency-key']).toBe('ep-1:firing')
    expect(requests[0]?.headers['x-token']).toBe('s3cret')
    expect(JSON.parse(requests[0]!.body)).toMatchObject({
      id: 'ep-1:firing',
      state: 'firing',
      alert: { rule: 'cpu-high' },
    })
    expect(n.views()[0]).toMatchObject({ name: 'hook', sent: 1, pending: 0, failed: 0 })
  })

  it('publishes to ntfy as its API documents: title, priority and tags headers, the text as body, a bearer token', async () => {
    const clock = { now: 0 }
    const n = notifier(
      {
        phone: {
          type: 'ntfy',
          url: `${url}/homelab-alerts`,
          token: 'tk_abc',
          minSeverity: 'warning',
          rateLimit: limit,
        },
      },
      clock,
    )
    enqueue('phone', 1, 0)
    enqueue('phone', 1, 0, 'resolved')
    await step(n)
    await step(n)
    expect(requests.map((r) => r.path)).toEqual(['/homelab-alerts', '/homelab-alerts'])
    expect(requests[0]?.headers).toMatchObject({
      title: '[critical] CPU busy on pi #1',
      priority: '5',
      tags: 'rotating_light',
      authorization: 'Bearer tk_abc',
    })
    expect(requests[0]?.body).toBe(alert.message)
    expect(requests[1]?.headers).toMatchObject({ priority: '2', tags: 'white_check_mark' })
    expect(n.accepts('phone', 'info')).toBe(false)
    expect(n.accepts('phone', 'critical')).toBe(true)
  })

  it('rate-limits a channel by delaying messages, never dropping them, and keeps their order', async () => {
    const clock = { now: 0 }
    const n = notifier(
      {
        hook: { type: 'webhook', url, headers: {}, minSeverity: 'info', rateLimit: { max: 2, per: 60_000 } },
      },
      clock,
    )
    for (let i = 1; i <= 5; i++) enqueue('hook', i, 0)
    for (let k = 0; k < 5; k++) await step(n)
    expect(requests).toHaveLength(2)
    clock.now = 30_000 // one more token
    for (let k = 0; k < 3; k++) await step(n)
    expect(requests).toHaveLength(3)
    clock.now = 90_000
    for (let k = 0; k < 5; k++) await step(n)
    expect(requests.map((r) => JSON.parse(r.body).id)).toEqual([
      'ep-1:firing',
      'ep-2:firing',
      'ep-3:firing',
      'ep-4:firing',
      'ep-5:firing',
    ])
  })

  it('retries with backoff, gives up after the last attempt with a record of why, and goes on with the next', async () => {
    const clock = { now: 0 }
    const gaveUp: Delivery[] = []
    const n = notifier(
      { hook: { type: 'webhook', url, headers: {}, minSeverity: 'info', rateLimit: limit } },
      clock,
      gaveUp,
    )
    answer = 503
    enqueue('hook', 1, 0)
    enqueue('hook', 2, 0)
    await step(n)
    expect(requests).toHaveLength(1)
    await step(n) // not due yet: the first retry waits about a second
    expect(requests).toHaveLength(1)
    clock.now = 1300
    await step(n)
    expect(requests).toHaveLength(2)
    clock.now = 5000
    await step(n)
    expect(gaveUp.map((d) => [d.id, d.attempts])).toEqual([['ep-1:firing:hook', 3]])
    const recent = store.recentDeliveries(10).find((d) => d.id === 'ep-1:firing:hook')
    expect(recent).toMatchObject({
      status: 'failed',
      attempts: 3,
      lastError: 'the webhook answered HTTP 503',
    })
    // The queue goes on at once with the next message (still refused here), which is delivered once the receiver
    // is back.
    expect(requests.map((r) => JSON.parse(r.body).id)).toEqual([
      'ep-1:firing',
      'ep-1:firing',
      'ep-1:firing',
      'ep-2:firing',
    ])
    answer = 200
    clock.now = 7000
    await step(n)
    expect(requests.map((r) => JSON.parse(r.body).id).slice(4)).toEqual(['ep-2:firing'])
    expect(n.views()[0]).toMatchObject({ sent: 1, failed: 1, pending: 0 })
  })

  it('an unreachable receiver is a failure with a readable reason', async () => {
    const clock = { now: 0 }
    // A port nothing listens on: one a server just gave back.
    const probe = createServer()
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
    const a = probe.address()
    const port = typeof a === 'object' && a ? a.port : 0
    await new Promise<void>((r) => probe.close(() => r()))
    const n = notifier(
      {
        hook: {
          type: 'webhook',
          url: `http://127.0.0.1:${port}/nothing`,
          headers: {},
          minSeverity: 'info',
          rateLimit: limit,
        },
      },
      clock,
    )
    enqueue('hook', 1, 0)
    await step(n)
    await new Promise((r) => setTimeout(r, 200))
    expect(store.recentDeliveries(1)[0]).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastError: 'the webhook: ECONNREFUSED',
    })
  })
})
