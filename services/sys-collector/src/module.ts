import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
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
      smart:
        c.HOMELAB_SMART === 'off'
          ? null
          : {
              smartctl: c.HOMELAB_SMARTCTL ?? defaultSmartctl(),
              devices: c.HOMELAB_SMART_DEVICES,
              timeoutMs: 60_000,
              intervalMs: c.HOMELAB_SMART_INTERVAL_MS,
              required: c.HOMELAB_SMART === 'on',
            },
      ups: {
        ...c.HOMELAB_UPS,
        intervalMs: c.HOMELAB_UPS_INTERVAL_MS,
        timeoutMs: Math.min(5000, c.HOMELAB_UPS_INTERVAL_MS),
      },
      log: ctx.log,
      counters: ctx.counters,
      ha: haSettings(c),
    })
    return { start: () => s.start(), stop: () => s.stop(), health: mqttProbe(s.conn) }
  },
}

/** `smartctl` where PATH has it; else Debian's /usr/sbin/smartctl (a user's PATH often lacks /usr/sbin). */
function defaultSmartctl(): string {
  const onPath = (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, 'smartctl')))
  return onPath || !existsSync('/usr/sbin/smartctl') ? 'smartctl' : '/usr/sbin/smartctl'
}
