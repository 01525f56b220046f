import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import {
  ApiError,
  CommandResult,
  ContainerView,
  createTopics,
  FleetResponse,
  HistoryResponse,
  HostSummary,
  liveReading,
  SystemMetrics,
  SystemMetricsHistory,
  UnitView,
} from '@homelab/contracts'
import { HistoryReader, openReader, openWriter } from '@homelab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import {
  syntheticContainerReading,
  syntheticReading,
  syntheticUnitReading,
} from '../../../test/helpers/readings.js'
import { tempDir } from '../../../test/helpers/stack.js'
import { Store } from '../../recorder/src/store.js'
import type { GatewayDeps } from './context.js'
import { ADMIN, loginAs, PASSWORD, testApp } from './route-test-kit.js'

const dirs: Array<{ remove: () => void }> = []
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove()
})

const topics = createTopics('homelab')

function app(
  history: GatewayDeps['history'] = () => null,
  webDir: string | null = null,
  projections: GatewayDeps['projections'] = () => null,
) {
  const t = testApp({ history, webDir, projections })
  dirs.push(t.dir)
  return t
}

async function json<S extends z.ZodType>(res: Response, schema: S): Promise<z.infer<S>> {
  return schema.parse(await res.json())
}

async function login(t: ReturnType<typeof app>): Promise<string> {
  return (await loginAs(t, 'olivia', 'operator')).cookie
}

describe('gateway HTTP edges', () => {
  it('refuses cookie writes from another origin, a null or malformed Origin, or none at all, with 403', async () => {
    const t = app()
    const a = t.app
    const cookie = await login(t)
    const write = (origin: string | null) =>
      a.request('/api/hosts/pi/services/docker-collector/commands', {
        method: 'POST',
        headers: {
          cookie,
          host: 'pi:8080',
          'content-type': 'application/json',
          ...(origin === null ? {} : { origin }),
        },
        body: JSON.stringify({ action: 'restart', target: 'web' }),
      })
    for (const origin of [
      'https://evil.example',
      'null',
      'not a url',
      'http://pi:9999',
      'file:///etc/passwd',
      null,
    ]) {
      const res = await write(origin)
      expect(res.status, String(origin)).toBe(403)
      expect((await json(res, ApiError)).error.code).toBe('forbidden')
    }
    // A cross-site form POST (no JSON, another origin) that would restart a container.
    const form = await a.request('/api/docker/containers/web/restart', {
      method: 'POST',
      headers: {
        cookie,
        host: 'pi:8080',
        origin: 'https://evil.example',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'x=1',
    })
    expect(form.status).toBe(403)
    // Same origin passes the check (and meets the executor's absence: 503).
    expect((await write('http://pi:8080')).status).toBe(503)
  })

  it('revokes the session at logout: the same cookie is a 401 at once', async () => {
    const t = app()
    const a = t.app
    const cookie = await login(t)
    const me = () => a.request('/api/auth/me', { headers: { cookie } })
    expect((await me()).status).toBe(200)
    const out = await a.request('/api/auth/logout', {
      method: 'POST',
      headers: { cookie, origin: 'http://pi:8080', host: 'pi:8080' },
    })
    expect(out.status).toBe(200)
    expect((await me()).status).toBe(401)
  })

  it('a new login is a new session, and the one it replaces ends', async () => {
    const t = app()
    const a = t.app
    const first = await login(t)
    const res = await a.request('/api/auth/login', {
      method: 'POST',
      headers: {
        cookie: first,
        'content-type': 'application/json',
        origin: 'http://pi:8080',
        host: 'pi:8080',
      },
      body: JSON.stringify({ username: 'olivia', password: PASSWORD }),
    })
    const second = `homelab_session=${/homelab_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1]}`
    expect(second).not.toBe(first)
    expect((await a.request('/api/auth/me', { headers: { cookie: first } })).status).toBe(401)
    expect((await a.request('/api/auth/me', { headers: { cookie: second } })).status).toBe(200)
  })

  it('answers every API request with Cache-Control: no-store, the one that shows a new token too', async () => {
    const { app: a } = app()
    const created = await a.request('/api/tokens', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'script', role: 'viewer' }),
    })
    expect(created.status).toBe(201)
    expect(created.headers.get('cache-control')).toBe('no-store')
    for (const path of ['/api/hosts', '/api/auth/session', '/api/nothing-here', '/healthz'])
      expect(
        (await a.request(path, { headers: { authorization: `Bearer ${ADMIN}` } })).headers.get(
          'cache-control',
        ),
        path,
      ).toBe('no-store')
  })

  it('answers 413 to a body over 64 KiB, a login too', async () => {
    const { app: a } = app()
    const res = await a.request('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) },
      body: JSON.stringify({ token: 'x'.repeat(10 * 1024 * 1024) }),
    })
    expect(res.status).toBe(413)
    expect((await json(res, ApiError)).error.code).toBe('payload_too_large')
  })

  it('refuses command targets that are not names before anything is relayed', async () => {
    const { app: a, hub } = app()
    hub.latest.set(topics.availability('pi', 'docker-collector'), {
      topic: topics.availability('pi', 'docker-collector'),
      host: 'pi',
      service: 'docker-collector',
      channel: 'availability',
      payload: 'online',
    })
    for (const target of ['$(reboot)', 'web;rm -rf /', '../../etc', 'a b', '+', '#']) {
      const res = await a.request('/api/hosts/pi/services/docker-collector/commands', {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'restart', target }),
      })
      expect(res.status, target).toBe(400)
    }
    expect(hub.commands).toStrictEqual([])
  })

  it('answers the same system history question from a moment ago without reading it again, then afresh', async () => {
    const d = tempDir()
    dirs.push(d)
    const path = join(d.path, 'homelab.db')
    const db = openWriter(path)
    const store = new Store(db, {})
    const now = Date.now()
    for (let ts = now - 600_000; ts < now - 60_000; ts += 5000)
      store.addSamples('pi', ts, [['cpu.usage', 10]])
    let reads = 0
    const reader = new HistoryReader(openReader(path))
    const query = reader.query.bind(reader)
    reader.query = (...args) => {
      reads++
      return query(...args)
    }
    const { app: a } = app(() => reader)
    const ask = async () =>
      json(
        await a.request('/api/metrics/system/history?hours=1', {
          headers: { authorization: `Bearer ${ADMIN}` },
        }),
        SystemMetricsHistory,
      )
    const first = await ask()
    store.addSamples('pi', Date.now() - 1000, [['cpu.usage', 90]])
    const second = await ask()
    expect(second).toStrictEqual(first)
    expect(second.points.some((p) => p.cpuUsage === 90)).toBe(false)
    await new Promise((r) => setTimeout(r, 2100))
    const third = await ask()
    expect(third.to).toBeGreaterThan(first.to)
    expect(third.points.some((p) => (p.cpuUsage ?? 0) > 10)).toBe(true)
    expect(reads).toBe(2)
    db.close()
  })
})

describe('gateway routes on the live stream', () => {
  const bearer = { authorization: `Bearer ${ADMIN}` }
  const post = { method: 'POST', headers: bearer }

  it('lists every host in the fleet with its figures, and marks one that went quiet as silent', async () => {
    const { app: a, hub } = app()
    const put = (host: string, ts: number) =>
      hub.put(
        liveReading(
          { topic: topics.reading(host, 'sys-collector', 'system'), host, service: 'sys-collector' },
          'system',
          null,
          syntheticReading(ts, 500, host),
        ),
      )
    put('pi', Date.now())
    put('old-nas', Date.now() - 5 * 60_000)
    const fleet = await json(await a.request('/api/fleet', { headers: bearer }), FleetResponse)
    expect(fleet.hosts.map((h) => [h.host, h.silent])).toStrictEqual([
      ['old-nas', true],
      ['pi', false],
    ])
    expect(fleet.hosts[1]).toMatchObject({
      cpu: 50,
      cores: 2,
      memoryPercent: 12.5,
      alerts: 0,
      containers: null,
    })
    expect(fleet.hosts[1]?.disk?.mount).toBeDefined()
  })

  it("serves a host's system metrics from its latest reading, and 404 before there is one", async () => {
    const { app: a, hub } = app()
    expect((await a.request('/api/metrics/system', { headers: bearer })).status).toBe(404)
    const r = syntheticReading(Date.now(), 425, 'pi')
    const topic = topics.reading('pi', 'sys-collector', 'system')
    hub.put(liveReading({ topic, host: 'pi', service: 'sys-collector' }, 'system', null, r))
    const res = await a.request('/api/metrics/system', { headers: bearer })
    expect(res.status).toBe(200)
    const m = await json(res, SystemMetrics)
    expect(m).toMatchObject({
      host: 'pi',
      timestamp: r.ts,
      cpuUsage: r.cpu.usage,
      memoryUsed: r.memory.used,
      memoryPercent: r.memory.percent,
    })
  })

  it("lists containers from their documents, each as the contract's view, and hosts with what is known of them", async () => {
    const { app: a, hub } = app()
    hub.online('pi', 'docker-collector')
    for (const name of ['web', 'db']) {
      const r = syntheticContainerReading(Date.now(), 3, name, 'pi')
      const topic = topics.reading('pi', 'docker-collector', 'container', name)
      hub.put(liveReading({ topic, host: 'pi', service: 'docker-collector' }, 'container', name, r))
    }
    const list = ContainerView.array().parse(
      await (await a.request('/api/docker/containers', { headers: bearer })).json(),
    )
    expect(list.map((v) => [v.containerName, v.stale, v.status])).toStrictEqual([
      ['db', false, 'running'],
      ['web', false, 'running'],
    ])
    const hosts = await (await a.request('/api/hosts', { headers: bearer })).json()
    const pi = HostSummary.array()
      .parse(hosts.hosts)
      .find((h) => h.host === 'pi')
    expect(pi?.services).toContainEqual(
      expect.objectContaining({ service: 'docker-collector', availability: 'online' }),
    )
    expect(pi?.lastSeen).toBeGreaterThan(0)
  })

  it("asks a container's collector for its logs: 503 offline, 403 below the role, 400 bad input, the collector's answer or error", async () => {
    const { app: a, hub } = app()
    const t = app()
    const viewerCookie = (await loginAs(t, 'vic', 'viewer')).cookie
    const r = syntheticContainerReading(Date.now(), 1, 'web', 'pi')
    const topic = topics.reading('pi', 'docker-collector', 'container', 'web')
    hub.put(liveReading({ topic, host: 'pi', service: 'docker-collector' }, 'container', 'web', r))
    const get = (path: string) => a.request(path, { headers: bearer })
    expect((await get('/api/docker/containers/web/logs')).status).toBe(503)
    // The stream refuses before it starts: a JSON 503, not an event stream that ends.
    const stream = await get('/api/docker/containers/web/logs/stream')
    expect(stream.status).toBe(503)
    expect(ApiError.parse(await stream.json()).error.code).toBe('unavailable')
    hub.online('pi', 'docker-collector')
    for (const q of [
      'tail=0',
      'tail=9999',
      'since=soon',
      'since=20&until=10',
      'stream=both',
      'nope=1',
      `q=${'x'.repeat(201)}`,
    ])
      expect((await get(`/api/docker/containers/web/logs?${q}`)).status, q).toBe(400)
    expect((await get('/api/docker/containers/nope/logs')).status).toBe(404)
    expect(hub.commands).toHaveLength(0)
    const line = {
      ts: 1000,
      at: '2026-01-01T00:00:01Z',
      stream: 'stderr',
      priority: null,
      text: 'boom',
      truncated: false,
      instance: null,
    }
    hub.logChunks = [
      { v: 1, seq: 0, lines: [line], done: false },
      {
        v: 1,
        seq: 1,
        lines: [{ ...line, ts: 2000, text: 'again' }],
        done: true,
        cursor: 1000,
        subject: 'web',
      },
    ]
    const ok = await get('/api/docker/containers/web/logs?tail=2&q=b&since=2026-01-01T00:00:00Z')
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({
      host: 'pi',
      target: 'web',
      cursor: 1000,
      lines: [{ text: 'boom' }, { text: 'again' }],
    })
    expect(hub.commands.at(-1)).toMatchObject({
      topic: topics.logs('pi', 'docker-collector'),
      body: {
        op: 'read',
        target: 'web',
        tail: 2,
        since: Date.parse('2026-01-01T00:00:00Z'),
        search: { q: 'b', regex: false },
      },
    })
    for (const [code, status] of [
      ['not_found', 404],
      ['bad_request', 400],
      ['busy', 429],
      ['unavailable', 503],
      ['failed', 502],
    ] as const) {
      hub.logChunks = [{ v: 1, seq: 0, lines: [], done: true, error: { code, message: `it says ${code}` } }]
      const res = await get('/api/docker/containers/web/logs')
      expect(res.status, code).toBe(status)
      expect(ApiError.parse(await res.json()).error.message).toBe(`it says ${code}`)
    }
    // A chunk lost on the way is not a silently shorter answer.
    hub.logChunks = [{ v: 1, seq: 1, lines: [], done: true }]
    expect((await get('/api/docker/containers/web/logs')).status).toBe(502)
    // Below the operator role: 403 (its own app: the same hub state is not needed to refuse).
    const v = await t.app.request('/api/docker/containers/web/logs', { headers: { cookie: viewerCookie } })
    expect(v.status).toBe(403)
  })

  it("relays a container command and answers with the executor's outcome as its HTTP status", async () => {
    const { app: a, hub } = app()
    const r = syntheticContainerReading(Date.now(), 1, 'web', 'pi')
    const topic = topics.reading('pi', 'docker-collector', 'container', 'web')
    hub.put(liveReading({ topic, host: 'pi', service: 'docker-collector' }, 'container', 'web', r))
    // Not online: 503, nothing relayed.
    const away = await a.request('/api/docker/containers/web/restart', post)
    expect(away.status).toBe(503)
    expect(ApiError.parse(await away.json()).error.code).toBe('unavailable')
    expect(hub.commands).toHaveLength(0)
    hub.online('pi', 'docker-collector')
    const result = (outcome: CommandResult['outcome']): CommandResult => ({
      v: 1,
      ts: Date.now(),
      action: 'restart',
      target: 'web',
      outcome,
      message: `restart web: ${outcome}`,
    })
    for (const [outcome, status] of [
      ['done', 200],
      ['refused', 403],
      ['not_found', 404],
      ['failed', 502],
    ] as const) {
      hub.answer = result(outcome)
      const res = await a.request('/api/docker/containers/web/restart', post)
      expect(res.status, outcome).toBe(status)
      expect(await res.json()).toMatchObject({ outcome, containerName: 'web' })
    }
    hub.answer = null
    expect((await a.request('/api/docker/containers/web/restart', post)).status).toBe(504)
    expect(hub.commands).toHaveLength(5)
    expect(hub.commands[0]).toMatchObject({
      host: 'pi',
      service: 'docker-collector',
      req: { action: 'restart', target: 'web', requestedBy: 'break-glass admin' },
    })
    // A container that is not there is a 404 before anything is relayed.
    expect((await a.request('/api/docker/containers/nope/restart', post)).status).toBe(404)
    expect(hub.commands).toHaveLength(5)
  })

  it("lists units as the contract's view, stale while their collector is offline", async () => {
    const { app: a, hub } = app()
    const doc = syntheticUnitReading(Date.now(), 'nginx.service', 'pi')
    const { unit } = doc
    const topic = topics.reading('pi', 'systemd-collector', 'unit', unit.name)
    hub.put(liveReading({ topic, host: 'pi', service: 'systemd-collector' }, 'unit', unit.name, doc))
    const stale = UnitView.array().parse(await (await a.request('/api/services', { headers: bearer })).json())
    expect(stale).toMatchObject([{ name: 'nginx.service', stale: true, stats: doc.stats }])
    hub.online('pi', 'systemd-collector')
    const live = UnitView.array().parse(await (await a.request('/api/services', { headers: bearer })).json())
    expect(live).toMatchObject([{ name: 'nginx.service', stale: false }])
  })

  it('reports a degraded service of the monitor in /healthz, and stays 200', async () => {
    const { app: a, hub } = app()
    const topic = topics.status('pi', 'recorder')
    hub.put({
      topic,
      host: 'pi',
      service: 'recorder',
      channel: 'status',
      payload: {
        v: 1,
        ts: Date.now(),
        host: 'pi',
        source: 'recorder',
        state: 'degraded',
        reason: 'the disk is full',
        version: 'test',
        startedAt: 0,
        counters: {},
      },
    })
    const res = await a.request('/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      status: 'degraded',
      reasons: ['recorder on pi: the disk is full'],
    })
  })
})

describe('the dashboard files', () => {
  it('sends the hashed assets gzip-compressed to a browser that accepts it, to keep for good', async () => {
    const d = tempDir()
    dirs.push(d)
    mkdirSync(join(d.path, 'assets'))
    writeFileSync(
      join(d.path, 'index.html'),
      '<!doctype html><script src="/assets/index-abc123.js"></script>',
    )
    const js = `export const data = ${JSON.stringify(Array.from({ length: 500 }, (_, i) => `value ${i}`))}\n`
    writeFileSync(join(d.path, 'assets', 'index-abc123.js'), js)
    const { app: a } = app(() => null, d.path)
    const gz = await a.request('/assets/index-abc123.js', {
      headers: { 'accept-encoding': 'gzip, deflate, br' },
    })
    expect(gz.status).toBe(200)
    expect(gz.headers.get('content-encoding')).toBe('gzip')
    expect(gz.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    const body = Buffer.from(await gz.arrayBuffer())
    expect(body.length).toBeLessThan(js.length / 3)
    expect(gunzipSync(body).toString('utf8')).toBe(js)
    const plain = await a.request('/assets/index-abc123.js')
    expect(plain.headers.get('content-encoding')).toBeNull()
    expect(await plain.text()).toBe(js)
    // The page itself is not kept: a new build must be picked up at the next load.
    const page = await a.request('/')
    expect(page.headers.get('cache-control') ?? '').not.toContain('immutable')
    expect((await a.request('/assets/missing.js')).headers.get('cache-control') ?? '').not.toContain(
      'immutable',
    )
  })
})

describe('history before the first reading', () => {
  it('answers a known metric that has no data yet with an empty history, and an unknown name with 404', async () => {
    const d = tempDir()
    dirs.push(d)
    const path = join(d.path, 'homelab.db')
    const db = openWriter(path)
    const reader = new HistoryReader(openReader(path))
    const { app: a } = app(() => reader)
    const ask = (series: string) =>
      a.request(`/api/history?series=${encodeURIComponent(series)}`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      })
    const empty = await ask('cpu.usage')
    expect(empty.status).toBe(200)
    expect(HistoryResponse.parse(await empty.json()).columns[0]).toStrictEqual([])
    expect((await ask('fs.percent{mount=/}')).status).toBe(200)
    expect(ApiError.parse(await (await ask('no.such.series')).json()).error.code).toBe('not_found')
    db.close()
  })

  it('channel endpoints: admins only, checked before relaying, a failed test answered 200 with the reason', async () => {
    const t = app()
    const { app: a, hub } = t
    hub.online('pi', 'alerter')
    const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }
    const { cookie } = await loginAs(t, 'olivia', 'operator')
    const asOperator = await a.request('/api/alerts/channels/phone', {
      method: 'PUT',
      headers: { cookie, origin: 'http://localhost', 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'ntfy://ntfy.sh/x' }),
    })
    expect(asOperator.status).toBe(403)
    const bad = await a.request('/api/alerts/channels/bad name', {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ url: 'ntfy://ntfy.sh/x' }),
    })
    expect(bad.status).toBe(400)
    const extra = await a.request('/api/alerts/channels/phone', {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ url: 'ntfy://ntfy.sh/x', token: 'no such field' }),
    })
    expect(extra.status).toBe(400)
    expect(hub.commands).toHaveLength(0)
    const answer = (action: string, outcome: CommandResult['outcome'], message: string): CommandResult => ({
      v: 1,
      ts: Date.now(),
      action,
      target: 'phone',
      outcome,
      message,
    })
    hub.answer = answer('set_channel', 'done', 'channel phone: added')
    const put = await a.request('/api/alerts/channels/phone', {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ url: 'ntfy://ntfy.sh/x', minSeverity: 'warning', default: true }),
    })
    expect(put.status).toBe(200)
    expect(hub.commands.at(-1)).toMatchObject({
      service: 'alerter',
      req: {
        action: 'set_channel',
        target: 'phone',
        params: { url: 'ntfy://ntfy.sh/x', minSeverity: 'warning', default: true },
      },
    })
    hub.answer = answer('set_channel', 'refused', 'url: the topic (the path) is missing')
    const refused = await a.request('/api/alerts/channels/phone', {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ url: 'ntfy://ntfy.sh/' }),
    })
    expect(refused.status).toBe(400)
    expect(ApiError.parse(await refused.json()).error).toEqual({
      code: 'invalid_channel',
      message: 'url: the topic (the path) is missing',
    })
    hub.answer = answer(
      'test_channel',
      'failed',
      'test to phone failed: ntfy answered HTTP 401: unauthorized',
    )
    const test = await a.request('/api/alerts/channels/phone/test', {
      method: 'POST',
      headers: admin,
      body: '{}',
    })
    expect(test.status).toBe(200)
    expect(CommandResult.parse(await test.json())).toMatchObject({ outcome: 'failed' })
    hub.answer = answer(
      'remove_channel',
      'refused',
      'rules "cpu-high" notify "phone"; route them elsewhere first',
    )
    const del = await a.request('/api/alerts/channels/phone', { method: 'DELETE', headers: admin })
    expect(del.status).toBe(409)
  })
})
