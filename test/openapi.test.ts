import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { testApp } from '../services/gateway/src/route-test-kit.js'
import {
  HOST,
  startAlerter,
  startGateway,
  startRecorder,
  startSysCollector,
  startTestBroker,
  tempDir,
} from './helpers/stack.js'

/**
 * The OpenAPI document: valid OpenAPI 3.1 (checked by an OpenAPI validator), the same routes as the app serves (both
 * ways), and real answers of a running stack (broker, recorder, sys-collector, alerter, gateway) valid against the
 * schemas it documents.
 */
const ADMIN = 'admin-token-for-openapi-tests-001'
const cleanups: Array<() => Promise<void> | void> = []
let base = ''
let doc: Record<string, unknown> = {}

const Doc = z.object({
  openapi: z.string(),
  paths: z.record(
    z.string(),
    z.record(z.string(), z.object({ responses: z.record(z.string(), z.unknown()) })),
  ),
  components: z.object({ schemas: z.record(z.string(), z.record(z.string(), z.unknown())) }),
})
const Response = z.object({
  content: z.record(z.string(), z.object({ schema: z.object({ $ref: z.string() }).optional() })).optional(),
})

beforeAll(async () => {
  const dir = tempDir()
  cleanups.push(dir.remove)
  const b = await startTestBroker(dir.path)
  cleanups.push(() => b.broker.stop())
  const rec = startRecorder(dir.path, b.url, 'recorder', b.credentials.recorder)
  cleanups.push(() => rec.stop())
  await rec.conn.whenConnected()
  const gw = await startGateway(dir.path, b.url, 'gateway', b.credentials.gateway, ADMIN, undefined, 5000)
  await gw.start()
  cleanups.push(() => gw.stop())
  base = `http://127.0.0.1:${gw.port}`
  const sys = await startSysCollector(b.url, 'sys-collector', b.credentials['sys-collector'], 500)
  cleanups.push(() => sys.stop())
  const alerter = startAlerter(dir.path, b.url, b.credentials.alerter)
  cleanups.push(() => alerter.stop())
  // Readings stored and the alerter's documents in: every answer has something in it.
  const until = async (what: string, ok: () => Promise<boolean>) => {
    for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200)))
      if (await ok()) return
    throw new Error(`timed out waiting for ${what}`)
  }
  const get = async (path: string): Promise<unknown> =>
    (await fetch(`${base}${path}`, { headers: auth })).json()
  const Points = z.object({ columns: z.tuple([z.array(z.number())]).rest(z.unknown()) })
  const Rules = z.object({ alerter: z.string(), rules: z.array(z.object({ id: z.string() })) })
  await until(
    'stored readings',
    async () =>
      (Points.safeParse(await get('/api/history?series=mem.total')).data?.columns[0].length ?? 0) > 0,
  )
  await until('the alerter', async () => {
    const r = Rules.safeParse(await get('/api/alerts/rules')).data
    return r?.alerter === 'online' && r.rules.some((x) => x.id === 'cpu-high')
  })
  const res = await fetch(`${base}/api/openapi.json`)
  if (res.status !== 200 || !res.headers.get('content-type')?.startsWith('application/json'))
    throw new Error(`/api/openapi.json answered ${res.status} ${res.headers.get('content-type')}`)
  doc = await res.json()
}, 60_000)

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const auth = { authorization: `Bearer ${ADMIN}` }

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    const v = new Validator({ strict: false })
    const r = await v.validate(doc)
    expect(r.errors ?? []).toEqual([])
    expect(r.valid).toBe(true)
    expect(v.version).toBe('3.1')
  })

  it('has every route the gateway serves, and only those', () => {
    const t = testApp({ history: () => null, webDir: null, projections: () => null })
    cleanups.push(t.dir.remove)
    const served = new Set(
      t.app.routes
        .filter(
          (r) =>
            r.method !== 'ALL' &&
            (r.path.startsWith('/api/') || r.path === '/healthz' || r.path === '/metrics'),
        )
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`),
    )
    const d = Doc.parse(doc)
    const documented = new Set(
      Object.entries(d.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)),
    )
    expect(
      [...served].filter((r) => !documented.has(r)),
      'served, not documented',
    ).toEqual([])
    expect(
      [...documented].filter((r) => !served.has(r)),
      'documented, not served',
    ).toEqual([])
    expect(served.size).toBeGreaterThan(50)
  })

  it('describes the real answers of a running stack', async () => {
    const d = Doc.parse(doc)
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false })
    const schemaFor = (path: string, method: string, status: number): string | null => {
      const responses = d.paths[path]?.[method]?.responses ?? {}
      const r = Response.parse(responses[String(status)] ?? responses.default)
      const ref = r.content?.['application/json']?.schema?.$ref
      return ref ? ref.replace('#/components/schemas/', '') : null
    }
    const token = await (
      await fetch(`${base}/api/tokens`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'openapi', role: 'viewer' }),
      })
    ).json()
    const now = Date.now()
    // One real request per route with a JSON answer (the stack has no Docker, systemd or Ollama collector: those
    // answer with their documented errors, which are checked too).
    const calls: Array<[method: string, template: string, url: string, body?: unknown, expected?: number]> = [
      ['get', '/healthz', '/healthz', undefined, 200],
      ['get', '/api/auth/session', '/api/auth/session', undefined, 200],
      ['get', '/api/auth/me', '/api/auth/me', undefined, 200],
      ['post', '/api/auth/login', '/api/auth/login', { token: ADMIN }, 200],
      [
        'post',
        '/api/auth/setup',
        '/api/auth/setup',
        { code: 'x'.repeat(24), username: 'a', password: 'b'.repeat(12) },
      ],
      ['get', '/api/users', '/api/users', undefined, 200],
      [
        'post',
        '/api/users',
        '/api/users',
        { name: 'vera', role: 'viewer', password: 'a long password 1' },
        201,
      ],
      ['patch', '/api/users/{name}', '/api/users/vera', { role: 'operator' }, 200],
      ['delete', '/api/users/{name}', '/api/users/vera', undefined, 200],
      ['get', '/api/tokens', '/api/tokens', undefined, 200],
      ['post', '/api/tokens', '/api/tokens', { name: 'second', role: 'viewer' }, 201],
      ['delete', '/api/tokens/{id}', `/api/tokens/${token.id}`, undefined, 200],
      ['get', '/api/hosts', '/api/hosts', undefined, 200],
      ['get', '/api/fleet', '/api/fleet', undefined, 200],
      ['get', '/api/metrics/system', '/api/metrics/system?detail=true', undefined, 200],
      ['get', '/api/metrics/system/history', '/api/metrics/system/history?hours=1&points=60', undefined, 200],
      ['get', '/api/history', '/api/history?series=cpu.usage&points=50', undefined, 200],
      ['get', '/api/series', '/api/series', undefined, 200],
      ['get', '/api/hosts/{host}/processes', `/api/hosts/${HOST}/processes`, undefined, 200],
      ['get', '/api/events', '/api/events?limit=20', undefined, 200],
      [
        'post',
        '/api/hosts/{host}/services/{service}/commands',
        `/api/hosts/${HOST}/services/docker-collector/commands`,
        { action: 'restart', target: 'web' },
        503,
      ],
      ['get', '/api/docker/containers', '/api/docker/containers', undefined, 200],
      ['get', '/api/docker/containers/{id}', '/api/docker/containers/web', undefined, 404],
      ['get', '/api/docker/containers/{id}/stats', '/api/docker/containers/web/stats', undefined, 404],
      ['get', '/api/docker/containers/{id}/history', '/api/docker/containers/web/history', undefined],
      ['get', '/api/docker/containers/{id}/logs', '/api/docker/containers/web/logs', undefined],
      ['get', '/api/services', '/api/services', undefined, 200],
      ['get', '/api/services/{name}', '/api/services/ssh.service', undefined, 404],
      ['get', '/api/services/{name}/history', '/api/services/ssh.service/history', undefined, 200],
      ['get', '/api/ollama/status', '/api/ollama/status', undefined],
      ['get', '/api/ollama/models', '/api/ollama/models', undefined, 200],
      ['get', '/api/ollama/running', '/api/ollama/running', undefined, 200],
      ['get', '/api/ollama/inference', `/api/ollama/inference?from=${now - 3_600_000}`, undefined],
      ['get', '/api/probes', '/api/probes', undefined, 200],
      ['get', '/api/probes/{id}/history', '/api/probes/web/history', undefined, 404],
      ['get', '/api/alerts', '/api/alerts', undefined, 200],
      ['get', '/api/alerts/count', '/api/alerts/count', undefined, 200],
      ['get', '/api/alerts/rules', '/api/alerts/rules', undefined, 200],
      ['patch', '/api/alerts/rules/{rule}', '/api/alerts/rules/cpu-high', { value: 91 }, 200],
      [
        'post',
        '/api/alerts/rules',
        '/api/alerts/rules',
        { type: 'threshold', id: 'load', metric: 'load.1', op: '>', value: 8 },
        201,
      ],
      [
        'post',
        '/api/alerts/rules',
        '/api/alerts/rules',
        { type: 'threshold', id: 'x', metric: 'no.such', op: '>', value: 1 },
        400,
      ],
      ['delete', '/api/alerts/rules/{rule}', '/api/alerts/rules/load', undefined, 200],
      [
        'put',
        '/api/alerts/channels/{name}',
        '/api/alerts/channels/hook',
        { url: 'generic+http://127.0.0.1:1/x', default: false },
        200,
      ],
      ['post', '/api/alerts/channels/{name}/test', '/api/alerts/channels/hook/test', {}, 200],
      ['delete', '/api/alerts/channels/{name}', '/api/alerts/channels/hook', undefined, 200],
      ['post', '/api/alerts/{id}/ack', '/api/alerts/abcdef012345/ack', undefined, 404],
      ['post', '/api/alerts/{id}/silence', '/api/alerts/abcdef012345/silence', { minutes: 5 }, 404],
      ['post', '/api/auth/logout-all', '/api/auth/logout-all', undefined, 200],
    ]
    const checked: string[] = []
    for (const [method, template, url, body, expected] of calls) {
      const res = await fetch(`${base}${url}`, {
        method: method.toUpperCase(),
        headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
      const what = `${method.toUpperCase()} ${url} → ${res.status}`
      if (expected !== undefined) expect(res.status, what).toBe(expected)
      const name = schemaFor(template, method, res.status)
      expect(name, `${what}: no schema documented`).not.toBeNull()
      const schema = d.components.schemas[name ?? '']
      expect(schema, `${what}: ${name} is not in the components`).toBeDefined()
      const validate = ajv.compile(schema ?? {})
      const answer = await res.json()
      const valid = validate(answer)
      expect(validate.errors ?? [], `${what} against ${name}`).toEqual([])
      expect(valid).toBe(true)
      checked.push(`${what} ${name}`)
    }
    // The login's own answer and the error shape were among them.
    expect(checked.some((c) => c.endsWith(' ApiError'))).toBe(true)
    expect(checked.filter((c) => !c.endsWith(' ApiError')).length).toBeGreaterThan(30)
  }, 60_000)
})
