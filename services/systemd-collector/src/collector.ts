import {
  type Event,
  type Topics,
  type UnitInfo,
  UnitName,
  UnitReading,
  type UnitStats,
} from '@homelab/contracts'
import {
  type CommandInput,
  type CommandOutcome,
  type Counters,
  compileGlobs,
  forEachLimited,
  type Logger,
  type MqttConnection,
  SourceWatcher,
} from '@homelab/service-kit'
import {
  type BusSignal,
  describeBusError,
  type Props,
  SERVICE_IFACE,
  type SystemdBus,
  UNIT_IFACE,
} from './bus.js'
import type { CgroupReader } from './cgroup.js'
import { type CpuSample, num, RUNNING, str, toUnitInfo, toUnitStats } from './convert.js'

export interface SystemdCollectorDeps {
  conn: MqttConnection
  topics: Topics
  host: string
  bus: SystemdBus
  units: readonly string[]
  control: readonly string[]
  intervalMs: number
  resyncMs: number
  jobTimeoutMs: number
  /** Reads active services' memory, CPU and tasks from their cgroup files where systemd's tree is visible. */
  cgroups: CgroupReader
  log: Logger
  counters: Counters
}

interface Tracked {
  path: string
  info: UnitInfo
  stats: UnitStats
  cpu: CpuSample
  /** Its cgroup, once checked to be the one systemd names (ControlGroupId): stats are read from its files. */
  cgroup: string | null
  /** A failure of the current run was announced (reset when the unit is active again). */
  failedAnnounced: boolean
  /** Highest NRestarts announced: each restart is announced once, whichever path (signal, tick) sees it first. */
  restartsAnnounced: number
}

const SERVICE = 'systemd-collector'
const UNIT_PATH = '/org/freedesktop/systemd1/unit/'
/** What the collector reads of a unit, and of a service (reading only these beats GetAll's hundreds). */
const UNIT_PROPS = [
  'Description',
  'LoadState',
  'ActiveState',
  'SubState',
  'UnitFileState',
  'StateChangeTimestamp',
]
const SERVICE_PROPS = ['Result', 'MainPID', 'NRestarts', 'MemoryCurrent', 'CPUUsageNSec', 'TasksCurrent']
/** What the interval reads of an active service over D-Bus. */
const STATS_PROPS = ['MemoryCurrent', 'CPUUsageNSec', 'TasksCurrent', 'NRestarts', 'Result'] as const
/** … and of one whose cgroup files give the rest: the check on the restart signals (Result only when it moved). */
const RESTART_PROPS = ['NRestarts'] as const
/** How often the restart count is read as a check on the signals where nothing else needs D-Bus. */
const RESTART_CHECK_MS = 60_000
/** Where a service's cgroup is (ControlGroupId: systemd 250 and later; without it, the stats come over D-Bus). */
const CGROUP_PROPS = ['ControlGroup', 'ControlGroupId'] as const

/**
 * Watches systemd over D-Bus: `Subscribe` + one match rule for systemd's signals, so every state change of a
 * monitored unit (PropertiesChanged) becomes an event the moment it happens, restarts by systemd included
 * (NRestarts); a slow periodic resync is the safety net. Active units' memory and CPU are read every interval.
 * Executes start/stop/restart for allowed units and reports the job's result (JobRemoved).
 */
export class SystemdCollector extends SourceWatcher {
  private readonly tracked = new Map<string, Tracked>()
  private readonly byPath = new Map<string, string>()
  private readonly announced = new Map<string, string>()
  private readonly monitored
  private readonly allowed
  private readonly jobs = new Map<string, (result: string) => void>()
  private readonly finishedJobs = new Map<string, string>()
  private resyncTimer: NodeJS.Timeout | null = null
  private closed: (() => void) | null = null
  private rounds = 0

  constructor(private readonly d: SystemdCollectorDeps) {
    super(d, {
      service: SERVICE,
      where: `the system bus at ${d.bus.address}`,
      counter: 'bus',
      change: 'systemd change',
      reading: 'unit stats',
    })
    this.monitored = compileGlobs(d.units)
    this.allowed = compileGlobs(d.control)
  }

  /** Every monitored unit the collector knows now. */
  units(): UnitInfo[] {
    return [...this.tracked.values()].map((t) => t.info)
  }

  /** Publishes every unit's document again (Home Assistant restarted). */
  republish(): void {
    const now = Date.now()
    for (const t of this.tracked.values()) this.publishReading(t, now)
  }

  private control(name: string): UnitInfo['control'] {
    const p = this.allowed.match(name)
    return p !== null
      ? { allowed: true, reason: `the name matches HOMELAB_SYSTEMD_CONTROL pattern "${p}"` }
      : { allowed: false, reason: `control is not enabled for "${name}": add it to HOMELAB_SYSTEMD_CONTROL` }
  }

  protected async connect(): Promise<{ ended: Promise<string> } | null> {
    const { bus } = this.d
    let end: (reason: string) => void = () => undefined
    const ended = new Promise<string>((resolve) => {
      end = resolve
      this.closed = () => resolve('stopped')
    })
    // Only a bus that answered its hello is read: a read queued on one still connecting would wait out its call
    // timeout after the connect failed, and hold up the next attempt and the service's stop by as long.
    const opened = await Promise.race([
      bus
        .connect((s) => void this.enqueue(() => this.onSignal(s)), end)
        .then(
          () => null,
          (e: unknown) => new Error(describeBusError(e, bus.address)),
        ),
      ended.then((reason) => new Error(reason)),
    ])
    if (opened) throw opened
    const first = await Promise.race([ended, this.enqueue(() => this.resyncAfterConnect())])
    if (typeof first === 'string') throw new Error(first)
    if (!this.connected) throw new Error(this.lastError ?? 'could not read systemd')
    this.resyncTimer = setInterval(() => void this.enqueue(() => this.resync()), this.d.resyncMs)
    return { ended }
  }

  protected disconnect(): void {
    if (this.resyncTimer) clearInterval(this.resyncTimer)
    this.resyncTimer = null
    this.d.bus.close()
    this.closed?.()
  }

  protected watching(): string {
    const files = [...this.tracked.values()].filter((t) => t.cgroup !== null).length
    const stats = files
      ? `; stats of ${files} from their cgroup files under ${this.d.cgroups.root}`
      : this.d.cgroups.layout === 'none'
        ? '; stats over D-Bus (no cgroup tree at HOMELAB_CGROUP_ROOT)'
        : ''
    return `watching ${this.tracked.size} units over ${this.d.bus.address}${stats}`
  }

  protected lost(reason: string): string {
    return `lost the system bus (${reason}); reconnecting`
  }

  protected describeError(e: unknown): string {
    return (e as Error).message
  }

  private async resyncAfterConnect(): Promise<void> {
    try {
      await this.resync()
      this.connected = true
    } catch (e) {
      this.lastError = describeBusError(e, this.d.bus.address)
    }
  }

  private async fetch(name: string, path: string): Promise<Tracked> {
    const service = name.endsWith('.service')
    const [u, s, g] = await Promise.all([
      this.d.bus.getProps(path, UNIT_IFACE, UNIT_PROPS),
      service ? this.d.bus.getProps(path, SERVICE_IFACE, SERVICE_PROPS) : ({} as Props),
      service && this.d.cgroups.layout !== 'none'
        ? this.d.bus.getProps(path, SERVICE_IFACE, CGROUP_PROPS).catch((): Props => ({}))
        : ({} as Props),
    ])
    const prev = this.tracked.get(name)
    const info = toUnitInfo(name, u, s, this.control(name))
    const t: Tracked = prev ?? {
      path,
      info,
      stats: { memoryBytes: null, cpuPercent: null, tasks: null },
      cpu: { ns: null, at: 0 },
      cgroup: null,
      failedAnnounced: false,
      restartsAnnounced: 0,
    }
    t.path = path
    t.info = info
    t.cgroup = this.cgroupOf(g)
    if (name.endsWith('.service')) this.updateStats(t, s)
    // A fresh read is the baseline (lower after systemd itself restarted).
    if (!prev || (t.info.nRestarts ?? 0) < t.restartsAnnounced) t.restartsAnnounced = t.info.nRestarts ?? 0
    this.tracked.set(name, t)
    this.byPath.set(path, name)
    return t
  }

  /** The cgroup whose files are this unit's, or null (not running, not checkable, or not the one systemd means). */
  private cgroupOf(g: Props): string | null {
    const path = str(g.ControlGroup)
    const id = num(g.ControlGroupId)
    if (!path || id === null) return null
    if (this.d.cgroups.verify(path, id)) return path
    this.d.counters.inc('cgroup.mismatch')
    this.d.log.once(
      'cgroup-mismatch',
      `the cgroup tree at ${this.d.cgroups.root} is not systemd's (${path} is not cgroup ${id} there): unit stats come over D-Bus (HOMELAB_CGROUP_ROOT)`,
    )
    return null
  }

  private updateStats(t: Tracked, s: Props): void {
    const r = toUnitStats(t.info.activeState, s, t.cpu, Date.now())
    t.stats = r.stats
    t.cpu = r.cpu
  }

  private signature(i: UnitInfo): string {
    return [i.loadState, i.activeState, i.subState, i.result, i.nRestarts, i.unitFileState].join('|')
  }

  /** Every monitored unit from systemd; announces what changed since it was last announced. */
  private async resync(): Promise<void> {
    const rows = await this.d.bus.listUnits()
    const seen = new Set<string>()
    for (const r of rows) {
      if (this.monitored.match(r.name) === null || !UnitName.safeParse(r.name).success) continue
      seen.add(r.name)
      await this.fetch(r.name, r.path)
    }
    // Units no longer in the list were unloaded (inactive units are garbage-collected): load them to see.
    for (const name of [...this.tracked.keys()]) {
      if (seen.has(name)) continue
      const t = await this.fetch(name, await this.d.bus.loadUnit(name))
      if (t.info.loadState === 'not-found') {
        this.tracked.delete(name)
        this.byPath.delete(t.path)
        this.announced.delete(name)
        this.emit('unit.gone', name, 'info', `${name} is no longer loaded`, { unit: t.info })
        this.clearRetained('unit', name)
      } else seen.add(name)
    }
    const now = Date.now()
    for (const [name, t] of this.tracked) {
      const sig = this.signature(t.info)
      if (this.announced.get(name) !== sig) {
        this.announced.set(name, sig)
        this.emit('unit.sync', name, 'info', `${name} is ${t.info.activeState} (${t.info.subState})`, {
          unit: t.info,
        })
      }
      this.publishReading(t, now)
    }
    this.d.counters.inc('resyncs')
    this.onChange.call()
  }

  private async onSignal(s: BusSignal): Promise<void> {
    if (s.member === 'JobRemoved') {
      const [, job, , result] = s.body as [number, string, string, string]
      const waiter = this.jobs.get(job)
      if (waiter) waiter(result)
      else {
        this.finishedJobs.set(job, result)
        if (this.finishedJobs.size > 200)
          this.finishedJobs.delete(this.finishedJobs.keys().next().value as string)
      }
      return
    }
    if (s.member === 'UnitNew') {
      const [name, path] = s.body as [string, string]
      if (
        !this.tracked.has(name) &&
        this.monitored.match(name) !== null &&
        UnitName.safeParse(name).success
      ) {
        const t = await this.fetch(name, path)
        this.announced.set(name, this.signature(t.info))
        this.publishReading(t, Date.now())
      }
      return
    }
    if (s.member === 'UnitRemoved') {
      // systemd unloads a unit nobody needs once it is inactive, sometimes without a last PropertiesChanged (and a
      // daemon-reload removes and re-adds every unit). Look without loading it (that would start this again).
      const [name] = s.body as [string]
      const t = this.tracked.get(name)
      if (!t) return
      const before = t.info
      const path = await this.d.bus.getUnit(name)
      if (path) await this.fetch(name, path)
      else if (before.activeState !== 'inactive' && before.activeState !== 'failed') {
        t.info = {
          ...before,
          activeState: 'inactive',
          subState: 'dead',
          mainPid: before.mainPid === null ? null : 0,
        }
        t.stats = { memoryBytes: null, cpuPercent: null, tasks: null }
      }
      this.announce(name, t, before)
      this.announced.set(name, this.signature(t.info))
      this.publishReading(t, Date.now())
      return
    }
    if (s.member === 'Reloading' && s.body[0] === false) {
      await this.resync()
      return
    }
    if (s.member !== 'PropertiesChanged' || !s.path.startsWith(UNIT_PATH)) return
    const name = this.byPath.get(s.path)
    const t = name ? this.tracked.get(name) : undefined
    if (!name || !t) return
    const [iface, changed] = s.body as [string, Props]
    const before = t.info
    const i: UnitInfo = { ...before }
    if (iface === UNIT_IFACE) {
      if ('ActiveState' in changed) i.activeState = str(changed.ActiveState, i.activeState)
      if ('SubState' in changed) i.subState = str(changed.SubState, i.subState)
      if ('LoadState' in changed) i.loadState = str(changed.LoadState, i.loadState)
      if ('UnitFileState' in changed) i.unitFileState = str(changed.UnitFileState, i.unitFileState)
      if ('Description' in changed) i.description = str(changed.Description, i.description).slice(0, 1000)
      const since = num(changed.StateChangeTimestamp)
      if (since) i.since = Math.floor(since / 1000)
    } else if (iface === SERVICE_IFACE) {
      if ('Result' in changed) i.result = str(changed.Result, i.result ?? 'success')
      if ('MainPID' in changed) i.mainPid = num(changed.MainPID) ?? 0
      // A signal queued behind a fresher read must not take the count back (that would announce a restart twice).
      if ('NRestarts' in changed) i.nRestarts = Math.max(num(changed.NRestarts) ?? 0, i.nRestarts ?? 0)
    } else return
    t.info = i
    this.announce(name, t, before)
    this.announced.set(name, this.signature(i))
    this.publishReading(t, Date.now())
  }

  /** Events for a change between two views of a unit. */
  private announce(name: string, t: Tracked, before: UnitInfo): void {
    const i = t.info
    if ((i.nRestarts ?? 0) > t.restartsAnnounced) {
      t.restartsAnnounced = i.nRestarts ?? 0
      this.emit(
        'unit.restart',
        name,
        'warning',
        `${name} was restarted by systemd (restart ${i.nRestarts})`,
        {
          unit: i,
          nRestarts: i.nRestarts ?? 0,
          result: i.result,
        },
      )
    }
    const failedResult = i.result !== null && i.result !== 'success' && i.result !== before.result
    const enteredFailed = i.activeState === 'failed' && before.activeState !== 'failed'
    if ((failedResult || enteredFailed) && !t.failedAnnounced) {
      t.failedAnnounced = true
      this.emit('unit.failed', name, 'critical', `${name} failed${i.result ? ` (${i.result})` : ''}`, {
        unit: i,
        result: i.result,
      })
    }
    if (i.result === 'success' || (i.activeState === 'active' && before.activeState !== 'active'))
      t.failedAnnounced = false
    if (i.activeState !== before.activeState) {
      this.emit(
        'unit.state',
        name,
        i.activeState === 'failed' ? 'warning' : 'info',
        `${name}: ${before.activeState} → ${i.activeState} (${i.subState})`,
        { unit: i, from: before.activeState, to: i.activeState },
      )
    }
  }

  private emit(
    type: 'unit.state' | 'unit.failed' | 'unit.restart' | 'unit.sync' | 'unit.gone',
    subject: string,
    severity: Event['severity'],
    message: string,
    data: Record<string, unknown>,
  ): void {
    this.emitEvent({ type, subject, severity, message, data })
  }

  private publishReading(t: Tracked, ts: number): void {
    this.d.conn.publishJson(
      this.d.topics.reading(this.d.host, SERVICE, 'unit', t.info.name),
      UnitReading,
      { v: 1, ts, host: this.d.host, source: SERVICE, unit: t.info, stats: t.stats },
      { retain: true },
    )
  }

  /**
   * Memory, CPU and tasks of active services; NRestarts as a check on the signals (which bring every restart at once):
   * each interval over D-Bus, or once a minute where the cgroup files give the stats and no D-Bus call is needed.
   */
  protected async sample(): Promise<void> {
    const ts = Date.now()
    const checkRestarts = this.rounds++ % Math.max(1, Math.round(RESTART_CHECK_MS / this.d.intervalMs)) === 0
    const active = [...this.tracked].filter(
      ([name, t]) => name.endsWith('.service') && RUNNING.has(t.info.activeState),
    )
    // The reads run beside the signal queue, so a state change never waits behind a round of stats; each
    // result is applied in the queue, in order with the signals.
    await forEachLimited(active, 8, async ([name, t]) => {
      const cgroup = t.cgroup
      const s: Props = !cgroup
        ? await this.d.bus.getProps(t.path, SERVICE_IFACE, STATS_PROPS)
        : checkRestarts
          ? {
              ...(await this.d.bus.getProps(t.path, SERVICE_IFACE, RESTART_PROPS)),
              ...this.d.cgroups.read(cgroup),
            }
          : { ...this.d.cgroups.read(cgroup) }
      // A restart the signals did not bring: its result too, before it is announced.
      if (cgroup && (num(s.NRestarts) ?? 0) > t.restartsAnnounced)
        Object.assign(s, await this.d.bus.getProps(t.path, SERVICE_IFACE, ['Result']))
      this.d.counters.inc(cgroup ? 'stats.cgroup' : 'stats.dbus')
      await this.enqueue(() => {
        if (this.tracked.get(name) !== t) return
        this.updateStats(t, s)
        const nRestarts = num(s.NRestarts)
        if (nRestarts !== null && nRestarts > t.restartsAnnounced) {
          const before = t.info
          t.info = { ...before, nRestarts, result: str(s.Result, before.result ?? 'success') }
          this.announce(name, t, before)
        }
        this.publishReading(t, ts)
      })
    })
  }

  /** The command executor: name rules, allowlist, then the job and its result. */
  async execute(c: CommandInput): Promise<CommandOutcome> {
    const valid = UnitName.safeParse(c.target)
    if (!valid.success)
      return { outcome: 'refused', message: `not a unit name: ${valid.error.issues[0]?.message}` }
    const name = valid.data
    const policy = this.control(name)
    if (!policy.allowed) return { outcome: 'refused', message: policy.reason }
    if (!this.connected)
      return { outcome: 'failed', message: this.lastError ?? 'the system bus is not reachable' }
    try {
      const path = await this.d.bus.loadUnit(name)
      const u = await this.d.bus.getProps(path, UNIT_IFACE, ['LoadState'])
      if (str(u.LoadState) === 'not-found')
        return { outcome: 'not_found', message: `there is no unit ${name}` }
      const started = Date.now()
      const job = await this.d.bus.job(c.action, name)
      const result = await this.waitJob(job)
      const after = await this.d.bus.getProps(path, UNIT_IFACE, ['ActiveState', 'SubState'])
      const state = `${str(after.ActiveState)} (${str(after.SubState)})`
      const verb = { start: 'start', stop: 'stop', restart: 'restart' }[c.action]
      if (result === 'done')
        return { outcome: 'done', message: `${verb} job done in ${Date.now() - started} ms; now ${state}` }
      if (result === 'timeout')
        return { outcome: 'timeout', message: `the ${verb} job did not finish (${state})` }
      return { outcome: 'failed', message: `the ${verb} job ended "${result}"; now ${state}` }
    } catch (e) {
      return { outcome: 'failed', message: describeBusError(e, this.d.bus.address) }
    }
  }

  private waitJob(job: string): Promise<string> {
    const done = this.finishedJobs.get(job)
    if (done !== undefined) {
      this.finishedJobs.delete(job)
      return Promise.resolve(done)
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.jobs.delete(job)
        resolve('timeout')
      }, this.d.jobTimeoutMs)
      this.jobs.set(job, (r) => {
        clearTimeout(timer)
        this.jobs.delete(job)
        resolve(r)
      })
    })
  }
}
