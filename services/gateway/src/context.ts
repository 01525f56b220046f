import type {
  AccessAudit,
  CommandRequest,
  CommandResult,
  LiveMessage,
  Role,
  ServiceName,
  Topics,
} from '@homelab/contracts'
import type { Counters, EventDraft, Logger } from '@homelab/service-kit'
import type { HistoryReader, ProjectionReader } from '@homelab/storage'
import type { z } from 'zod'
import type { Auth, Principal } from './auth.js'
import type { TrustedProxies } from './client-address.js'
import type { OidcLogin } from './oidc.js'
import type { RoleMapping } from './sso.js'
import type { LoginThrottle } from './throttle.js'

/** What the routes use of the live stream (LiveHub; an in-memory one in route tests). */
export interface LiveView {
  latestOn(topic: string): LiveMessage | undefined
  snapshot(filter?: (m: LiveMessage) => boolean): LiveMessage[]
  subscribe(l: (m: LiveMessage) => void): () => void
  command(
    host: string,
    service: ServiceName,
    req: CommandRequest,
    timeoutMs: number,
  ): Promise<CommandResult | null>
  /** A request whose replies (one or many) carry correlation `id`; the returned function stops listening. */
  request(
    topic: string,
    body: unknown,
    id: string,
    expirySec: number,
    onReply: (payload: Buffer) => void,
  ): () => void
  /** Another message under an existing correlation id. */
  send(topic: string, body: unknown, id: string, expirySec: number): void
}

/** Everything the routes need, passed to createApp (tests build it with real parts on temp folders and ports). */
export interface GatewayDeps {
  auth: Auth
  throttle: LoginThrottle
  proxies: TrustedProxies
  /** Forward auth from a trusted proxy: the user header, the groups header, and groups → roles. */
  forwardAuth: { userHeader: string; groupsHeader: string | undefined; roles: RoleMapping } | null
  /** OIDC single sign-on, when configured (the login page offers it). */
  oidc: OidcLogin | null
  /** The path everything is served under ('' or `/monitor`). */
  basePath: string
  /** HOMELAB_PUBLIC_URL's origin, also accepted as a write's Origin (a proxy that rewrites Host). */
  publicOrigin: string | null
  /** Raises an access event (a login, a failed login, an account or token change) on the bus. */
  audit: (e: Omit<EventDraft, 'data'> & { data: AccessEventData }) => void
  hub: LiveView
  /** The history reader, or null while the recorder's database does not exist yet. */
  history: () => HistoryReader | null
  /** The projections (containers, units, services, Ollama, latest documents), or null as `history`. */
  projections: () => ProjectionReader | null
  topics: Topics
  /** The host the gateway runs on: the default `host` of every query. */
  host: string
  sessionTtlMs: number
  secureCookies: boolean
  commandTimeoutMs: number
  /** The least role that may read container and unit logs (HOMELAB_LOGS_ROLE). */
  logsRole: Role
  webDir: string | null
  mqttConnected: () => boolean
  log: Logger
  counters: Counters
}

export type AccessEventData = z.infer<typeof AccessAudit>

/** What the Node server passes each request (the route tests pass the same shape to `app.request`). */
export interface NodeBindings {
  incoming?: { socket: { remoteAddress?: string | undefined } }
}
export type Env = { Variables: { principal: Principal; client: string }; Bindings: NodeBindings }
