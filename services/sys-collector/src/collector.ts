import { join } from 'node:path'
import { HostFacts, ProcessesReading, SystemReading, type Topics } from '@homelab/contracts'
import {
  Callbacks,
  type Counters,
  delayToNextTick,
  type Logger,
  type MqttConnection,
} from '@homelab/service-kit'
import { DiskMonitor, UpsMonitor } from './hardware.js'
import { type HostPaths, HostReader, type RawSnapshot } from './host-reader.js'
import type { NutTarget } from './nut.js'
import { ProcessReader } from './processes.js'
import { buildReading } from './sampler.js'
import { readHostFacts } from './si-adapter.js'
import type { SmartOptions } from './smart.js'

export interface SysCollectorDeps {
  conn: MqttConnection
  topics: Topics
  host: string
  intervalMs: number
  /** Processes per top list; 0: no processes reading. */
  processesTop: number
  paths: HostPaths
  log: Logger
  counters: Counters
  /** Disk health through smartctl; null: off. */
  smart?: (SmartOptions & { intervalMs: number; required: boolean }) | null
  /** UPSes through NUT; null: off. */
  ups?: { targets: NutTarget[]; auto: boolean; intervalMs: number; timeoutMs: number } | null
}

/**
 * Samples the host every interval (aligned to multiples of it, so samples from several hosts line up) and publishes
 * one retained `reading/system` document; publishes `reading/facts` at start. A tick that is still running when the
 * next one is due is skipped, never stacked.
 */
export class SysCollector {
  private timer: NodeJS.Timeout | null = null
  private prev: RawSnapshot | null = null
  private busy = false
  private readonly reader: HostReader
  private readonly processes: ProcessReader | null
  private lastProcesses: ProcessesReading | null = null
  /** Test and bench hook: called after each published reading. */
  onReading: ((r: SystemReading) => void) | null = null
  /** Called after each published reading (the service's own hooks: HA discovery). */
  readonly onPublished: Callbacks<SystemReading>
  private lastReading: SystemReading | null = null
  private hostFacts: HostFacts | null = null
  /** Disk health (smartctl), on its own slow interval. */
  readonly disks: DiskMonitor | null
  /** UPSes (NUT). */
  readonly ups: UpsMonitor | null

  constructor(private readonly d: SysCollectorDeps) {
    this.reader = new HostReader(d.paths)
    const hw = { conn: d.conn, topics: d.topics, host: d.host, log: d.log, counters: d.counters }
    this.disks = d.smart ? new DiskMonitor(hw, d.smart) : null
    this.ups = d.ups && d.ups.targets.length > 0 ? new UpsMonitor(hw, d.ups) : null
    this.processes =
      d.processesTop > 0
        ? new ProcessReader(d.paths.proc, join(d.paths.rootfs || '/', 'etc/passwd'), d.processesTop)
        : null
    this.onPublished = new Callbacks(d.counters, d.log)
  }

  async start(): Promise<void> {
    const { d } = this
    await this.reader.init()
    d.log.info(
      `sampling every ${d.intervalMs} ms; CPU temperature: ${this.reader.temperatureSource ?? 'no sensor (reported as null)'}`,
    )
    try {
      const facts = await readHostFacts(d.host, d.paths.proc)
      this.hostFacts = facts
      d.conn.publishJson(d.topics.reading(d.host, 'sys-collector', 'facts'), HostFacts, facts, {
        retain: true,
      })
    } catch (e) {
      d.counters.inc('facts.errors')
      d.log.warn('could not read host facts:', e)
    }
    this.prev = await this.reader.read()
    try {
      this.processes?.init()
      this.processes?.sample()
    } catch (e) {
      this.d.counters.inc('processes.errors')
      d.log.warn('cannot read processes:', e)
    }
    this.disks?.start()
    this.ups?.start()
    this.schedule()
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.tick(), delayToNextTick(this.d.intervalMs))
  }

  /** Takes one sample now and publishes it. */
  async tick(): Promise<void> {
    this.schedule()
    if (this.busy) {
      this.d.counters.inc('ticks.skipped')
      return
    }
    this.busy = true
    try {
      const cur = await this.reader.read()
      if (this.prev) {
        const reading = buildReading(this.prev, cur, this.d.host, this.d.intervalMs)
        this.d.conn.publishJson(
          this.d.topics.reading(this.d.host, 'sys-collector', 'system'),
          SystemReading,
          reading,
          { retain: true },
        )
        this.d.counters.inc('readings')
        this.lastReading = reading
        this.onReading?.(reading)
        this.onPublished.call(reading)
        this.publishProcesses(reading.ts)
      }
      this.prev = cur
      if (this.d.counters.get('sample.errors') > 0) this.d.conn.setStatus('ok', null)
    } catch (e) {
      this.d.counters.inc('sample.errors')
      this.d.log.once(`sample:${(e as Error).message}`, 'sampling failed:', e)
      this.d.conn.setStatus('degraded', `sampling failed: ${(e as Error).message}`)
    } finally {
      this.busy = false
    }
  }

  /** The top processes, sampled right after the system reading (same timestamp). */
  private publishProcesses(ts: number): void {
    if (!this.processes) return
    try {
      const before = this.processes.skipped
      const s = this.processes.sample()
      if (this.processes.skipped > before)
        this.d.counters.inc('processes.vanished', this.processes.skipped - before)
      const r: ProcessesReading = {
        v: 1,
        ts,
        host: this.d.host,
        source: 'sys-collector',
        intervalMs: this.d.intervalMs,
        total: s.total,
        running: s.running,
        threads: s.threads,
        top: this.d.processesTop,
        processes: s.processes,
      }
      this.d.conn.publishJson(
        this.d.topics.reading(this.d.host, 'sys-collector', 'processes'),
        ProcessesReading,
        r,
        {
          retain: true,
        },
      )
      this.lastProcesses = r
    } catch (e) {
      this.d.counters.inc('processes.errors')
      this.d.log.once(`processes:${(e as Error).message}`, 'reading processes failed:', e)
    }
  }

  get facts(): HostFacts | null {
    return this.hostFacts
  }

  /** Publishes the facts and the latest reading again (Home Assistant restarted). */
  republish(): void {
    const { d } = this
    this.disks?.republish()
    this.ups?.republish()
    if (this.hostFacts)
      d.conn.publishJson(d.topics.reading(d.host, 'sys-collector', 'facts'), HostFacts, this.hostFacts, {
        retain: true,
      })
    if (this.lastProcesses)
      d.conn.publishJson(
        d.topics.reading(d.host, 'sys-collector', 'processes'),
        ProcessesReading,
        this.lastProcesses,
        { retain: true },
      )
    if (this.lastReading)
      d.conn.publishJson(
        d.topics.reading(d.host, 'sys-collector', 'system'),
        SystemReading,
        this.lastReading,
        {
          retain: true,
        },
      )
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await Promise.all([this.disks?.stop(), this.ups?.stop()])
    this.processes?.close()
    await this.reader.close()
  }
}
