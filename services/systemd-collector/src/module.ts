import { haSettings, mqttProbe, type ServiceModule } from '@homelab/service-kit'
import { SystemdCollectorConfig } from './config.js'
import { SystemdCollectorService } from './service.js'

/** The systemd-collector: units over D-Bus, their state and resources, and the allowed unit jobs. */
export const systemdCollector: ServiceModule<SystemdCollectorConfig> = {
  name: 'systemd-collector',
  config: SystemdCollectorConfig,
  create(c, ctx) {
    const s = new SystemdCollectorService({
      ...ctx.mqtt,
      host: ctx.host,
      topics: ctx.topics,
      busAddress: c.DBUS_SYSTEM_BUS_ADDRESS,
      units: c.HOMELAB_SYSTEMD_UNITS,
      control: c.HOMELAB_SYSTEMD_CONTROL,
      intervalMs: c.HOMELAB_SYSTEMD_INTERVAL_MS,
      resyncMs: c.HOMELAB_SYSTEMD_RESYNC_MS,
      jobTimeoutMs: c.HOMELAB_SYSTEMD_JOB_TIMEOUT_MS,
      journalDir: c.HOMELAB_JOURNAL_DIR || null,
      cgroupRoot: c.HOMELAB_CGROUP_ROOT === 'off' ? '' : c.HOMELAB_CGROUP_ROOT,
      log: ctx.log,
      counters: ctx.counters,
      ha: haSettings(c),
    })
    return {
      start: async () => s.start(),
      stop: () => s.stop(),
      health: mqttProbe(s.conn),
    }
  },
}
