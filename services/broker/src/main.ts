import { join } from 'node:path'
import { Counters, createLogger, loadConfig, runUntilSignal } from '@homelab/service-kit'
import { startBroker } from './broker.js'
import { BrokerConfig } from './config.js'
import { ensureCredentials, usersFilePath } from './credentials.js'

const log = createLogger('broker')
await runUntilSignal(log, async () => {
  const c = loadConfig(BrokerConfig)
  const credentials = ensureCredentials(c.HOMELAB_DATA_DIR, c.HOMELAB_HA_MQTT_PASSWORD)
  log.info(`MQTT users and passwords: ${usersFilePath(c.HOMELAB_DATA_DIR)} (mode 0600)`)
  return startBroker({
    port: c.HOMELAB_MQTT_PORT,
    bind: c.HOMELAB_MQTT_BIND,
    persistenceDir: join(c.HOMELAB_DATA_DIR, 'broker'),
    credentials,
    baseTopic: c.HOMELAB_BASE_TOPIC,
    haPrefix: c.HOMELAB_HA_DISCOVERY_PREFIX,
    log,
    counters: new Counters(),
  })
})
