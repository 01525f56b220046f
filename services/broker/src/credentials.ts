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

function writeSecret(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.tmp`
  writeFileSync(tmp, content, { mode: 0o600 })
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
}

/**
 * Loads the broker's users (service name → password) from `<data>/secrets/mqtt-users.json`, generating a random
 * password for each service user that has none. The file is written with mode 0600; passwords never reach a log.
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
  return users
}
