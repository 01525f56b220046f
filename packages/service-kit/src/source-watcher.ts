import type { Event, ServiceName, Topics } from '@homelab/contracts'
import { Callbacks } from './callbacks.js'
import type { Counters, Logger } from './log.js'
import type { EventDraft, MqttConnection } from './mqtt-connection.js'
import { delayToNextTick, RetryDelay } from './timing.js'

const MAX_BACKOFF_MS = 30_000

export interface SourceWatcherDeps {
  conn: MqttConnection
  topics: Topics
  host: string
  intervalMs: number
  log: Logger
  counters: Counters
}

/** How a watcher names its source in statuses, logs and counters. */
export interface SourceNames {
  service: ServiceName
  /** `Docker at unix:///var/run/docker.sock`, `the system bus at …`: "connecting to …". */
  where: string
  /** Counter prefix: `<prefix>.errors`, `<prefix>.disconnects`. */
  counter: string
  /** "handling a <change> failed" (`Docker change`, `systemd change`). */
  change: string
  /** "reading <what> failed", for a failed tick (`containers`, `unit stats`). */
  reading: string
}

/**
 * What the Docker and systemd collectors share: a connection to a source that can drop (reconnect with exponential
 * backoff, the reason as the service's `unavailable` status), one queue in which every change is applied in the
 * order it arrived, an interval tick that skips while the previous one runs, events and retained readings published
 * under the service's subtree. A subclass says how to connect and what a tick reads.
 */
export abstract class SourceWatcher {
  protected connected = false
  protected running = false
  protected lastError: string | null = null
  private busy = false
  private timer: NodeJS.Timeout | null = null
  private readonly retry = new RetryDelay(1000, MAX_BACKOFF_MS)
  private chain: Promise<void> = Promise.resolve()
  private loop: Promise<void> = Promise.resolve()
  /** Test and bench hooks: each event published; each tick done. */
  onEvent: ((e: Event) => void) | null = null
  onTick: (() => void) | null = null
  /** Called after the watched set may have changed (resync, a change, the interval): HA discovery. */
  readonly onChange: Callbacks

  constructor(
    protected readonly w: SourceWatcherDeps,
    private readonly names: SourceNames,
  ) {
    this.onChange = new Callbacks(w.counters, w.log)
  }

  get isConnected(): boolean {
    return this.connected
  }

  /** Why the source cannot be reached, while it cannot. */
  get unavailableReason(): string | null {
    return this.connected ? null : this.lastError
  }

  start(): void {
    this.running = true
    this.w.conn.setStatus('unavailable', `connecting to ${this.names.where}`)
    this.loop = this.connectLoop()
    this.schedule()
  }

  async stop(): Promise<void> {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.retry.cancel()
    this.disconnect()
    await this.loop
    await this.chain
  }

  /**
   * Connects to the source and reads it whole (in the queue). Resolves once that is done, with a promise of why the
   * connection ended (wrapped: an async function would wait for a promise it returns); null when the watcher was
   * stopped meanwhile. Throws when it cannot connect.
   */
  protected abstract connect(): Promise<{ ended: Promise<string> } | null>
  /** Closes the connection (idempotent; called after it ended, after a failed connect and at stop). */
  protected abstract disconnect(): void
  /** What the log says once connected. */
  protected abstract watching(): string
  /** The status reason once a connection was lost. */
  protected abstract lost(reason: string): string
  /** The status reason for a failed connect. */
  protected abstract describeError(e: unknown): string
  /** One interval's work, while connected. */
  protected abstract sample(): Promise<void>

  /** Runs `fn` after every change already received, so the source's changes apply in order. */
  protected enqueue(fn: () => Promise<void> | void): Promise<void> {
    const next = this.chain.then(fn).catch((e) => {
      this.w.counters.inc('handler.errors')
      this.w.log.once(
        `handler:${(e as Error).message}`,
        `handling a ${this.names.change} failed:`,
        (e as Error).message,
      )
    })
    this.chain = next
    return next
  }

  private async connectLoop(): Promise<void> {
    const { conn, log, counters } = this.w
    while (this.running) {
      try {
        const session = await this.connect()
        if (session === null) return
        this.connected = true
        this.lastError = null
        this.retry.reset()
        conn.setStatus('ok', null)
        log.info(this.watching())
        const reason = await session.ended
        this.connected = false
        this.disconnect()
        if (!this.running) return
        counters.inc(`${this.names.counter}.disconnects`)
        this.lastError = this.lost(reason)
        log.warn(this.lastError)
        conn.setStatus('unavailable', this.lastError)
      } catch (e) {
        this.connected = false
        this.disconnect()
        if (!this.running) return
        const reason = this.describeError(e)
        this.lastError = reason
        counters.inc(`${this.names.counter}.errors`)
        log.once(`${this.names.counter}:${reason}`, reason)
        conn.setStatus('unavailable', reason)
      }
      await this.retry.wait()
    }
  }

  private schedule(): void {
    if (!this.running) return
    this.timer = setTimeout(() => void this.tick(), delayToNextTick(this.w.intervalMs))
  }

  /** The interval's work; skipped (and counted) while the previous one still runs or the source is away. */
  async tick(): Promise<void> {
    this.schedule()
    if (!this.connected) return
    if (this.busy) {
      this.w.counters.inc('ticks.skipped')
      return
    }
    this.busy = true
    try {
      await this.sample()
      this.w.counters.inc('ticks')
      this.onTick?.()
      this.onChange.call()
    } catch (e) {
      this.w.counters.inc('tick.errors')
      this.w.log.once(
        `tick:${(e as Error).message}`,
        `reading ${this.names.reading} failed:`,
        (e as Error).message,
      )
    } finally {
      this.busy = false
    }
  }

  /** Publishes an event under the service's subtree (QoS 1, not retained). */
  protected emitEvent(e: EventDraft): void {
    const event = this.w.conn.publishEvent(e)
    if (event) this.onEvent?.(event)
  }

  /** Removes an entity's retained reading (it is gone or was renamed). */
  protected clearRetained(kind: string, entity: string): void {
    this.w.conn.publish(this.w.topics.reading(this.w.host, this.names.service, kind, entity), '', {
      qos: 1,
      retain: true,
    })
  }
}
