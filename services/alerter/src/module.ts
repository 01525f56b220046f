import { resolve } from 'node:path'
import { mqttProbe, type ServiceModule } from '@homelab/service-kit'
import { AlerterConfig, alerterSettings } from './config.js'
import { AlerterService } from './service.js'

/** The alerter: rules on the live stream, alert state, notifications. */
export const alerter: ServiceModule<AlerterConfig> = {
  name: 'alerter',
  config: AlerterConfig,
  create(c, ctx) {
    const settings = alerterSettings(c)
    const s = new AlerterService({
      ...ctx.mqtt,
      host: ctx.host,
      topics: ctx.topics,
      settings,
      log: ctx.log,
      counters: ctx.counters,
    })
    return {
      start: async () => s.start(),
      stop: () => s.stop(),
      health: mqttProbe(s.conn),
      started: () => [`alert rules: ${resolve(settings.rulesFile)} (reloaded when it changes)`],
    }
  },
}
