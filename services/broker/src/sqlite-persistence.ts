import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { Readable } from 'node:stream'
import { deserialize, serialize } from 'node:v8'
import Database from 'better-sqlite3'
import { QlobberTrue } from 'qlobber'
import QlobberSub from 'qlobber/aedes/qlobber-sub.js'

/**
 * The broker's store (retained messages, persistent sessions and their queued QoS 1 messages, wills) in one SQLite
 * file, behind aedes' persistence interface. What it promises aedes: a write's promise resolves once it is committed
 * (so a PUBACK that waits for it — see ack-after-store.ts — acknowledges only what survives a kill), and all writes
 * of one turn of the event loop commit together (group commit: a persistent session that receives many messages
 * costs one transaction per batch, not several round trips per message). A commit that fails (a full disk) rolls
 * back, fails every write of that batch — aedes drops the connections concerned and their clients send again — and
 * the next batch tries again: nothing stays broken once there is space.
 *
 * Reads see the writes of the open transaction (one connection). The subscriptions and the index of queued
 * messages are kept in memory too (the subscription trie is what aedes matches every publish against); payloads of
 * queued messages stay on disk until they are delivered.
 */

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, packet BLOB NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS subscriptions (
    client TEXT NOT NULL, topic TEXT NOT NULL, sub BLOB NOT NULL, PRIMARY KEY (client, topic)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS outgoing (
    seq INTEGER PRIMARY KEY, client TEXT NOT NULL, broker_id TEXT NOT NULL, broker_counter INTEGER NOT NULL,
    message_id INTEGER, packet BLOB NOT NULL
  );
  CREATE TABLE IF NOT EXISTS incoming (
    client TEXT NOT NULL, message_id INTEGER NOT NULL, packet BLOB NOT NULL, PRIMARY KEY (client, message_id)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS wills (client TEXT PRIMARY KEY, packet BLOB NOT NULL) WITHOUT ROWID;
`

const QLOBBER = { wildcard_one: '+', wildcard_some: '#', separator: '/', match_empty_levels: true }

export interface StoredPacket {
  cmd: string
  topic: string
  payload: Buffer
  qos: number
  retain: boolean
  dup?: boolean
  brokerId?: string
  brokerCounter?: number
  messageId?: number
  properties?: Record<string, unknown>
  messageExpiry?: number
  clientId?: string
  nl?: unknown
  [k: string]: unknown
}

export interface Subscription {
  topic: string
  qos: number
  rh?: number
  rap?: boolean
  nl?: boolean
  subscriptionIdentifier?: number
}

interface ClientRef {
  id: string
}

/** A queued message of one client, without its payload. */
interface Queued {
  seq: number
  brokerId: string
  brokerCounter: number
  messageId: number | null
}

interface ClientQueue {
  bySeq: Map<number, Queued>
  byCounter: Map<string, Queued>
  byMessageId: Map<number, Queued>
}

const counterKey = (brokerId: string, counter: number) => `${brokerId}\u0000${counter}`

function encode(p: object): Buffer {
  return serialize(p)
}

function decode<T>(b: Buffer): T {
  return deserialize(b) as T
}

/** The packet's own data (a delivery packet also carries callbacks: those are not data). */
function packetFields(p: StoredPacket): StoredPacket {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(p)) if (typeof v !== 'function' && v !== undefined) out[k] = v
  return out as StoredPacket
}

/** A queued packet as aedes' own Packet wraps it (the fields aedes-packet copies, and no others). */
function asPacket(o: StoredPacket): StoredPacket {
  const p: StoredPacket = {
    cmd: o.cmd || 'publish',
    topic: o.topic,
    payload: o.payload || Buffer.alloc(0),
    qos: o.qos || 0,
    retain: o.retain || false,
    dup: o.dup || false,
  }
  if (o.clientId !== undefined) p.clientId = o.clientId
  if (o.nl !== undefined) p.nl = o.nl
  if (o.properties !== undefined) p.properties = o.properties
  if (o.messageExpiry !== undefined) p.messageExpiry = o.messageExpiry
  if (o.brokerId !== undefined) p.brokerId = o.brokerId
  if (o.brokerCounter !== undefined) p.brokerCounter = o.brokerCounter
  // [MQTT-2.3.1-5]: a packet identifier only where one is used; assigned when the packet is sent.
  if (p.qos > 0 || p.cmd !== 'publish') p.messageId = undefined
  return p
}

export class SqlitePersistence {
  private readonly db: Database.Database
  private readonly st
  private trie = new QlobberSub(QLOBBER)
  private subs = new Map<string, Map<string, Subscription>>()
  private queues = new Map<string, ClientQueue>()
  private retainedTopics = new Set<string>()
  private wills = new Map<string, StoredPacket>()
  private incoming = new Map<string, Set<number>>()
  private broker: { id: string } | null = null
  private inTx = false
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = []
  private failed: Error | null = null
  private commitScheduled = false
  private destroyed = false
  /** Called with the error of each batch that failed (its writes were rolled back). */
  onError: ((e: Error) => void) | null = null

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true })
    this.db = new Database(path, { timeout: 1000 })
    // One broker per store: the first write takes an exclusive lock that is held until close, so a second broker on
    // the same data folder fails at once (SQLITE_BUSY) instead of both writing. No shared-memory file either.
    this.db.pragma('locking_mode = EXCLUSIVE')
    this.db.pragma('journal_mode = WAL')
    // A committed write survives a kill of the process (the WAL is written before the commit returns); only a power
    // cut may lose the last second, as with the LevelDB store this replaces.
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma(`journal_size_limit = ${4 * 1024 * 1024}`)
    this.db.exec(SCHEMA)
    this.db.exec('BEGIN IMMEDIATE; COMMIT')
    const db = this.db
    this.st = {
      putRetained: db.prepare<[string, Buffer]>(
        'INSERT INTO retained (topic, packet) VALUES (?, ?) ON CONFLICT (topic) DO UPDATE SET packet = excluded.packet',
      ),
      delRetained: db.prepare<[string]>('DELETE FROM retained WHERE topic = ?'),
      getRetained: db.prepare<[string], { packet: Buffer }>('SELECT packet FROM retained WHERE topic = ?'),
      putSub: db.prepare<[string, string, Buffer]>(
        'INSERT INTO subscriptions (client, topic, sub) VALUES (?, ?, ?) ON CONFLICT (client, topic) DO UPDATE SET sub = excluded.sub',
      ),
      delSub: db.prepare<[string, string]>('DELETE FROM subscriptions WHERE client = ? AND topic = ?'),
      delSubs: db.prepare<[string]>('DELETE FROM subscriptions WHERE client = ?'),
      enqueue: db.prepare<[string, string, number, number | null, Buffer]>(
        'INSERT INTO outgoing (client, broker_id, broker_counter, message_id, packet) VALUES (?, ?, ?, ?, ?)',
      ),
      setMessageId: db.prepare<[number | null, number]>('UPDATE outgoing SET message_id = ? WHERE seq = ?'),
      replaceQueued: db.prepare<[string, number, number | null, Buffer, number]>(
        'UPDATE outgoing SET broker_id = ?, broker_counter = ?, message_id = ?, packet = ? WHERE seq = ?',
      ),
      getQueued: db.prepare<[number], { packet: Buffer; message_id: number | null }>(
        'SELECT packet, message_id FROM outgoing WHERE seq = ?',
      ),
      dequeue: db.prepare<[number]>('DELETE FROM outgoing WHERE seq = ?'),
      putIncoming: db.prepare<[string, number, Buffer]>(
        'INSERT INTO incoming (client, message_id, packet) VALUES (?, ?, ?) ON CONFLICT (client, message_id) DO UPDATE SET packet = excluded.packet',
      ),
      getIncoming: db.prepare<[string, number], { packet: Buffer }>(
        'SELECT packet FROM incoming WHERE client = ? AND message_id = ?',
      ),
      delIncoming: db.prepare<[string, number]>('DELETE FROM incoming WHERE client = ? AND message_id = ?'),
      putWill: db.prepare<[string, Buffer]>(
        'INSERT INTO wills (client, packet) VALUES (?, ?) ON CONFLICT (client) DO UPDATE SET packet = excluded.packet',
      ),
      delWill: db.prepare<[string]>('DELETE FROM wills WHERE client = ?'),
      begin: db.prepare('BEGIN'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
    }
    this.load()
  }

  /** Reads the in-memory indexes from the file (at start, and after a batch was rolled back). */
  private load(): void {
    this.trie = new QlobberSub(QLOBBER)
    this.subs = new Map()
    this.queues = new Map()
    this.retainedTopics = new Set()
    this.wills = new Map()
    this.incoming = new Map()
    for (const r of this.db
      .prepare<[], { client: string; topic: string; sub: Buffer }>(
        'SELECT client, topic, sub FROM subscriptions',
      )
      .iterate())
      this.indexSub(r.client, decode<Subscription>(r.sub))
    for (const r of this.db
      .prepare<
        [],
        { seq: number; client: string; broker_id: string; broker_counter: number; message_id: number | null }
      >('SELECT seq, client, broker_id, broker_counter, message_id FROM outgoing ORDER BY seq')
      .iterate())
      this.indexQueued(r.client, {
        seq: r.seq,
        brokerId: r.broker_id,
        brokerCounter: r.broker_counter,
        messageId: r.message_id,
      })
    for (const r of this.db.prepare<[], { topic: string }>('SELECT topic FROM retained').iterate())
      this.retainedTopics.add(r.topic)
    for (const r of this.db
      .prepare<[], { client: string; packet: Buffer }>('SELECT client, packet FROM wills')
      .iterate())
      this.wills.set(r.client, decode<StoredPacket>(r.packet))
    for (const r of this.db
      .prepare<[], { client: string; message_id: number }>('SELECT client, message_id FROM incoming')
      .iterate()) {
      const s = this.incoming.get(r.client) ?? new Set<number>()
      s.add(r.message_id)
      this.incoming.set(r.client, s)
    }
  }

  private indexSub(client: string, sub: Subscription): void {
    let m = this.subs.get(client)
    if (!m) {
      m = new Map()
      this.subs.set(client, m)
    }
    const before = m.get(sub.topic)
    if (sub.qos > 0)
      this.trie.add(sub.topic, {
        clientId: client,
        topic: sub.topic,
        qos: sub.qos,
        rh: sub.rh,
        rap: sub.rap,
        nl: sub.nl,
      })
    else if (before && before.qos > 0) this.trie.remove(sub.topic, { clientId: client, topic: sub.topic })
    m.set(sub.topic, sub)
  }

  private queueOf(client: string): ClientQueue {
    let q = this.queues.get(client)
    if (!q) {
      q = { bySeq: new Map(), byCounter: new Map(), byMessageId: new Map() }
      this.queues.set(client, q)
    }
    return q
  }

  private indexQueued(client: string, e: Queued): void {
    const q = this.queueOf(client)
    q.bySeq.set(e.seq, e)
    q.byCounter.set(counterKey(e.brokerId, e.brokerCounter), e)
    if (e.messageId !== null) q.byMessageId.set(e.messageId, e)
  }

  private unindexQueued(client: string, e: Queued): void {
    const q = this.queues.get(client)
    if (!q) return
    q.bySeq.delete(e.seq)
    q.byCounter.delete(counterKey(e.brokerId, e.brokerCounter))
    if (e.messageId !== null && q.byMessageId.get(e.messageId) === e) q.byMessageId.delete(e.messageId)
    if (q.bySeq.size === 0) this.queues.delete(client)
  }

  /**
   * Runs `write` inside the open transaction (begun if none is) and resolves once that transaction commits. A write
   * that throws fails the whole batch (it is rolled back).
   */
  private write(work: () => void): Promise<void> {
    if (this.destroyed) return Promise.reject(new Error('the broker store is closed'))
    if (this.failed) return Promise.reject(this.failed)
    try {
      if (!this.inTx) {
        this.st.begin.run()
        this.inTx = true
      }
      work()
    } catch (e) {
      this.abort(e as Error)
      return Promise.reject(e as Error)
    }
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }))
    if (!this.commitScheduled) {
      this.commitScheduled = true
      setImmediate(() => this.commit())
    }
    return p
  }

  private commit(): void {
    this.commitScheduled = false
    const waiters = this.waiters
    this.waiters = []
    if (this.failed) {
      const e = this.failed
      this.failed = null
      for (const w of waiters) w.reject(e)
      return
    }
    if (!this.inTx) {
      for (const w of waiters) w.resolve()
      return
    }
    try {
      this.st.commit.run()
      this.inTx = false
    } catch (e) {
      this.abort(e as Error)
      this.failed = null
      for (const w of waiters) w.reject(e as Error)
      return
    }
    for (const w of waiters) w.resolve()
  }

  /** Rolls the open batch back; its writes fail, and the in-memory indexes are read again to match the file. */
  private abort(e: Error): void {
    try {
      if (this.db.inTransaction) this.st.rollback.run()
    } catch {
      // SQLite may have rolled back already (a full disk)
    }
    this.inTx = false
    this.failed = e
    this.onError?.(e)
    try {
      this.load()
    } catch {
      // unreadable now: the next successful batch finds the file as it is
    }
    if (!this.commitScheduled) {
      this.commitScheduled = true
      setImmediate(() => this.commit())
    }
  }

  /** Resolves once every write made so far has committed (or failed). */
  async flush(): Promise<void> {
    if (!this.inTx && this.waiters.length === 0) return
    await new Promise<void>((resolve) => this.waiters.push({ resolve, reject: () => resolve() }))
  }

  async setup(broker: { id: string }): Promise<void> {
    this.broker = broker
  }

  storeRetained(packet: StoredPacket): Promise<void> {
    return this.write(() => {
      if (packet.payload.length === 0) {
        this.st.delRetained.run(packet.topic)
        this.retainedTopics.delete(packet.topic)
      } else {
        this.st.putRetained.run(packet.topic, encode(packetFields(packet)))
        this.retainedTopics.add(packet.topic)
      }
    })
  }

  private *retainedMatching(patterns: readonly string[]): Generator<StoredPacket> {
    const q = new QlobberTrue(QLOBBER)
    for (const p of patterns) q.add(p)
    for (const topic of [...this.retainedTopics]) {
      if (!q.test(topic)) continue
      const r = this.st.getRetained.get(topic)
      if (r) yield decode<StoredPacket>(r.packet)
    }
  }

  createRetainedStreamCombi(patterns: string[]): Readable {
    return Readable.from(this.retainedMatching(patterns))
  }

  createRetainedStream(pattern: string): Readable {
    return Readable.from(this.retainedMatching([pattern]))
  }

  addSubscriptions(client: ClientRef, subs: Subscription[]): Promise<void> {
    return this.write(() => {
      for (const s of subs) {
        const sub: Subscription = { topic: s.topic, qos: s.qos, rh: s.rh, rap: s.rap, nl: s.nl }
        if (s.subscriptionIdentifier !== undefined) sub.subscriptionIdentifier = s.subscriptionIdentifier
        this.st.putSub.run(client.id, sub.topic, encode(sub))
        this.indexSub(client.id, sub)
      }
    })
  }

  removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> {
    return this.write(() => {
      const m = this.subs.get(client.id)
      for (const topic of topics) {
        this.st.delSub.run(client.id, topic)
        const s = m?.get(topic)
        if (!s || !m) continue
        if (s.qos > 0) this.trie.remove(topic, { clientId: client.id, topic })
        m.delete(topic)
      }
      if (m?.size === 0) this.subs.delete(client.id)
    })
  }

  async subscriptionsByClient(client: ClientRef): Promise<Subscription[]> {
    return [...(this.subs.get(client.id)?.values() ?? [])].map((s) => ({ ...s }))
  }

  async countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return { subsCount: this.trie.subscriptionsCount, clientsCount: this.subs.size }
  }

  async subscriptionsByTopic(topic: string): Promise<unknown[]> {
    return this.trie.match(topic)
  }

  cleanSubscriptions(client: ClientRef): Promise<void> {
    const m = this.subs.get(client.id)
    if (!m) return Promise.resolve()
    return this.write(() => {
      this.st.delSubs.run(client.id)
      for (const [topic, s] of m) if (s.qos > 0) this.trie.remove(topic, { clientId: client.id, topic })
      this.subs.delete(client.id)
    })
  }

  private enqueueOne(clientId: string, packet: StoredPacket): void {
    const p = asPacket(packet)
    const brokerId = p.brokerId ?? this.broker?.id ?? ''
    const brokerCounter = p.brokerCounter ?? 0
    const seq = Number(
      this.st.enqueue.run(clientId, brokerId, brokerCounter, null, encode(p)).lastInsertRowid,
    )
    this.indexQueued(clientId, { seq, brokerId, brokerCounter, messageId: null })
  }

  outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void> {
    return this.write(() => this.enqueueOne(sub.clientId, packet))
  }

  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void> {
    if (!subs || subs.length === 0) return Promise.resolve()
    return this.write(() => {
      for (const s of subs) this.enqueueOne(s.clientId, packet)
    })
  }

  /**
   * A queued message is being sent with a message id (the same broker id and counter), or — for QoS 2's PUBREL —
   * the queued message of that id is replaced.
   */
  outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void> {
    const q = this.queues.get(client.id)
    const messageId = packet.messageId ?? null
    const same =
      packet.brokerId !== undefined && packet.brokerCounter !== undefined
        ? q?.byCounter.get(counterKey(packet.brokerId, packet.brokerCounter))
        : undefined
    if (same) {
      return this.write(() => {
        if (same.messageId !== null && q!.byMessageId.get(same.messageId) === same)
          q!.byMessageId.delete(same.messageId)
        same.messageId = messageId
        if (messageId !== null) q!.byMessageId.set(messageId, same)
        this.st.setMessageId.run(messageId, same.seq)
      })
    }
    const byId = messageId !== null ? q?.byMessageId.get(messageId) : undefined
    if (byId && q) {
      return this.write(() => {
        q.byCounter.delete(counterKey(byId.brokerId, byId.brokerCounter))
        byId.brokerId = packet.brokerId ?? byId.brokerId
        byId.brokerCounter = packet.brokerCounter ?? byId.brokerCounter
        q.byCounter.set(counterKey(byId.brokerId, byId.brokerCounter), byId)
        this.st.replaceQueued.run(
          byId.brokerId,
          byId.brokerCounter,
          messageId,
          encode(packetFields(packet)),
          byId.seq,
        )
      })
    }
    return Promise.reject(new Error('no such packet'))
  }

  outgoingClearMessageId(
    client: ClientRef,
    packet: { messageId?: number },
  ): Promise<StoredPacket | undefined> {
    const q = this.queues.get(client.id)
    const e = packet.messageId !== undefined ? q?.byMessageId.get(packet.messageId) : undefined
    if (!e) return Promise.resolve(undefined)
    let found: StoredPacket | undefined
    return this.write(() => {
      const r = this.st.getQueued.get(e.seq)
      if (r) {
        found = decode<StoredPacket>(r.packet)
        if (r.message_id !== null) found.messageId = r.message_id
      }
      this.st.dequeue.run(e.seq)
      this.unindexQueued(client.id, e)
    }).then(() => found)
  }

  private *queued(clientId: string): Generator<StoredPacket> {
    const q = this.queues.get(clientId)
    if (!q) return
    for (const e of [...q.bySeq.values()]) {
      if (!q.bySeq.has(e.seq)) continue
      const r = this.st.getQueued.get(e.seq)
      if (!r) continue
      const p = decode<StoredPacket>(r.packet)
      if (e.messageId !== null) p.messageId = e.messageId
      yield p
    }
  }

  outgoingStream(client: ClientRef): Readable {
    return Readable.from(this.queued(client.id))
  }

  incomingStorePacket(client: ClientRef, packet: StoredPacket): Promise<void> {
    return this.write(() => {
      const p = asPacket(packet)
      this.st.putIncoming.run(client.id, packet.messageId ?? 0, encode(p))
      const s = this.incoming.get(client.id) ?? new Set<number>()
      s.add(packet.messageId ?? 0)
      this.incoming.set(client.id, s)
    })
  }

  async incomingGetPacket(client: ClientRef, packet: { messageId?: number }): Promise<StoredPacket> {
    const r = this.st.getIncoming.get(client.id, packet.messageId ?? 0)
    if (!r) throw new Error('no such packet')
    const p = decode<StoredPacket>(r.packet)
    p.messageId = packet.messageId
    return p
  }

  /** Never rejects for a store error: aedes calls it with `.finally()` only, so a rejection would end the process. */
  incomingDelPacket(client: ClientRef, packet: { messageId?: number }): Promise<void> {
    const id = packet.messageId ?? 0
    if (!this.incoming.get(client.id)?.has(id)) return Promise.reject(new Error('no such packet'))
    return this.write(() => {
      this.st.delIncoming.run(client.id, id)
      this.incoming.get(client.id)?.delete(id)
    }).catch(() => undefined)
  }

  putWill(client: ClientRef, packet: StoredPacket): Promise<void> {
    const will = { ...packetFields(packet), brokerId: this.broker?.id ?? '', clientId: client.id }
    packet.brokerId = will.brokerId
    packet.clientId = client.id
    return this.write(() => {
      this.st.putWill.run(client.id, encode(will))
      this.wills.set(client.id, will)
    })
  }

  async getWill(client: ClientRef): Promise<StoredPacket | undefined> {
    return this.wills.get(client.id)
  }

  /**
   * Never rejects: aedes calls it with `.finally()` at every connect and awaits it in a timer, so a rejection (a full
   * disk) would end the process. A will that could not be deleted stays, and is deleted at the next chance.
   */
  async delWill(client: ClientRef): Promise<StoredPacket | undefined> {
    const will = this.wills.get(client.id)
    if (!will) return undefined
    try {
      await this.write(() => {
        this.st.delWill.run(client.id)
        this.wills.delete(client.id)
      })
    } catch {
      return undefined
    }
    return will
  }

  streamWill(brokers: Record<string, unknown> = {}): Readable {
    return Readable.from([...this.wills.values()].filter((w) => !brokers[w.brokerId ?? '']))
  }

  getClientList(topic: string): Readable {
    return Readable.from([...this.subs].filter(([, m]) => m.has(topic)).map(([client]) => client))
  }

  /** Is a message queued for this client under this message id (sent, not yet acknowledged)? */
  hasInFlight(clientId: string, messageId: number): boolean {
    return this.queues.get(clientId)?.byMessageId.has(messageId) ?? false
  }

  /** Messages queued for a client (for tests and the status). */
  queuedCount(clientId?: string): number {
    if (clientId !== undefined) return this.queues.get(clientId)?.bySeq.size ?? 0
    let n = 0
    for (const q of this.queues.values()) n += q.bySeq.size
    return n
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return
    await this.flush()
    this.destroyed = true
    if (this.db.inTransaction) this.st.commit.run()
    this.db.close()
  }
}
