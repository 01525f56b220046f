import { haIds } from '@homelab/contracts'
import { type CollectorLogin, CollectorService } from '@homelab/service-kit'
import { DockerCollector } from './collector.js'
import { ControlPolicyMatcher } from './control.js'
import { Engine } from './engine.js'
import { containerDevice, containersShape } from './ha.js'
import { DockerLogs } from './logs.js'

export interface DockerCollectorServiceOptions extends CollectorLogin {
  dockerHost: string
  intervalMs: number
  control: readonly string[]
  statsConcurrency: number
  stopTimeoutS: number
}

/** The docker-collector as a service: its MQTT connection, the collector, and the command executor. */
export class DockerCollectorService extends CollectorService<DockerCollector> {
  constructor(o: DockerCollectorServiceOptions) {
    const prefix = `${haIds.scope(o.host, 'container')}-`
    super(o, {
      service: 'docker-collector',
      collector: (conn, counters) =>
        new DockerCollector({
          conn,
          topics: o.topics,
          host: o.host,
          engine: new Engine(o.dockerHost),
          control: new ControlPolicyMatcher(o.control),
          intervalMs: o.intervalMs,
          statsConcurrency: o.statsConcurrency,
          stopTimeoutS: o.stopTimeoutS,
          log: o.log,
          counters,
        }),
      execute: (collector) => (c) => collector.execute(c),
      logs: (collector) => new DockerLogs(collector.engine, (t) => collector.containerId(t)),
      logTargets: (collector) => collector.containers().map((c) => c.name),
      owns: (id) => id.startsWith(prefix),
      devices: (ha, collector) => {
        if (!ha.wants('containers')) return ha.update([])
        collector.onChange.add(() => {
          const list = collector.containers()
          ha.updateWhenChanged(containersShape(list), () =>
            list.map((c) => containerDevice(o.host, o.topics, c)),
          )
        })
      },
    })
    if (o.control.length > 0) o.log.info(`control allowed for names matching: ${o.control.join(', ')}`)
  }
}
