import { createHash, timingSafeEqual } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { type Counters, type Logger, StartError } from '@homelab/service-kit'
import { Aedes, type AuthenticateError, type Client } from 'aedes'
import aedesPersistenceLevel from 'aedes-persistence-level'
import { Level } from 'level'
import { type AclRules, aclFor, BROKER_USERS, type BrokerUser, canPublish, canSubscribe } from './acl.js'
import type { Credentials } from './credentials.js'
import { retainInOrder, serializeOutgoing, tolerateUnqueued } from './serialized-persistence.js'

export interface BrokerOptions {
  port: number
  bind: string
  /** Folder for on-disk persistence (retained messages, sessions, queued QoS 1 messages). */
  persistenceDir: string
  credentials: Credentials
  baseTopic: string
  haPrefix?: string
  maxPacketBytes?: number
  log: Logger
  counters: Counters
}

export interface RunningBroker {
  readonly port: number
  readonly counters: Counters
  /** Emits 'denied' ({user, action, topic}) for each refused publish or subscribe. */
  readonly events: EventEmitter
  stop(): Promise<void>
}

const digest = (s: string | Buffer) => createHash('sha256').update(s).digest()

function authError(message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: 4 as const })
}

/**
 * The MQTT 5 broker (aedes 2) with a password per user, an ACL per user and on-disk persistence, so retained
 * messages and persistent sessions survive a restart.
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
  const level = new Level<string, unknown>(o.persistenceDir, { valueEncoding: 'view' } as never)
  try {
    await level.open()
  } catch (e) {
    await new Promise<void>((r) => server.close(() => r()))
    const locked =
      (e as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED' ||
      /lock/i.test(String((e as Error).cause ?? e))
    throw locked
      ? new StartError(
          `The broker's store ${o.persistenceDir} is in use by another running instance: stop it, or give this one another HOMELAB_DATA_DIR.`,
        )
      : e
  }
  const users = new Map<string, { hash: Buffer; acl: AclRules }>()
  for (const u of BROKER_USERS) {
    const pw = o.credentials[u]
    if (pw) users.set(u, { hash: digest(pw), acl: aclFor(u as BrokerUser, o.baseTopic, o.haPrefix) })
  }
  const userOf = new WeakMap<Client, string>()
  const events = new EventEmitter()
  const deny = (client: Client | null, action: string, topic: string) => {
    const user = client ? (userOf.get(client) ?? '?') : '?'
    o.counters.inc(`denied.${action}`)
    o.log.once(`deny:${user}:${action}:${topic}`, `denied ${action} of ${topic} to ${user}`)
    events.emit('denied', { user, action, topic })
  }

  const persistence = retainInOrder(
    tolerateUnqueued(serializeOutgoing(aedesPersistenceLevel(level) as object), () =>
      o.counters.inc('persistence.unqueued'),
    ),
  )
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
    authenticate(client, username, password, done) {
      const entry = username ? users.get(username) : undefined
      if (!entry || !password || !timingSafeEqual(entry.hash, digest(password))) {
        o.counters.inc('auth.refused')
        o.log.once(
          `auth:${username ?? ''}`,
          `refused login of "${username ?? '(none)'}" from client ${client.id}`,
        )
        return done(authError('bad user name or password'), false)
      }
      userOf.set(client, username!)
      noteTakeover(client.id, username!)
      done(null, true)
    },
    authorizePublish(client, packet, done) {
      // client is null only for a will published after its client is gone; the will was checked at connect.
      if (client === null) return done(null)
      const entry = users.get(userOf.get(client) ?? '')
      if (!entry || !canPublish(entry.acl, packet.topic)) {
        deny(client, 'publish', packet.topic)
        return done(new Error('not authorized'))
      }
      done(null)
    },
    authorizeSubscribe(client, sub, done) {
      const entry = users.get(userOf.get(client) ?? '')
      if (!entry || !canSubscribe(entry.acl, sub.topic)) {
        deny(client, 'subscribe', sub.topic)
        // A null subscription answers this one filter with a failure code; an error would drop the connection.
        return done(null, null)
      }
      done(null, sub)
    },
    preConnect(client, packet, done) {
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
  // aedes reports a failed store operation as an 'error' on the broker (a client's will removed while the store
  // closes at a stop, for one). Counted and logged; without a listener Node would end the process.
  let stopping = false
  ;(broker as unknown as NodeJS.EventEmitter).on('error', (e: Error) => {
    o.counters.inc('broker.errors')
    if (stopping) o.log.debug(`while stopping: ${e.message}`)
    else o.log.once(`broker-error:${e.message}`, 'broker error:', e)
  })
  const counted = broker as unknown as { counter: number }
  persistence.renumber = (packet) => {
    packet.brokerCounter = ++counted.counter
  }
  broker.on('clientError', (client, err) => {
    if (err.message === 'packet too large') {
      const user = userOf.get(client) ?? '?'
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

  server.on('connection', broker.handle)
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : o.port
  o.log.info(`MQTT 5 broker listening on ${o.bind}:${port} (${users.size} users)`)

  return {
    port,
    counters: o.counters,
    events,
    async stop() {
      stopping = true
      // Close the broker first: it disconnects the clients, which lets the listener's close() complete.
      const closed = new Promise<void>((r) => server.close(() => r()))
      await new Promise<void>((r) => broker.close(() => r()))
      await closed
      // Disconnecting clients still clean up their wills and sessions in the store: let that finish first.
      for (let i = 0; i < 100 && broker.connectedClients > 0; i++) await new Promise((r) => setTimeout(r, 10))
      await new Promise((r) => setTimeout(r, 20))
      await persistence.flushRetained()
      await level.close()
    },
  }
}
