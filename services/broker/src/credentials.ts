import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { z } from 'zod'
import { BROKER_USERS, type BrokerUser } from './acl.js'

export const UsersFile = z.object({
  users: z.partialRecord(z.enum(BROKER_USERS), z.string().min(8)),
})
export type Credentials = Partial<Record<BrokerUser, string>>

export function usersFilePath(dataDir: string): string {
  return join(dataDir, 'secrets', 'mqtt-users.json')
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

/**
 * Loads the broker's users (service name → password) from `<data>/secrets/mqtt-users.json`, generating a random
 * password for each service user that has none. The file is written with mode 0640; passwords never reach a log.
 * `homeassistant` is present only when a password is given (HOMELAB_HA_MQTT_PASSWORD).
 */
export function ensureCredentials(dataDir: string, haPassword?: string): Credentials {
  const path = usersFilePath(dataDir)
  let users: Credentials = {}
  if (existsSync(path)) {
    const parsed = UsersFile.safeParse(JSON.parse(readFileSync(path, 'utf8')))
    if (!parsed.success)
      throw new Error(`${path} is not a valid users file: ${parsed.error.issues[0]?.message}`)
    users = parsed.data.users
  }
  let changed = false
  for (const u of BROKER_USERS) {
    if (u === 'homeassistant') continue
    if (!users[u]) {
      users[u] = randomBytes(24).toString('base64url')
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
  if (changed || !existsSync(path)) writeSecret(path, `${JSON.stringify({ users }, null, 2)}\n`)
  else {
    // A file from an older version (0600 in a 0700 folder): give the services' group read access.
    chmodSync(dirname(path), 0o750)
    chmodSync(path, 0o640)
  }
  return users
}
