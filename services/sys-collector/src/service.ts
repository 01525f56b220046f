import { haIds } from '@homelab/contracts'
import { type CollectorLogin, CollectorService } from '@homelab/service-kit'
import { SysCollector } from './collector.js'
import { hostDevice, hostShape } from './ha.js'
import type { HostPaths } from './host-reader.js'

export interface SysCollectorServiceOptions extends CollectorLogin {
  intervalMs: number
  /** Processes per top list; 0: no processes reading. */
  processesTop?: number
  paths: HostPaths
}

/** The sys-collector as a service: its own MQTT connection and the sampler. Used alone and in the all-in-one. */
export class SysCollectorService extends CollectorService<SysCollector> {
  constructor(o: SysCollectorServiceOptions) {
    const hostId = haIds.host(o.host)
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
        }),
      owns: (id) => id === hostId,
      devices: (ha, collector) => {
        if (!ha.wants('host')) return ha.update([])
        collector.onPublished.add((r) => {
          const model = collector.facts?.model ?? null
          ha.updateWhenChanged(hostShape(r, model), () => [hostDevice(o.host, o.topics, r, model)])
        })
      },
    })
  }
}
