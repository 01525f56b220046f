import { haIds, ProbeAction } from '@homelab/contracts'
import { type CollectorLogin, CollectorService, CommandServer, Counters } from '@homelab/service-kit'
import { ProbeCollector } from './collector.js'
import { probeDevice } from './ha.js'
import { ProbesFileStore } from './probes-file.js'

export interface ProbeCollectorServiceOptions extends CollectorLogin {
  /** The probes file. */
  file: string
  concurrency: number
  ping: string
}

/** The probe-collector as a service: its MQTT connection, the probes of its file, a Home Assistant device each. */
export class ProbeCollectorService extends CollectorService<ProbeCollector> {
  /** Edits of the probes file from the dashboard (admins; the gateway checks the role, the broker the sender). */
  private readonly probeCommands: CommandServer<ProbeAction>

  constructor(o: ProbeCollectorServiceOptions) {
    const prefix = `${haIds.scope(o.host, 'probe')}-`
    const counters = o.counters ?? new Counters()
    super(
      { ...o, counters },
      {
        service: 'probe-collector',
        collector: (conn, counters) =>
          new ProbeCollector({
            conn,
            topics: o.topics,
            host: o.host,
            file: new ProbesFileStore({ file: o.file, log: o.log, now: Date.now }),
            concurrency: o.concurrency,
            ping: o.ping,
            log: o.log,
            counters,
          }),
        owns: (id) => id.startsWith(prefix),
        devices: (ha, collector) => {
          if (!ha.wants('probes')) return ha.update([])
          // A device per probe, once it has a result (its reading says what it is); probes removed lose theirs.
          const known = new Map<string, Parameters<typeof probeDevice>[2]>()
          collector.onResult.add((r) => {
            known.set(r.probe.id, r.probe)
            for (const id of known.keys()) if (!collector.probes.some((p) => p.id === id)) known.delete(id)
            ha.updateWhenChanged(JSON.stringify([...known.values()]), () =>
              [...known.values()].map((p) => probeDevice(o.host, o.topics, p)),
            )
          })
        },
      },
    )
    this.probeCommands = new CommandServer<ProbeAction>({
      conn: this.conn,
      topics: o.topics,
      host: o.host,
      service: 'probe-collector',
      log: o.log,
      counters,
      actions: ProbeAction,
      execute: (c) => this.collector.execute(c),
    })
  }

  override async start(): Promise<void> {
    this.probeCommands.start()
    await super.start()
  }

  override async stop(): Promise<void> {
    await this.probeCommands.stop()
    await super.stop()
  }
}
