import { randomUUID } from 'node:crypto'
import {
  BusEvent,
  type Event,
  type ServiceName,
  type ServiceStatus,
  ServiceStatus as ServiceStatusSchema,
  type Topics,
} from '@homelab/contracts'
import mqtt, { type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt'
import type { z } from 'zod'
import { Conditions } from './conditions.js'
import { fatal } from './lifecycle.js'
import type { Counters, Logger } from './log.js'

export type { IPublishPacket }

export interface MqttConnectionOptions {
  url: string
  username: string | undefined
  password: string | undefined
  clientId: string
  host: string
  service: ServiceName
  topics: Topics
  log: Logger
  counters: Counters
  /** Persistent session (recorder): the broker queues QoS 1 messages while this client is away. */
  persistentSession?: boolean
  /** Messages kept while disconnected (oldest dropped past this). Default 10,000. */
  offlineBufferLimit?: number
  /**
   * Group commit for QoS 1 messages (the recorder): messages are handed over in batches, and the PUBACK of each is
   * sent only after `onBatch` returns. If it returns 'retry' (its storage cannot take writes now), the batch is held,
   * unacknowledged, and offered again — with whatever arrived meanwhile — after a backoff (1 s doubling to 30 s); the
   * broker sends no more than the session's receive maximum meanwhile. If it throws, nothing of the batch is
   * acknowledged and the connection is dropped, so the broker delivers those messages again.
   */
  onBatch?: (messages: BatchItem[]) => 'stored' | 'retry'
  /** Largest batch (default 500). */
  maxBatch?: number
  /**
   * Topics on which a retained message that arrives after a live one is dropped as older state (default: every
   * topic). The recorder keeps everything that carries its own timestamp and limits this to availability.
   */
  dropStaleRetained?: (topic: string) => boolean
  /**
   * Payloads larger than this are refused before they leave (default 256 KiB, below the broker's 384 KiB packet
   * limit): a broker disconnects a client that sends a packet over its limit, and that client would send the same
   * packet again at every reconnect.
   */
  maxPublishBytes?: number
  version: string
}

/** An event as a service raises it; `publishEvent` adds the envelope. */
export interface EventDraft {
  type: string
  severity: Event['severity']
  /** The entity it concerns (cut to 256 characters). */
  subject: string
  /** Cut to 2,000 characters. */
  message: string
  /** Checked against the type's schema in the bus map (EVENT_DATA). */
  data: Record<string, unknown>
  /** Defaults: a random UUID, now, the connection's host (the alerter raises alerts of other hosts). */
  id?: string
  ts?: number
  host?: string
}

export interface BatchItem {
  topic: string
  payload: Buffer
  packet: IPublishPacket
}

interface AckPacket {
  cmd: string
  messageId?: number
}
type SendPacket = (packet: AckPacket, cb?: () => void, cbStorePut?: () => void, noStore?: boolean) => void

interface Pending {
  topic: string
  payload: string | Buffer
  opts: IClientPublishOptions
}

const MAX_BACKOFF_MS = 30_000
/** How long each step of a stop (the offline announcement, the graceful end) may wait for the broker. */
const STOP_STEP_MS = 2000

/**
 * The one place a service touches the MQTT client. It connects with MQTT 5 and credentials, sets the last will
 * to `offline` on the service's availability topic, announces `online` (retained) on every connect, reconnects
 * with exponential backoff, keeps a bounded buffer of messages published while offline (original timestamps
 * are in the payloads), and validates every JSON payload against its schema before it leaves.
 */
export class MqttConnection {
  private client: MqttClient | null = null
  private readonly buffer: Pending[] = []
  private readonly limit: number
  private backoff = 1000
  private status: ServiceStatus
  private readonly conditions = new Conditions()
  private readonly handlers = new Set<(topic: string, payload: Buffer, packet: IPublishPacket) => void>()
  private readonly subscriptions = new Map<string, 0 | 1>()
  private connectedOnce: Promise<void>
  private resolveConnected!: () => void
  private lastError: string | null = null
  private batch: BatchItem[] = []
  private heldAcks: AckPacket[] = []
  private readonly holding = new Set<number>()
  private flushScheduled = false
  /** A batch offered to onBatch that could not be stored yet, and its PUBACKs. */
  private unstored: BatchItem[] = []
  private unsentAcks: AckPacket[] = []
  private retryTimer: NodeJS.Timeout | null = null
  private retryMs = 1000
  private sendPacket: SendPacket | null = null
  /** Topics that delivered a live (non-retained) message since the last connect. */
  private readonly liveSeen = new Set<string>()

  constructor(private readonly o: MqttConnectionOptions) {
    this.limit = o.offlineBufferLimit ?? 10_000
    this.connectedOnce = new Promise((r) => {
      this.resolveConnected = r
    })
    this.status = {
      v: 1,
      ts: Date.now(),
      host: o.host,
      source: o.service,
      state: 'ok',
      reason: null,
      version: o.version,
      startedAt: Date.now(),
      counters: {},
    }
  }

  get connected(): boolean {
    return this.client?.connected ?? false
  }

  /** Resolves at the first successful connection. */
  whenConnected(): Promise<void> {
    return this.connectedOnce
  }

  start(): void {
    const { o } = this
    const availability = o.topics.availability(o.host, o.service)
    const client = mqtt.connect(o.url, {
      protocolVersion: 5,
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      clean: !o.persistentSession,
      keepalive: 15,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      resubscribe: true,
      // Not mqtt-packet's cache of 65,536 packet-id Buffers (6 MB of heap, filled at the first write).
      writeCache: false,
      properties: o.persistentSession ? { sessionExpiryInterval: 7 * 24 * 3600, receiveMaximum: 1000 } : {},
      will: { topic: availability, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(o.onBatch
        ? {
            customHandleAcks: (
              t: string,
              m: Buffer,
              p: IPublishPacket,
              d: (e: Error | number, c?: number) => void,
            ) => {
              if (!this.isStale(t, p)) {
                this.batch.push({ topic: t, payload: m, packet: p })
                if (p.messageId !== undefined) this.holding.add(p.messageId)
                this.scheduleFlush()
              }
              d(0)
            },
          }
        : {}),
    })
    this.client = client
    if (o.onBatch) this.holdAcks(client)
    client.on('connect', (connack) => {
      // No Nagle on our side either (see the broker): small packets go out at once.
      ;(client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true)
      this.liveSeen.clear()
      this.backoff = 1000
      client.options.reconnectPeriod = 1000
      if (this.lastError !== null) o.log.info(`connected to ${o.url} again`)
      else o.log.info(`connected to ${o.url} as ${o.username ?? '(anonymous)'}`)
      this.lastError = null
      o.counters.inc('mqtt.connects')
      // A persistent session that the broker kept needs no resubscribe; mqtt.js resubscribes otherwise.
      if (!connack.sessionPresent || !o.persistentSession) {
        for (const [filter, qos] of this.subscriptions) client.subscribe(filter, { qos })
      }
      client.publish(availability, 'online', { qos: 1, retain: true })
      this.publishStatus()
      this.flushOffline()
      this.resolveConnected()
    })
    client.on('close', () => {
      // Acks held for this connection must never go out on the next one (message ids are per connection).
      if (o.onBatch) this.flush(false)
      // Exponential backoff with jitter; mqtt.js reads reconnectPeriod before each attempt.
      this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2)
      client.options.reconnectPeriod = Math.round(this.backoff * (0.75 + Math.random() * 0.5))
    })
    client.on('error', (err: Error & { code?: number | string }) => {
      const text = describeMqttError(err)
      if (REFUSED.has(err.code ?? '')) {
        // Retrying cannot help: wrong credentials, a revoked machine, a client id that is not ours.
        o.counters.inc('mqtt.refused')
        client.end(true)
        const reason = `${o.service}: the broker at ${o.url} refused the login of "${o.username ?? '(anonymous)'}" as client "${o.clientId}": ${text}`
        o.log.error(reason)
        if (!fatal(reason)) this.lastError = text
        return
      }
      if (text !== this.lastError) o.log.warn(`broker ${o.url}: ${text}`)
      this.lastError = text
      o.counters.inc('mqtt.errors')
    })
    client.on('message', (topic, payload, packet) => {
      // With batching, QoS 1 messages were already checked (and counted) there.
      if (!(o.onBatch && packet.qos > 0) && this.isStale(topic, packet)) return
      for (const h of this.handlers) {
        try {
          h(topic, payload, packet)
        } catch (e) {
          o.counters.inc('handler.errors')
          o.log.once(`handler:${(e as Error).message}`, `message handler failed on ${topic}:`, e)
        }
      }
    })
  }

  /**
   * mqtt.js sends a PUBACK as soon as its handler returns and only then reads the next packet, which would force one
   * transaction per message. Its PUBACKs for batched messages are held here instead and released after the batch
   * commits, so reading goes on while the batch is stored. (mqtt is pinned to an exact version for this.)
   */
  private holdAcks(client: MqttClient): void {
    const target = client as unknown as { _sendPacket: SendPacket }
    const send = target._sendPacket.bind(client)
    this.sendPacket = send
    target._sendPacket = (packet, cb, cbStorePut, noStore) => {
      if (
        packet.cmd === 'puback' &&
        packet.messageId !== undefined &&
        this.holding.delete(packet.messageId)
      ) {
        this.heldAcks.push(packet)
        cb?.()
        return
      }
      send(packet, cb, cbStorePut, noStore)
    }
  }

  private scheduleFlush(): void {
    if (this.batch.length >= (this.o.maxBatch ?? 500)) {
      setImmediate(() => this.flush(true))
      return
    }
    if (this.flushScheduled) return
    this.flushScheduled = true
    // mqtt.js handles every packet of a socket read in process.nextTick steps; this runs after them.
    setImmediate(() => this.flush(true))
  }

  private flush(acknowledge: boolean): void {
    this.flushScheduled = false
    const items = this.batch.splice(0)
    const acks = this.heldAcks.splice(0)
    if (!acknowledge) {
      // The connection is gone: the broker delivers all of it again on the next one.
      this.holding.clear()
      this.unstored = []
      this.unsentAcks = []
      if (this.retryTimer) clearTimeout(this.retryTimer)
      this.retryTimer = null
      return
    }
    this.unstored.push(...items)
    this.unsentAcks.push(...acks)
    // A retry is due: it takes these too.
    if (this.retryTimer) return
    if (this.unstored.length === 0 && this.unsentAcks.length === 0) return
    let result: 'stored' | 'retry'
    try {
      result = this.unstored.length ? this.o.onBatch!(this.unstored) : 'stored'
    } catch (e) {
      this.o.counters.inc('batch.failed')
      this.o.log.once(
        `batch:${(e as Error).message}`,
        'could not store a batch; dropping the connection so the broker redelivers it:',
        e,
      )
      this.holding.clear()
      this.unstored = []
      this.unsentAcks = []
      this.client?.stream.destroy()
      return
    }
    if (result === 'retry') {
      this.o.counters.inc('batch.retries')
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null
        this.flush(true)
      }, this.retryMs)
      this.retryMs = Math.min(MAX_BACKOFF_MS, this.retryMs * 2)
      return
    }
    this.retryMs = 1000
    const sent = this.unsentAcks
    this.unstored = []
    this.unsentAcks = []
    if (this.client?.connected) for (const a of sent) this.sendPacket!(a)
  }

  /**
   * A retained message is what the broker held when we subscribed. If the topic already brought a live message
   * since then (a service announcing `online` while our subscription was being served), the retained one is older
   * and must not overwrite it.
   */
  private isStale(topic: string, packet: IPublishPacket): boolean {
    if (this.o.dropStaleRetained && !this.o.dropStaleRetained(topic)) return false
    if (!packet.retain) {
      if (this.liveSeen.size > 100_000) this.liveSeen.clear()
      this.liveSeen.add(topic)
      return false
    }
    if (this.liveSeen.has(topic)) {
      this.o.counters.inc('retained.stale')
      return true
    }
    return false
  }

  /** Adds a message handler; returns what removes it. */
  onMessage(handler: (topic: string, payload: Buffer, packet: IPublishPacket) => void): () => void {
    const h = (topic: string, payload: Buffer, packet: IPublishPacket) => handler(topic, payload, packet)
    this.handlers.add(h)
    return () => {
      this.handlers.delete(h)
    }
  }

  /**
   * Subscribes now and at every reconnect; returns what undoes it. On a persistent session the broker keeps the
   * subscription (messages for a stopped service wait for it, as they are meant to): only this connection forgets it.
   */
  subscribe(filter: string, qos: 0 | 1 = 1): () => void {
    this.subscriptions.set(filter, qos)
    if (this.client?.connected) this.client.subscribe(filter, { qos })
    return () => {
      if (!this.subscriptions.delete(filter)) return
      if (this.client?.connected && !this.o.persistentSession) this.client.unsubscribe(filter)
    }
  }

  /** Validates `payload` with `schema` and publishes it as JSON. Invalid payloads are counted and not sent. */
  publishJson<S extends z.ZodType>(
    topic: string,
    schema: S,
    payload: z.input<S>,
    opts: IClientPublishOptions = {},
  ): boolean {
    const parsed = schema.safeParse(payload)
    if (!parsed.success) {
      this.o.counters.inc('publish.invalid')
      this.o.log.once(
        `invalid:${topic}`,
        `not publishing an invalid payload on ${topic}: ${parsed.error.issues[0]?.message}`,
      )
      return false
    }
    return this.publish(topic, JSON.stringify(parsed.data), { qos: 1, ...opts })
  }

  /**
   * Publishes an event under this service's subtree (QoS 1, not retained): the connection adds the envelope (a
   * random id, now, this host, this service), bounds the text, and checks the data against its type (BusEvent).
   * Returns the event as published, or null when it was refused (counted as publish.invalid).
   */
  publishEvent(d: EventDraft): Event | null {
    const host = d.host ?? this.o.host
    const event: Event = {
      v: 1,
      ts: Math.floor(d.ts ?? Date.now()),
      host,
      source: this.o.service,
      id: d.id ?? randomUUID(),
      type: d.type,
      severity: d.severity,
      subject: d.subject.slice(0, 256),
      message: d.message.slice(0, 2000),
      data: d.data,
    }
    if (!this.publishJson(this.o.topics.event(host, this.o.service, d.type), BusEvent, event)) return null
    this.o.counters.inc('events.published')
    return event
  }

  /** Publishes (or buffers while offline); false when the payload was refused as oversized. */
  publish(topic: string, payload: string | Buffer, opts: IClientPublishOptions = { qos: 1 }): boolean {
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
    if (size > (this.o.maxPublishBytes ?? 256 * 1024)) {
      this.o.counters.inc('publish.oversized')
      this.o.log.once(
        `oversized:${topic}`,
        `not publishing ${size} bytes on ${topic}: over the ${Math.round((this.o.maxPublishBytes ?? 256 * 1024) / 1024)} KiB limit`,
      )
      return false
    }
    const c = this.client
    if (c?.connected) {
      c.publish(topic, payload, opts, (err) => {
        if (!err) return
        const code = (err as Error & { code?: unknown }).code
        if (typeof code === 'number' && code >= 0x80) {
          // The broker refused it (not authorized, quota): sending it again would be refused again.
          this.o.counters.inc('publish.refused')
          this.o.log.once(
            `refused:${code}:${topic}`,
            `the broker refused a message on ${topic} (reason ${code})`,
          )
          return
        }
        // The connection went while it was in flight (the broker dropped us): it goes again after reconnecting.
        this.o.counters.inc('publish.requeued')
        if ((opts.qos ?? 0) > 0) this.buffer.push({ topic, payload, opts })
      })
      return true
    }
    if (this.buffer.length >= this.limit) {
      this.buffer.shift()
      this.o.counters.inc('offline.dropped')
    }
    this.buffer.push({ topic, payload, opts })
    return true
  }

  /** The state of the service's source (a collector whose Docker socket is missing is `unavailable`). */
  setStatus(state: ServiceStatus['state'], raw: string | null): void {
    // A reason is for people: cut to what the status document holds, so a long one never stops the status.
    const reason = raw === null ? null : raw.slice(0, 1000)
    const changed = state !== this.status.state || reason !== this.status.reason
    this.status = { ...this.status, state, reason }
    if (changed) this.publishStatus()
  }

  /**
   * Sets (reason) or clears (null) one cause of degradation (a full disk, a damaged database, a limit hit); the status
   * document is `degraded` with the reasons while any is set, and is published when that changes.
   */
  condition(cause: string, reason: string | null): void {
    if (this.conditions.set(cause, reason)) this.publishStatus()
  }

  hasCondition(cause: string): boolean {
    return this.conditions.has(cause)
  }

  /** The status as published: the source's state, degraded by any condition. */
  get currentStatus(): ServiceStatus {
    const base = this.status
    const extra = this.conditions.reason
    if (extra === null) return base
    return {
      ...base,
      state: base.state === 'ok' ? 'degraded' : base.state,
      reason: [base.reason, extra]
        .filter((r) => r !== null)
        .join('; ')
        .slice(0, 1000),
    }
  }

  publishStatus(): void {
    const o = this.o
    this.status = { ...this.status, ts: Date.now(), counters: o.counters.snapshot() }
    const status = this.currentStatus
    if (this.client?.connected) {
      this.client.publish(
        o.topics.status(o.host, o.service),
        JSON.stringify(ServiceStatusSchema.parse(status)),
        { qos: 1, retain: true },
      )
    }
  }

  get bufferedCount(): number {
    return this.buffer.length
  }

  /** Messages not yet acknowledged by the broker: buffered while offline, queued in mqtt.js or in flight. */
  get pendingCount(): number {
    const c = this.client as (MqttClient & { outgoing?: object; queue?: unknown[] }) | null
    return this.buffer.length + Object.keys(c?.outgoing ?? {}).length + (c?.queue?.length ?? 0)
  }

  private flushOffline(): void {
    const items = this.buffer.splice(0)
    if (items.length) this.o.log.info(`sending ${items.length} messages buffered while offline`)
    for (const p of items) this.publish(p.topic, p.payload, p.opts)
  }

  /** Announces `offline` (a clean stop does not fire the will) and closes. */
  async stop(): Promise<void> {
    const c = this.client
    if (!c) return
    this.client = null
    // Each step is bounded: a broker that is gone (or goes now) never acknowledges, and mqtt.js's graceful end waits
    // for acknowledgements — without a bound, a service could not stop while its broker is down.
    const bounded = (step: (done: () => void) => void) =>
      new Promise<void>((r) => {
        const t = setTimeout(r, STOP_STEP_MS)
        step(() => {
          clearTimeout(t)
          r()
        })
      })
    if (c.connected) {
      await bounded((done) =>
        c.publish(
          this.o.topics.availability(this.o.host, this.o.service),
          'offline',
          { qos: 1, retain: true },
          () => done(),
        ),
      )
    }
    // Not connected: nothing can be acknowledged any more, so nothing is lost by not waiting.
    if (c.connected) await bounded((done) => c.end(false, {}, () => done()))
    await new Promise<void>((r) => c.end(true, {}, () => r()))
  }
}

/** CONNACK codes that retrying does not fix (3.1.1: 4, 5; 5.0: bad credentials, not authorized, banned, bad method). */
const REFUSED = new Set<number | string>([4, 5, 134, 135, 138, 140])

export function describeMqttError(err: Error & { code?: number | string }): string {
  switch (err.code) {
    case 4:
    case 134:
      return 'bad user name or password (check HOMELAB_MQTT_USERNAME and HOMELAB_MQTT_PASSWORD)'
    case 5:
    case 135:
      return 'not authorized by the broker (a machine must be enrolled, and connect with its own host id: see docs/security.md)'
    case 'ECONNREFUSED':
      return 'connection refused (is the broker running?); retrying with backoff'
    default:
      return err.message
  }
}
