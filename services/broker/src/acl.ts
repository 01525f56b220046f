import type { ServiceName } from '@homelab/contracts'

/** MQTT users the project knows. Each service has its own; `homeassistant` exists when its password is set. */
export const COLLECTORS = [
  'sys-collector',
  'docker-collector',
  'systemd-collector',
  'ollama-collector',
] as const
export const BROKER_USERS = [...COLLECTORS, 'recorder', 'gateway', 'alerter', 'homeassistant'] as const
export type BrokerUser = (typeof BROKER_USERS)[number]

export interface AclRules {
  publish: string[]
  subscribe: string[]
}

/** Channels a service may publish in its own subtree (never `cmd` or `set`, which only commanders publish). */
const OWN_CHANNELS = ['availability', 'status', 'reading/#', 'event/#', 'reply/#']

function own(base: string, service: ServiceName): string[] {
  return OWN_CHANNELS.map((c) => `${base}/+/${service}/${c}`)
}

/**
 * The access each user has, as MQTT filters. A collector publishes only under `<base>/<host>/<itself>/…` and
 * reads only its own command topics; only the gateway and Home Assistant may publish commands.
 */
export function aclFor(user: BrokerUser, base: string, haPrefix = 'homeassistant'): AclRules {
  const commands = [`${base}/+/+/cmd`, `${base}/+/+/set/+`]
  switch (user) {
    case 'sys-collector':
    case 'docker-collector':
    case 'systemd-collector':
    case 'ollama-collector':
      return {
        publish: [...own(base, user), `${haPrefix}/device/+/config`],
        // The discovery configs are read back at start, so a device that vanished meanwhile is still removed.
        subscribe: [
          `${base}/+/${user}/cmd`,
          `${base}/+/${user}/set/+`,
          `${haPrefix}/status`,
          `${haPrefix}/device/+/config`,
        ],
      }
    case 'recorder':
      return { publish: own(base, 'recorder'), subscribe: [`${base}/#`] }
    case 'alerter':
      // Watches everything; publishes its alerts (events and retained state) and notifications, never commands.
      return {
        publish: [...own(base, 'alerter'), `${base}/+/alerter/notify/+`],
        subscribe: [`${base}/#`],
      }
    case 'gateway':
      return { publish: [...own(base, 'gateway'), ...commands], subscribe: [`${base}/#`] }
    case 'homeassistant':
      return { publish: [...commands, `${haPrefix}/status`], subscribe: [`${base}/#`, `${haPrefix}/#`] }
  }
}

/** Does `topic` (no wildcards) match MQTT filter `filter`? */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && !filter.startsWith('$')) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    const p = f[i]
    if (p === '#') return true
    if (i >= t.length) return false
    if (p !== '+' && p !== t[i]) return false
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
 * of the embedded broker: `npm run mosquitto-acl > /etc/mosquitto/homelab.acl`.
 */
export function mosquittoAcl(
  base: string,
  users: readonly BrokerUser[] = BROKER_USERS,
  haPrefix = 'homeassistant',
): string {
  const lines: string[] = []
  for (const u of users) {
    const r = aclFor(u, base, haPrefix)
    lines.push(`user ${u}`)
    for (const t of r.publish) lines.push(`topic write ${t}`)
    for (const t of r.subscribe) lines.push(`topic read ${t}`)
    lines.push('')
  }
  return lines.join('\n')
}
