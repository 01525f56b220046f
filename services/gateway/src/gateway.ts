import { existsSync, readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Topics } from '@homelab/contracts'
import {
  type Counters,
  type Logger,
  type MqttConnection,
  StartError,
  serviceConnection,
} from '@homelab/service-kit'
import { type Db, HistoryReader, openReader, ProjectionReader } from '@homelab/storage'
import { type ServerType, serve } from '@hono/node-server'
import { createApp } from './app.js'
import { Auth } from './auth.js'
import { parseCidrs, TrustedProxies } from './client-address.js'
import { type GatewayConfig, sessionOptions } from './config.js'
import type { GatewayDeps } from './context.js'
import { LiveHub } from './live-hub.js'
import { OidcLogin } from './oidc.js'
import { openMetricsApp } from './routes/prometheus.js'
import { RoleMapping } from './sso.js'
import { LoginThrottle } from './throttle.js'

/** Serves `fetch` on hostname:port; resolves once it listens. */
function listen(
  fetch: (req: Request) => Response | Promise<Response>,
  port: number,
  hostname: string,
  listening: (port: number) => void,
): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port, hostname }, (info: AddressInfo) => {
      listening(info.port)
      resolve(server)
    })
    server.once('error', reject)
  })
}

export interface GatewayServiceDeps {
  config: GatewayConfig
  topics: Topics
  host: string
  username: string
  password: string | undefined
  databasePath: string
  log: Logger
  counters: Counters
}

/** Finds web/dist: HOMELAB_WEB_DIR, else walking up from this file (works from src/ in tests and dist/ bundles). */
export function findWebDir(configured: string | undefined): string | null {
  if (configured) return resolve(configured)
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'web', 'dist')
    if (existsSync(join(candidate, 'index.html'))) return candidate
    dir = dirname(dir)
  }
  return null
}

/** OIDC single sign-on from the settings, or null when HOMELAB_OIDC_ISSUER is unset. */
function oidcLogin(c: GatewayConfig, log: Logger): OidcLogin | null {
  if (!c.HOMELAB_OIDC_ISSUER) return null
  const secret = c.HOMELAB_OIDC_CLIENT_SECRET_FILE
    ? readFileSync(c.HOMELAB_OIDC_CLIENT_SECRET_FILE, 'utf8').trim()
    : c.HOMELAB_OIDC_CLIENT_SECRET
  return new OidcLogin(
    {
      issuer: new URL(c.HOMELAB_OIDC_ISSUER),
      // The config requires both with an issuer.
      clientId: c.HOMELAB_OIDC_CLIENT_ID ?? '',
      clientSecret: secret,
      redirectUri: `${(c.HOMELAB_PUBLIC_URL ?? '').replace(/\/+$/, '')}/api/auth/oidc/callback`,
      scopes: c.HOMELAB_OIDC_SCOPES,
      groupsClaim: c.HOMELAB_OIDC_GROUPS_CLAIM,
      roles: RoleMapping.from(c),
    },
    log,
  )
}

export class Gateway {
  readonly conn: MqttConnection
  readonly hub: LiveHub
  readonly auth: Auth
  private server: ServerType | null = null
  private metricsServer: ServerType | null = null
  /** The port of the open metrics listener (HOMELAB_METRICS_LISTEN), once it listens. */
  metricsPort: number | null = null
  private db: Db | null = null
  private readers: { history: HistoryReader; projections: ProjectionReader } | null = null
  port = 0

  private readonly oidc: OidcLogin | null

  constructor(private readonly d: GatewayServiceDeps) {
    this.oidc = oidcLogin(d.config, d.log)
    this.auth = new Auth(d.config.HOMELAB_DATA_DIR, d.config.HOMELAB_ADMIN_TOKEN, sessionOptions(d.config))
    this.conn = serviceConnection({ ...d, url: d.config.HOMELAB_MQTT_URL }, 'gateway', d.counters, {
      // A suffix per process (the broker's `.suffix` form): two gateway processes on one host never take each other's
      // connection.
      clientId: `gateway-${d.host}.${process.pid}`,
    })
    this.hub = new LiveHub(this.conn, d.topics, d.log, d.counters)
  }

  /** The read-only readers, opened once the recorder's database exists. */
  private open(): { history: HistoryReader; projections: ProjectionReader } | null {
    if (this.readers) return this.readers
    if (!existsSync(this.d.databasePath)) return null
    try {
      const db = openReader(this.d.databasePath)
      this.db = db
      this.readers = {
        history: new HistoryReader(db, (id, why) => {
          this.d.counters.inc('events.unreadable')
          this.d.log.once(
            `event-unreadable:${why}`,
            `skipping stored event ${id} (and any others like it): ${why}`,
          )
        }),
        projections: new ProjectionReader(db),
      }
    } catch (e) {
      this.d.log.once(`db:${(e as Error).message}`, 'cannot open the database yet:', e)
      return null
    }
    return this.readers
  }
  private history = (): HistoryReader | null => this.open()?.history ?? null
  private projections = (): ProjectionReader | null => this.open()?.projections ?? null

  async start(): Promise<void> {
    const { d } = this
    // Not awaited and not fatal: the provider may start after us (or be slow); the first login tries again and says
    // why it cannot.
    void this.oidc
      ?.discover()
      .catch((e: Error) => d.log.warn(`OIDC: ${e.message} (trying again at the next login)`))
    this.hub.start()
    this.conn.start()
    const webDir = findWebDir(d.config.HOMELAB_WEB_DIR)
    if (!webDir) d.log.warn('web app not built (run `npm run build`); serving the API only')
    const c = d.config
    const deps: GatewayDeps = {
      auth: this.auth,
      throttle: new LoginThrottle(),
      proxies: new TrustedProxies(c.HOMELAB_TRUSTED_PROXIES ? parseCidrs(c.HOMELAB_TRUSTED_PROXIES) : null),
      forwardAuth: c.HOMELAB_AUTH_HEADER
        ? {
            userHeader: c.HOMELAB_AUTH_HEADER,
            groupsHeader: c.HOMELAB_AUTH_GROUPS_HEADER,
            roles: RoleMapping.from(c),
          }
        : null,
      oidc: this.oidc,
      basePath: c.HOMELAB_BASE_PATH,
      publicOrigin: c.HOMELAB_PUBLIC_URL ? new URL(c.HOMELAB_PUBLIC_URL).origin : null,
      audit: (e) => {
        d.log[e.severity === 'warning' ? 'warn' : 'info'](e.message)
        this.conn.publishEvent(e)
      },
      hub: this.hub,
      history: this.history,
      projections: this.projections,
      topics: d.topics,
      host: d.host,
      sessionTtlMs: d.config.HOMELAB_SESSION_HOURS * 3_600_000,
      secureCookies: d.config.HOMELAB_SECURE_COOKIES,
      commandTimeoutMs: d.config.HOMELAB_COMMAND_TIMEOUT_MS,
      logsRole: d.config.HOMELAB_LOGS_ROLE,
      webDir,
      mqttConnected: () => this.conn.connected,
      log: d.log,
      counters: d.counters,
    }
    const app = createApp(deps)
    const metricsAt = c.HOMELAB_METRICS_LISTEN
    if (metricsAt) {
      const at = metricsAt.lastIndexOf(':')
      const hostname = metricsAt.slice(0, at).replace(/^\[|\]$/g, '')
      this.metricsServer = await listen(
        openMetricsApp(deps).fetch,
        Number(metricsAt.slice(at + 1)),
        hostname,
        (port) => {
          this.metricsPort = port
        },
      ).catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'EADDRINUSE'
          ? new StartError(`HOMELAB_METRICS_LISTEN ${metricsAt} is already in use: give it a free port.`)
          : e
      })
      d.log.info(`Prometheus metrics without a login on http://${metricsAt}/metrics (HOMELAB_METRICS_LISTEN)`)
    }
    const listening = new Promise<void>((resolveStart, reject) => {
      const server = serve(
        { fetch: app.fetch, port: d.config.HOMELAB_PORT, hostname: d.config.HOMELAB_BIND },
        (info: AddressInfo) => {
          this.port = info.port
          resolveStart()
        },
      )
      server.once('error', (e: NodeJS.ErrnoException) => {
        reject(
          e.code === 'EADDRINUSE'
            ? new StartError(
                `HTTP port ${d.config.HOMELAB_PORT} is already in use: set HOMELAB_PORT to a free port.`,
              )
            : e,
        )
      })
      this.server = server
    })
    // A main port in use leaves no metrics listener behind.
    await listening.catch(async (e: unknown) => {
      const m = this.metricsServer
      this.metricsServer = null
      if (m) await new Promise<void>((r) => m.close(() => r()))
      throw e
    })
  }

  async stop(): Promise<void> {
    const m = this.metricsServer
    this.metricsServer = null
    if (m) await new Promise<void>((r) => m.close(() => r()))
    const s = this.server
    this.server = null
    if (s) {
      // SSE streams stay open until closed: end them so close() returns.
      if ('closeAllConnections' in s) s.closeAllConnections()
      await new Promise<void>((r) => s.close(() => r()))
    }
    this.hub.stop()
    await this.conn.stop()
    this.db?.close()
    this.auth.close()
  }
}
