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
import { SysCollectorConfig } from './config.js'
import { SysCollectorService } from './service.js'

const log = createLogger('sys-collector')
await runUntilSignal(log, async () => {
  const c = loadConfig(SysCollectorConfig)
  const service = new SysCollectorService({
    url: c.HOMELAB_MQTT_URL,
    username: c.HOMELAB_MQTT_USERNAME ?? 'sys-collector',
    password: resolvePassword(c, c.HOMELAB_MQTT_USERNAME ?? 'sys-collector'),
    host: resolveHostId(c),
    topics: createTopics(c.HOMELAB_BASE_TOPIC),
    intervalMs: c.HOMELAB_SYS_INTERVAL_MS,
    paths: { proc: c.HOMELAB_PROC_DIR, sys: c.HOMELAB_SYS_DIR, rootfs: c.HOMELAB_ROOTFS },
    log,
    ha: haSettings(c),
  })
  await service.start()
  startHealthFile(c.HOMELAB_HEALTH_FILE, mqttProbe(service.conn))
  return service
})
