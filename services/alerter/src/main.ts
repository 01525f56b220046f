import { createTopics } from '@homelab/contracts'
import {
  createLogger,
  loadConfig,
  mqttProbe,
  resolveHostId,
  resolvePassword,
  runUntilSignal,
  startHealthFile,
} from '@homelab/service-kit'
import { AlerterConfig, alerterSettings } from './config.js'
import { AlerterService } from './service.js'

const log = createLogger('alerter')
await runUntilSignal(log, async () => {
  const c = loadConfig(AlerterConfig)
  const service = new AlerterService({
    url: c.HOMELAB_MQTT_URL,
    username: c.HOMELAB_MQTT_USERNAME ?? 'alerter',
    password: resolvePassword(c, c.HOMELAB_MQTT_USERNAME ?? 'alerter'),
    host: resolveHostId(c),
    topics: createTopics(c.HOMELAB_BASE_TOPIC),
    settings: alerterSettings(c),
    log,
  })
  service.start()
  startHealthFile(c.HOMELAB_HEALTH_FILE, mqttProbe(service.conn))
  return service
})
