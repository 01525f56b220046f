import { haSettings, mqttProbe, type ServiceModule } from '@homelab/service-kit'
import { SysCollectorConfig } from './config.js'
import { SysCollectorService } from './service.js'

/** The sys-collector: this machine's CPU, load, memory, temperature, disks and network. */
export const sysCollector: ServiceModule<SysCollectorConfig> = {
  name: 'sys-collector',
  config: SysCollectorConfig,
  create(c, ctx) {
    const s = new SysCollectorService({
      ...ctx.mqtt,
      host: ctx.host,
      topics: ctx.topics,
      intervalMs: c.HOMELAB_SYS_INTERVAL_MS,
      processesTop: c.HOMELAB_PROCESSES_TOP,
      paths: { proc: c.HOMELAB_PROC_DIR, sys: c.HOMELAB_SYS_DIR, rootfs: c.HOMELAB_ROOTFS },
      log: ctx.log,
      counters: ctx.counters,
      ha: haSettings(c),
    })
    return { start: () => s.start(), stop: () => s.stop(), health: mqttProbe(s.conn) }
  },
}
