import { randomUUID } from 'node:crypto'
import {
  type CommandRequest,
  CommandResult,
  type LiveMessage,
  liveReading,
  type ServiceName,
  type Topics,
} from '@homelab/contracts'
import {
  type Counters,
  decode,
  type IPublishPacket,
  type Logger,
  type MqttConnection,
} from '@homelab/service-kit'
import type { z } from 'zod'

type Listener = (m: LiveMessage) => void

/** As the recorder: larger documents are refused unread. */
const MAX_PAYLOAD_BYTES = 256 * 1024

/**
 * The gateway's view of the live MQTT stream: validates each message against its contract, keeps the latest one
 * per topic, fans messages out to server-sent-event clients, and relays commands (MQTT 5 request/response).
 */
export class LiveHub {
  private readonly latest = new Map<string, LiveMessage>()
  private readonly listeners = new Set<Listener>()
  /** Who waits for replies, by correlation id: a command's result, or a log request's chunks. */
  private readonly pending = new Map<string, (payload: Buffer) => void>()
  readonly replyClient: string

  constructor(
    private readonly conn: MqttConnection,
    private readonly topics: Topics,
    private readonly log: Logger,
    private readonly counters: Counters,
  ) {
    this.replyClient = `gw-${randomUUID().slice(0, 8)}`
  }

  private readonly undo: Array<() => void> = []

  /** Follows the whole tree (before the connection starts); `stop` undoes it. */
  start(): void {
    this.undo.push(
      this.conn.subscribe(this.topics.all(), 0),
      this.conn.onMessage((topic, payload, packet) => this.onMessage(topic, payload, packet)),
    )
  }

  stop(): void {
    for (const u of this.undo.splice(0)) u()
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const r = decode({ topics: this.topics, maxPayloadBytes: MAX_PAYLOAD_BYTES }, topic, payload)
    if (!r.ok) {
      // The same check as the recorder's: what it quarantines, the dashboard never shows.
      if (r.topic) {
        this.counters.inc('live.invalid')
        this.log.once(`live-invalid:${r.reason.slice(0, 120)}`, `ignoring a message on ${topic}: ${r.reason}`)
      }
      return
    }
    const m = r.message
    const { host, service } = m.topic
    const from = { topic, host, service }
    switch (m.kind) {
      case 'command':
        if (m.topic.channel === 'reply') this.onReply(m.topic.client, payload, packet)
        return
      case 'notification':
        return
      case 'cleared':
        // A cleared retained document (a container that is gone): forget it and tell listeners with a null payload.
        if (!this.latest.delete(topic)) return
        if (m.readingKind !== undefined) this.emit(liveReading(from, m.readingKind, m.topic.entity, null))
        else this.emit({ ...from, channel: 'status', payload: null })
        return
      case 'availability':
        this.keep({ ...from, channel: 'availability', payload: m.value })
        return
      case 'status':
        this.keep({ ...from, channel: 'status', payload: m.doc })
        return
      case 'reading':
        this.keep(liveReading(from, m.reading.kind, m.topic.entity, m.reading.doc))
        return
      case 'event':
        this.emit({ ...from, channel: 'event', type: m.topic.type, payload: m.doc })
        return
    }
  }

  private keep(m: LiveMessage): void {
    this.latest.set(m.topic, m)
    this.emit(m)
  }

  private onReply(client: string, payload: Buffer, packet: IPublishPacket): void {
    if (client !== this.replyClient) return
    const id = packet.properties?.correlationData?.toString('utf8')
    const handle = id ? this.pending.get(id) : undefined
    handle?.(payload)
  }

  /**
   * Sends a request with a reply topic of this gateway's and the correlation id `id`; every reply carrying that id
   * goes to `onReply` until the returned function is called. `expirySec` bounds how long the broker may hold it.
   */
  request(
    topic: string,
    body: unknown,
    id: string,
    expirySec: number,
    onReply: (payload: Buffer) => void,
  ): () => void {
    const t = this.topics.parse(topic)
    if (!t) throw new Error(`not a topic of the tree: ${topic}`)
    this.pending.set(id, onReply)
    this.send(topic, body, id, expirySec)
    return () => {
      if (this.pending.get(id) === onReply) this.pending.delete(id)
    }
  }

  /** Sends another message under an existing correlation id (a log follow's renew or stop). */
  send(topic: string, body: unknown, id: string, expirySec: number): void {
    const t = this.topics.parse(topic)
    if (!t) throw new Error(`not a topic of the tree: ${topic}`)
    this.conn.publish(topic, JSON.stringify(body), {
      qos: 1,
      properties: {
        responseTopic: this.topics.reply(t.host, t.service, this.replyClient),
        correlationData: Buffer.from(id),
        messageExpiryInterval: Math.max(1, Math.ceil(expirySec)),
        contentType: 'application/json',
      },
    })
  }

  private emit(m: LiveMessage): void {
    for (const l of this.listeners) {
      try {
        l(m)
      } catch (e) {
        this.counters.inc('live.listener_errors')
        this.log.once(`listener:${(e as Error).message}`, 'live listener failed:', e)
      }
    }
  }

  /** Latest validated message on a topic (readings, status, availability). */
  latestOn(topic: string): LiveMessage | undefined {
    return this.latest.get(topic)
  }

  snapshot(filter: (m: LiveMessage) => boolean = () => true): LiveMessage[] {
    return [...this.latest.values()].filter(filter)
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }

  get listenerCount(): number {
    return this.listeners.size
  }

  /**
   * Sends a command to the service that executes it and waits for its reply. The request expires in the broker
   * after the timeout, so it can never run late after a broker restart. Resolves null on timeout.
   */
  async command(
    host: string,
    service: ServiceName,
    req: CommandRequest,
    timeoutMs: number,
  ): Promise<CommandResult | null> {
    const id = randomUUID()
    const reply = new Promise<CommandResult | null>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        resolve(null)
      }, timeoutMs)
      this.pending.set(id, (payload) => {
        const r = parseJson(payload, CommandResult)
        if (!r) {
          this.counters.inc('live.invalid')
          return
        }
        clearTimeout(timer)
        this.pending.delete(id)
        resolve(r)
      })
    })
    this.conn.publish(this.topics.cmd(host, service), JSON.stringify(req), {
      qos: 1,
      properties: {
        responseTopic: this.topics.reply(host, service, this.replyClient),
        correlationData: Buffer.from(id),
        messageExpiryInterval: Math.max(1, Math.ceil(timeoutMs / 1000)),
        contentType: 'application/json',
      },
    })
    return reply
  }
}

function parseJson<S extends z.ZodType>(payload: Buffer, schema: S): z.infer<S> | null {
  try {
    const r = schema.safeParse(JSON.parse(payload.toString('utf8')))
    return r.success ? r.data : null
  } catch {
    return null
  }
}
