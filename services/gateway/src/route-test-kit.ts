import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CommandResult, LiveMessage, Role, ServiceName } from '@homelab/contracts'
import { createTopics } from '@homelab/contracts'
import { Counters, createLogger } from '@homelab/service-kit'
import { createApp } from './app.js'
import { Auth } from './auth.js'
import { parseCidrs, TrustedProxies } from './client-address.js'
import type { AccessEventData, GatewayDeps, LiveView, NodeBindings } from './context.js'
import type { OidcLogin } from './oidc.js'
import { RoleMapping } from './sso.js'
import { LoginThrottle } from './throttle.js'

/** Route tests' kit: the app on real parts (a real gateway database in a temp folder) with an in-memory live view. */
export const ADMIN = 'admin-token-for-route-tests-0000'
export const PASSWORD = 'correct horse battery staple'
const topics = createTopics('homelab')

/** The live stream as the routes see it: what the test put there, and the commands they would relay. */
export class FakeHub implements LiveView {
  readonly latest = new Map<string, LiveMessage>()
  readonly commands: unknown[] = []
  /** What the executor answers (null: it does not answer in time). */
  answer: CommandResult | null = null
  put(m: LiveMessage): void {
    this.latest.set(m.topic, m)
  }
  online(host: string, service: ServiceName): void {
    const topic = topics.availability(host, service)
    this.put({ topic, host, service, channel: 'availability', payload: 'online' })
  }
  latestOn(topic: string) {
    return this.latest.get(topic)
  }
  snapshot(filter: (m: LiveMessage) => boolean = () => true) {
    return [...this.latest.values()].filter(filter)
  }
  subscribe() {
    return () => undefined
  }
  async command(host: string, service: string, req: unknown) {
    this.commands.push({ host, service, req })
    return this.answer
  }
  /** What a collector answers a log request with, chunk by chunk (empty: nobody answers). */
  logChunks: unknown[] = []
  /** Log requests: recorded, and answered with `logChunks`. */
  request(topic: string, body: unknown, _id: string, _expirySec: number, onReply: (payload: Buffer) => void) {
    this.commands.push({ topic, body })
    const chunks = this.logChunks
    setTimeout(() => {
      for (const c of chunks) onReply(Buffer.from(JSON.stringify(c)))
    }, 1)
    return () => undefined
  }
  send(topic: string, body: unknown) {
    this.commands.push({ topic, body })
  }
}

export interface TestAppOptions {
  history?: GatewayDeps['history']
  projections?: GatewayDeps['projections']
  webDir?: string | null
  trustedProxies?: string
  forwardAuth?: { userHeader: string; groupsHeader?: string; admin?: string[]; operator?: string[] }
  basePath?: string
  throttle?: LoginThrottle
  oidc?: OidcLogin
}

export function testApp(o: TestAppOptions = {}) {
  const path = mkdtempSync(join(tmpdir(), 'hl-gw-'))
  const dir = { path, remove: () => rmSync(path, { recursive: true, force: true }) }
  const hub = new FakeHub()
  const audits: Array<{ type: string; data: AccessEventData }> = []
  const deps: GatewayDeps = {
    auth: new Auth(dir.path, ADMIN, { ttlMs: 3_600_000, idleMs: 600_000 }),
    throttle: o.throttle ?? new LoginThrottle(),
    proxies: new TrustedProxies(o.trustedProxies ? parseCidrs(o.trustedProxies) : null),
    forwardAuth: o.forwardAuth
      ? {
          userHeader: o.forwardAuth.userHeader,
          groupsHeader: o.forwardAuth.groupsHeader,
          roles: new RoleMapping(
            { admin: o.forwardAuth.admin ?? [], operator: o.forwardAuth.operator ?? [], viewer: [] },
            'viewer',
          ),
        }
      : null,
    oidc: o.oidc ?? null,
    basePath: o.basePath ?? '',
    publicOrigin: null,
    audit: (e) => audits.push({ type: e.type, data: e.data }),
    hub,
    history: o.history ?? (() => null),
    projections: o.projections ?? (() => null),
    topics,
    host: 'pi',
    sessionTtlMs: 3_600_000,
    secureCookies: false,
    commandTimeoutMs: 500,
    logsRole: 'operator',
    webDir: o.webDir ?? null,
    mqttConnected: () => true,
    log: createLogger('gateway', process.env.DEBUG ? undefined : () => undefined),
    counters: new Counters(),
  }
  const app = createApp(deps)
  return {
    app,
    deps,
    hub,
    audits,
    dir: {
      path: dir.path,
      remove: () => {
        deps.auth.close()
        dir.remove()
      },
    },
  }
}
export type TestApp = ReturnType<typeof testApp>

/** What the Node server would pass for a request from this socket peer. */
export const fromPeer = (remoteAddress: string): NodeBindings => ({ incoming: { socket: { remoteAddress } } })

/** Creates an account and logs it in with its password; returns the session cookie. */
export async function loginAs(t: TestApp, name: string, role: Role, peer = '127.0.0.1') {
  if (!t.deps.auth.accounts.get(name)) await t.deps.auth.accounts.add(name, role, PASSWORD)
  const res = await t.app.request(
    '/api/auth/login',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://pi:8080', host: 'pi:8080' },
      body: JSON.stringify({ username: name, password: PASSWORD }),
    },
    fromPeer(peer),
  )
  if (res.status !== 200) throw new Error(`login as ${name}: ${res.status} ${await res.text()}`)
  const cookie = /homelab_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1]
  if (!cookie) throw new Error('no session cookie')
  return { cookie: `homelab_session=${cookie}`, setCookie: res.headers.get('set-cookie') ?? '' }
}
