import { haSettings, mqttProbe, type ServiceModule } from '@homelab/service-kit'
import { ProbeCollectorConfig, probeOptions } from './config.js'
import { ProbeCollectorService } from './service.js'

/** The probe-collector: HTTP(S), TCP, TLS, DNS and ICMP checks from the probes file. */
export const probeCollector: ServiceModule<ProbeCollectorConfig> = {
  name: 'probe-collector',
  config: ProbeCollectorConfig,
  create(c, ctx) {
    const s = new ProbeCollectorService({
      ...ctx.mqtt,
      host: ctx.host,
      topics: ctx.topics,
      ...probeOptions(c),
      log: ctx.log,
      counters: ctx.counters,
      ha: haSettings(c),
    })
    return { start: () => s.start(), stop: () => s.stop(), health: mqttProbe(s.conn) }
  },
}
