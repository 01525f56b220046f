import { ProbeConfigReading, ProbeReading, type Topics } from '@homelab/contracts'
import type { CommandInput, CommandOutcome, Counters, Logger, MqttConnection } from '@homelab/service-kit'
import { type CheckResult, runCheck } from './checks.js'
import { type ProbeSpec, type ProbesFileStore, targetOf } from './probes-file.js'

const SERVICE = 'probe-collector'

interface State {
  spec: ProbeSpec
  timer: NodeJS.Timeout | null
  running: boolean
  /** Up or down since; null before the first result. */
  up: boolean | null
  since: number
  /** The certificate (by its end date) whose expiry was announced, so it is announced once. */
  warnedCert: number | null
  last: ProbeReading | null
}

export interface ProbeCollectorDeps {
  conn: MqttConnection
  topics: Topics
  host: string
  file: ProbesFileStore
  /** Checks in flight at most; more wait their turn (a slow probe never holds up the others beyond this). */
  concurrency: number
  ping: string
  log: Logger
  counters: Counters
  now?: () => number
}

/**
 * Runs the probes of the probes file: each on its own interval (the first run at a random point of the first
 * interval, so a hundred probes do not start at once), at most `concurrency` at a time, each bounded by its own
 * time-out. Publishes one retained reading per probe, `probe.down`/`probe.up` when it changes state, and
 * `cert.expiring` once per certificate in its warning window. A probe removed from the file has its reading cleared.
 */
export class ProbeCollector {
  private readonly states = new Map<string, State>()
  private readonly queue: State[] = []
  private active = 0
  private stopped = false
  private readonly now: () => number
  private flights = new Set<Promise<void>>()
  /** After every published reading (tests, Home Assistant). */
  readonly onResult = new Set<(r: ProbeReading) => void>()

  constructor(private readonly d: ProbeCollectorDeps) {
    this.now = d.now ?? Date.now
  }

  get probes(): ProbeSpec[] {
    return [...this.states.values()].map((s) => s.spec)
  }

  start(): void {
    this.d.file.read()
    this.apply(this.d.file.probes)
    this.d.conn.setStatus(this.d.file.rejected ? 'degraded' : 'ok', this.rejectedReason())
    this.publishConfig()
    this.d.file.watch(() => {
      if (this.d.file.read()) this.apply(this.d.file.probes)
      this.d.conn.setStatus(this.d.file.rejected ? 'degraded' : 'ok', this.rejectedReason())
      this.publishConfig()
    })
    this.d.log.info(`running ${this.states.size} probes`)
  }

  /** The probes file as the dashboard's editor shows it (secrets replaced by "…"), retained. */
  private publishConfig(): void {
    const f = this.d.file
    const r: ProbeConfigReading = {
      v: 1,
      ts: this.now(),
      host: this.d.host,
      source: SERVICE,
      file: f.file,
      writable: f.writable,
      probes: f.entries(),
      rejected: f.rejected ? { at: f.rejected.at, errors: f.rejected.errors.slice(0, 50) } : null,
    }
    this.d.conn.publishJson(
      this.d.topics.reading(this.d.host, SERVICE, 'probe-config'),
      ProbeConfigReading,
      r,
      {
        retain: true,
      },
    )
  }

  /** An admin's probe added, changed (`set_probe`, params: the probe) or removed (`remove_probe`), in the file. */
  async execute(c: CommandInput<'set_probe' | 'remove_probe'>): Promise<CommandOutcome> {
    const r = this.d.file.edit(c.target, c.action === 'set_probe' ? c.params : null)
    if (!r.ok) return { outcome: r.outcome, message: r.message, subject: c.target }
    this.apply(this.d.file.probes)
    this.d.conn.setStatus('ok', null)
    this.publishConfig()
    return { outcome: 'done', message: `probe ${c.target}: ${r.changes}`, subject: c.target }
  }

  private rejectedReason(): string | null {
    const r = this.d.file.rejected
    return r
      ? `probes file rejected: ${r.errors[0]}${r.errors.length > 1 ? ` (and ${r.errors.length - 1} more)` : ''}`
      : null
  }

  /** Puts a probe set in force: new probes are scheduled, changed ones start over, removed ones are cleared. */
  apply(specs: ProbeSpec[]): void {
    const next = new Map(specs.map((s) => [s.id, s]))
    for (const [id, st] of this.states)
      if (!next.has(id)) {
        if (st.timer) clearTimeout(st.timer)
        this.states.delete(id)
        this.d.conn.publish(this.d.topics.reading(this.d.host, SERVICE, 'probe', id), '', {
          qos: 1,
          retain: true,
        })
      }
    for (const spec of specs) {
      const old = this.states.get(spec.id)
      if (old && JSON.stringify(old.spec) === JSON.stringify(spec)) continue
      if (old?.timer) clearTimeout(old.timer)
      const st: State = old
        ? { ...old, spec, timer: null }
        : { spec, timer: null, running: false, up: null, since: this.now(), warnedCert: null, last: null }
      this.states.set(spec.id, st)
      this.schedule(st, Math.floor(Math.random() * Math.min(spec.interval, 10_000)))
    }
  }

  private schedule(st: State, delay: number): void {
    if (this.stopped) return
    st.timer = setTimeout(() => {
      st.timer = null
      this.enqueue(st)
    }, delay)
    st.timer.unref()
  }

  private enqueue(st: State): void {
    if (st.running || this.queue.includes(st)) return
    this.queue.push(st)
    this.pump()
  }

  private pump(): void {
    while (!this.stopped && this.active < this.d.concurrency && this.queue.length > 0) {
      const st = this.queue.shift()
      if (!st || this.states.get(st.spec.id) !== st) continue
      this.active++
      st.running = true
      const started = this.now()
      const flight = runCheck(st.spec, { ping: this.d.ping })
        .then((r) => this.record(st, r))
        .catch((e) => {
          this.d.counters.inc('probe.errors')
          this.d.log.once(`probe:${st.spec.id}`, `probe ${st.spec.id} failed to run:`, e)
        })
        .finally(() => {
          this.active--
          st.running = false
          this.flights.delete(flight)
          if (this.states.get(st.spec.id) === st)
            this.schedule(st, Math.max(0, st.spec.interval - (this.now() - started)))
          this.pump()
        })
      this.flights.add(flight)
    }
  }

  /** Runs every probe once now and waits for them (tests; the bench). */
  async runAll(): Promise<void> {
    for (const st of this.states.values()) this.enqueue(st)
    while (this.flights.size > 0 || this.queue.length > 0) await Promise.all([...this.flights])
  }

  private record(st: State, r: CheckResult): void {
    const now = this.now()
    const { spec } = st
    const changed = st.up !== r.up
    if (changed) st.since = now
    const reading: ProbeReading = {
      v: 1,
      ts: now,
      host: this.d.host,
      source: SERVICE,
      probe: {
        id: spec.id,
        name: spec.name ?? spec.id,
        type: spec.type,
        target: targetOf(spec),
        intervalMs: spec.interval,
      },
      ...r,
      since: st.since,
    }
    st.last = reading
    this.d.counters.inc(r.up ? 'probe.up' : 'probe.down')
    this.d.conn.publishJson(
      this.d.topics.reading(this.d.host, SERVICE, 'probe', spec.id),
      ProbeReading,
      reading,
      {
        retain: true,
      },
    )
    const data = {
      probe: spec.id,
      name: reading.probe.name,
      target: reading.probe.target,
      reason: r.reason,
      cert: r.cert,
    }
    // The first result of a probe that is up is no news; one that is down is.
    if (changed && (st.up !== null || !r.up))
      this.d.conn.publishEvent({
        type: r.up ? 'probe.up' : 'probe.down',
        severity: r.up ? 'info' : 'warning',
        subject: spec.id,
        message: r.up
          ? `${reading.probe.name} (${reading.probe.target}) is up again`
          : `${reading.probe.name} (${reading.probe.target}) is down: ${r.reason ?? 'no reason given'}`,
        data,
      })
    st.up = r.up
    const warnDays = spec.type === 'http' || spec.type === 'tls' ? spec.certWarnDays : null
    if (r.cert && warnDays !== null && r.cert.daysLeft < warnDays && st.warnedCert !== r.cert.validTo) {
      st.warnedCert = r.cert.validTo
      this.d.conn.publishEvent({
        type: 'cert.expiring',
        severity: r.cert.daysLeft < 3 ? 'critical' : 'warning',
        subject: spec.id,
        message: `the certificate of ${reading.probe.target} expires in ${r.cert.daysLeft} days (${new Date(r.cert.validTo).toISOString().slice(0, 10)})`,
        data,
      })
    }
    for (const f of this.onResult) f(reading)
  }

  republish(): void {
    this.publishConfig()
    for (const st of this.states.values())
      if (st.last)
        this.d.conn.publishJson(
          this.d.topics.reading(this.d.host, SERVICE, 'probe', st.spec.id),
          ProbeReading,
          st.last,
          {
            retain: true,
          },
        )
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.d.file.unwatch()
    for (const st of this.states.values()) if (st.timer) clearTimeout(st.timer)
    await Promise.allSettled([...this.flights])
  }
}
