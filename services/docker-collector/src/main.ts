import {
  brokerIdentity,
  createLogger,
  haSettings,
  loadConfig,
  mqttProbe,
  runUntilSignal,
  startHealthFile,
} from '@homelab/service-kit'
import { DockerCollectorConfig } from './config.js'
import { DockerCollectorService } from './service.js'

const log = createLogger('docker-collector')
await runUntilSignal(log, async () => {
  const c = loadConfig(DockerCollectorConfig)
  const service = new DockerCollectorService({
    ...brokerIdentity(c, 'docker-collector'),
    dockerHost: c.DOCKER_HOST,
    intervalMs: c.HOMELAB_DOCKER_INTERVAL_MS,
    control: c.HOMELAB_DOCKER_CONTROL,
    statsConcurrency: c.HOMELAB_DOCKER_STATS_CONCURRENCY,
    stopTimeoutS: c.HOMELAB_DOCKER_STOP_TIMEOUT_S,
    log,
    ha: haSettings(c),
  })
  service.start()
  startHealthFile(c.HOMELAB_HEALTH_FILE, mqttProbe(service.conn))
  return service
})
