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
import { DockerCollectorConfig } from './config.js'
import { DockerCollectorService } from './service.js'

const log = createLogger('docker-collector')
await runUntilSignal(log, async () => {
  const c = loadConfig(DockerCollectorConfig)
  const service = new DockerCollectorService({
    url: c.HOMELAB_MQTT_URL,
    username: c.HOMELAB_MQTT_USERNAME ?? 'docker-collector',
    password: resolvePassword(c, c.HOMELAB_MQTT_USERNAME ?? 'docker-collector'),
    host: resolveHostId(c),
    topics: createTopics(c.HOMELAB_BASE_TOPIC),
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
