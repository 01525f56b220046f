import type { Topics } from '@homelab/contracts'
import { Counters, type Logger, MqttConnection } from '@homelab/service-kit'
import { SysCollector } from './collector.js'
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
}

/** The sys-collector as a service: its own MQTT connection and the sampler. Used alone and in the all-in-one. */
export class SysCollectorService {
  readonly conn: MqttConnection
  readonly collector: SysCollector
  readonly counters: Counters

  constructor(o: SysCollectorServiceOptions) {
    this.counters = o.counters ?? new Counters()
    this.conn = new MqttConnection({
      url: o.url,
      username: o.username,
      password: o.password,
      clientId: `sys-collector-${o.host}`,
      host: o.host,
      service: 'sys-collector',
      topics: o.topics,
      log: o.log,
      counters: this.counters,
      version: '0.1.0',
    })
    this.collector = new SysCollector({
      conn: this.conn,
      topics: o.topics,
      host: o.host,
      intervalMs: o.intervalMs,
      paths: o.paths,
      log: o.log,
      counters: this.counters,
    })
  }

  async start(): Promise<void> {
    this.conn.start()
    await this.collector.start()
  }

  async stop(): Promise<void> {
    await this.collector.stop()
    await this.conn.stop()
  }
}
