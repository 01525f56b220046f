import { haIds, type Topics } from '@homelab/contracts'
import {
  Counters,
  collectorDiscovery,
  type HaConfig,
  type HaDiscovery,
  type Logger,
  type MqttConnection,
  serviceConnection,
} from '@homelab/service-kit'
import { SysCollector } from './collector.js'
import { hostDevice, hostShape } from './ha.js'
import type { HostPaths } from './host-reader.js'

export interface SysCollectorServiceOptions {
  url: string
  username: string
  password: string | undefined
  host: string
  topics: Topics
  intervalMs: number
  paths: HostPaths
  log: Logger
  counters?: Counters
  /** Home Assistant discovery of the host device (omit = off). */
  ha?: HaConfig
}

/** The sys-collector as a service: its own MQTT connection and the sampler. Used alone and in the all-in-one. */
export class SysCollectorService {
  readonly conn: MqttConnection
  readonly collector: SysCollector
  readonly counters: Counters
  readonly ha: HaDiscovery | null

  constructor(o: SysCollectorServiceOptions) {
    this.counters = o.counters ?? new Counters()
    this.conn = serviceConnection(o, 'sys-collector', this.counters)
    this.collector = new SysCollector({
      conn: this.conn,
      topics: o.topics,
      host: o.host,
      intervalMs: o.intervalMs,
      paths: o.paths,
      log: o.log,
      counters: this.counters,
    })
    const hostId = haIds.host(o.host)
    this.ha = collectorDiscovery(
      o,
      this.conn,
      'sys-collector',
      this.counters,
      (id) => id === hostId,
      () => this.collector.republish(),
    )
    const ha = this.ha
    if (ha?.wants('host')) {
      this.collector.onPublished.add((r) => {
        const model = this.collector.facts?.model ?? null
        ha.updateWhenChanged(hostShape(r, model), () => [hostDevice(o.host, o.topics, r, model)])
      })
    } else ha?.update([])
  }

  async start(): Promise<void> {
    this.conn.start()
    this.ha?.start()
    await this.collector.start()
  }

  async stop(): Promise<void> {
    this.ha?.stop()
    await this.collector.stop()
    await this.conn.stop()
  }
}
