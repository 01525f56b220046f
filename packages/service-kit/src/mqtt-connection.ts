import {
  type ServiceName,
  type ServiceStatus,
  ServiceStatus as ServiceStatusSchema,
  type Topics,
} from '@homelab/contracts'
import mqtt, { type IClientPublishOptions, type IPublishPacket, type MqttClient } from 'mqtt'
import type { z } from 'zod'
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
   * sent only after `onBatch` returns. If it throws, nothing of the batch is acknowledged and the connection is
   * dropped, so the broker delivers those messages again.
   */
  onBatch?: (messages: BatchItem[]) => void
  /** Largest batch (default 500). */
  maxBatch?: number
  version: string
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
  private readonly handlers: Array<(topic: string, payload: Buffer, packet: IPublishPacket) => void> = []
  private readonly subscriptions = new Map<string, 0 | 1>()
  private connectedOnce: Promise<void>
  private resolveConnected!: () => void
  private lastError: string | null = null
  private batch: BatchItem[] = []
  private heldAcks: AckPacket[] = []
  private readonly holding = new Set<number>()
  private flushScheduled = false
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
    if (!acknowledge) this.holding.clear()
    if (items.length === 0 && acks.length === 0) return
    try {
      if (items.length) this.o.onBatch!(items)
    } catch (e) {
      this.o.counters.inc('batch.failed')
      this.o.log.once(
        `batch:${(e as Error).message}`,
        'could not store a batch; dropping the connection so the broker redelivers it:',
        e,
      )
      this.holding.clear()
      this.client?.stream.destroy()
      return
    }
    if (acknowledge && this.client?.connected) for (const a of acks) this.sendPacket!(a)
  }

  /**
   * A retained message is what the broker held when we subscribed. If the topic already brought a live message
   * since then (a service announcing `online` while our subscription was being served), the retained one is older
   * and must not overwrite it.
   */
  private isStale(topic: string, packet: IPublishPacket): boolean {
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

  onMessage(handler: (topic: string, payload: Buffer, packet: IPublishPacket) => void): void {
    this.handlers.push(handler)
  }

  subscribe(filter: string, qos: 0 | 1 = 1): void {
    this.subscriptions.set(filter, qos)
    if (this.client?.connected) this.client.subscribe(filter, { qos })
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
    this.publish(topic, JSON.stringify(parsed.data), { qos: 1, ...opts })
    return true
  }

  publish(topic: string, payload: string | Buffer, opts: IClientPublishOptions = { qos: 1 }): void {
    const c = this.client
    if (c?.connected) {
      c.publish(topic, payload, opts, (err) => {
        if (err) this.o.counters.inc('publish.errors')
      })
      return
    }
    if (this.buffer.length >= this.limit) {
      this.buffer.shift()
      this.o.counters.inc('offline.dropped')
    }
    this.buffer.push({ topic, payload, opts })
  }

  setStatus(state: ServiceStatus['state'], reason: string | null): void {
    const changed = state !== this.status.state || reason !== this.status.reason
    this.status = { ...this.status, state, reason }
    if (changed) this.publishStatus()
  }

  publishStatus(): void {
    const o = this.o
    this.status = { ...this.status, ts: Date.now(), counters: o.counters.snapshot() }
    if (this.client?.connected) {
      this.client.publish(
        o.topics.status(o.host, o.service),
        JSON.stringify(ServiceStatusSchema.parse(this.status)),
        { qos: 1, retain: true },
      )
    }
  }

  get bufferedCount(): number {
    return this.buffer.length
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
    if (c.connected) {
      await new Promise<void>((r) =>
        c.publish(
          this.o.topics.availability(this.o.host, this.o.service),
          'offline',
          { qos: 1, retain: true },
          () => r(),
        ),
      )
    }
    await new Promise<void>((r) => c.end(false, {}, () => r()))
  }
}

export function describeMqttError(err: Error & { code?: number | string }): string {
  switch (err.code) {
    case 4:
    case 134:
      return 'bad user name or password (check HOMELAB_MQTT_USERNAME and HOMELAB_MQTT_PASSWORD)'
    case 5:
    case 135:
      return 'not authorized by the broker'
    case 'ECONNREFUSED':
      return 'connection refused (is the broker running?); retrying with backoff'
    default:
      return err.message
  }
}
