import {
  type DiskInfo,
  DisksReading,
  type Topics,
  type UPS_EVENT_TYPES,
  type UpsEventData,
  UpsReading,
} from '@homelab/contracts'
import { Callbacks, type Counters, type Logger, type MqttConnection } from '@homelab/service-kit'
import { NutClient, NutError, type NutTarget, type UpsVars } from './nut.js'
import { diskChanges, type SmartOptions, SmartReader } from './smart.js'

const SERVICE = 'sys-collector' as const

interface HardwareDeps {
  conn: MqttConnection
  topics: Topics
  host: string
  log: Logger
  counters: Counters
}

/**
 * Disk health: every `intervalMs` (default 30 min) smartctl reads the disks, and the retained `reading/disks` says
 * what it found or, when smartctl is missing or may not open the disks, what to install or grant. `required` (the
 * owner asked for SMART explicitly) turns such a problem into a degraded status; by default it is only reported.
 */
export class DiskMonitor {
  private timer: NodeJS.Timeout | null = null
  private readonly reader: SmartReader
  private last: DisksReading | null = null
  private running: Promise<void> | null = null
  private stopped = false
  readonly onPublished: Callbacks<DisksReading>

  constructor(
    private readonly d: HardwareDeps,
    private readonly o: SmartOptions & { intervalMs: number; required: boolean },
  ) {
    this.reader = new SmartReader(o)
    this.onPublished = new Callbacks(d.counters, d.log)
  }

  start(): void {
    void this.read()
  }

  /** Reads the disks now (a read still running is awaited, not doubled). */
  read(): Promise<void> {
    if (this.running) return this.running
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const p = this.readOnce().finally(() => {
      this.running = null
      if (!this.stopped) this.timer = setTimeout(() => this.start(), this.o.intervalMs)
    })
    this.running = p
    return p
  }

  private async readOnce(): Promise<void> {
    const { d } = this
    try {
      const r = await this.reader.read()
      if (r.unknown > 0) {
        d.counters.inc('smart.unknown', r.unknown)
        d.log.once(
          'smart:unknown',
          `smartctl output not understood for ${r.unknown} disk(s); kept as unknown`,
        )
      }
      const reading: DisksReading = {
        v: 1,
        ts: Date.now(),
        host: d.host,
        source: SERVICE,
        intervalMs: this.o.intervalMs,
        smartctl: r.smartctl,
        disks: r.disks,
      }
      const prev = new Map((this.last?.disks ?? []).map((x) => [x.name, x]))
      for (const disk of r.disks) this.raiseChanges(prev.get(disk.name), disk)
      d.counters.inc('smart.reads')
      d.conn.publishJson(d.topics.reading(d.host, SERVICE, 'disks'), DisksReading, reading, { retain: true })
      this.last = reading
      const problem = r.smartctl.available && r.disks.length > 0 ? null : r.smartctl.reason
      if (problem) d.log.once(`smart:${problem}`, `disk health: ${problem}`)
      if (this.o.required) d.conn.condition('smart', problem)
      this.onPublished.call(reading)
    } catch (e) {
      d.counters.inc('smart.errors')
      d.log.once(`smart:${(e as Error).message}`, 'reading disk health failed:', e)
    }
  }

  private raiseChanges(prev: DiskInfo | undefined, disk: DiskInfo): void {
    for (const c of diskChanges(prev, disk)) {
      const label = `${disk.name}${disk.model ? ` (${disk.model})` : ''}`
      this.d.conn.publishEvent({
        type: c.type,
        severity: c.type === 'disk.health_changed' && c.to === 'passed' ? 'info' : 'critical',
        subject: disk.name,
        message:
          c.type === 'disk.health_changed'
            ? `disk ${label}: SMART health ${String(c.from).toUpperCase()} → ${String(c.to).toUpperCase()}`
            : `disk ${label}: ${c.field} rose from ${c.from} to ${c.to}`,
        data: {
          disk: disk.name,
          model: disk.model,
          from: c.from,
          to: c.to,
          ...(c.field ? { field: c.field } : {}),
        },
      })
    }
  }

  get latest(): DisksReading | null {
    return this.last
  }

  republish(): void {
    if (this.last)
      this.d.conn.publishJson(this.d.topics.reading(this.d.host, SERVICE, 'disks'), DisksReading, this.last, {
        retain: true,
      })
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.running
  }
}

const num = (v: string | undefined): number | null => {
  if (v === undefined || v.trim() === '') return null
  const n = Number(v)
  return Number.isFinite(n) && n >= 0 ? n : null
}
const text = (v: string | undefined, max: number) => (v === undefined ? null : v.trim().slice(0, max) || null)

/** A UPS reading from its NUT variables (`ups.status` flags: OL on line, OB on battery, LB low battery, …). */
export function upsFromVars(
  base: Pick<UpsReading, 'v' | 'ts' | 'host' | 'source'>,
  name: string,
  server: string,
  description: string | null,
  vars: UpsVars,
  since: number,
): UpsReading {
  const status = text(vars.get('ups.status'), 200)
  const flags = (status ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((f) => f.slice(0, 32))
    .slice(0, 32)
  const model = [
    vars.get('ups.mfr') ?? vars.get('device.mfr'),
    vars.get('ups.model') ?? vars.get('device.model'),
  ]
    .filter((x): x is string => Boolean(x?.trim()))
    .join(' ')
  const pct = (v: number | null) => (v === null ? null : Math.min(100, v))
  return {
    ...base,
    ups: {
      name,
      server,
      description: description?.slice(0, 300) || null,
      model: model.slice(0, 200) || null,
    },
    reachable: true,
    reason: null,
    status,
    flags,
    online: flags.includes('OL'),
    onBattery: flags.includes('OB'),
    lowBattery: flags.includes('LB'),
    chargePercent: pct(num(vars.get('battery.charge'))),
    runtimeSec: num(vars.get('battery.runtime')),
    loadPercent: (() => {
      const l = num(vars.get('ups.load'))
      return l === null ? null : Math.min(1000, l)
    })(),
    inputVoltage: num(vars.get('input.voltage')),
    outputVoltage: num(vars.get('output.voltage')),
    batteryVoltage: num(vars.get('battery.voltage')),
    since,
  }
}

type UpsEventType = (typeof UPS_EVENT_TYPES)[number]

/** How often `auto` looks again for an upsd that was not there. */
const AUTO_RETRY_MS = 600_000

interface UpsState {
  client: NutClient
  name: string
  last: UpsReading | null
  /** Since when it has been on line / on battery. */
  since: number
}

/**
 * UPSes over NUT: every interval each configured server is asked for its UPSes' variables (`LIST VAR`), each
 * published as a retained `reading/ups/<name>`, with events when power is lost and back, the battery goes low and
 * recovers, and the server or driver stops answering. `auto` (the default) looks for upsd on 127.0.0.1:3493 at start
 * and every 10 minutes and says nothing while there is none; a configured server that does not answer is a degraded
 * status.
 */
export class UpsMonitor {
  private timer: NodeJS.Timeout | null = null
  private readonly clients: NutClient[]
  private readonly states = new Map<string, UpsState>()
  private busy = false
  private stopped = false
  readonly onPublished: Callbacks<UpsReading>

  constructor(
    private readonly d: HardwareDeps,
    private readonly o: { targets: NutTarget[]; auto: boolean; intervalMs: number; timeoutMs: number },
  ) {
    this.clients = o.targets.map((t) => new NutClient(t, o.timeoutMs))
    this.onPublished = new Callbacks(d.counters, d.log)
  }

  start(): void {
    if (this.clients.length === 0) return
    void this.poll()
  }

  private schedule(): void {
    if (this.stopped) return
    // Auto with no upsd found: look again in 10 minutes, not every interval (no timer wakes for nothing).
    const delay = this.o.auto && this.states.size === 0 ? AUTO_RETRY_MS : this.o.intervalMs
    this.timer = setTimeout(() => void this.poll(), delay)
  }

  /** One round over every server (a round still running is not doubled). */
  async poll(): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      for (const c of this.clients) await this.pollServer(c)
    } finally {
      this.busy = false
      this.schedule()
    }
  }

  private async pollServer(client: NutClient): Promise<void> {
    const { d } = this
    const now = Date.now()
    const mine = [...this.states.values()].filter((s) => s.client === client)
    let names: Map<string, string>
    try {
      names = await client.listUps()
      const wanted = client.target.ups
      if (wanted !== null) {
        if (!names.has(wanted))
          throw new NutError(
            `the NUT server has no UPS named "${wanted}" (it has: ${[...names.keys()].join(', ') || 'none'})`,
            'UNKNOWN-UPS',
          )
        names = new Map([[wanted, names.get(wanted) ?? '']])
      }
    } catch (e) {
      if (!(e instanceof NutError && e.code === 'UNKNOWN-UPS')) client.close()
      if (this.o.auto && mine.length === 0) {
        d.log.once(
          'ups:auto',
          `no NUT server at ${client.server} (${(e as Error).message}); set HOMELAB_UPS to read one elsewhere`,
        )
        return
      }
      const named = client.target.ups
      if (mine.length === 0 && named !== null) {
        const st: UpsState = { client, name: named, last: null, since: now }
        this.states.set(`${client.server}/${named}`, st)
        mine.push(st)
      }
      this.unreachable(client, mine, e as Error)
      return
    }
    let failed = false
    for (const [name, description] of names) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
        d.counters.inc('ups.bad_names')
        d.log.once(
          `ups:name:${name}`,
          `NUT server ${client.server}: UPS name "${name.slice(0, 80)}" is not usable as a topic level; skipped`,
        )
        continue
      }
      const key = `${client.server}/${name}`
      let st = this.states.get(key)
      if (!st) {
        st = { client, name, last: null, since: now }
        this.states.set(key, st)
      }
      try {
        const vars = await client.listVars(name)
        this.publish(st, description || st.last?.ups.description || null, vars)
      } catch (e) {
        failed = true
        if (
          !(e instanceof NutError) ||
          ['CLOSED', 'ETIMEDOUT', 'PROTOCOL'].includes(e.code) ||
          /^E[A-Z]+$/.test(e.code)
        )
          client.close()
        this.unreachable(client, [st], e as Error)
      }
    }
    if (!failed) d.conn.condition(`ups:${client.server}`, null)
  }

  private publish(st: UpsState, description: string | null, vars: UpsVars): void {
    const { d } = this
    const now = Date.now()
    const base = { v: 1 as const, ts: now, host: d.host, source: SERVICE }
    const prev = st.last
    const draft = upsFromVars(base, st.name, st.client.server, description, vars, st.since)
    if (prev?.reachable && prev.onBattery !== draft.onBattery) st.since = now
    const r: UpsReading = { ...draft, since: st.since }
    d.counters.inc('ups.readings')
    d.conn.publishJson(d.topics.reading(d.host, SERVICE, 'ups', st.name), UpsReading, r, { retain: true })
    if (prev && !prev.reachable)
      this.event(st, 'ups.reachable', r, 'info', `UPS ${st.name} answers again (${r.status ?? 'no status'})`)
    const was = prev?.reachable ? prev : null
    // The first reading on battery is news; the first on line is not.
    if (r.onBattery && !was?.onBattery)
      this.event(st, 'ups.on_battery', r, 'warning', `UPS ${st.name} is on battery${fmtBattery(r)}`)
    if (was?.onBattery && !r.onBattery)
      this.event(st, 'ups.on_line', r, 'info', `UPS ${st.name} is back on line power${fmtBattery(r)}`)
    if (r.lowBattery && !was?.lowBattery)
      this.event(st, 'ups.low_battery', r, 'critical', `UPS ${st.name}: battery low${fmtBattery(r)}`)
    if (was?.lowBattery && !r.lowBattery)
      this.event(st, 'ups.battery_ok', r, 'info', `UPS ${st.name}: battery no longer low${fmtBattery(r)}`)
    st.last = r
    this.onPublished.call(r)
  }

  private unreachable(client: NutClient, states: UpsState[], e: Error): void {
    const { d } = this
    d.counters.inc('ups.errors')
    const reason = e.message.slice(0, 1000)
    d.log.once(`ups:${client.server}:${reason}`, `UPS server ${client.server}: ${reason}`)
    d.conn.condition(`ups:${client.server}`, `UPS server ${client.server}: ${reason}`)
    const now = Date.now()
    for (const st of states) {
      const prev = st.last
      const r: UpsReading = prev
        ? { ...prev, ts: now, reachable: false, reason }
        : {
            v: 1,
            ts: now,
            host: d.host,
            source: SERVICE,
            ups: { name: st.name, server: client.server, description: null, model: null },
            reachable: false,
            reason,
            status: null,
            flags: [],
            online: false,
            onBattery: false,
            lowBattery: false,
            chargePercent: null,
            runtimeSec: null,
            loadPercent: null,
            inputVoltage: null,
            outputVoltage: null,
            batteryVoltage: null,
            since: st.since,
          }
      d.conn.publishJson(d.topics.reading(d.host, SERVICE, 'ups', st.name), UpsReading, r, { retain: true })
      if (!prev || prev.reachable)
        this.event(st, 'ups.unreachable', r, 'warning', `UPS ${st.name}: ${reason}`)
      st.last = r
      this.onPublished.call(r)
    }
  }

  private event(
    st: UpsState,
    type: UpsEventType,
    r: UpsReading,
    severity: 'info' | 'warning' | 'critical',
    message: string,
  ): void {
    const data: UpsEventData = {
      ups: st.name,
      server: st.client.server,
      status: r.status,
      chargePercent: r.chargePercent,
      runtimeSec: r.runtimeSec,
      reason: r.reason,
    }
    this.d.conn.publishEvent({ type, severity, subject: st.name, message, data: { ...data } })
  }

  get latest(): UpsReading[] {
    return [...this.states.values()].flatMap((s) => (s.last ? [s.last] : []))
  }

  republish(): void {
    for (const r of this.latest)
      this.d.conn.publishJson(this.d.topics.reading(this.d.host, SERVICE, 'ups', r.ups.name), UpsReading, r, {
        retain: true,
      })
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    for (const c of this.clients) c.close()
  }
}

function fmtBattery(r: UpsReading): string {
  const parts = [
    r.chargePercent !== null ? `charge ${r.chargePercent} %` : null,
    r.runtimeSec !== null ? `runtime ${Math.round(r.runtimeSec / 60)} min` : null,
  ].filter(Boolean)
  return parts.length > 0 ? ` (${parts.join(', ')})` : ''
}
