import { CommandAction, haIds, type Topics } from '@homelab/contracts'
import {
  CommandServer,
  Counters,
  collectorDiscovery,
  compileGlobs,
  type HaConfig,
  type HaDiscovery,
  type Logger,
  type MqttConnection,
  serviceConnection,
} from '@homelab/service-kit'
import { SystemdBus } from './bus.js'
import { SystemdCollector } from './collector.js'
import { unitDevice, unitsShape } from './ha.js'

export interface SystemdCollectorServiceOptions {
  url: string
  username: string
  password: string | undefined
  host: string
  topics: Topics
  busAddress: string
  units: readonly string[]
  control: readonly string[]
  intervalMs: number
  resyncMs: number
  jobTimeoutMs: number
  log: Logger
  counters?: Counters
  /** Home Assistant discovery of units (omit = off); HOMELAB_HA_UNITS picks which monitored units. */
  ha?: HaConfig
}

/** The systemd-collector as a service: its MQTT connection, the collector, and the command executor. */
export class SystemdCollectorService {
  readonly conn: MqttConnection
  readonly collector: SystemdCollector
  readonly commands: CommandServer
  readonly counters: Counters
  readonly ha: HaDiscovery | null

  constructor(o: SystemdCollectorServiceOptions) {
    this.counters = o.counters ?? new Counters()
    this.conn = serviceConnection(o, 'systemd-collector', this.counters)
    this.collector = new SystemdCollector({
      conn: this.conn,
      topics: o.topics,
      host: o.host,
      bus: new SystemdBus(o.busAddress),
      units: o.units,
      control: o.control,
      intervalMs: o.intervalMs,
      resyncMs: o.resyncMs,
      jobTimeoutMs: o.jobTimeoutMs,
      log: o.log,
      counters: this.counters,
    })
    this.commands = new CommandServer({
      conn: this.conn,
      topics: o.topics,
      host: o.host,
      service: 'systemd-collector',
      log: o.log,
      counters: this.counters,
      actions: CommandAction,
      execute: (c) => this.collector.execute(c),
    })
    if (o.control.length > 0) o.log.info(`control allowed for units matching: ${o.control.join(', ')}`)
    const prefix = `${haIds.scope(o.host, 'unit')}-`
    this.ha = collectorDiscovery(
      o,
      this.conn,
      'systemd-collector',
      this.counters,
      (id) => id.startsWith(prefix),
      () => this.collector.republish(),
    )
    const ha = this.ha
    if (ha?.wants('units') && o.ha) {
      const wanted = compileGlobs(o.ha.HOMELAB_HA_UNITS)
      this.collector.onChange.add(() => {
        const list = this.collector.units().filter((u) => wanted.match(u.name) !== null)
        ha.updateWhenChanged(unitsShape(list), () => list.map((u) => unitDevice(o.host, o.topics, u)))
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
