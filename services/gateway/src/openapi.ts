import {
  AlertId,
  AlertsResponse,
  ApiError,
  ChannelInput,
  ChannelName,
  ChannelTest,
  CommandAction,
  CommandResult,
  ContainerHistory,
  ContainerMetrics,
  ContainerRef,
  ContainerView,
  CreatedToken,
  DisksResponse,
  Event,
  FleetResponse,
  HistoryQuery,
  HistoryResponse,
  HostId,
  HostSummary,
  LoginRequest,
  LogQuery,
  LogsResponse,
  Me,
  NewToken,
  NewUser,
  OllamaInferenceHistory,
  OllamaModelView,
  OllamaRunningView,
  OllamaStatus,
  PasswordChange,
  ProbeBody,
  ProbeConfigResponse,
  ProbeId,
  ProbesResponse,
  ProcessesResponse,
  type Role,
  RuleId,
  RuleInput,
  RulePatch,
  RulesResponse,
  ServiceName,
  SessionInfo,
  SetupRequest,
  SystemHistoryQuery,
  SystemMetrics,
  SystemMetricsHistory,
  SystemReading,
  TIERS,
  TokensResponse,
  UnitName,
  UnitView,
  UpsResponse,
  UserName,
  UserPatch,
  UsersResponse,
  UserView,
} from '@homelab/contracts'
import { z } from 'zod'
import { AlertsQuery, SilenceBody } from './routes/alerts.js'
import { SeriesQuery } from './routes/history.js'
import { CommandBody, EventsQuery } from './routes/hosts.js'
import { LiveQuery } from './routes/live.js'
import { SystemQuery } from './routes/metrics.js'
import { InferenceQuery } from './routes/ollama.js'
import { ProbesQuery } from './routes/probes.js'
import { HostQuery, RangeQuery } from './routes/shared.js'

/**
 * The API as a machine reads it: every route the gateway serves, with the contract schemas its handlers parse
 * requests with and answer in, turned into an OpenAPI 3.1 document (JSON Schema 2020-12, from zod). The test suite
 * checks both ways that this table and the routes the app serves are the same, validates the document, and
 * validates real answers against it — a route added without its entry here fails the build.
 */

/** Who may call a route: anyone, any logged-in principal, at least a role, or HOMELAB_LOGS_ROLE. */
type Access = 'public' | 'login' | Role | 'logs'

type Answer =
  | { json: z.ZodType; name: string; description: string }
  | { text: string; description: string }
  | { sse: true; description: string }
  | { redirect: true; description: string }

interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete'
  /** As Hono writes it: `/api/alerts/:id/ack`. */
  path: string
  tag: string
  summary: string
  description?: string
  access: Access
  params?: Record<string, z.ZodType>
  query?: z.ZodObject
  body?: { schema: z.ZodType; name: string }
  responses: Record<number, Answer>
}

const ok = z.object({ ok: z.literal(true) })
const json = (name: string, schema: z.ZodType, description = 'OK'): Answer => ({
  json: schema,
  name,
  description,
})
const Hosts = z.object({ self: HostId, hosts: z.array(HostSummary) })
const Events = z.object({ events: z.array(Event) })
const Series = z.object({ host: HostId, series: z.array(z.string()) })
const AlertCount = z.object({
  alerter: z.enum(['online', 'offline', 'unknown']),
  firing: z.number().int().min(0),
})
const Health = z.object({
  status: z.enum(['ok', 'degraded']),
  mqtt: z.boolean(),
  database: z.boolean(),
  reasons: z.array(z.string()),
})
const SystemMetricsDetail = SystemMetrics.extend({ detail: SystemReading.optional() })
const ContainerCommandResult = CommandResult.extend({ containerId: z.string(), containerName: z.string() })
const column = z.array(z.number().nullable())
const Columns = z.object({ avg: column, min: column, max: column })
/**
 * An entity's history over a range (a unit's, a probe's): the time axis, per series the average, least and greatest
 * value of each bucket of `x` (null: no sample), and the entity's events.
 */
const entityHistory = <K extends string>(key: Record<string, z.ZodType>, series: readonly K[]) =>
  z.object({
    host: HostId,
    ...key,
    from: z.number().int(),
    to: z.number().int(),
    tier: z.enum(TIERS),
    stepMs: z.number().int(),
    x: z.array(z.number()),
    series: z.object(Object.fromEntries(series.map((k) => [k, Columns]))),
    events: z.array(Event),
  })
const UnitHistory = entityHistory({ name: UnitName }, ['memory', 'cpu'])
const ProbeHistory = entityHistory({ id: ProbeId }, ['up', 'latency', 'certDays'])
const LogoutAll = z.object({ ok: z.literal(true), sessions: z.number().int().min(0) })
/**
 * What a relayed command answers: the executor's result with the status of its outcome; refused or not found may
 * also be the gateway's own error (a missing role, an unknown id before anything is relayed).
 */
function commandResultsOf(name: string, result: z.ZodType): Record<number, Answer> {
  const orError = z.union([result, ApiError])
  return {
    200: json(name, result, 'the executor answered done'),
    403: json(`${name}OrError`, orError, 'refused by the executor (its allowlist) or a missing role'),
    404: json(`${name}OrError`, orError, 'no such target, here or on the executor'),
    502: json(name, result, 'the executor tried and failed'),
  }
}
const commandResults = commandResultsOf('CommandResult', CommandResult)
const host = { host: HostId }

export const ROUTES: Route[] = [
  {
    method: 'get',
    path: '/healthz',
    tag: 'monitor',
    summary: "The gateway's health (for a container healthcheck)",
    description:
      '503 when the gateway has no broker; `degraded`, with the reasons, when a service says it is.',
    access: 'public',
    responses: { 200: json('Health', Health), 503: json('Health', Health, 'not connected to the broker') },
  },
  {
    method: 'get',
    path: '/metrics',
    tag: 'monitor',
    summary: 'Every current reading in the Prometheus text format (docs/prometheus.md)',
    description:
      'An API token as a bearer token or as the password of basic auth; a login session works too.',
    access: 'login',
    responses: { 200: { text: 'text/plain; version=0.0.4', description: 'Prometheus exposition' } },
  },
  {
    method: 'get',
    path: '/api/openapi.json',
    tag: 'monitor',
    summary: 'This document',
    access: 'public',
    responses: { 200: { text: 'application/json', description: 'the OpenAPI 3.1 document' } },
  },
  // ---- login and accounts ----
  {
    method: 'post',
    path: '/api/auth/login',
    tag: 'auth',
    summary: 'Log in with a user name and password, or an API token; sets the session cookie',
    access: 'public',
    body: { schema: LoginRequest, name: 'LoginRequest' },
    responses: { 200: json('Me', Me) },
  },
  {
    method: 'post',
    path: '/api/auth/setup',
    tag: 'auth',
    summary: 'Create the first admin with the one-time setup code (only while no account exists)',
    access: 'public',
    body: { schema: SetupRequest, name: 'SetupRequest' },
    responses: { 201: json('Me', Me, 'created and logged in') },
  },
  {
    method: 'post',
    path: '/api/auth/logout',
    tag: 'auth',
    summary: 'End this session',
    access: 'public',
    responses: { 200: json('Ok', ok) },
  },
  {
    method: 'get',
    path: '/api/auth/session',
    tag: 'auth',
    summary: 'Who is logged in here, whether setup is pending, whether single sign-on is offered',
    access: 'public',
    responses: { 200: json('SessionInfo', SessionInfo) },
  },
  {
    method: 'get',
    path: '/api/auth/oidc/login',
    tag: 'auth',
    summary: 'Start a single sign-on login (redirects to the provider)',
    access: 'public',
    responses: { 302: { redirect: true, description: "to the provider's authorization endpoint" } },
  },
  {
    method: 'get',
    path: '/api/auth/oidc/callback',
    tag: 'auth',
    summary: "The provider's redirect back (sets the session cookie, redirects to the dashboard)",
    access: 'public',
    responses: { 302: { redirect: true, description: 'to the dashboard' } },
  },
  {
    method: 'get',
    path: '/api/auth/me',
    tag: 'auth',
    summary: 'The logged-in principal',
    access: 'login',
    responses: { 200: json('Me', Me) },
  },
  {
    method: 'post',
    path: '/api/auth/logout-all',
    tag: 'auth',
    summary: 'End every other session of this user',
    access: 'login',
    responses: { 200: json('LogoutAll', LogoutAll) },
  },
  {
    method: 'post',
    path: '/api/auth/password',
    tag: 'auth',
    summary: 'Change your password (other sessions end)',
    access: 'login',
    body: { schema: PasswordChange, name: 'PasswordChange' },
    responses: { 200: json('Ok', ok) },
  },
  {
    method: 'get',
    path: '/api/users',
    tag: 'accounts',
    summary: 'The accounts',
    access: 'admin',
    responses: { 200: json('UsersResponse', UsersResponse) },
  },
  {
    method: 'post',
    path: '/api/users',
    tag: 'accounts',
    summary: 'Add an account',
    access: 'admin',
    body: { schema: NewUser, name: 'NewUser' },
    responses: { 201: json('UserView', UserView, 'created') },
  },
  {
    method: 'patch',
    path: '/api/users/:name',
    tag: 'accounts',
    summary: "Change an account's role or password",
    access: 'admin',
    params: { name: UserName },
    body: { schema: UserPatch, name: 'UserPatch' },
    responses: { 200: json('UserView', UserView) },
  },
  {
    method: 'delete',
    path: '/api/users/:name',
    tag: 'accounts',
    summary: 'Remove an account (its sessions and tokens end)',
    access: 'admin',
    params: { name: UserName },
    responses: { 200: json('Ok', ok) },
  },
  {
    method: 'get',
    path: '/api/tokens',
    tag: 'accounts',
    summary: 'API tokens (an admin sees all, others their own)',
    access: 'login',
    responses: { 200: json('TokensResponse', TokensResponse) },
  },
  {
    method: 'post',
    path: '/api/tokens',
    tag: 'accounts',
    summary: 'Create an API token (shown once)',
    access: 'login',
    body: { schema: NewToken, name: 'NewToken' },
    responses: { 201: json('CreatedToken', CreatedToken, 'created') },
  },
  {
    method: 'delete',
    path: '/api/tokens/:id',
    tag: 'accounts',
    summary: 'Revoke an API token',
    access: 'login',
    params: { id: z.string().min(1).max(64) },
    responses: { 200: json('Ok', ok) },
  },
  // ---- hosts, metrics, history ----
  {
    method: 'get',
    path: '/api/hosts',
    tag: 'hosts',
    summary: 'The hosts and the state of their services',
    access: 'login',
    responses: { 200: json('Hosts', Hosts) },
  },
  {
    method: 'get',
    path: '/api/fleet',
    tag: 'hosts',
    summary: 'Every host at a glance: state, key metrics, firing alerts',
    access: 'login',
    responses: { 200: json('FleetResponse', FleetResponse) },
  },
  {
    method: 'get',
    path: '/api/metrics/system',
    tag: 'hosts',
    summary: "A host's current system metrics (with `detail=true` the whole reading)",
    access: 'login',
    query: SystemQuery,
    responses: { 200: json('SystemMetrics', SystemMetricsDetail) },
  },
  {
    method: 'get',
    path: '/api/metrics/system/history',
    tag: 'hosts',
    summary: "A host's system metrics over a time range, at a resolution",
    access: 'login',
    query: SystemHistoryQuery,
    responses: { 200: json('SystemMetricsHistory', SystemMetricsHistory) },
  },
  {
    method: 'get',
    path: '/api/history',
    tag: 'hosts',
    summary: "One series' history (raw, 1 min or 1 h tier, chosen by range and points)",
    access: 'login',
    query: HistoryQuery,
    responses: { 200: json('HistoryResponse', HistoryResponse) },
  },
  {
    method: 'get',
    path: '/api/series',
    tag: 'hosts',
    summary: 'The series a host has history of',
    access: 'login',
    query: SeriesQuery,
    responses: { 200: json('Series', Series) },
  },
  {
    method: 'get',
    path: '/api/live',
    tag: 'hosts',
    summary: 'Live readings, events and states as server-sent events',
    access: 'login',
    query: LiveQuery,
    responses: { 200: { sse: true, description: 'a stream of LiveMessage events' } },
  },
  {
    method: 'get',
    path: '/api/hosts/:host/processes',
    tag: 'hosts',
    summary: "A host's top processes",
    access: 'login',
    params: host,
    responses: { 200: json('ProcessesResponse', ProcessesResponse) },
  },
  {
    method: 'get',
    path: '/api/hosts/:host/disks',
    tag: 'hosts',
    summary: "A host's disk health (S.M.A.R.T. through smartctl), or what smartctl needs",
    access: 'login',
    params: host,
    responses: { 200: json('DisksResponse', DisksResponse) },
  },
  {
    method: 'get',
    path: '/api/hosts/:host/ups',
    tag: 'hosts',
    summary: "A host's UPSes as its NUT servers report them",
    access: 'login',
    params: host,
    responses: { 200: json('UpsResponse', UpsResponse) },
  },
  {
    method: 'get',
    path: '/api/events',
    tag: 'hosts',
    summary: 'The event log, newest first',
    access: 'login',
    query: EventsQuery,
    responses: { 200: json('Events', Events) },
  },
  {
    method: 'post',
    path: '/api/hosts/:host/services/:service/commands',
    tag: 'hosts',
    summary: 'Send a command to a service (start, stop, restart of what it allows)',
    access: 'operator',
    params: { host: HostId, service: ServiceName },
    body: { schema: CommandBody, name: 'CommandBody' },
    responses: commandResults,
  },
  // ---- Docker ----
  {
    method: 'get',
    path: '/api/docker/containers',
    tag: 'docker',
    summary: "A host's containers",
    access: 'login',
    query: HostQuery,
    responses: { 200: json('ContainerViews', z.array(ContainerView)) },
  },
  {
    method: 'get',
    path: '/api/docker/containers/:id',
    tag: 'docker',
    summary: 'One container (by name or id prefix)',
    access: 'login',
    params: { id: ContainerRef },
    query: HostQuery,
    responses: { 200: json('ContainerView', ContainerView) },
  },
  {
    method: 'get',
    path: '/api/docker/containers/:id/logs',
    tag: 'docker',
    summary: "A container's logs (read on demand, never stored)",
    access: 'logs',
    params: { id: ContainerRef },
    query: LogQuery,
    responses: { 200: json('LogsResponse', LogsResponse) },
  },
  {
    method: 'get',
    path: '/api/docker/containers/:id/logs/stream',
    tag: 'docker',
    summary: "Follow a container's logs (server-sent events)",
    access: 'logs',
    params: { id: ContainerRef },
    query: LogQuery,
    responses: { 200: { sse: true, description: '`lines` events (LogStreamEvent), `end` with a reason' } },
  },
  {
    method: 'get',
    path: '/api/docker/containers/:id/stats',
    tag: 'docker',
    summary: "A running container's current stats",
    access: 'login',
    params: { id: ContainerRef },
    query: HostQuery,
    responses: { 200: json('ContainerMetrics', ContainerMetrics) },
  },
  {
    method: 'get',
    path: '/api/docker/containers/:id/history',
    tag: 'docker',
    summary: "A container's metrics and events over a time range",
    access: 'login',
    params: { id: ContainerRef },
    query: RangeQuery,
    responses: { 200: json('ContainerHistory', ContainerHistory) },
  },
  {
    method: 'post',
    path: '/api/docker/containers/:id/:action',
    tag: 'docker',
    summary: 'Start, stop or restart a container the owner allowed',
    access: 'operator',
    params: { id: ContainerRef, action: CommandAction },
    query: HostQuery,
    responses: commandResultsOf('ContainerCommandResult', ContainerCommandResult),
  },
  // ---- systemd ----
  {
    method: 'get',
    path: '/api/services',
    tag: 'services',
    summary: "A host's monitored units",
    access: 'login',
    query: HostQuery,
    responses: { 200: json('UnitViews', z.array(UnitView)) },
  },
  {
    method: 'get',
    path: '/api/services/:name',
    tag: 'services',
    summary: 'One unit',
    access: 'login',
    params: { name: UnitName },
    query: HostQuery,
    responses: { 200: json('UnitView', UnitView) },
  },
  {
    method: 'get',
    path: '/api/services/:name/logs',
    tag: 'services',
    summary: "A unit's journal (read on demand, never stored)",
    access: 'logs',
    params: { name: UnitName },
    query: LogQuery,
    responses: { 200: json('LogsResponse', LogsResponse) },
  },
  {
    method: 'get',
    path: '/api/services/:name/logs/stream',
    tag: 'services',
    summary: "Follow a unit's journal (server-sent events)",
    access: 'logs',
    params: { name: UnitName },
    query: LogQuery,
    responses: { 200: { sse: true, description: '`lines` events (LogStreamEvent), `end` with a reason' } },
  },
  {
    method: 'get',
    path: '/api/services/:name/history',
    tag: 'services',
    summary: "A unit's memory, CPU and events over a time range",
    access: 'login',
    params: { name: UnitName },
    query: RangeQuery,
    responses: { 200: json('UnitHistory', UnitHistory) },
  },
  {
    method: 'post',
    path: '/api/services/:name/:action',
    tag: 'services',
    summary: 'Start, stop or restart a unit the owner allowed',
    access: 'operator',
    params: { name: UnitName, action: CommandAction },
    query: HostQuery,
    responses: commandResults,
  },
  // ---- Ollama ----
  {
    method: 'get',
    path: '/api/ollama/status',
    tag: 'ollama',
    summary: "Ollama's state, models, GPU and proxy",
    access: 'login',
    query: HostQuery,
    responses: { 200: json('OllamaStatus', OllamaStatus) },
  },
  {
    method: 'get',
    path: '/api/ollama/models',
    tag: 'ollama',
    summary: 'The installed models',
    access: 'login',
    query: HostQuery,
    responses: { 200: json('OllamaModelViews', z.array(OllamaModelView)) },
  },
  {
    method: 'get',
    path: '/api/ollama/running',
    tag: 'ollama',
    summary: 'The models loaded now',
    access: 'login',
    query: HostQuery,
    responses: { 200: json('OllamaRunningViews', z.array(OllamaRunningView)) },
  },
  {
    method: 'get',
    path: '/api/ollama/inference',
    tag: 'ollama',
    summary: 'Inference history: tokens per second, latency, requests',
    access: 'login',
    query: InferenceQuery,
    responses: { 200: json('OllamaInferenceHistory', OllamaInferenceHistory) },
  },
  // ---- probes ----
  {
    method: 'get',
    path: '/api/probes',
    tag: 'probes',
    summary: "Every probe's latest result, its uptime over 24 h, 7 d and 30 d and a day of latency",
    access: 'login',
    query: ProbesQuery,
    responses: { 200: json('ProbesResponse', ProbesResponse) },
  },
  {
    method: 'get',
    path: '/api/probes/:id/history',
    tag: 'probes',
    summary: "A probe's up/down, latency and certificate days over a time range, with its events",
    access: 'login',
    params: { id: ProbeId },
    query: RangeQuery,
    responses: { 200: json('ProbeHistory', ProbeHistory) },
  },
  {
    method: 'get',
    path: '/api/probes/config',
    tag: 'probes',
    summary:
      'The probes file as its collector holds it (header values, URL passwords and bodies shown as "…")',
    access: 'admin',
    query: ProbesQuery,
    responses: { 200: json('ProbeConfigResponse', ProbeConfigResponse) },
  },
  {
    method: 'put',
    path: '/api/probes/:id',
    tag: 'probes',
    summary: 'Adds or changes a probe in its collector\'s probes file ("…" keeps a stored secret)',
    access: 'admin',
    params: { id: ProbeId },
    query: ProbesQuery,
    body: { schema: ProbeBody, name: 'ProbeBody' },
    responses: commandResults,
  },
  {
    method: 'delete',
    path: '/api/probes/:id',
    tag: 'probes',
    summary: "Removes a probe from its collector's probes file",
    access: 'admin',
    params: { id: ProbeId },
    query: ProbesQuery,
    responses: commandResults,
  },
  // ---- alerts ----
  {
    method: 'get',
    path: '/api/alerts',
    tag: 'alerts',
    summary: 'Open alerts, their history and failed deliveries',
    access: 'login',
    query: AlertsQuery,
    responses: { 200: json('AlertsResponse', AlertsResponse) },
  },
  {
    method: 'get',
    path: '/api/alerts/count',
    tag: 'alerts',
    summary: 'How many alerts fire (the navigation badge)',
    access: 'login',
    responses: { 200: json('AlertCount', AlertCount) },
  },
  {
    method: 'get',
    path: '/api/alerts/rules',
    tag: 'alerts',
    summary: 'The rules with their evaluation, the channels with their health, the audit',
    access: 'login',
    responses: { 200: json('RulesResponse', RulesResponse) },
  },
  {
    method: 'patch',
    path: '/api/alerts/rules/:rule',
    tag: 'alerts',
    summary: "Change a rule's threshold, severity, routing, or enable it",
    access: 'operator',
    params: { rule: RuleId },
    body: { schema: RulePatch, name: 'RulePatch' },
    responses: commandResults,
  },
  {
    method: 'post',
    path: '/api/alerts/rules',
    tag: 'alerts',
    summary: 'Add a rule: a threshold on any metric, or a pattern of events',
    description: 'Checked with the whole rules file (an unknown metric or event type is a 400 naming it).',
    access: 'operator',
    body: { schema: RuleInput, name: 'RuleInput' },
    responses: { ...commandResults, 201: json('CommandResult', CommandResult, 'added') },
  },
  {
    method: 'delete',
    path: '/api/alerts/rules/:rule',
    tag: 'alerts',
    summary: 'Remove a rule (a default rule removed stays removed)',
    access: 'operator',
    params: { rule: RuleId },
    responses: commandResults,
  },
  {
    method: 'put',
    path: '/api/alerts/channels/:name',
    tag: 'alerts',
    summary: 'Add or change a notification channel (docs/notifications.md)',
    access: 'admin',
    params: { name: ChannelName },
    body: { schema: ChannelInput, name: 'ChannelInput' },
    responses: commandResults,
  },
  {
    method: 'delete',
    path: '/api/alerts/channels/:name',
    tag: 'alerts',
    summary: 'Remove a notification channel',
    access: 'admin',
    params: { name: ChannelName },
    responses: commandResults,
  },
  {
    method: 'post',
    path: '/api/alerts/channels/:name/test',
    tag: 'alerts',
    summary:
      "Send a test notification (to a URL not saved yet with `url`); the provider's answer in `message`",
    access: 'admin',
    params: { name: ChannelName },
    body: { schema: ChannelTest, name: 'ChannelTest' },
    responses: commandResults,
  },
  ...(['ack', 'unack', 'unsilence'] as const).map(
    (a): Route => ({
      method: 'post',
      path: `/api/alerts/:id/${a}`,
      tag: 'alerts',
      summary:
        a === 'ack'
          ? 'Acknowledge a firing alert'
          : a === 'unack'
            ? 'Take an acknowledgement back'
            : 'End a silence',
      access: 'operator',
      params: { id: AlertId },
      responses: commandResults,
    }),
  ),
  {
    method: 'post',
    path: '/api/alerts/:id/silence',
    tag: 'alerts',
    summary: "Hold an alert's notifications back for minutes or until a time",
    access: 'operator',
    params: { id: AlertId },
    body: { schema: SilenceBody, name: 'SilenceBody' },
    responses: commandResults,
  },
]

type JsonSchema = Record<string, unknown>

function schemaOf(s: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' })
  return rest
}

const ROLE_TEXT: Record<Access, string> = {
  public: 'No login needed.',
  login: 'Any logged-in user or API token.',
  viewer: 'Any logged-in user or API token.',
  operator: 'The operator role or above.',
  admin: 'The admin role.',
  logs: 'HOMELAB_LOGS_ROLE (operator by default): logs often carry secrets.',
}

/** The OpenAPI 3.1 document of the routes above, under the gateway's base path. */
export function openApiDocument(o: { version: string; basePath: string }): JsonSchema {
  const components: Record<string, JsonSchema> = { ApiError: schemaOf(ApiError, 'output') }
  // A name is either a request body (read as input) or an answer (as output), never both.
  const component = (name: string, s: z.ZodType, io: 'input' | 'output'): JsonSchema => {
    if (!components[name]) components[name] = schemaOf(s, io)
    return { $ref: `#/components/schemas/${name}` }
  }
  const paths: Record<string, Record<string, JsonSchema>> = {}
  for (const r of ROUTES) {
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}')
    const parameters: JsonSchema[] = []
    for (const [name, s] of Object.entries(r.params ?? {}))
      parameters.push({ name, in: 'path', required: true, schema: schemaOf(s, 'input') })
    if (r.query) {
      const q = schemaOf(r.query, 'input')
      const props = z.record(z.string(), z.record(z.string(), z.unknown())).catch({}).parse(q.properties)
      const required = z.array(z.string()).catch([]).parse(q.required)
      for (const [name, s] of Object.entries(props)) {
        const { description, ...schema } = s
        parameters.push({
          name,
          in: 'query',
          required: required.includes(name) && schema.default === undefined,
          schema,
          ...(typeof description === 'string' ? { description } : {}),
        })
      }
    }
    const responses: Record<string, JsonSchema> = {}
    for (const [code, a] of Object.entries(r.responses)) {
      if ('json' in a)
        responses[code] = {
          description: a.description,
          content: { 'application/json': { schema: component(a.name, a.json, 'output') } },
        }
      else if ('text' in a) responses[code] = { description: a.description, content: { [a.text]: {} } }
      else if ('sse' in a)
        responses[code] = { description: a.description, content: { 'text/event-stream': {} } }
      else responses[code] = { description: a.description }
    }
    responses.default = {
      description:
        'an error: 400 bad input (the field named), 401, 403, 404, 409, 413, 415, 429, 502, 503, 504',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } },
    }
    const op: JsonSchema = {
      operationId: `${r.method}${r.path.replace(/[:/.{}-]+(\w)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      tags: [r.tag],
      summary: r.summary,
      description: [r.description, ROLE_TEXT[r.access]].filter(Boolean).join('\n\n'),
      'x-role': r.access,
      ...(r.access === 'public' ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': { schema: component(`${r.body.name}`, r.body.schema, 'input') },
              },
            },
          }
        : {}),
      responses,
    }
    paths[path] = { ...paths[path], [r.method]: op }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'homelab-observability',
      version: o.version,
      description:
        'The gateway API: hosts, history, containers, units, Ollama, alerts and accounts. Every answer is JSON ' +
        'checked against the schemas below; errors are `{"error": {"code", "message"}}`. See docs/api.md.',
    },
    servers: [{ url: o.basePath || '/' }],
    security: [{ session: [] }, { token: [] }],
    tags: ['monitor', 'auth', 'accounts', 'hosts', 'docker', 'services', 'ollama', 'probes', 'alerts'].map(
      (name) => ({
        name,
      }),
    ),
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'homelab_session', description: 'the login session' },
        token: {
          type: 'http',
          scheme: 'bearer',
          description: 'an API token (`npm run token`, or the Account page)',
        },
      },
    },
  }
}
