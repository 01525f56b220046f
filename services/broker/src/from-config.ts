import { join } from 'node:path'
import { Counters, fileSignature, type Logger, resolveHostId, watchForChanges } from '@homelab/service-kit'
import { type RunningBroker, startBroker } from './broker.js'
import type { BrokerConfig } from './config.js'
import { type Credentials, readUsers, usersFilePath } from './credentials.js'

/**
 * Starts the broker as its configuration says (alone, or inside the all-in-one). It follows its users file, so
 * `enrol add` and `enrol remove` take effect without a restart.
 */
export async function startBrokerFromConfig(
  c: BrokerConfig,
  credentials: Credentials,
  log: Logger,
): Promise<RunningBroker> {
  const file = usersFilePath(c.HOMELAB_DATA_DIR)
  const version = () => fileSignature(file)
  let seen = version()
  // A login about to be refused re-reads the file if it changed (one stat otherwise), so an enrolment made a moment
  // ago counts even before the file's watch below reports it.
  const refreshCredentials = (): Credentials | null => {
    const v = version()
    if (v === seen) return null
    try {
      const fresh = readUsers(file)
      seen = v
      return fresh
    } catch (e) {
      // Once per cause: a flood of refused logins must not flood the log.
      log.once(`users:${(e as Error).message}`, `kept the users in force: ${(e as Error).message}`)
      return null
    }
  }
  const broker = await startBroker({
    refreshCredentials,
    port: c.HOMELAB_MQTT_PORT,
    bind: c.HOMELAB_MQTT_BIND,
    persistenceDir: join(c.HOMELAB_DATA_DIR, 'broker'),
    credentials,
    baseTopic: c.HOMELAB_BASE_TOPIC,
    host: resolveHostId(c),
    haPrefix: c.HOMELAB_HA_DISCOVERY_PREFIX,
    maxRetainedPerUser: c.HOMELAB_MQTT_MAX_RETAINED_PER_USER,
    log,
    counters: new Counters(),
  })
  const unwatch = watchForChanges(file, () => {
    try {
      seen = version()
      broker.setCredentials(readUsers(file))
    } catch (e) {
      log.warn(`kept the users in force: ${(e as Error).message}`)
    }
  })
  return {
    ...broker,
    get status() {
      return broker.status
    },
    async stop() {
      unwatch()
      await broker.stop()
    },
  }
}
