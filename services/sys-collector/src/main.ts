import {
  brokerIdentity,
  createLogger,
  haSettings,
  loadConfig,
  mqttProbe,
  runUntilSignal,
  startHealthFile,
} from '@homelab/service-kit'
import { SysCollectorConfig } from './config.js'
import { SysCollectorService } from './service.js'

const log = createLogger('sys-collector')
await runUntilSignal(log, async () => {
  const c = loadConfig(SysCollectorConfig)
  const service = new SysCollectorService({
    ...brokerIdentity(c, 'sys-collector'),
    intervalMs: c.HOMELAB_SYS_INTERVAL_MS,
    paths: { proc: c.HOMELAB_PROC_DIR, sys: c.HOMELAB_SYS_DIR, rootfs: c.HOMELAB_ROOTFS },
    log,
    ha: haSettings(c),
  })
  await service.start()
  startHealthFile(c.HOMELAB_HEALTH_FILE, mqttProbe(service.conn))
  return service
})
