import {
  brokerIdentity,
  createLogger,
  loadConfig,
  mqttProbe,
  runUntilSignal,
  startHealthFile,
} from '@homelab/service-kit'
import { AlerterConfig, alerterSettings } from './config.js'
import { AlerterService } from './service.js'

const log = createLogger('alerter')
await runUntilSignal(log, async () => {
  const c = loadConfig(AlerterConfig)
  const service = new AlerterService({
    ...brokerIdentity(c, 'alerter'),
    settings: alerterSettings(c),
    log,
  })
  service.start()
  startHealthFile(c.HOMELAB_HEALTH_FILE, mqttProbe(service.conn))
  return service
})
