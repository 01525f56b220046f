import packetModule, { type IPubackPacket, type Packet } from 'mqtt-packet'

type WriteToStream = (packet: Packet, stream: NodeJS.WritableStream, opts?: object) => boolean

interface Held {
  messageId: number
  stored: boolean
  ack: { packet: IPubackPacket; opts: object | undefined } | null
}

/**
 * aedes 2.0.0-beta.1 answers a QoS 1 PUBLISH with its PUBACK first and stores the message (retained store, the
 * queues of persistent sessions) after that: a broker that dies or stops in between has acknowledged a message it
 * never kept, and the publisher does not send it again. This holds each such PUBACK until aedes reports the
 * message published (its `published` hook runs after the stores and the delivery), so a publisher resends whatever
 * the broker had not kept. A message whose storing fails is never acknowledged: aedes drops that connection and the
 * client resends it when it is back. PUBACKs leave in the order their PUBLISHes came (MQTT-4.6.0-2).
 *
 * aedes writes packets with mqtt-packet's `writeToStream`, looked up on the module object at each call; this
 * wraps it (for the connections registered here, and only their PUBACKs). aedes is pinned to an exact version.
 */
/** Connection → the broker instance that owns it (several brokers in one process in tests). */
const owners = new WeakMap<NodeJS.WritableStream, AckAfterStore>()
let originalWrite: WriteToStream | null = null

/** Wraps mqtt-packet's writeToStream once per process, routing the writes of tracked connections to their owner. */
function install(): WriteToStream {
  if (originalWrite) return originalWrite
  // The module object aedes requires (one copy: mqtt-packet is pinned beside aedes and mqtt, and a test checks
  // that aedes resolves this very file) — also inside a bundle, where a require() of our own would load another.
  const mqttPacket: { writeToStream: WriteToStream } = packetModule
  const original = mqttPacket.writeToStream
  originalWrite = original
  // mqtt-packet otherwise fills a cache of 65,536 two-byte Buffers at the first write (6 MB of heap in every
  // process) to save one 2-byte allocation per packet id.
  packetModule.writeToStream.cacheNumbers = false
  mqttPacket.writeToStream = (packet, stream, opts) => {
    if (packet.cmd === 'puback') {
      const owner = owners.get(stream)
      if (owner?.holdAck(packet, stream, opts)) return true
    }
    return original(packet, stream, opts)
  }
  return original
}

export class AckAfterStore {
  private readonly conns = new WeakMap<NodeJS.WritableStream, Held[]>()
  private readonly write: WriteToStream = install()
  private inflight = 0
  private readonly idle = new Set<() => void>()

  /** Called for each PUBACK aedes writes on a tracked connection; true when it is held. */
  holdAck(packet: IPubackPacket, stream: NodeJS.WritableStream, opts: object | undefined): boolean {
    const held = this.conns.get(stream)
    if (!held || packet.messageId === undefined) return false
    const h = held.find((x) => x.messageId === packet.messageId && x.ack === null)
    if (!h) return false
    h.ack = { packet, opts }
    this.release(stream, held)
    return true
  }

  /** A new client connection: its PUBACKs may be held. */
  track(conn: NodeJS.WritableStream): void {
    this.conns.set(conn, [])
    owners.set(conn, this)
  }

  /** Forgets a closed connection (its held PUBACKs are never sent; the client resends those messages). */
  untrack(conn: NodeJS.WritableStream): void {
    const held = this.conns.get(conn)
    if (!held) return
    this.inflight -= held.filter((h) => !h.stored).length
    this.conns.delete(conn)
    owners.delete(conn)
    this.checkIdle()
  }

  /** An authorized QoS 1 PUBLISH arrived on `conn`: its PUBACK waits for `stored`. */
  expect(conn: NodeJS.WritableStream, messageId: number): void {
    const held = this.conns.get(conn)
    if (!held) return
    held.push({ messageId, stored: false, ack: null })
    this.inflight++
  }

  /** The message with this id from `conn` is stored and delivered: its PUBACK may go. */
  stored(conn: NodeJS.WritableStream, messageId: number): void {
    const held = this.conns.get(conn)
    const h = held?.find((x) => x.messageId === messageId && !x.stored)
    if (!h || !held) return
    h.stored = true
    this.inflight--
    this.release(conn, held)
    this.checkIdle()
  }

  private release(conn: NodeJS.WritableStream, held: Held[]): void {
    while (held.length > 0 && held[0]!.stored && held[0]!.ack) {
      const h = held.shift()!
      this.write(h.ack!.packet, conn, h.ack!.opts)
    }
  }

  /** QoS 1 messages received and not yet stored. */
  get pending(): number {
    return this.inflight
  }

  /** Resolves when every message received so far is stored (or `timeoutMs` passed). */
  whenStored(timeoutMs: number): Promise<void> {
    if (this.inflight <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t)
        this.idle.delete(done)
        resolve()
      }
      const t = setTimeout(done, timeoutMs)
      this.idle.add(done)
    })
  }

  private checkIdle(): void {
    if (this.inflight <= 0) for (const d of [...this.idle]) d()
  }
}
