import {
  AlertsResponse,
  ApiError,
  type ChannelInput,
  CommandResult,
  ContainerHistory,
  ContainerView,
  CreatedToken,
  Event,
  FleetResponse,
  HistoryResponse,
  HostSummary,
  LiveMessage,
  Me,
  OllamaInferenceHistory,
  OllamaStatus,
  ProbeConfigResponse,
  ProbesResponse,
  type Role,
  type RuleInput,
  type RulePatch,
  RulesResponse,
  SessionInfo,
  TokensResponse,
  UnitView,
  UsersResponse,
  UserView,
} from '@homelab/contracts'
import { z } from 'zod'
import { url } from './base'
import { perfMark } from './perf'

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/**
 * One API call, its answer validated against the contract the gateway promises: an error is an HttpError with the
 * gateway's code and message; an answer that does not match (a gateway of another version) is one too, naming the
 * field, never a value of the wrong shape handed to a page.
 */
async function call<S extends z.ZodType>(schema: S, path: string, init?: RequestInit): Promise<z.infer<S>> {
  const res = await fetch(url(path), { credentials: 'same-origin', ...init })
  const body: unknown = await res.json().catch(() => null)
  if (!res.ok) {
    const e = ApiError.safeParse(body)
    throw new HttpError(
      res.status,
      e.success ? e.data.error.code : 'error',
      e.success ? e.data.error.message : res.statusText,
    )
  }
  // The answer is here (validating it counts as rendering it, for the UI bench).
  perfMark(`answer ${path.split('?')[0]}`)
  const r = schema.safeParse(body)
  if (!r.success) {
    const i = r.error.issues[0]
    throw new HttpError(
      res.status,
      'invalid_response',
      `${path}: ${i?.path.join('.') || '(root)'}: ${i?.message}`,
    )
  }
  return r.data
}

const Hosts = z.object({ self: z.string(), hosts: z.array(HostSummary) })
const Events = z.object({ events: z.array(Event) })
const Series = z.object({ series: z.array(z.string()) })
const AlertCount = z.object({ alerter: z.string(), firing: z.number() })
const Anything = z.unknown()

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
})

export const api = {
  session: () => call(SessionInfo, '/api/auth/session'),
  login: (username: string, password: string) => call(Me, '/api/auth/login', json({ username, password })),
  loginWithToken: (token: string) => call(Me, '/api/auth/login', json({ token })),
  setup: (code: string, username: string, password: string) =>
    call(Me, '/api/auth/setup', json({ code, username, password })),
  logout: () => call(Anything, '/api/auth/logout', json({})),
  logoutAll: () => call(Anything, '/api/auth/logout-all', json({})),
  changePassword: (current: string, password: string) =>
    call(Anything, '/api/auth/password', json({ current, password })),
  users: () => call(UsersResponse, '/api/users'),
  addUser: (name: string, role: Role, password: string) =>
    call(UserView, '/api/users', json({ name, role, password })),
  updateUser: (name: string, patch: { role?: Role; password?: string }) =>
    call(UserView, `/api/users/${encodeURIComponent(name)}`, { ...json(patch), method: 'PATCH' }),
  removeUser: (name: string) =>
    call(Anything, `/api/users/${encodeURIComponent(name)}`, { method: 'DELETE' }),
  tokens: () => call(TokensResponse, '/api/tokens'),
  createToken: (name: string, role: Role) => call(CreatedToken, '/api/tokens', json({ name, role })),
  revokeToken: (id: string) => call(Anything, `/api/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  hosts: () => call(Hosts, '/api/hosts'),
  fleet: () => call(FleetResponse, '/api/fleet'),
  history: (host: string, series: string, from: number, to: number, points: number) =>
    call(
      HistoryResponse,
      `/api/history?${new URLSearchParams({ host, series, from: String(Math.round(from)), to: String(Math.round(to)), points: String(points) })}`,
    ),
  containers: (host: string) =>
    call(z.array(ContainerView), `/api/docker/containers?host=${encodeURIComponent(host)}`),
  containerHistory: (host: string, name: string, from: number, to: number, points: number) =>
    call(
      ContainerHistory,
      `/api/docker/containers/${encodeURIComponent(name)}/history?${new URLSearchParams({ host, from: String(Math.round(from)), to: String(Math.round(to)), points: String(points) })}`,
    ),
  containerAction: (host: string, name: string, action: 'start' | 'stop' | 'restart') =>
    call(
      CommandResult,
      `/api/docker/containers/${encodeURIComponent(name)}/${action}?host=${encodeURIComponent(host)}`,
      { method: 'POST' },
    ),
  units: (host: string) => call(z.array(UnitView), `/api/services?host=${encodeURIComponent(host)}`),
  unitHistory: (host: string, name: string) =>
    call(
      Events,
      `/api/services/${encodeURIComponent(name)}/history?host=${encodeURIComponent(host)}&from=${Date.now() - 7 * 86_400_000}`,
    ),
  unitAction: (host: string, name: string, action: 'start' | 'stop' | 'restart') =>
    call(
      CommandResult,
      `/api/services/${encodeURIComponent(name)}/${action}?host=${encodeURIComponent(host)}`,
      {
        method: 'POST',
      },
    ),
  events: (q: {
    host: string
    type?: string
    subject?: string
    limit?: number
    since?: number
    before?: number
  }) =>
    call(
      Events,
      `/api/events?${new URLSearchParams(
        Object.entries(q)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => [k, String(v)]),
      )}`,
    ),
  ollamaStatus: (host: string) => call(OllamaStatus, `/api/ollama/status?host=${encodeURIComponent(host)}`),
  ollamaInference: (host: string, from: number, to: number) =>
    call(
      OllamaInferenceHistory,
      `/api/ollama/inference?${new URLSearchParams({ host, from: String(Math.round(from)), to: String(Math.round(to)), points: '300', limit: '50' })}`,
    ),
  probes: () => call(ProbesResponse, '/api/probes'),
  probeConfig: (host: string) =>
    call(ProbeConfigResponse, `/api/probes/config?host=${encodeURIComponent(host)}`),
  setProbe: (host: string, id: string, body: Record<string, unknown>) =>
    call(CommandResult, `/api/probes/${encodeURIComponent(id)}?host=${encodeURIComponent(host)}`, {
      ...json(body),
      method: 'PUT',
    }),
  removeProbe: (host: string, id: string) =>
    call(CommandResult, `/api/probes/${encodeURIComponent(id)}?host=${encodeURIComponent(host)}`, {
      method: 'DELETE',
    }),
  series: (host: string) => call(Series, `/api/series?host=${encodeURIComponent(host)}`),
  alerts: () => call(AlertsResponse, '/api/alerts?limit=200'),
  alertCount: () => call(AlertCount, '/api/alerts/count'),
  alertRules: () => call(RulesResponse, '/api/alerts/rules'),
  alertAction: (id: string, action: 'ack' | 'unack' | 'unsilence') =>
    call(CommandResult, `/api/alerts/${encodeURIComponent(id)}/${action}`, { method: 'POST' }),
  silence: (id: string, minutes: number) =>
    call(CommandResult, `/api/alerts/${encodeURIComponent(id)}/silence`, json({ minutes })),
  updateRule: (id: string, patch: RulePatch) =>
    call(CommandResult, `/api/alerts/rules/${encodeURIComponent(id)}`, { ...json(patch), method: 'PATCH' }),
  addRule: (rule: RuleInput) => call(CommandResult, '/api/alerts/rules', json(rule)),
  removeRule: (id: string) =>
    call(CommandResult, `/api/alerts/rules/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  setChannel: (name: string, input: ChannelInput) =>
    call(CommandResult, `/api/alerts/channels/${encodeURIComponent(name)}`, {
      ...json(input),
      method: 'PUT',
    }),
  removeChannel: (name: string) =>
    call(CommandResult, `/api/alerts/channels/${encodeURIComponent(name)}`, { method: 'DELETE' }),
  /** A test notification to a saved channel, or with `url` to one not saved yet; `outcome` says if it arrived. */
  testChannel: (name: string, url?: string) =>
    call(CommandResult, `/api/alerts/channels/${encodeURIComponent(name)}/test`, json(url ? { url } : {})),
}

/** Live messages that did not match their contract; the first is reported in the browser's console. */
export let liveRejected = 0

function parseLive(data: string): LiveMessage | null {
  let why: string
  try {
    const r = LiveMessage.safeParse(JSON.parse(data))
    if (r.success) return r.data
    const i = r.error.issues[0]
    why = `${i?.path.join('.') || '(root)'}: ${i?.message}`
  } catch {
    why = 'not JSON'
  }
  if (liveRejected++ === 0)
    console.warn(`a live message does not match its contract (${why}); it is not shown`)
  return null
}

/** Opens the live stream; returns a function that closes it. Reconnects by itself (EventSource does). */
export function openLive(
  host: string,
  onMessage: (m: LiveMessage) => void,
  onState: (open: boolean) => void,
): () => void {
  const es = new EventSource(url(`/api/live?host=${encodeURIComponent(host)}`))
  es.addEventListener('message', (e) => {
    // Validated as the server promised it (contracts/live.ts): a message that is not is dropped and counted.
    const m = typeof e.data === 'string' ? parseLive(e.data) : null
    if (m) onMessage(m)
  })
  es.onopen = () => onState(true)
  es.onerror = () => onState(false)
  return () => es.close()
}
