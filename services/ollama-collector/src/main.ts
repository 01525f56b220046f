import {
  brokerIdentity,
  createLogger,
  haSettings,
  loadConfig,
  mqttProbe,
  runUntilSignal,
  startHealthFile,
} from '@homelab/service-kit'
import { OllamaCollectorConfig, ollamaOptions } from './config.js'
import { OllamaCollectorService } from './service.js'

const log = createLogger('ollama-collector')
await runUntilSignal(log, async () => {
  const c = loadConfig(OllamaCollectorConfig)
  const service = new OllamaCollectorService({
    ...brokerIdentity(c, 'ollama-collector'),
    ...ollamaOptions(c),
    log,
    ha: haSettings(c),
  })
  await service.start()
  startHealthFile(c.HOMELAB_HEALTH_FILE, mqttProbe(service.conn))
  return service
})
