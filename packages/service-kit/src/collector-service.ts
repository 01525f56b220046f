import { CommandAction, type ServiceName } from '@homelab/contracts'
import { type CommandInput, type CommandOutcome, CommandServer } from './command-server.js'
import type { HaConfig } from './config.js'
import type { HaDiscovery } from './ha-discovery.js'
import { Counters } from './log.js'
import { LogServer, type LogSource } from './log-server.js'
import { LogWatcher } from './log-watcher.js'
import type { MqttConnection } from './mqtt-connection.js'
import { type BusLogin, collectorDiscovery, serviceConnection } from './service-module.js'

/** What a collector is to its service. */
export interface Collector {
  start(): void | Promise<void>
  stop(): Promise<void>
  /** Publishes its current state again (Home Assistant came up). */
  republish(): void
}

/** The login and the shared options of every collector's service. */
export interface CollectorLogin extends BusLogin {
  counters?: Counters | undefined
  /** Home Assistant discovery (omit = off). */
  ha?: HaConfig | undefined
}

/** What sets one collector's service apart from another's. */
export interface CollectorSpec<C extends Collector> {
  service: ServiceName
  /** Builds the collector on the service's connection and counters. */
  collector: (conn: MqttConnection, counters: Counters) => C
  /** Executes start/stop/restart commands (omit: the collector takes none). */
  execute?: (collector: C) => (c: CommandInput<CommandAction>) => Promise<CommandOutcome>
  /** Answers log requests for the collector's entities (omit: it has no logs). */
  logs?: (collector: C) => LogSource
  /** The entities whose logs it owns now, for log-pattern rules (with `logs`). */
  logTargets?: (collector: C) => string[]
  /** The Home Assistant discovery object ids that are this collector's. */
  owns: (objectId: string) => boolean
  /** Keeps the collector's Home Assistant devices up to date (with discovery on). */
  devices: (ha: HaDiscovery, collector: C) => void
}

/**
 * A collector as a service, the same for every source: its own MQTT connection, the collector on it, the command
 * server when it executes commands, and Home Assistant discovery when it is on. `start` brings them up in that
 * order (commands subscribe before the connection starts, so none is missed); `stop` undoes it in reverse.
 */
export class CollectorService<C extends Collector> {
  readonly conn: MqttConnection
  readonly counters: Counters
  readonly collector: C
  readonly commands: CommandServer | null
  readonly logs: LogServer | null
  readonly logWatcher: LogWatcher | null
  readonly ha: HaDiscovery | null

  constructor(o: CollectorLogin, spec: CollectorSpec<C>) {
    this.counters = o.counters ?? new Counters()
    this.conn = serviceConnection(o, spec.service, this.counters)
    const collector = spec.collector(this.conn, this.counters)
    this.collector = collector
    this.commands = spec.execute
      ? new CommandServer({
          conn: this.conn,
          topics: o.topics,
          host: o.host,
          service: spec.service,
          log: o.log,
          counters: this.counters,
          actions: CommandAction,
          execute: spec.execute(collector),
        })
      : null
    const source = spec.logs?.(collector) ?? null
    const common = { conn: this.conn, topics: o.topics, host: o.host, service: spec.service, log: o.log }
    this.logs = source ? new LogServer({ ...common, counters: this.counters, source }) : null
    const targets = spec.logTargets
    this.logWatcher =
      source && targets
        ? new LogWatcher({ ...common, counters: this.counters, source, targets: () => targets(collector) })
        : null
    this.ha = collectorDiscovery(o, this.conn, spec.service, this.counters, spec.owns, () =>
      collector.republish(),
    )
    if (this.ha) spec.devices(this.ha, collector)
  }

  async start(): Promise<void> {
    this.commands?.start()
    this.logs?.start()
    this.logWatcher?.start()
    this.conn.start()
    this.ha?.start()
    await this.collector.start()
  }

  async stop(): Promise<void> {
    this.ha?.stop()
    await this.commands?.stop()
    this.logs?.stop()
    this.logWatcher?.stop()
    await this.collector.stop()
    await this.conn.stop()
  }
}
