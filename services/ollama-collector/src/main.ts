import { createTopics } from '@homelab/contracts'
import {
  createLogger,
  haSettings,
  loadConfig,
  mqttProbe,
  resolveHostId,
  resolvePassword,
  runUntilSignal,
  startHealthFile,
} from '@homelab/service-kit'
import { OllamaCollectorConfig, ollamaOptions } from './config.js'
import { OllamaCollectorService } from './service.js'

const log = createLogger('ollama-collector')
await runUntilSignal(log, async () => {
  const c = loadConfig(OllamaCollectorConfig)
  const service = new OllamaCollectorService({
    url: c.HOMELAB_MQTT_URL,
    username: c.HOMELAB_MQTT_USERNAME ?? 'ollama-collector',
    password: resolvePassword(c, c.HOMELAB_MQTT_USERNAME ?? 'ollama-collector'),
    host: resolveHostId(c),
    topics: createTopics(c.HOMELAB_BASE_TOPIC),
    ...ollamaOptions(c),
    log,
    ha: haSettings(c),
  })
  await service.start()
  startHealthFile(c.HOMELAB_HEALTH_FILE, mqttProbe(service.conn))
  return service
})
