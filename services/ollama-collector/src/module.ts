import { haSettings, mqttProbe, type ServiceModule } from '@homelab/service-kit'
import { OllamaCollectorConfig, ollamaOptions } from './config.js'
import { OllamaCollectorService } from './service.js'

/** The ollama-collector: the local AI server, its models, GPUs, and the optional measuring proxy. */
export const ollamaCollector: ServiceModule<OllamaCollectorConfig> = {
  name: 'ollama-collector',
  config: OllamaCollectorConfig,
  create(c, ctx) {
    const s = new OllamaCollectorService({
      ...ctx.mqtt,
      host: ctx.host,
      topics: ctx.topics,
      ...ollamaOptions(c),
      log: ctx.log,
      counters: ctx.counters,
      ha: haSettings(c),
    })
    return { start: () => s.start(), stop: () => s.stop(), health: mqttProbe(s.conn) }
  },
}
