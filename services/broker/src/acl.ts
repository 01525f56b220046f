import { createTopics, HostId, haIds, type ServiceName, type Topics } from '@homelab/contracts'

/** The collectors: one user per machine each, bound to that machine's host id. */
export const COLLECTORS = [
  'sys-collector',
  'docker-collector',
  'systemd-collector',
  'ollama-collector',
  'probe-collector',
] as const
export type Collector = (typeof COLLECTORS)[number]
/** The central services: one each per installation, on the broker's machine. */
export const CENTRAL = ['recorder', 'gateway', 'alerter'] as const
/** The users the broker creates on the machine it runs on (`homeassistant` exists when its password is set). */
export const BROKER_USERS = [...COLLECTORS, ...CENTRAL, 'homeassistant'] as const
export type LocalUser = (typeof BROKER_USERS)[number]

/**
 * Who a broker user is. A collector's user is bound to one host: `sys-collector` to the broker's own machine,
 * `sys-collector@pi2` (made by `enrol add pi2`) to an agent machine. It may publish only under
 * `<base>/<its host>/<itself>/…`, connect only with its own client id, and write only its host's Home Assistant
 * devices of its kind. The central services watch every host and publish only under their own service name.
 */
export type Identity =
  | { kind: 'collector'; user: string; service: Collector; host: string }
  | { kind: 'central'; user: string; service: (typeof CENTRAL)[number] }
  | { kind: 'homeassistant'; user: string }

/** The collectors that answer log requests. */
const LOG_OWNERS: ReadonlySet<string> = new Set<Collector>(['docker-collector', 'systemd-collector'])

export const isCollector = (s: string): s is Collector => (COLLECTORS as readonly string[]).includes(s)
const isCentral = (s: string): s is (typeof CENTRAL)[number] => (CENTRAL as readonly string[]).includes(s)

/** The identity of a user name (`recorder`, `sys-collector`, `sys-collector@pi2`, `homeassistant`), or null. */
export function identityOf(user: string, localHost: string): Identity | null {
  if (user === 'homeassistant') return { kind: 'homeassistant', user }
  const at = user.indexOf('@')
  const name = at < 0 ? user : user.slice(0, at)
  if (at < 0 && isCentral(name)) return { kind: 'central', user, service: name }
  if (!isCollector(name)) return null
  const host = at < 0 ? localHost : user.slice(at + 1)
  if (!HostId.safeParse(host).success) return null
  return { kind: 'collector', user, service: name, host }
}

/** The user name of a collector on a host (the plain name on the broker's own machine). */
export function collectorUser(service: Collector, host: string, localHost: string): string {
  return host === localHost ? service : `${service}@${host}`
}

/**
 * The Home Assistant device ids a collector on a host owns: the host device and its UPSes are the sys-collector's;
 * containers, units, Ollama and probes are sub-devices of their collectors. `*` at the end of a level matches any rest of that level.
 */
export function haDeviceIds(service: Collector, host: string): string[] {
  switch (service) {
    case 'sys-collector':
      // The host (with its disks) and its UPSes.
      return [haIds.host(host), `${haIds.scope(host, 'ups')}-*`]
    case 'docker-collector':
      return [`${haIds.scope(host, 'container')}-*`]
    case 'systemd-collector':
      return [`${haIds.scope(host, 'unit')}-*`]
    case 'ollama-collector':
      return [haIds.entity(host, 'ollama')]
    case 'probe-collector':
      return [`${haIds.scope(host, 'probe')}-*`]
  }
}

export interface AclRules {
  /** MQTT filters; in publish rules a level may end in `*` (any rest of that level). */
  publish: string[]
  subscribe: string[]
}

/** Channels a service may publish in its own subtree (never `cmd` or `set`, which only commanders publish). */
const OWN_CHANNELS = ['availability', 'status', 'reading', 'event', 'reply'] as const

/** A service's own channels, on one host or (`host` undefined) on any. */
function own(t: Topics, service: ServiceName, host?: string): string[] {
  return OWN_CHANNELS.map((c) => t.filter(c, { host, service, deep: true }))
}

/** The access an identity has, as MQTT filters. */
export function aclFor(id: Identity, base: string, haPrefix = 'homeassistant'): AclRules {
  const t = createTopics(base)
  const commands = [t.filter('cmd'), t.filter('set')]
  switch (id.kind) {
    case 'collector':
      return {
        publish: [
          ...own(t, id.service, id.host),
          ...haDeviceIds(id.service, id.host).map((d) => `${haPrefix}/device/${d}/config`),
        ],
        // The discovery configs are read back at start, so a device that vanished meanwhile is still removed.
        subscribe: [
          t.cmd(id.host, id.service),
          t.filter('set', { host: id.host, service: id.service }),
          // Log requests, for the collectors that own logs (containers, units).
          // …and the alerter's log-pattern rules, to follow the logs they name.
          ...(LOG_OWNERS.has(id.service)
            ? [t.logs(id.host, id.service), `${t.base}/+/alerter/reading/log-watches`]
            : []),
          `${haPrefix}/status`,
          `${haPrefix}/device/+/config`,
        ],
      }
    case 'central':
      switch (id.service) {
        case 'recorder':
          return { publish: own(t, 'recorder'), subscribe: [t.all()] }
        case 'alerter':
          // Watches everything; publishes its alerts (events and retained state) and notifications, never commands.
          return {
            publish: [...own(t, 'alerter'), t.filter('notify', { service: 'alerter' })],
            subscribe: [t.all()],
          }
        case 'gateway':
          // The gateway alone asks collectors for logs (on behalf of a logged-in operator).
          return { publish: [...own(t, 'gateway'), ...commands, t.filter('logs')], subscribe: [t.all()] }
      }
      break
    case 'homeassistant':
      return { publish: [...commands, `${haPrefix}/status`], subscribe: [t.all(), `${haPrefix}/#`] }
  }
}

const RESERVED_CLIENT_ID = new RegExp(`^(?:${[...COLLECTORS, ...CENTRAL].join('|')})-`)

/**
 * Client ids are bound to users, so one user cannot take over another's session (a persistent one holds QoS 1
 * messages outside the intruder's ACL). A service connects as `<service>-<host>`, or `<service>-<host>.<suffix>`
 * for a second connection; ids of that form are reserved for their service, on their host for a collector.
 */
export function clientIdAllowed(id: Identity, clientId: string): boolean {
  switch (id.kind) {
    case 'collector': {
      const own = `${id.service}-${id.host}`
      return clientId === own || clientId.startsWith(`${own}.`)
    }
    case 'central': {
      const m = /^([a-z-]+?)-([a-z0-9-]+)(?:\..*)?$/.exec(clientId)
      return m?.[1] === id.service && HostId.safeParse(m[2]).success
    }
    case 'homeassistant':
      return clientId.length > 0 && !RESERVED_CLIENT_ID.test(clientId)
  }
}

/** Does `topic` (no wildcards) match MQTT filter `filter`? A filter level ending in `*` matches by prefix. */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && !filter.startsWith('$')) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    const p = f[i]!
    if (p === '#') return true
    const level = t[i]
    if (level === undefined) return false
    if (p === '+') continue
    if (p.endsWith('*') ? !level.startsWith(p.slice(0, -1)) : p !== level) return false
  }
  return f.length === t.length
}

/** Is every topic matched by subscription `sub` also matched by `allowed`? (So subscribing to `sub` is safe.) */
export function filterCovers(allowed: string, sub: string): boolean {
  const a = allowed.split('/')
  const s = sub.split('/')
  for (let i = 0; i < a.length; i++) {
    const p = a[i]
    if (p === '#') return true
    const q = s[i]
    if (q === undefined) return false
    if (q === '#') return false
    if (p === '+') continue
    if (q === '+' || p !== q) return false
  }
  return a.length === s.length
}

export function canPublish(rules: AclRules, topic: string): boolean {
  if (topic.includes('+') || topic.includes('#')) return false
  return rules.publish.some((f) => topicMatches(f, topic))
}

export function canSubscribe(rules: AclRules, filter: string): boolean {
  // Shared subscriptions are not supported by the embedded broker; judge the filter part of $share/group/filter.
  const f = filter.startsWith('$share/') ? filter.split('/').slice(2).join('/') : filter
  return rules.subscribe.some((a) => filterCovers(a, f))
}

/**
 * The same rules as a Mosquitto `acl_file`, for users who run Mosquitto (as most Home Assistant users do) instead
 * of the embedded broker: `npm run mosquitto-acl > /etc/mosquitto/homelab.acl`. Mosquitto has no prefix match
 * within a level, so there a collector may write any Home Assistant device config (the embedded broker allows only
 * its own).
 */
export function mosquittoAcl(
  base: string,
  users: readonly string[],
  localHost: string,
  haPrefix = 'homeassistant',
): string {
  const lines: string[] = []
  for (const u of users) {
    const id = identityOf(u, localHost)
    if (!id) continue
    const r = aclFor(id, base, haPrefix)
    lines.push(`user ${u}`)
    for (const t of r.publish) lines.push(`topic write ${t.replace(/[^/]*\*(?=\/|$)/g, '+')}`)
    for (const t of r.subscribe) lines.push(`topic read ${t}`)
    lines.push('')
  }
  return lines.join('\n')
}
