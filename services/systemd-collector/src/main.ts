import {
  brokerIdentity,
  createLogger,
  haSettings,
  loadConfig,
  mqttProbe,
  runUntilSignal,
  startHealthFile,
} from '@homelab/service-kit'
import { SystemdCollectorConfig } from './config.js'
import { SystemdCollectorService } from './service.js'

const log = createLogger('systemd-collector')
await runUntilSignal(log, async () => {
  const c = loadConfig(SystemdCollectorConfig)
  const service = new SystemdCollectorService({
    ...brokerIdentity(c, 'systemd-collector'),
    busAddress: c.DBUS_SYSTEM_BUS_ADDRESS,
    units: c.HOMELAB_SYSTEMD_UNITS,
    control: c.HOMELAB_SYSTEMD_CONTROL,
    intervalMs: c.HOMELAB_SYSTEMD_INTERVAL_MS,
    resyncMs: c.HOMELAB_SYSTEMD_RESYNC_MS,
    jobTimeoutMs: c.HOMELAB_SYSTEMD_JOB_TIMEOUT_MS,
    log,
    ha: haSettings(c),
  })
  service.start()
  startHealthFile(c.HOMELAB_HEALTH_FILE, mqttProbe(service.conn))
  return service
})
