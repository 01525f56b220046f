import { haSettings, mqttProbe, type ServiceModule } from '@homelab/service-kit'
import { DockerCollectorConfig } from './config.js'
import { DockerCollectorService } from './service.js'

/** The docker-collector: containers, their stats and events, and the allowed start/stop/restart. */
export const dockerCollector: ServiceModule<DockerCollectorConfig> = {
  name: 'docker-collector',
  config: DockerCollectorConfig,
  create(c, ctx) {
    const s = new DockerCollectorService({
      ...ctx.mqtt,
      host: ctx.host,
      topics: ctx.topics,
      dockerHost: c.DOCKER_HOST,
      intervalMs: c.HOMELAB_DOCKER_INTERVAL_MS,
      control: c.HOMELAB_DOCKER_CONTROL,
      statsConcurrency: c.HOMELAB_DOCKER_STATS_CONCURRENCY,
      stopTimeoutS: c.HOMELAB_DOCKER_STOP_TIMEOUT_S,
      log: ctx.log,
      counters: ctx.counters,
      ha: haSettings(c),
    })
    return {
      start: async () => s.start(),
      stop: () => s.stop(),
      health: mqttProbe(s.conn),
    }
  },
}
