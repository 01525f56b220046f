import { join } from 'node:path'
import { Counters, type Logger } from '@homelab/service-kit'
import { type RunningBroker, startBroker } from './broker.js'
import type { BrokerConfig } from './config.js'
import type { Credentials } from './credentials.js'

/** Starts the broker as its configuration says (alone, or inside the all-in-one). */
export function startBrokerFromConfig(
  c: BrokerConfig,
  credentials: Credentials,
  log: Logger,
): Promise<RunningBroker> {
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
}
