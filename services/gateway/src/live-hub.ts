import { randomUUID } from 'node:crypto'
import {
  Availability,
  type CommandRequest,
  CommandResult,
  classify,
  Event,
  type LiveMessage,
  type ServiceName,
  type Topics,
} from '@homelab/contracts'
import type { Counters, IPublishPacket, Logger, MqttConnection } from '@homelab/service-kit'
import type { z } from 'zod'

type Listener = (m: LiveMessage) => void

/**
 * The gateway's view of the live MQTT stream: validates each message against its contract, keeps the latest one
 * per topic, fans messages out to server-sent-event clients, and relays commands (MQTT 5 request/response).
 */
export class LiveHub {
  private readonly latest = new Map<string, LiveMessage>()
  private readonly listeners = new Set<Listener>()
  private readonly pending = new Map<string, (r: CommandResult) => void>()
  readonly replyClient: string

  constructor(
    private readonly conn: MqttConnection,
    private readonly topics: Topics,
    private readonly log: Logger,
    private readonly counters: Counters,
  ) {
    this.replyClient = `gw-${randomUUID().slice(0, 8)}`
    conn.subscribe(topics.all(), 0)
    conn.onMessage((topic, payload, packet) => this.onMessage(topic, payload, packet))
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const t = this.topics.parse(topic)
    if (!t) return
    if (t.channel === 'reply') {
      if (t.client !== this.replyClient) return
      const id = packet.properties?.correlationData?.toString('utf8')
      const resolve = id ? this.pending.get(id) : undefined
      if (!resolve) return
      const r = parseJson(payload, CommandResult)
      if (r) resolve(r)
      else this.counters.inc('live.invalid')
      return
    }
    const c = classify(t)
    if (payload.length === 0 && (c.kind === 'reading' || c.kind === 'status')) {
      // A cleared retained document (a container that is gone): forget it and tell listeners with a null payload.
      if (this.latest.delete(topic))
        this.emit({ topic, host: t.host, service: t.service, channel: t.channel, payload: null })
      return
    }
    let value: unknown
    if (c.kind === 'availability') {
      if (payload.length === 0) return
      const a = Availability.safeParse(payload.toString('utf8'))
      if (!a.success) return void this.counters.inc('live.invalid')
      value = a.data
    } else if (c.kind === 'reading' || c.kind === 'status' || c.kind === 'event') {
      const schema: z.ZodType =
        c.kind === 'reading' ? c.readingKind.schema : c.kind === 'status' ? c.schema : Event
      value = parseJson(payload, schema)
      if (value === null) {
        this.counters.inc('live.invalid')
        this.log.once(`live-invalid:${topic}`, `ignoring an invalid payload on ${topic}`)
        return
      }
    } else {
      return
    }
    const m: LiveMessage = { topic, host: t.host, service: t.service, channel: t.channel, payload: value }
    if (c.kind !== 'event') this.latest.set(topic, m)
    this.emit(m)
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
      this.pending.set(id, (r) => {
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
