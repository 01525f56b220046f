import { z } from 'zod'
import { HostId, ServiceName } from './envelope.js'

/**
 * The topic tree, as data. Every producer, consumer, test and doc builds and parses topics here.
 *
 *   <base>/<host>/<service>/availability          retained "online" | "offline" (last will)
 *   <base>/<host>/<service>/status                retained ServiceStatus JSON
 *   <base>/<host>/<service>/reading/<kind>[/<e>]  retained reading JSON, one document per entity per sample
 *   <base>/<host>/<service>/event/<type>          event JSON, published when it happens
 *   <base>/<host>/<service>/cmd                   command request (MQTT 5 request/response)
 *   <base>/<host>/<service>/set/<target>          plain command payload: start | stop | restart
 *   <base>/<host>/<service>/reply/<client>        command replies (a requester's responseTopic)
 *   <base>/<host>/<service>/logs                  log request (MQTT 5 request/response; chunks to reply/<client>)
 *   <base>/<host>/<service>/notify/<channel>      alert notifications for MQTT subscribers (the alerter's)
 */
export const BaseTopic = z
  .string()
  .min(1)
  .max(64)
  .regex(
    /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/,
    'a base topic is "/"-separated words of A-Z, a-z, 0-9, "_" and "-"',
  )

/** A topic level holding a name (entity, target, client id): no wildcards, no "/", not empty. */
export const TopicLevel = z
  .string()
  .min(1)
  .max(256)
  .refine(
    (s) => !/[/+#]/.test(s) && !s.includes(String.fromCharCode(0)),
    'a topic level may not contain "/", "+", "#" or NUL',
  )

export const CHANNELS = [
  'availability',
  'status',
  'reading',
  'event',
  'cmd',
  'set',
  'reply',
  'notify',
  'logs',
] as const
export type Channel = (typeof CHANNELS)[number]

/** Whether a channel's topics have levels after the channel (a kind, a type, a target, a client). */
const CHANNEL_REST: Readonly<Record<Channel, boolean>> = {
  availability: false,
  status: false,
  cmd: false,
  logs: false,
  reading: true,
  event: true,
  set: true,
  reply: true,
  notify: true,
}

export type ParsedTopic =
  | { channel: 'availability'; host: HostId; service: ServiceName }
  | { channel: 'status'; host: HostId; service: ServiceName }
  | { channel: 'cmd'; host: HostId; service: ServiceName }
  | { channel: 'logs'; host: HostId; service: ServiceName }
  | { channel: 'reading'; host: HostId; service: ServiceName; kind: string; entity: string | null }
  | { channel: 'event'; host: HostId; service: ServiceName; type: string }
  | { channel: 'set'; host: HostId; service: ServiceName; target: string }
  | { channel: 'reply'; host: HostId; service: ServiceName; client: string }
  | { channel: 'notify'; host: HostId; service: ServiceName; target: string }

export interface Topics {
  readonly base: string
  availability(host: string, service: ServiceName): string
  status(host: string, service: ServiceName): string
  reading(host: string, service: ServiceName, kind: string, entity?: string): string
  event(host: string, service: ServiceName, type: string): string
  cmd(host: string, service: ServiceName): string
  logs(host: string, service: ServiceName): string
  set(host: string, service: ServiceName, target: string): string
  reply(host: string, service: ServiceName, client: string): string
  notify(host: string, service: ServiceName, channel: string): string
  /** Subtree a service owns on a host (`<base>/<host>/<service>`). */
  subtree(host: string, service: ServiceName): string
  /**
   * Filter over one channel of the tree, any host and service unless given: `…/+/+/availability`,
   * `…/pi/+/reading/#` (a reading's kind and entity), `…/+/+/event/+` (one level for an event type, a set target, a
   * reply client, a notify channel; `#` instead with `deep`, for an ACL that leaves the rest to the consumers).
   */
  filter(channel: Channel, o?: { host?: string; service?: ServiceName; deep?: boolean }): string
  /** Filter matching every message of the project. */
  all(): string
  parse(topic: string): ParsedTopic | null
}

export function createTopics(base: string): Topics {
  const b = BaseTopic.parse(base)
  const baseDepth = b.split('/').length
  const level = (s: string) => TopicLevel.parse(s)
  const root = (host: string, service: ServiceName) => `${b}/${level(host)}/${service}`
  return {
    base: b,
    availability: (h, s) => `${root(h, s)}/availability`,
    status: (h, s) => `${root(h, s)}/status`,
    reading: (h, s, kind, entity) =>
      `${root(h, s)}/reading/${level(kind)}${entity === undefined ? '' : `/${level(entity)}`}`,
    event: (h, s, type) => `${root(h, s)}/event/${level(type)}`,
    cmd: (h, s) => `${root(h, s)}/cmd`,
    logs: (h, s) => `${root(h, s)}/logs`,
    set: (h, s, target) => `${root(h, s)}/set/${level(target)}`,
    reply: (h, s, client) => `${root(h, s)}/reply/${level(client)}`,
    notify: (h, s, channel) => `${root(h, s)}/notify/${level(channel)}`,
    subtree: root,
    filter: (channel, o = {}) => {
      const at = `${b}/${o.host === undefined ? '+' : level(o.host)}/${o.service ?? '+'}/${channel}`
      if (!CHANNEL_REST[channel]) return at
      return `${at}/${o.deep || channel === 'reading' ? '#' : '+'}`
    },
    all: () => `${b}/#`,
    parse(topic) {
      if (!topic.startsWith(`${b}/`)) return null
      const parts = topic.split('/').slice(baseDepth)
      const [host, service, channel, a, c, ...extra] = parts
      if (extra.length > 0 || host === undefined || service === undefined || channel === undefined)
        return null
      const hostOk = HostId.safeParse(host)
      const serviceOk = ServiceName.safeParse(service)
      if (!hostOk.success || !serviceOk.success) return null
      const ctx = { host: hostOk.data, service: serviceOk.data }
      switch (channel) {
        case 'availability':
        case 'status':
        case 'cmd':
        case 'logs':
          return a === undefined ? { channel, ...ctx } : null
        case 'reading':
          return a ? { channel, ...ctx, kind: a, entity: c ?? null } : null
        case 'event':
          return a && c === undefined ? { channel, ...ctx, type: a } : null
        case 'set':
          return a && c === undefined ? { channel, ...ctx, target: a } : null
        case 'reply':
          return a && c === undefined ? { channel, ...ctx, client: a } : null
        case 'notify':
          return a && c === undefined ? { channel, ...ctx, target: a } : null
        default:
          return null
      }
    },
  }
}
