import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { HostId } from '@homelab/contracts'
import { z } from 'zod'
import { BROKER_USERS, COLLECTORS } from './acl.js'

/** A user name the broker knows: a local service, Home Assistant, or a collector of an enrolled machine. */
export const UserName = z
  .string()
  .refine(
    (u) =>
      (BROKER_USERS as readonly string[]).includes(u) ||
      ((COLLECTORS as readonly string[]).includes(u.split('@')[0] ?? '') &&
        HostId.safeParse(u.split('@')[1]).success),
    'a user is a service name, "homeassistant", or "<collector>@<host id>"',
  )

export const UsersFile = z.object({
  users: z.record(UserName, z.string().min(8)),
  /** In an agent machine's file: the host id its credentials are bound to. */
  host: HostId.optional(),
})
export type UsersFile = z.infer<typeof UsersFile>
/** User name → password. */
export type Credentials = Record<string, string>

export function usersFilePath(dataDir: string): string {
  return join(dataDir, 'secrets', 'mqtt-users.json')
}

export function agentFilePath(dataDir: string, host: string): string {
  return join(dataDir, 'secrets', 'agents', `${host}.json`)
}

/**
 * Owner read-write, group read (0640, folder 0750): the services read their password from this file, and in
 * compose one of them (the systemd-collector) runs under another user id that shares the group, because the host's
 * D-Bus accepts only user ids its own passwd knows. Nobody else can read it.
 */
function writeSecret(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 })
  chmodSync(dirname(path), 0o750)
  const tmp = `${path}.tmp`
  writeFileSync(tmp, content, { mode: 0o640 })
  chmodSync(tmp, 0o640)
  renameSync(tmp, path)
}

const password = () => randomBytes(24).toString('base64url')

/** Reads a users file; a missing one is empty, a damaged one an error that names the file. */
export function readUsers(path: string): Credentials {
  if (!existsSync(path)) return {}
  let json: unknown
  try {
    json = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`)
  }
  const parsed = UsersFile.safeParse(json)
  if (!parsed.success)
    throw new Error(`${path} is not a valid users file: ${parsed.error.issues[0]?.message}`)
  return parsed.data.users
}

function writeUsers(dataDir: string, users: Credentials): void {
  writeSecret(usersFilePath(dataDir), `${JSON.stringify({ users }, null, 2)}\n`)
}

/**
 * Loads the broker's users (user name → password) from `<data>/secrets/mqtt-users.json`, generating a random
 * password for each local service user that has none. Enrolled machines' users are kept. The file is written with
 * mode 0640; passwords never reach a log. `homeassistant` is present only when a password is given
 * (HOMELAB_HA_MQTT_PASSWORD).
 */
export function ensureCredentials(dataDir: string, haPassword?: string): Credentials {
  const path = usersFilePath(dataDir)
  const users = readUsers(path)
  let changed = false
  for (const u of BROKER_USERS) {
    if (u === 'homeassistant') continue
    if (!users[u]) {
      users[u] = password()
      changed = true
    }
  }
  if (haPassword !== undefined && users.homeassistant !== haPassword) {
    users.homeassistant = haPassword
    changed = true
  } else if (haPassword === undefined && users.homeassistant !== undefined) {
    delete users.homeassistant
    changed = true
  }
  if (changed || !existsSync(path)) writeUsers(dataDir, users)
  else {
    // A file from an older version (0600 in a 0700 folder): give the services' group read access.
    chmodSync(dirname(path), 0o750)
    chmodSync(path, 0o640)
  }
  return users
}

/**
 * Enrols an agent machine: a user per collector bound to `host` (`sys-collector@<host>`, …) with fresh passwords,
 * added to the broker's users file (the running broker picks them up) and written to `<data>/secrets/agents/
 * <host>.json`, the file to copy to that machine as its users file. Enrolling again replaces its passwords.
 */
export function enrolHost(dataDir: string, host: string): { path: string; users: string[] } {
  HostId.parse(host)
  const users = readUsers(usersFilePath(dataDir))
  const agent: Credentials = {}
  for (const c of COLLECTORS) {
    const u = `${c}@${host}`
    users[u] = password()
    agent[u] = users[u]
  }
  writeUsers(dataDir, users)
  const path = agentFilePath(dataDir, host)
  writeSecret(path, `${JSON.stringify({ users: agent, host }, null, 2)}\n`)
  return { path, users: Object.keys(agent) }
}

/** Revokes an enrolled machine: its users go, and the running broker disconnects them. */
export function revokeHost(dataDir: string, host: string): string[] {
  const users = readUsers(usersFilePath(dataDir))
  const gone = Object.keys(users).filter((u) => u.endsWith(`@${host}`))
  for (const u of gone) delete users[u]
  if (gone.length) writeUsers(dataDir, users)
  rmSync(agentFilePath(dataDir, host), { force: true })
  return gone
}

/** The enrolled machines (hosts with `<collector>@<host>` users). */
export function enrolledHosts(dataDir: string): string[] {
  const hosts = new Set<string>()
  for (const u of Object.keys(readUsers(usersFilePath(dataDir)))) {
    const at = u.indexOf('@')
    if (at > 0) hosts.add(u.slice(at + 1))
  }
  return [...hosts].sort()
}
