import { createLogger, loadConfig, runUntilSignal } from '@homelab/service-kit'
import { BrokerConfig } from './config.js'
import { ensureCredentials, usersFilePath } from './credentials.js'
import { startBrokerFromConfig } from './from-config.js'

const log = createLogger('broker')
await runUntilSignal(log, async () => {
  const c = loadConfig(BrokerConfig)
  const credentials = ensureCredentials(c.HOMELAB_DATA_DIR, c.HOMELAB_HA_MQTT_PASSWORD)
  log.info(`MQTT users and passwords: ${usersFilePath(c.HOMELAB_DATA_DIR)} (mode 0600)`)
  return startBrokerFromConfig(c, credentials, log)
})
