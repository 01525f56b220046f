import { haIds, type SystemReading } from '@homelab/contracts'
import { type CollectorLogin, CollectorService } from '@homelab/service-kit'
import { SysCollector } from './collector.js'
import { hostDevice, hostShape, upsDevice } from './ha.js'
import type { HostPaths } from './host-reader.js'
import type { NutTarget } from './nut.js'
import type { SmartOptions } from './smart.js'

export interface SysCollectorServiceOptions extends CollectorLogin {
  intervalMs: number
  /** Processes per top list; 0: no processes reading. */
  processesTop?: number
  paths: HostPaths
  smart?: (SmartOptions & { intervalMs: number; required: boolean }) | null
  ups?: { targets: NutTarget[]; auto: boolean; intervalMs: number; timeoutMs: number } | null
}

/** The sys-collector as a service: its own MQTT connection and the sampler. Used alone and in the all-in-one. */
export class SysCollectorService extends CollectorService<SysCollector> {
  constructor(o: SysCollectorServiceOptions) {
    const hostId = haIds.host(o.host)
    const upsScope = haIds.scope(o.host, 'ups')
    super(o, {
      service: 'sys-collector',
      collector: (conn, counters) =>
        new SysCollector({
          conn,
          topics: o.topics,
          host: o.host,
          intervalMs: o.intervalMs,
          processesTop: o.processesTop ?? 15,
          paths: o.paths,
          log: o.log,
          counters,
          smart: o.smart ?? null,
          ups: o.ups ?? null,
        }),
      owns: (id) => id === hostId || id.startsWith(upsScope),
      devices: (ha, collector) => {
        const host = ha.wants('host')
        const ups = ha.wants('ups')
        if (!host && !ups) return ha.update([])
        let system: SystemReading | null = null
        // One device set from the three readings: the host (with its disks) and a device per UPS.
        const refresh = () => {
          const model = collector.facts?.model ?? null
          const disks = collector.disks?.latest ?? null
          const upses = ups ? (collector.ups?.latest ?? []) : []
          const shape = [
            system && host ? hostShape(system, model, disks) : '',
            ...upses.map((u) => `${u.ups.name}:${u.ups.model}:${u.ups.description}`),
          ].join('#')
          ha.updateWhenChanged(shape, () => [
            ...(system && host ? [hostDevice(o.host, o.topics, system, model, disks)] : []),
            ...upses.map((u) => upsDevice(o.host, o.topics, u)),
          ])
        }
        collector.onPublished.add((r) => {
          system = r
          refresh()
        })
        collector.disks?.onPublished.add(refresh)
        collector.ups?.onPublished.add(refresh)
      },
    })
  }
}
