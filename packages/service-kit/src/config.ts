import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import {
  BaseTopic,
  createTopics,
  HA_GROUPS,
  type HaGroup,
  HostId,
  type ServiceName,
  sanitizeHostId,
  type Topics,
} from '@homelab/contracts'
import { z } from 'zod'

/** A configuration error: one message naming the variable and what it allows. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

export type Source = Record<string, string | undefined>

/**
 * Reads a service's config from the environment, optionally merged over a JSON file named by
 * HOMELAB_CONFIG_FILE (keys are the same variable names; the environment wins). The schema is an object
 * keyed by variable names; its defaults are the documented defaults.
 */
/** A settings schema: a zod object (its keys are the variables read) whose output is `T`. */
export type ConfigSchema<T> = z.ZodType<T> & { shape: z.ZodRawShape }

export function loadConfig<T>(schema: ConfigSchema<T>, env: Source = process.env): T {
  let merged: Source = {}
  const file = env.HOMELAB_CONFIG_FILE
  if (file) {
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'))
    } catch (e) {
      throw new ConfigError(`HOMELAB_CONFIG_FILE: cannot read ${file} as JSON (${(e as Error).message})`)
    }
    const obj = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).safeParse(parsed)
    if (!obj.success)
      throw new ConfigError(`HOMELAB_CONFIG_FILE: ${file} must hold one JSON object of "VARIABLE": value`)
    merged = Object.fromEntries(Object.entries(obj.data).map(([k, v]) => [k, String(v)]))
  }
  const input: Source = {}
  for (const key of Object.keys(schema.shape)) {
    const v = env[key] ?? merged[key]
    // An empty variable means "unset" so `FOO= npm start` falls back to the default.
    input[key] = v === '' ? undefined : v
  }
  const result = schema.safeParse(input)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const key = String(issue.path[0] ?? '?')
    // A URL's credentials (nut://user:pass@…, mqtt://…) are never repeated in an error.
    const got = input[key]?.replace(/\/\/[^@/\s]*@/g, '//…@')
    throw new ConfigError(`${key}: ${issue.message}${got === undefined ? '' : ` (got "${got}")`}`)
  }
  return result.data
}

/** A TCP port; 0 asks the system for any free port (tests, or several instances on one machine). */
export const port = (what: string) => {
  const msg = `${what} must be a port number 0–65535 (0 = any free port)`
  return z.coerce.number({ error: msg }).int(msg).min(0, msg).max(65535, msg)
}

export const duration = (min: number, max: number) =>
  z.coerce
    .number({ error: `must be a number of milliseconds between ${min} and ${max}` })
    .int(`must be a whole number of milliseconds between ${min} and ${max}`)
    .min(min, `must be at least ${min} ms`)
    .max(max, `must be at most ${max} ms`)

/** A comma-separated list setting (globs, names, devices): trimmed, empty entries dropped. */
export const globList = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== ''),
  )

/** Settings every service shares: where the broker is, who it is, where its data lives. */
export const commonShape = {
  HOMELAB_MQTT_URL: z
    .string()
    .regex(
      /^(mqtts?|tcp|ssl|wss?):\/\/[^\s]+$/,
      'must be a broker URL such as mqtt://127.0.0.1:1883 or mqtts://broker:8883',
    )
    .default('mqtt://127.0.0.1:1883'),
  HOMELAB_MQTT_USERNAME: z.string().min(1).max(128).optional(),
  HOMELAB_MQTT_PASSWORD: z.string().min(1).max(512).optional(),
  /** A file holding the password (Docker secrets); read at start. */
  HOMELAB_MQTT_PASSWORD_FILE: z.string().min(1).optional(),
  /**
   * The broker's users file (`<data>/secrets/mqtt-users.json`, written by the broker): the service takes its own
   * user's password from it (in compose, the data volume mounted read-only).
   */
  HOMELAB_MQTT_USERS_FILE: z.string().min(1).optional(),
  /** A file the service keeps fresh while it is healthy, for container healthchecks. */
  HOMELAB_HEALTH_FILE: z.string().min(1).optional(),
  HOMELAB_BASE_TOPIC: BaseTopic.default('homelab'),
  HOMELAB_HOST_ID: HostId.optional(),
  /** A file holding the host's name (the host's /etc/hostname, in a container); used when HOMELAB_HOST_ID is unset. */
  HOMELAB_HOSTNAME_FILE: z.string().min(1).optional(),
  HOMELAB_DATA_DIR: z.string().min(1).default('./data'),
}

export const CommonConfig = z.object(commonShape)
export type CommonConfig = z.infer<typeof CommonConfig>

/**
 * The host id: HOMELAB_HOST_ID, else the host's name from HOMELAB_HOSTNAME_FILE (in a container, the host's
 * /etc/hostname mounted read-only — the container's own name is a random id), else this machine's hostname.
 */
export function resolveHostId(c: {
  HOMELAB_HOST_ID?: string | undefined
  HOMELAB_HOSTNAME_FILE?: string | undefined
}): string {
  if (c.HOMELAB_HOST_ID) return c.HOMELAB_HOST_ID
  if (c.HOMELAB_HOSTNAME_FILE) {
    try {
      const name = readFileSync(c.HOMELAB_HOSTNAME_FILE, 'utf8').trim()
      if (name) return sanitizeHostId(name)
    } catch (e) {
      throw new ConfigError(
        `HOMELAB_HOSTNAME_FILE: cannot read ${c.HOMELAB_HOSTNAME_FILE} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      )
    }
  }
  return sanitizeHostId(hostname())
}

/** A users file as the broker writes it (`users`: name → password; an agent machine's also names its `host`). */
function readUsersFile(path: string): { users: Record<string, unknown>; host: string | null } {
  let json: unknown
  try {
    json = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new ConfigError(
      `HOMELAB_MQTT_USERS_FILE: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the broker writes it on its first start`,
    )
  }
  const f = z
    .object({ users: z.record(z.string(), z.unknown()), host: z.string().optional() })
    .safeParse(json)
  if (!f.success) throw new ConfigError(`HOMELAB_MQTT_USERS_FILE: ${path} is not a users file`)
  return { users: f.data.users, host: f.data.host ?? null }
}

export function resolvePassword(
  c: Pick<CommonConfig, 'HOMELAB_MQTT_PASSWORD' | 'HOMELAB_MQTT_PASSWORD_FILE' | 'HOMELAB_MQTT_USERS_FILE'>,
  user?: string,
): string | undefined {
  if (c.HOMELAB_MQTT_PASSWORD) return c.HOMELAB_MQTT_PASSWORD
  if (c.HOMELAB_MQTT_PASSWORD_FILE) {
    try {
      return readFileSync(c.HOMELAB_MQTT_PASSWORD_FILE, 'utf8').trim()
    } catch (e) {
      throw new ConfigError(
        `HOMELAB_MQTT_PASSWORD_FILE: cannot read ${c.HOMELAB_MQTT_PASSWORD_FILE} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      )
    }
  }
  if (c.HOMELAB_MQTT_USERS_FILE && user) {
    const pw = readUsersFile(c.HOMELAB_MQTT_USERS_FILE).users[user]
    if (typeof pw !== 'string')
      throw new ConfigError(
        `HOMELAB_MQTT_USERS_FILE: ${c.HOMELAB_MQTT_USERS_FILE} has no password for "${user}"`,
      )
    return pw
  }
  return undefined
}

/**
 * How a service running alone is on the broker: the broker's URL, its MQTT user and that user's password, its host
 * id, and the topic tree. The user is HOMELAB_MQTT_USERNAME, else the service's own name — or, on an enrolled agent
 * machine, `<service>@<host>` from the machine's users file, whose host id must then be this machine's.
 */
export function brokerIdentity(
  c: CommonConfig,
  service: ServiceName,
): { url: string; username: string; password: string | undefined; host: string; topics: Topics } {
  const host = resolveHostId(c)
  let username = c.HOMELAB_MQTT_USERNAME ?? service
  if (!c.HOMELAB_MQTT_USERNAME && !c.HOMELAB_MQTT_PASSWORD && c.HOMELAB_MQTT_USERS_FILE) {
    const f = readUsersFile(c.HOMELAB_MQTT_USERS_FILE)
    if (f.host !== null && f.host !== host)
      throw new ConfigError(
        `HOMELAB_MQTT_USERS_FILE: ${c.HOMELAB_MQTT_USERS_FILE} holds the credentials of host "${f.host}", but this machine's host id is "${host}": set HOMELAB_HOST_ID=${f.host}, or enrol "${host}" on the broker (npm run enrol -- add ${host})`,
      )
    if (typeof f.users[`${service}@${host}`] === 'string') username = `${service}@${host}`
  }
  return {
    url: c.HOMELAB_MQTT_URL,
    username,
    password: resolvePassword(c, username),
    host,
    topics: createTopics(c.HOMELAB_BASE_TOPIC),
  }
}

/** Home Assistant discovery settings, shared by every collector (each publishes the devices it owns). */
export const haShape = {
  HOMELAB_HA_DISCOVERY: z.enum(['on', 'off']).default('on'),
  HOMELAB_HA_DISCOVERY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be one topic level')
    .default('homeassistant'),
  /** Which groups of entities to offer: host, containers, units, ollama. */
  HOMELAB_HA_ENTITIES: z
    .string()
    .default('host,containers,units,ollama,probes,ups')
    .transform((s, ctx) => {
      const groups = s
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean)
      const bad = groups.filter((g) => !(HA_GROUPS as readonly string[]).includes(g))
      if (bad.length)
        ctx.addIssue({
          code: 'custom',
          message: `unknown group "${bad[0]}" (known: ${HA_GROUPS.join(', ')})`,
        })
      return groups as HaGroup[]
    }),
  /** Monitored units that get HA entities (glob patterns; default all monitored units). */
  HOMELAB_HA_UNITS: globList.transform((l) => (l.length ? l : ['*'])),
  /** A container or unit gone for this long has its HA device removed (an empty retained config). */
  HOMELAB_HA_GONE_TTL_MS: duration(1000, 30 * 86_400_000).default(3_600_000),
  /** Discovery is republished after a random delay up to this long when HA says `online`. */
  HOMELAB_HA_BIRTH_DELAY_MS: duration(0, 60_000).default(5000),
}
export const HaConfig = z.object(haShape)
export type HaConfig = z.infer<typeof HaConfig>

/** The Home Assistant settings out of a service's loaded (already parsed) configuration. */
export function haSettings(c: HaConfig): HaConfig {
  return {
    HOMELAB_HA_DISCOVERY: c.HOMELAB_HA_DISCOVERY,
    HOMELAB_HA_DISCOVERY_PREFIX: c.HOMELAB_HA_DISCOVERY_PREFIX,
    HOMELAB_HA_ENTITIES: c.HOMELAB_HA_ENTITIES,
    HOMELAB_HA_UNITS: c.HOMELAB_HA_UNITS,
    HOMELAB_HA_GONE_TTL_MS: c.HOMELAB_HA_GONE_TTL_MS,
    HOMELAB_HA_BIRTH_DELAY_MS: c.HOMELAB_HA_BIRTH_DELAY_MS,
  }
}
