import { haIds } from '@homelab/contracts'
import { type CollectorLogin, CollectorService, compileGlobs } from '@homelab/service-kit'
import { SystemdBus } from './bus.js'
import { CgroupReader } from './cgroup.js'
import { SystemdCollector } from './collector.js'
import { unitDevice, unitsShape } from './ha.js'
import { JournalLogs } from './journal.js'

export interface SystemdCollectorServiceOptions extends CollectorLogin {
  busAddress: string
  units: readonly string[]
  control: readonly string[]
  intervalMs: number
  resyncMs: number
  jobTimeoutMs: number
  /** The journal directory to read logs from; null: the system's. */
  journalDir?: string | null
  /** Where the cgroup tree is mounted (default /sys/fs/cgroup); '' reads every unit's stats over D-Bus. */
  cgroupRoot?: string
}

/** The systemd-collector as a service: its MQTT connection, the collector, and the command executor. */
export class SystemdCollectorService extends CollectorService<SystemdCollector> {
  constructor(o: SystemdCollectorServiceOptions) {
    const prefix = `${haIds.scope(o.host, 'unit')}-`
    super(o, {
      service: 'systemd-collector',
      collector: (conn, counters) =>
        new SystemdCollector({
          conn,
          topics: o.topics,
          host: o.host,
          bus: new SystemdBus(o.busAddress),
          units: o.units,
          control: o.control,
          intervalMs: o.intervalMs,
          resyncMs: o.resyncMs,
          jobTimeoutMs: o.jobTimeoutMs,
          cgroups: new CgroupReader(o.cgroupRoot ?? '/sys/fs/cgroup'),
          log: o.log,
          counters,
        }),
      execute: (collector) => (c) => collector.execute(c),
      logs: (collector) =>
        new JournalLogs({
          dir: o.journalDir ?? null,
          known: (unit) => collector.units().some((u) => u.name === unit),
        }),
      logTargets: (collector) => collector.units().map((u) => u.name),
      owns: (id) => id.startsWith(prefix),
      devices: (ha, collector) => {
        if (!ha.wants('units') || !o.ha) return ha.update([])
        const wanted = compileGlobs(o.ha.HOMELAB_HA_UNITS)
        collector.onChange.add(() => {
          const list = collector.units().filter((u) => wanted.match(u.name) !== null)
          ha.updateWhenChanged(unitsShape(list), () => list.map((u) => unitDevice(o.host, o.topics, u)))
        })
      },
    })
    if (o.control.length > 0) o.log.info(`control allowed for units matching: ${o.control.join(', ')}`)
  }
}
