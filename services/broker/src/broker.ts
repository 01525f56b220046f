import { createHash, timingSafeEqual } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { mkdirSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { createTopics, Event, ServiceStatus } from '@homelab/contracts'
import { Conditions, type Counters, type Logger, StartError } from '@homelab/service-kit'
import { Aedes, type AuthenticateError, type Client } from 'aedes'
import { AckAfterStore } from './ack-after-store.js'
import {
  type AclRules,
  aclFor,
  canPublish,
  canSubscribe,
  clientIdAllowed,
  collectorUser,
  type Identity,
  identityOf,
  isCollector,
} from './acl.js'
import type { Credentials } from './credentials.js'
import { hasLevelStore, migrateLevelStore } from './migrate-leveldb.js'
import {
  deliverWithoutDedupe,
  dropStaleRetainedReplays,
  queueAsForwarded,
  skipIdsInFlight,
  tolerateUnqueued,
} from './persistence-fixes.js'
import { SqlitePersistence } from './sqlite-persistence.js'

export interface BrokerOptions {
  port: number
  bind: string
  /** Folder for on-disk persistence (retained messages, sessions, queued QoS 1 messages). */
  persistenceDir: string
  credentials: Credentials
  baseTopic: string
  /** This machine's host id: the plain collector users (`sys-collector`, …) are bound to it. */
  host: string
  haPrefix?: string
  maxPacketBytes?: number
  /** Retained topics one user may hold (readings, HA configs): a flood of fake entities is refused past it. */
  maxRetainedPerUser?: number
  /** A connection that sends no CONNECT within this long is closed. */
  connectTimeoutMs?: number
  log: Logger
  counters: Counters
  version?: string
  /**
   * Asked before a login is refused: the users as they are now if they changed since the last call (the users
   * file was written), else null. A machine enrolled a moment ago is let in at once, not after the next poll.
   */
  refreshCredentials?: () => Credentials | null
}

export interface RunningBroker {
  readonly port: number
  readonly counters: Counters
  /** Emits 'denied' ({user, action, topic}) for each refused publish or subscribe. */
  readonly events: EventEmitter
  /** Replaces the users (the users file changed): removed users and changed passwords are disconnected. */
  setCredentials(credentials: Credentials): void
  /** The broker's own state: degraded with the reason while it cannot write its store or a limit is hit. */
  readonly status: { state: 'ok' | 'degraded'; reason: string | null }
  stop(): Promise<void>
}

const digest = (s: string | Buffer) => createHash('sha256').update(s).digest()

function authError(message: string, returnCode: 4 | 5 = 4): AuthenticateError {
  return Object.assign(new Error(message), { returnCode })
}

interface UserEntry {
  hash: Buffer
  acl: AclRules
  id: Identity
}

/**
 * The MQTT 5 broker (aedes 2) with a password per user, an ACL per user, client ids bound to users and on-disk
 * persistence, so retained messages and persistent sessions survive a restart. A QoS 1 message is acknowledged only
 * once it is stored; a stop finishes storing what it received before it closes.
 */
export async function startBroker(o: BrokerOptions): Promise<RunningBroker> {
  // Bind the port first: a port in use is the common mistake, and it must not leave the store half-open.
  // No Nagle: MQTT sends small packets one after another (a PUBACK, then a PUBLISH); with Nagle and delayed ACKs each
  // such pair waits ~40 ms (measured: an alert event 85 ms after its reading instead of a few ms).
  const server: Server = createServer({ noDelay: true })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(o.port, o.bind, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    if (err.code === 'EADDRINUSE') {
      throw new StartError(
        `MQTT port ${o.port} is already in use (often an existing Mosquitto). Either set HOMELAB_MQTT_PORT to a free port for the embedded broker, or set HOMELAB_MQTT_URL=mqtt://<host>:${o.port} with HOMELAB_MQTT_USERNAME and HOMELAB_MQTT_PASSWORD to use that broker instead.`,
      )
    }
    throw e
  }
  mkdirSync(o.persistenceDir, { recursive: true })
  let store: SqlitePersistence
  try {
    store = new SqlitePersistence(join(o.persistenceDir, 'broker.db'))
  } catch (e) {
    await new Promise<void>((r) => server.close(() => r()))
    throw (e as { code?: string }).code === 'SQLITE_BUSY'
      ? new StartError(
          `The broker's store ${o.persistenceDir} is in use by another running instance: stop it, or give this one another HOMELAB_DATA_DIR.`,
        )
      : e
  }
  if (hasLevelStore(o.persistenceDir)) await migrateLevelStore(o.persistenceDir, store, o.log)
  const haPrefix = o.haPrefix ?? 'homeassistant'
  const topics = createTopics(o.baseTopic)
  const conditions = new Conditions()
  const startedAt = Date.now()
  let users = new Map<string, UserEntry>()
  const userOf = new WeakMap<Client, UserEntry>()
  const events = new EventEmitter()
  const deny = (client: Client | null, action: string, topic: string) => {
    const user = client ? (userOf.get(client)?.id.user ?? '?') : '?'
    o.counters.inc(`denied.${action}`)
    o.log.once(`deny:${user}:${action}:${topic}`, `denied ${action} of ${topic} to ${user}`)
    events.emit('denied', { user, action, topic })
  }

  const setCredentials = (credentials: Credentials) => {
    const next = new Map<string, UserEntry>()
    for (const [u, pw] of Object.entries(credentials)) {
      const id = identityOf(u, o.host)
      if (id) next.set(u, { hash: digest(pw), acl: aclFor(id, o.baseTopic, haPrefix), id })
    }
    const before = users
    users = next
    // Whoever lost their user or password is disconnected (a revoked machine).
    const all = (broker as unknown as { clients?: Record<string, Client> } | undefined)?.clients ?? {}
    for (const client of Object.values(all)) {
      const e = userOf.get(client)
      if (!e) continue
      const now = next.get(e.id.user)
      if (!now?.hash.equals(e.hash)) {
        o.log.info(`user ${e.id.user} was removed or its password changed: disconnecting client ${client.id}`)
        o.counters.inc('sessions.revoked')
        client.close()
      } else userOf.set(client, now)
    }
    if (before.size > 0) o.log.info(`users reloaded (${next.size} users)`)
  }

  // A full disk lets some small writes through now and then: the store counts as writable again only after 10 s
  // without a failed write. The check runs only while the store is failing (no timer wakes a healthy broker).
  let storeFailedAt = 0
  let storeCheck: NodeJS.Timeout | null = null
  store.onError = (e) => {
    storeFailedAt = Date.now()
    o.counters.inc('store.errors')
    o.log.once(
      `store:${e.message}`,
      'cannot write the broker store (what it received is not acknowledged):',
      e,
    )
    if (conditions.set('store', `cannot write its store ${store.path}: ${e.message}`)) publishStatus()
    if (storeCheck) return
    storeCheck = setInterval(() => {
      if (Date.now() - storeFailedAt < 10_000) return
      if (storeCheck) clearInterval(storeCheck)
      storeCheck = null
      o.log.info('the broker store takes writes again')
      conditions.set('store', null)
      publishStatus()
    }, 2000)
    storeCheck.unref()
  }
  const persistence = queueAsForwarded(tolerateUnqueued(store, () => o.counters.inc('persistence.unqueued')))
  const acks = new AckAfterStore()

  // Retained topics per user: a user past its limit may update its topics but not add more.
  const maxRetained = o.maxRetainedPerUser ?? 5000
  const retainedBy = new Map<string, string>()
  const retainedCount = new Map<string, number>()
  const limitNoted = new Map<string, number>()
  const noteRetained = (topic: string, user: string | null, present: boolean) => {
    const was = retainedBy.get(topic)
    if (was !== undefined) {
      retainedCount.set(was, (retainedCount.get(was) ?? 1) - 1)
      retainedBy.delete(topic)
    }
    if (present && user) {
      retainedBy.set(topic, user)
      retainedCount.set(user, (retainedCount.get(user) ?? 0) + 1)
    }
  }
  for await (const p of persistence.createRetainedStream('#')) {
    // Owner unknown for what was stored before this version: counted for whoever owns the subtree.
    const t = topics.parse(p.topic)
    const owner = t ? (isCollector(t.service) ? collectorUser(t.service, t.host, o.host) : t.service) : null
    noteRetained(p.topic, owner, true)
  }

  const limitHit = (user: string, topic: string) => {
    o.counters.inc('limits.retained')
    const now = Date.now()
    if ((limitNoted.get(user) ?? 0) > now - 600_000) return
    limitNoted.set(user, now)
    if (limitNoted.size > 1000) limitNoted.clear()
    o.log.warn(
      `user ${user} holds ${maxRetained} retained topics, its limit: refused ${topic} and every new one (HOMELAB_MQTT_MAX_RETAINED_PER_USER)`,
    )
    conditions.set(`limit:${user}`, `user ${user} reached its limit of ${maxRetained} retained topics`)
    publishEvent(
      'broker.limit',
      'warning',
      user,
      `${user} reached its limit of ${maxRetained} retained topics`,
      {
        user,
        limit: maxRetained,
        kind: 'retained',
      },
    )
    publishStatus()
  }

  // A client id that connects while a connection with that id is open takes the session over (the broker closes the
  // older one). Once is a reconnect the broker had not noticed yet; again and again is two instances with one id —
  // e.g. npm start and compose with the same host id — each knocking the other off. Say so.
  const takeovers = new Map<string, number[]>()
  const noteTakeover = (id: string, user: string) => {
    const clients = (broker as unknown as { clients: Record<string, unknown> } | undefined)?.clients
    if (!clients?.[id]) return
    o.counters.inc('sessions.taken_over')
    const now = Date.now()
    const recent = (takeovers.get(id) ?? []).filter((t) => t > now - 60_000)
    recent.push(now)
    takeovers.set(id, recent)
    if (takeovers.size > 1000) takeovers.clear()
    if (recent.length === 3)
      o.log.warn(
        `client id "${id}" (user ${user}) took over its own session 3 times within a minute: two instances with the same client id keep knocking each other off. Give each machine its own HOMELAB_HOST_ID (client ids are <service>-<host id>).`,
      )
  }
  const broker = await Aedes.createBroker({
    persistence,
    // 384 KiB: a reading is a few KiB; bigger packets are refused at the edge (the client is disconnected with
    // 0x95 and the refusal counted) instead of being buffered in memory on a Pi.
    maximumPacketSize: o.maxPacketBytes ?? 384 * 1024,
    sessionExpiryIntervalLimit: 30 * 24 * 3600,
    drainTimeout: 30_000,
    connectTimeout: o.connectTimeoutMs ?? 10_000,
    authenticate(client, username, password, done) {
      const known = () => {
        const e = username ? users.get(username) : undefined
        return e && password && timingSafeEqual(e.hash, digest(password)) ? e : null
      }
      let entry = known()
      if (!entry && o.refreshCredentials) {
        const fresh = o.refreshCredentials()
        if (fresh) {
          setCredentials(fresh)
          entry = known()
        }
      }
      if (!entry) {
        o.counters.inc('auth.refused')
        o.log.once(
          `auth:${username ?? ''}`,
          `refused login of "${username ?? '(none)'}" from client ${client.id}`,
        )
        return done(authError('bad user name or password'), false)
      }
      if (!clientIdAllowed(entry.id, client.id)) {
        o.counters.inc('auth.client_id')
        const expected =
          entry.id.kind === 'collector'
            ? `"${entry.id.service}-${entry.id.host}" (or "${entry.id.service}-${entry.id.host}.<anything>")`
            : entry.id.kind === 'central'
              ? `"${entry.id.service}-<host id>"`
              : 'one that does not start with a service name'
        o.log.once(
          `client-id:${username}:${client.id}`,
          `refused client id "${client.id}" for user ${username}: its client id must be ${expected}`,
        )
        events.emit('denied', { user: username, action: 'client_id', topic: client.id })
        return done(authError('client id not allowed for this user', 5), false)
      }
      userOf.set(client, entry)
      noteTakeover(client.id, username!)
      done(null, true)
    },
    authorizePublish(client, packet, done) {
      // client is null only for a will published after its client is gone; the will was checked at connect.
      if (client === null) return done(null)
      const entry = userOf.get(client)
      if (!entry || !canPublish(entry.acl, packet.topic)) {
        deny(client, 'publish', packet.topic)
        if (entry?.id.kind === 'collector') {
          const t = topics.parse(packet.topic)
          if (t && t.service === entry.id.service && t.host !== entry.id.host)
            o.log.once(
              `other-host:${entry.id.user}:${t.host}`,
              `user ${entry.id.user} is bound to host "${entry.id.host}" and may not publish for "${t.host}": enrol that machine (npm run enrol -- add ${t.host}) and give it its own users file`,
            )
        }
        return done(new Error('not authorized'))
      }
      if (packet.retain && packet.payload.length > 0 && !retainedBy.has(packet.topic)) {
        const user = entry.id.user
        if ((retainedCount.get(user) ?? 0) >= maxRetained) {
          limitHit(user, packet.topic)
          events.emit('denied', { user, action: 'retained_limit', topic: packet.topic })
          return done(new Error('retained topic limit reached'))
        }
      }
      if (packet.qos === 1 && packet.messageId !== undefined) acks.expect(client.conn, packet.messageId)
      done(null)
    },
    published(packet, client, done) {
      if (packet.retain)
        noteRetained(
          packet.topic,
          client ? (userOf.get(client)?.id.user ?? null) : null,
          packet.payload.length > 0,
        )
      if (client && packet.qos === 1 && packet.messageId !== undefined)
        acks.stored(client.conn, packet.messageId)
      done(null)
    },
    // A command is for its executor alone: a channel change carries a notification URL with its token, which no other
    // subscriber of everything (Home Assistant, the recorder) may read. Only `…/cmd` topics are looked at further.
    authorizeForward(client, packet) {
      if (!packet.topic.endsWith('/cmd')) return packet
      const t = topics.parse(packet.topic)
      if (t?.channel !== 'cmd') return packet
      const id = userOf.get(client)?.id
      const executor =
        (id?.kind === 'central' && id.service === t.service) ||
        (id?.kind === 'collector' && id.service === t.service && id.host === t.host)
      if (executor) return packet
      o.counters.inc('forward.withheld')
      return null
    },
    authorizeSubscribe(client, sub, done) {
      const entry = userOf.get(client)
      if (!entry || !canSubscribe(entry.acl, sub.topic)) {
        deny(client, 'subscribe', sub.topic)
        // A null subscription answers this one filter with a failure code; an error would drop the connection.
        return done(null, null)
      }
      done(null, sub)
    },
    preConnect(client, packet, done) {
      deliverWithoutDedupe(client)
      skipIdsInFlight(client, (id, messageId) => store.hasInFlight(id, messageId))
      dropStaleRetainedReplays(client, () => o.counters.inc('retained.stale_replays'))
      // A will outside the user's own subtree is refused up front (its user is not known yet: check by name).
      const will = packet.will
      const entry = packet.username ? users.get(packet.username) : undefined
      if (will && entry && !canPublish(entry.acl, will.topic)) {
        deny(client, 'will', will.topic)
        return done(new Error('will topic not authorized'), false)
      }
      done(null, true)
    },
  })
  setCredentials(o.credentials)
  // aedes reports a failed store operation as an 'error' on the broker (a client's will removed while the store
  // closes at a stop, for one). Counted and logged; without a listener Node would end the process.
  let stopping = false
  ;(broker as unknown as NodeJS.EventEmitter).on('error', (e: Error) => {
    o.counters.inc('broker.errors')
    if (stopping) o.log.debug(`while stopping: ${e.message}`)
    else o.log.once(`broker-error:${e.message}`, 'broker error:', e)
  })
  broker.on('clientError', (client, err) => {
    if (err.message === 'packet too large') {
      const user = userOf.get(client)?.id.user ?? '?'
      o.counters.inc('refused.too_large')
      o.log.once(
        `too-large:${user}`,
        `refused a packet over ${Math.round((o.maxPacketBytes ?? 384 * 1024) / 1024)} KiB from ${user} (client ${client.id}) and disconnected it`,
      )
      events.emit('denied', { user, action: 'too_large', topic: '' })
      return
    }
    o.log.debug(`client ${client.id}: ${err.message}`)
  })
  broker.on('connectionError', (_client, err) => {
    o.counters.inc('connections.errors')
    o.log.debug(`connection: ${err.message}`)
  })

  // The broker's own availability, status and events, as every service has them (published from inside).
  const internal = (topic: string, payload: string, retain: boolean) =>
    new Promise<void>((resolve) =>
      broker.publish(
        { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain, dup: false },
        () => resolve(),
      ),
    )
  function publishStatus() {
    const status = ServiceStatus.parse({
      v: 1,
      ts: Date.now(),
      host: o.host,
      source: 'broker',
      state: conditions.state,
      reason: conditions.reason,
      version: o.version ?? '0.1.0',
      startedAt,
      counters: o.counters.snapshot(),
    })
    void internal(topics.status(o.host, 'broker'), JSON.stringify(status), true)
  }
  function publishEvent(
    type: string,
    severity: Event['severity'],
    subject: string,
    message: string,
    data: object,
  ) {
    const e = Event.parse({
      v: 1,
      ts: Date.now(),
      host: o.host,
      source: 'broker',
      id: `broker-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
      type,
      severity,
      subject,
      message,
      data,
    })
    void internal(topics.event(o.host, 'broker', type), JSON.stringify(e), false)
  }
  const statusTimer = setInterval(() => {
    for (const [user, at] of limitNoted)
      if (at < Date.now() - 600_000 && conditions.set(`limit:${user}`, null)) limitNoted.delete(user)
    publishStatus()
  }, 30_000)
  statusTimer.unref()

  const conns = new Set<Socket>()
  server.on('connection', (conn) => {
    if (stopping) {
      conn.destroy()
      return
    }
    conns.add(conn)
    acks.track(conn)
    conn.once('close', () => {
      conns.delete(conn)
      acks.untrack(conn)
    })
    broker.handle(conn)
  })
  await internal(topics.availability(o.host, 'broker'), 'online', true)
  publishStatus()
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : o.port
  o.log.info(`MQTT 5 broker listening on ${o.bind}:${port} (${users.size} users)`)

  return {
    port,
    counters: o.counters,
    events,
    setCredentials,
    get status() {
      return { state: conditions.state, reason: conditions.reason }
    },
    async stop() {
      if (stopping) return
      stopping = true
      clearInterval(statusTimer)
      if (storeCheck) clearInterval(storeCheck)
      // Take nothing new, finish storing what was received (its publishers have no PUBACK yet and would resend it
      // otherwise, but it is ours to keep), then close.
      const closed = new Promise<void>((r) => server.close(() => r()))
      for (const c of Object.values((broker as unknown as { clients: Record<string, Client> }).clients))
        (c as unknown as { pause(): void }).pause()
      await acks.whenStored(5000)
      await internal(topics.availability(o.host, 'broker'), 'offline', true)
      await new Promise<void>((r) => broker.close(() => r()))
      // Disconnecting clients still clean up their wills and sessions in the store: let that finish first.
      for (let i = 0; i < 100 && broker.connectedClients > 0; i++) await new Promise((r) => setTimeout(r, 10))
      // Sockets that never logged in would keep the listener open until their connect timeout.
      for (const c of conns) c.destroy()
      await closed
      await new Promise((r) => setTimeout(r, 20))
      await store.destroy()
    },
  }
}
