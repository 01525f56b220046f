import { existsSync } from 'node:fs'
import { loadConfig, resolveHostId } from '@homelab/service-kit'
import { BROKER_USERS, mosquittoAcl } from './acl.js'
import { BrokerConfig } from './config.js'
import { readUsers, usersFilePath } from './credentials.js'

// Prints the project's ACL in Mosquitto's acl_file format: for the base topic given (default HOMELAB_BASE_TOPIC or
// "homelab"), the local services bound to this machine's host id, and every machine enrolled in HOMELAB_DATA_DIR.
const c = loadConfig(BrokerConfig)
const file = usersFilePath(c.HOMELAB_DATA_DIR)
const users = [...new Set([...BROKER_USERS, ...(existsSync(file) ? Object.keys(readUsers(file)) : [])])]
process.stdout.write(mosquittoAcl(process.argv[2] ?? c.HOMELAB_BASE_TOPIC, users, resolveHostId(c)))
