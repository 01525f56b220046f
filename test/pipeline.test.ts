import { ApiError, HistoryResponse, SystemMetrics, SystemMetricsHistory } from '@homelab/contracts'
import { Counters } from '@homelab/service-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { syntheticReading } from './helpers/readings.js'
import {
  accountWithToken,
  connectClient,
  HOST,
  startGateway,
  startRecorder,
  startSysCollector,
  startTestBroker,
  TEST_PASSWORD,
  tempDir,
  waitFor,
} from './helpers/stack.js'

const ADMIN = 'admin-token-for-tests-0123456789'
const cleanups: Array<() => Promise<void> | void> = []
let base = ''
let url = ''
let broker: Awaited<ReturnType<typeof startTestBroker>>['broker']
let creds: Awaited<ReturnType<typeof startTestBroker>>['credentials']
let recorderCounters: Counters
let recorder: ReturnType<typeof startRecorder>
let viewer = ''
let operator = ''

async function get<S extends z.ZodType>(
  path: string,
  schema: S,
  token = ADMIN,
  status = 200,
): Promise<z.infer<S>> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })
  const body: unknown = await res.json()
  expect(res.status, JSON.stringify(body)).toBe(status)
  return schema.parse(body)
}

beforeAll(async () => {
  const dir = tempDir()
  cleanups.push(dir.remove)
  const b = await startTestBroker(dir.path)
  cleanups.push(() => b.broker.stop())
  url = b.url
  broker = b.broker
  creds = b.credentials
  recorderCounters = new Counters()
  recorder = startRecorder(dir.path, url, 'recorder', creds.recorder, recorderCounters)
  cleanups.push(() => recorder.stop())
  await recorder.conn.whenConnected()
  const gw = await startGateway(dir.path, url, 'gateway', creds.gateway, ADMIN)
  await gw.start()
  cleanups.push(() => gw.stop())
  base = `http://127.0.0.1:${gw.port}`
  viewer = await accountWithToken(gw, 'tv', 'viewer')
  operator = await accountWithToken(gw, 'ops', 'operator')
  const sys = await startSysCollector(url, 'sys-collector', creds['sys-collector'], 1000)
  cleanups.push(() => sys.stop())
})

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('readings flow from the collector to the history API', () => {
  it('serves this machine’s current metrics and their history', async () => {
    const history = await waitFor(
      async () => {
        const h = await get(
          `/api/history?series=cpu.usage&from=${Date.now() - 60_000}&points=100`,
          HistoryResponse,
        )
        return h.columns[0].length >= 3 ? h : null
      },
      20_000,
      'three stored samples',
    )
    expect(history.tier).toBe('raw')
    expect(history.columns[1].every((v) => v === null || (v >= 0 && v <= 100))).toBe(true)

    const now = await get('/api/metrics/system', SystemMetrics)
    const memTotalKb = Number(
      /MemTotal:\s+(\d+)/.exec(
        await import('node:fs').then((fs) => fs.readFileSync('/proc/meminfo', 'utf8')),
      )![1],
    )
    expect(now.memoryTotal).toBe(memTotalKb * 1024)
    expect(now.host).toBe(HOST)
    expect(now.diskTotal).toBeGreaterThan(0)

    const sh = await get('/api/metrics/system/history?hours=1', SystemMetricsHistory)
    expect(sh.points.length).toBeGreaterThan(0)
    expect(sh.points.at(-1)!.memoryTotal).toBe(memTotalKb * 1024)
  })
})

describe('bad input reaching the recorder', () => {
  it('counts and quarantines malformed and oversized payloads and keeps storing good ones', async () => {
    const sys = await connectClient(url, 'sys-collector', creds['sys-collector'])
    cleanups.push(() => void sys.end(true))
    const topic = `homelab/${HOST}/sys-collector/reading/system`
    const pub = (payload: string | Buffer) => sys.publishAsync(topic, payload, { qos: 1 })
    const ts = Date.now() + 3_600_000 // in the future so it is newer than the live samples
    const good = syntheticReading(ts, 123)
    await pub('{not json')
    await pub(JSON.stringify({ ...good, cpu: { ...good.cpu, usage: 'high' } }))
    // Over the recorder's limit (64 KiB in this test) but under the broker's: the recorder quarantines it.
    await pub(JSON.stringify({ ...good, note: 'x'.repeat(200_000) }))
    await pub(JSON.stringify({ ...good, host: 'someone-else' }))
    await pub(JSON.stringify({ ...good, v: 99 }))
    await sys.publishAsync(`homelab/${HOST}/sys-collector/availability`, 'maybe', { qos: 1 })
    await pub(JSON.stringify(good))
    await waitFor(
      () => recorderCounters.get('messages.quarantined') >= 6,
      10_000,
      'six quarantined messages',
    ).catch((e) => {
      throw new Error(`${e.message}; recorder counters: ${JSON.stringify(recorderCounters.snapshot())}`)
    })
    expect({
      json: recorderCounters.get('invalid.json'),
      schema: recorderCounters.get('invalid.schema'),
      oversized: recorderCounters.get('invalid.oversized'),
      mismatch: recorderCounters.get('invalid.mismatch'),
    }).toStrictEqual({ json: 1, schema: 3, oversized: 1, mismatch: 1 })
    const rows = recorder.db
      .prepare('SELECT reason, size, length(payload) AS kept FROM quarantine ORDER BY id')
      .all() as Array<{ reason: string; size: number; kept: number }>
    // Arrival order is the broker's (it stores the 1 MB message more slowly), so compare as a sorted list.
    expect(rows.map((r) => r.reason.split(':')[0]).sort()).toStrictEqual([
      'json',
      'mismatch',
      'oversized',
      'schema',
      'schema',
      'schema',
    ])
    const big = rows.find((r) => r.reason.startsWith('oversized'))!
    expect(big.size).toBeGreaterThan(200_000)
    expect(big.kept).toBe(4096)
    // The good one after them is stored.
    const h = await waitFor(async () => {
      const r = await get(`/api/history?series=uptime&from=${ts - 1}&to=${ts + 1}&points=10`, HistoryResponse)
      return r.columns[0].length === 1 ? r : null
    })
    expect(h.columns[1]).toStrictEqual([good.uptimeSec])
  })
})

describe('bad input reaching the broker', () => {
  it('refuses a 1 MB payload at the edge, counts it, and keeps serving others', async () => {
    const big = await connectClient(url, 'sys-collector', creds['sys-collector'], {
      clientId: `sys-collector-${HOST}.too-big`,
    })
    const closed = new Promise<void>((r) => big.once('close', () => r()))
    big.publish(`homelab/${HOST}/sys-collector/reading/system`, 'x'.repeat(1_000_000), { qos: 1 })
    await closed
    expect(broker.counters.get('refused.too_large')).toBe(1)
    big.end(true)
    const before = recorderCounters.get('messages.stored')
    await waitFor(
      () => recorderCounters.get('messages.stored') > before,
      10_000,
      'the recorder to keep storing',
    )
  })
})

describe('gateway access and input checks', () => {
  it('answers a 10 MiB login body with 413 over a real socket, not a reset', async () => {
    const res = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'x'.repeat(10 * 1024 * 1024) }),
    })
    expect(res.status).toBe(413)
    expect(ApiError.parse(await res.json()).error.code).toBe('payload_too_large')
  })

  it('answers 401 without a login and with a bad token', async () => {
    const res = await fetch(`${base}/api/metrics/system`)
    expect(res.status).toBe(401)
    expect(ApiError.parse(await res.json()).error.code).toBe('unauthorized')
    await get('/api/metrics/system', ApiError, 'not-a-valid-token-at-all', 401)
    const health = await fetch(`${base}/healthz`)
    expect(health.status).toBe(200)
  })

  it('logs in with a password and uses an HttpOnly, SameSite session cookie; an API token opens no session', async () => {
    const bad = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'wrong-token-wrong-token' }),
    })
    expect(bad.status).toBe(401)
    const tokenLogin = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: viewer }),
    })
    expect(tokenLogin.status).toBe(401)
    const res = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'tv', password: TEST_PASSWORD }),
    })
    expect(res.status).toBe(200)
    const cookie = res.headers.get('set-cookie')!
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    const me = await fetch(`${base}/api/auth/me`, { headers: { cookie: cookie.split(';')[0]! } })
    expect(await me.json()).toStrictEqual({ name: 'tv', role: 'viewer', via: 'password' })
  })

  it('answers 403 to a viewer on operator actions, and 503/504 to an operator when no executor answers', async () => {
    const send = (token: string, service: string) =>
      fetch(`${base}/api/hosts/${HOST}/services/${service}/commands`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'restart', target: 'web' }),
      })
    const v = await send(viewer, 'docker-collector')
    expect(v.status).toBe(403)
    expect(ApiError.parse(await v.json()).error.code).toBe('forbidden')
    const offline = await send(operator, 'docker-collector')
    expect(offline.status).toBe(503)
    // sys-collector is online but executes no commands: the relay times out (HOMELAB_COMMAND_TIMEOUT_MS=1500).
    const timeout = await send(operator, 'sys-collector')
    expect(timeout.status).toBe(504)
    expect(ApiError.parse(await timeout.json()).error.code).toBe('timeout')
  })

  it('answers 400 with a JSON error for bad parameters', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/api/metrics/system/history?hours=abc', /hours/],
      ['/api/metrics/system/history?hours=-1', /hours/],
      [
        `/api/history?series=cpu.usage&from=${Date.now()}&to=${Date.now() - 1000}`,
        /from .* must be before to/,
      ],
      ['/api/history?series=cpu.usage&points=1000000000', /points/],
      ['/api/history?series=DROP%20TABLE', /series/],
      ['/api/history?series=cpu.usage&bogus=1', /unknown query parameter/],
      ['/api/metrics/system?host=Bad_Host', /host/],
    ]
    for (const [path, message] of cases) {
      const e = await get(path, ApiError, ADMIN, 400)
      expect(e.error.code, path).toBe('bad_request')
      expect(e.error.message, path).toMatch(message)
    }
    const unknown = await get('/api/history?series=no.such.series', ApiError, ADMIN, 404)
    expect(unknown.error.code).toBe('not_found')
  })
})
