import { CommandAction, haIds, type Topics } from '@homelab/contracts'
import {
  CommandServer,
  Counters,
  collectorDiscovery,
  type HaConfig,
  type HaDiscovery,
  type Logger,
  type MqttConnection,
  serviceConnection,
} from '@homelab/service-kit'
import { DockerCollector } from './collector.js'
import { ControlPolicyMatcher } from './control.js'
import { Engine } from './engine.js'
import { containerDevice, containersShape } from './ha.js'

export interface DockerCollectorServiceOptions {
  url: string
  username: string
  password: string | undefined
  host: string
  topics: Topics
  dockerHost: string
  intervalMs: number
  control: readonly string[]
  statsConcurrency: number
  stopTimeoutS: number
  log: Logger
  counters?: Counters
  /** Home Assistant discovery of containers (omit = off). */
  ha?: HaConfig
}

/** The docker-collector as a service: its MQTT connection, the collector, and the command executor. */
export class DockerCollectorService {
  readonly conn: MqttConnection
  readonly collector: DockerCollector
  readonly commands: CommandServer
  readonly counters: Counters
  readonly ha: HaDiscovery | null

  constructor(o: DockerCollectorServiceOptions) {
    this.counters = o.counters ?? new Counters()
    this.conn = serviceConnection(o, 'docker-collector', this.counters)
    this.collector = new DockerCollector({
      conn: this.conn,
      topics: o.topics,
      host: o.host,
      engine: new Engine(o.dockerHost),
      control: new ControlPolicyMatcher(o.control),
      intervalMs: o.intervalMs,
      statsConcurrency: o.statsConcurrency,
      stopTimeoutS: o.stopTimeoutS,
      log: o.log,
      counters: this.counters,
    })
    this.commands = new CommandServer({
      conn: this.conn,
      topics: o.topics,
      host: o.host,
      service: 'docker-collector',
      log: o.log,
      counters: this.counters,
      actions: CommandAction,
      execute: (c) => this.collector.execute(c),
    })
    if (o.control.length > 0) o.log.info(`control allowed for names matching: ${o.control.join(', ')}`)
    const prefix = `${haIds.scope(o.host, 'container')}-`
    this.ha = collectorDiscovery(
      o,
      this.conn,
      'docker-collector',
      this.counters,
      (id) => id.startsWith(prefix),
      () => this.collector.republish(),
    )
    const ha = this.ha
    if (ha?.wants('containers')) {
      this.collector.onChange.add(() => {
        const list = this.collector.containers()
        ha.updateWhenChanged(containersShape(list), () =>
          list.map((c) => containerDevice(o.host, o.topics, c)),
        )
      })
    } else ha?.update([])
  }

  start(): void {
    this.commands.start()
    this.conn.start()
    this.ha?.start()
    this.collector.start()
  }

  async stop(): Promise<void> {
    this.ha?.stop()
    await this.commands.stop()
    await this.collector.stop()
    await this.conn.stop()
  }
}
