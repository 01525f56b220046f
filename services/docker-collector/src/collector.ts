import { randomUUID } from 'node:crypto'
import { StringDecoder } from 'node:string_decoder'
import {
  type ContainerEventData,
  type ContainerEventType,
  type ContainerInfo,
  ContainerReading,
  type ContainerStats,
  EngineReading,
  type Event,
  type Topics,
} from '@homelab/contracts'
import {
  type CommandInput,
  type CommandOutcome,
  type Counters,
  forEachLimited,
  type Logger,
  type MqttConnection,
  SourceWatcher,
} from '@homelab/service-kit'
import type { ControlPolicyMatcher } from './control.js'
import {
  countersOf,
  describeDockerError,
  healthFromStatusText,
  type InspectJson,
  type StatsCounters,
  toInfo,
  toState,
  toStats,
} from './convert.js'
import { type Engine, type EngineVersion, statusOf } from './engine.js'

export interface DockerCollectorDeps {
  conn: MqttConnection
  topics: Topics
  host: string
  engine: Engine
  control: ControlPolicyMatcher
  intervalMs: number
  statsConcurrency: number
  stopTimeoutS: number
  log: Logger
  counters: Counters
}

/** What the collector knows about one container; the object stays the same for the container's id. */
interface Tracked {
  info: ContainerInfo
  counters: StatsCounters | null
  stats: ContainerStats | null
}

interface DockerEventJson {
  Type?: string
  Action?: string
  Actor?: { ID?: string; Attributes?: Record<string, string> }
  time?: number
  timeNano?: number
}

/** Docker actions that become events, and the event type each becomes. Everything else (exec_*, attach…) is noise. */
const ACTIONS: Readonly<Record<string, ContainerEventType>> = {
  create: 'container.create',
  start: 'container.start',
  die: 'container.die',
  oom: 'container.oom',
  kill: 'container.kill',
  stop: 'container.stop',
  restart: 'container.restart',
  pause: 'container.pause',
  unpause: 'container.unpause',
  health_status: 'container.health',
  rename: 'container.rename',
  destroy: 'container.destroy',
}

const SERVICE = 'docker-collector'
/** A death this long after a kill event was asked for (docker stop waits up to its timeout, 10 s by default). */
const KILL_WINDOW_MS = 5 * 60_000

/**
 * Watches one Docker engine. The event stream (subscribed before each full resync, so nothing falls between them)
 * turns lifecycle changes into events the moment they happen; every interval the container list is refreshed and
 * running containers' stats are read with one-shot requests, a few at a time; each container's document is
 * published retained. Losing the engine marks the collector unavailable with the reason and retries with backoff;
 * on return it resyncs, announcing what changed meanwhile (`container.sync`, `container.gone`).
 */
export class DockerCollector extends SourceWatcher {
  private readonly tracked = new Map<string, Tracked>()
  /** The last signal each container was sent, and when (a death soon after was asked for). */
  private readonly signalled = new Map<string, { signal: string; at: number }>()
  /** Signature of each container's state as last announced by an event (to find what changed while away). */
  private readonly announced = new Map<string, string>()
  /** Restart count as last seen by the event handler (a restart by policy shows as an increase on `start`). */
  private readonly restartsSeen = new Map<string, number>()
  private stream: NodeJS.ReadableStream | null = null
  private engineVersion: EngineVersion | null = null

  constructor(private readonly d: DockerCollectorDeps) {
    super(d, {
      service: SERVICE,
      where: `Docker at ${d.engine.where}`,
      counter: 'engine',
      change: 'Docker change',
      reading: 'containers',
    })
  }

  /** Publishes every container's document again (Home Assistant restarted). */
  republish(): void {
    const now = Date.now()
    for (const t of this.tracked.values()) this.publishReading(t, now)
  }

  /** Every container the collector knows now. */
  containers(): ContainerInfo[] {
    return [...this.tracked.values()].map((t) => t.info)
  }

  protected async connect(): Promise<{ ended: Promise<string> } | null> {
    const { engine } = this.d
    this.engineVersion = await engine.version()
    const stream = await engine.events()
    if (!this.running) {
      ;(stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.()
      return null
    }
    this.stream = stream
    const ended = this.consume(stream)
    await this.enqueue(() => this.resync())
    return { ended: ended.then(() => 'the event stream ended') }
  }

  protected disconnect(): void {
    const s = this.stream as (NodeJS.ReadableStream & { destroy?: () => void }) | null
    this.stream = null
    s?.destroy?.()
  }

  protected watching(): string {
    const v = this.engineVersion
    return `watching Docker ${v?.version} (API ${v?.apiVersion}) at ${this.d.engine.where}: ${this.tracked.size} containers`
  }

  protected lost(): string {
    return `lost the connection to Docker at ${this.d.engine.where}; reconnecting`
  }

  protected describeError(e: unknown): string {
    return describeDockerError(e, this.d.engine.where)
  }

  /** Reads the newline-delimited JSON event stream; resolves when it ends for any reason. */
  private consume(stream: NodeJS.ReadableStream): Promise<void> {
    const decoder = new StringDecoder('utf8')
    let buf = ''
    stream.on('data', (chunk: Buffer) => {
      buf += decoder.write(chunk)
      let nl = buf.indexOf('\n')
      while (nl >= 0) {
        const line = buf.slice(0, nl).trim()
        buf = buf.slice(nl + 1)
        if (line) void this.enqueue(() => this.onDockerEvent(line))
        nl = buf.indexOf('\n')
      }
    })
    return new Promise((resolve) => {
      stream.on('end', resolve)
      stream.on('close', resolve)
      stream.on('error', (e: Error) => {
        this.d.log.once(`stream:${e.message}`, 'Docker event stream failed:', e.message)
        resolve()
      })
    })
  }

  private async inspectTracked(id: string, text?: string): Promise<Tracked | null> {
    let raw: InspectJson
    try {
      raw = await this.d.engine.inspect(id)
    } catch (e) {
      if (statusOf(e) === 404) return null
      throw e
    }
    const info = toInfo(
      raw,
      this.d.control.policy(raw.Name?.replace(/^\//, '') ?? '', raw.Config?.Labels),
      text,
    )
    let t = this.tracked.get(raw.Id)
    if (t) {
      if (t.info.name !== info.name) this.clearRetained('container', t.info.name)
      t.info = info
      if (info.state !== 'running') t.stats = null
    } else {
      t = { info, counters: null, stats: null }
      this.tracked.set(raw.Id, t)
    }
    return t
  }

  private signature(i: ContainerInfo): string {
    return [i.name, i.image, i.state, i.health, i.restartCount, i.exitCode, i.control.allowed].join('|')
  }

  /** Full state from the engine; announces containers that changed or vanished since they were last announced. */
  private async resync(): Promise<void> {
    const list = await this.d.engine.list()
    const seen = new Set<string>()
    await forEachLimited(list, this.d.statsConcurrency, async (c) => {
      const t = await this.inspectTracked(c.Id, c.Status)
      if (!t) return
      seen.add(t.info.id)
      this.restartsSeen.set(t.info.id, t.info.restartCount)
    })
    for (const [id, t] of this.tracked) {
      if (seen.has(id)) continue
      this.tracked.delete(id)
      this.restartsSeen.delete(id)
      this.clearRetained('container', t.info.name)
    }
    for (const [id, sig] of this.announced) {
      if (seen.has(id)) continue
      this.announced.delete(id)
      const name = sig.split('|')[0] ?? id.slice(0, 12)
      this.publishEvent('container.gone', randomUUID(), Date.now(), name, 'info', `${name} is gone`, { id })
    }
    const now = Date.now()
    for (const t of this.tracked.values()) {
      const sig = this.signature(t.info)
      if (this.announced.get(t.info.id) === sig) continue
      this.announced.set(t.info.id, sig)
      this.publishEvent(
        'container.sync',
        randomUUID(),
        now,
        t.info.name,
        'info',
        `${t.info.name} is ${t.info.state}`,
        {
          id: t.info.id,
          container: t.info,
        },
      )
    }
    for (const t of this.tracked.values()) this.publishReading(t, now)
    this.d.counters.inc('resyncs')
    this.onChange.call()
  }

  private async onDockerEvent(line: string): Promise<void> {
    let ev: DockerEventJson
    try {
      ev = JSON.parse(line) as DockerEventJson
    } catch {
      this.d.counters.inc('events.invalid')
      return
    }
    const action = (ev.Action ?? '').split(':')[0] ?? ''
    const type = ACTIONS[action]
    const id = ev.Actor?.ID
    if (ev.Type !== 'container' || !type || !id || !/^[0-9a-f]{12,64}$/.test(id)) {
      this.d.counters.inc('events.ignored')
      return
    }
    const attrs = ev.Actor?.Attributes ?? {}
    const ts = ev.timeNano ? Math.floor(ev.timeNano / 1e6) : (ev.time ?? Date.now() / 1000) * 1000
    const before = this.tracked.get(id)
    const t = type === 'container.destroy' ? null : await this.inspectTracked(id)
    const info = t?.info
    const name = info?.name ?? before?.info.name ?? attrs.name ?? id.slice(0, 12)
    const data: ContainerEventData = { id, ...(info ? { container: info } : {}) }
    let severity: Event['severity'] = 'info'
    let message = `${name}: ${action}`
    switch (type) {
      case 'container.die': {
        const code = Number(attrs.exitCode ?? info?.exitCode ?? 0)
        data.exitCode = Number.isInteger(code) ? code : 0
        // Someone sent it a signal just before (docker kill, docker stop past its timeout, docker rm -f): the exit
        // was asked for, not a crash (an OOM kill sends no kill event, and says so itself).
        const kill = this.signalled.get(id)
        this.signalled.delete(id)
        if (kill && ts - kill.at <= KILL_WINDOW_MS && !info?.oomKilled) {
          data.killed = true
          data.signal = kill.signal
        }
        severity = data.exitCode === 0 || data.killed ? 'info' : 'warning'
        message = `${name} exited with code ${data.exitCode}${info?.oomKilled ? ' (out of memory)' : data.killed ? ` after it was sent signal ${kill?.signal}` : ''}`
        break
      }
      case 'container.oom':
        severity = 'critical'
        message = `${name} ran out of memory${info?.memoryLimitSet ? ` (limit ${info.memoryLimitSet} bytes)` : ''}`
        break
      case 'container.kill':
        data.signal = (attrs.signal ?? '').slice(0, 16)
        message = `${name} was sent signal ${data.signal}`
        this.signalled.delete(id)
        this.signalled.set(id, { signal: data.signal, at: ts })
        // Bounded: a kill never followed by a death (a signal the container handles) ages out.
        for (const [k, v] of this.signalled)
          if (this.signalled.size > 1000 || ts - v.at > KILL_WINDOW_MS) this.signalled.delete(k)
        break
      case 'container.health': {
        const h = (ev.Action ?? '').split(':')[1]?.trim()
        data.health = h === 'healthy' || h === 'unhealthy' || h === 'starting' ? h : (info?.health ?? 'none')
        severity = data.health === 'unhealthy' ? 'warning' : 'info'
        message = `${name} is ${data.health}`
        break
      }
      case 'container.restart':
        data.by = 'request'
        data.restartCount = info?.restartCount ?? 0
        message = `${name} was restarted`
        break
      case 'container.rename': {
        const old = (attrs.oldName ?? '').replace(/^\//, '')
        if (old) data.oldName = old
        message = `${old || 'a container'} was renamed to ${name}`
        if (old && old !== name) this.clearRetained('container', old)
        break
      }
      case 'container.start':
        message = `${name} started`
        break
      case 'container.stop':
        message = `${name} stopped`
        break
      case 'container.create':
        message = `${name} was created from ${info?.image ?? attrs.image ?? 'an image'}`
        break
      case 'container.destroy':
        message = `${name} was removed`
        break
    }
    const suffix = action === 'health_status' ? `health-${data.health}` : action
    this.publishEvent(
      type,
      `dk-${id.slice(0, 12)}-${ev.timeNano ?? ts}-${suffix}`.slice(0, 64),
      ts,
      name,
      severity,
      message,
      data,
    )

    if (type === 'container.start' && info) {
      const seen = this.restartsSeen.get(id)
      if (seen !== undefined && info.restartCount > seen) {
        this.publishEvent(
          'container.restart',
          `dk-${id.slice(0, 12)}-${ev.timeNano ?? ts}-policy`.slice(0, 64),
          ts,
          name,
          'warning',
          `${name} was restarted by its restart policy (restart ${info.restartCount})`,
          { id, container: info, by: 'policy', restartCount: info.restartCount },
        )
      }
      this.restartsSeen.set(id, info.restartCount)
    }
    if (info) {
      this.announced.set(id, this.signature(info))
      if (t) this.publishReading(t, Date.now())
    } else {
      this.announced.delete(id)
      this.restartsSeen.delete(id)
      const gone = this.tracked.get(id)
      this.tracked.delete(id)
      this.clearRetained('container', gone?.info.name ?? name)
    }
    this.onChange.call()
  }

  private publishEvent(
    type: ContainerEventType,
    id: string,
    ts: number,
    subject: string,
    severity: Event['severity'],
    message: string,
    data: ContainerEventData,
  ): void {
    this.emitEvent({ type, id, ts, subject, severity, message, data })
  }

  private publishReading(t: Tracked, ts: number): void {
    const r: ContainerReading = {
      v: 1,
      ts,
      host: this.d.host,
      source: SERVICE,
      container: t.info,
      stats: t.info.state === 'running' ? t.stats : null,
    }
    this.d.conn.publishJson(
      this.d.topics.reading(this.d.host, SERVICE, 'container', t.info.name),
      ContainerReading,
      r,
      { retain: true },
    )
  }

  /** Refreshes the list (re-inspecting containers whose state moved), reads stats, publishes every document. */
  protected async sample(): Promise<void> {
    const ts = Date.now()
    await this.enqueue(async () => {
      const list = await this.d.engine.list()
      await forEachLimited(list, this.d.statsConcurrency, async (c) => {
        const t = this.tracked.get(c.Id)
        const moved =
          !t || t.info.state !== toState(c.State) || t.info.health !== healthFromStatusText(c.Status)
        if (moved) await this.inspectTracked(c.Id, c.Status)
        else if (c.Status) t.info = { ...t.info, statusText: c.Status.slice(0, 256) }
      })
    })
    const running = [...this.tracked.values()].filter((t) => t.info.state === 'running')
    await forEachLimited(running, this.d.statsConcurrency, (t) => this.readStats(t, ts))
    let paused = 0
    for (const t of this.tracked.values()) {
      if (t.info.state === 'paused') paused++
      this.publishReading(t, ts)
    }
    if (this.engineVersion) {
      const n = this.tracked.size
      this.d.conn.publishJson(
        this.d.topics.reading(this.d.host, SERVICE, 'engine'),
        EngineReading,
        {
          v: 1,
          ts,
          host: this.d.host,
          source: SERVICE,
          ...this.engineVersion,
          containers: { total: n, running: running.length, paused, stopped: n - running.length - paused },
        },
        { retain: true },
      )
    }
  }

  private async readStats(t: Tracked, now: number): Promise<void> {
    try {
      const raw = await this.d.engine.stats(t.info.id)
      const cur = countersOf(raw, now)
      t.stats = toStats(raw, cur, t.counters)
      t.counters = cur
      this.d.counters.inc('stats.reads')
    } catch (e) {
      // Stopped or removed since the list: the event stream reports that. Anything else is counted.
      if (statusOf(e) !== 404 && statusOf(e) !== 409) {
        this.d.counters.inc('stats.errors')
        this.d.log.once(
          `stats:${(e as Error).message}`,
          `stats of ${t.info.name} failed:`,
          (e as Error).message,
        )
      }
      t.stats = null
      t.counters = null
    }
  }

  /** The full id of a container by name, full id or unique id prefix (for log requests), or null. */
  containerId(target: string): string | null {
    const r = this.resolve(target)
    return r && 't' in r ? r.t.info.id : null
  }

  /** The engine the collector reads (its log requests go to the same one). */
  get engine(): Engine {
    return this.d.engine
  }

  /** A container by name, full id or unique id prefix. */
  private resolve(target: string): { t: Tracked } | { ambiguous: number } | null {
    for (const t of this.tracked.values()) if (t.info.name === target) return { t }
    if (!/^[0-9a-f]+$/.test(target)) return null
    const hits = [...this.tracked.values()].filter((t) => t.info.id.startsWith(target))
    if (hits.length === 1 && hits[0]) return { t: hits[0] }
    return hits.length > 1 ? { ambiguous: hits.length } : null
  }

  /** The command executor: allowlist first, then the engine; the container's new state is published at once. */
  async execute(c: CommandInput): Promise<CommandOutcome> {
    if (!this.connected)
      return {
        outcome: 'failed',
        message: this.lastError ?? `Docker at ${this.d.engine.where} is not reachable`,
      }
    const r = this.resolve(c.target)
    if (r && 'ambiguous' in r)
      return {
        outcome: 'not_found',
        message: `"${c.target}" matches ${r.ambiguous} containers: give more of the id`,
      }
    const t = r?.t ?? null
    if (!t) return { outcome: 'not_found', message: `no container named "${c.target}" or with that id` }
    const name = t.info.name
    if (!t.info.control.allowed) return { outcome: 'refused', message: t.info.control.reason, subject: name }
    const started = Date.now()
    try {
      await this.d.engine.act(t.info.id, c.action, this.d.stopTimeoutS)
    } catch (e) {
      const status = statusOf(e)
      if (status === 304) {
        return {
          outcome: 'done',
          message: c.action === 'start' ? 'it was already running' : 'it was already stopped',
          subject: name,
        }
      }
      if (status === 404) return { outcome: 'not_found', message: `${name} no longer exists`, subject: name }
      return { outcome: 'failed', message: describeDockerError(e, this.d.engine.where), subject: name }
    }
    const after = await this.enqueue(async () => {
      const u = await this.inspectTracked(t.info.id)
      if (u) this.publishReading(u, Date.now())
    }).then(() => this.tracked.get(t.info.id)?.info)
    const state = after ? `; now ${after.state}` : ''
    const verb = { start: 'started', stop: 'stopped', restart: 'restarted' }[c.action]
    return { outcome: 'done', message: `${verb} in ${Date.now() - started} ms${state}`, subject: name }
  }
}
