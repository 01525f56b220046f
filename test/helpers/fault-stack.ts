import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { containerSeries, ServiceStatus } from '@homelab/contracts'
import { HistoryReader, openReader } from '@homelab/storage'
import Database from 'better-sqlite3'
import mqtt, { type MqttClient } from 'mqtt'
import { freePort } from './net.js'
import { exited, ROOT, spawnService } from './process.js'
import { HOST, waitFor } from './stack.js'

export type Proc = ChildProcess & { output: () => string }

export interface PublisherConfig {
  kind?: 'system' | 'container'
  entities?: number
  count: number
  rate: number
  startTs?: number
  eventEvery?: number
  /** Credentials and client id (default: the collector's own, as the product uses them). */
  username?: string
  password?: string
  clientId?: string
  host?: string
}

export interface PublisherRun {
  proc: Proc
  /** Resolves with the publisher's last line once it has published everything and every PUBACK arrived. */
  done: Promise<{ published: number; events: number; counters: Record<string, number> }>
  published(): number
}

const tcpOpen = (port: number) =>
  new Promise<boolean>((r) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy()
      r(true)
    })
    s.on('error', () => r(false))
  })

/**
 * The product as compose runs it, for fault tests: the broker, recorder, alerter and gateway each in its own process
 * (from source), on a loopback port and a data folder of the test's, and collectors' traffic from a separate
 * publisher process that uses the product's own MqttConnection. Every process can be killed and started again.
 */
export class FaultStack {
  brokerPort = 0
  gatewayPort = 0
  broker: Proc | null = null
  recorder: Proc | null = null
  alerter: Proc | null = null
  gateway: Proc | null = null
  private watcher: MqttClient | null = null
  readonly availability = new Map<string, string>()
  /** The watcher's last connects, closes, errors and availability messages: printed when a wait times out. */
  private readonly watchLog: string[] = []
  /** The latest status document per `<host>/<service>`: its state and reason. */
  readonly statuses = new Map<string, { state: string; reason: string | null; ts: number }>()
  /** When the broker was last started (a service's status after it proves it reconnected). */
  brokerStartedAt = 0
  private readonly all = new Set<Proc>()

  constructor(
    readonly dataDir: string,
    readonly host = HOST,
    readonly extraEnv: Record<string, string> = {},
    /** Another broker (Mosquitto) with these users, instead of ours. */
    readonly external: { url: string; users: Record<string, string> } | null = null,
  ) {}

  get url(): string {
    return this.external?.url ?? `mqtt://127.0.0.1:${this.brokerPort}`
  }

  get usersFile(): string {
    return join(this.dataDir, 'secrets', 'mqtt-users.json')
  }

  get dbPath(): string {
    return join(this.dataDir, 'homelab.db')
  }

  users(): Record<string, string> {
    if (this.external) return this.external.users
    return (JSON.parse(readFileSync(this.usersFile, 'utf8')) as { users: Record<string, string> }).users
  }

  private spawn(service: string, env: Record<string, string>): Proc {
    const p = spawnService(service, {
      HOMELAB_DATA_DIR: this.dataDir,
      HOMELAB_HOST_ID: this.host,
      ...this.extraEnv,
      ...env,
    })
    this.all.add(p)
    p.once('exit', () => this.all.delete(p))
    return p
  }

  private serviceEnv(service: string): Record<string, string> {
    if (this.external)
      return {
        HOMELAB_MQTT_URL: this.url,
        HOMELAB_MQTT_USERNAME: service,
        HOMELAB_MQTT_PASSWORD: this.external.users[service] ?? '',
      }
    return { HOMELAB_MQTT_URL: this.url, HOMELAB_MQTT_USERS_FILE: this.usersFile }
  }

  async startBroker(): Promise<Proc | null> {
    if (this.external) {
      if (!this.watcher) await this.watch()
      return null
    }
    if (!this.brokerPort) this.brokerPort = await freePort()
    this.brokerStartedAt = Date.now()
    const p = this.spawn('broker', {
      HOMELAB_MQTT_PORT: String(this.brokerPort),
      HOMELAB_MQTT_BIND: '127.0.0.1',
    })
    this.broker = p
    await waitFor(
      async () => {
        if (p.exitCode !== null) throw new Error(`the broker exited (${p.exitCode}): ${p.output()}`)
        return tcpOpen(this.brokerPort)
      },
      30_000,
      'the broker to listen',
    )
    if (!this.watcher) await this.watch()
    return p
  }

  /** Follows every availability topic (as the gateway user) across broker restarts. */
  private async watch(): Promise<void> {
    const users = this.users()
    const w = mqtt.connect(this.url, {
      protocolVersion: 5,
      username: 'gateway',
      password: users.gateway,
      clientId: `gateway-${this.host}.fault-watch`,
      reconnectPeriod: 300,
      // A broker that is starting or stopping may refuse a login; mqtt.js would then stop reconnecting for good.
      reconnectOnConnackError: true,
    })
    const note = (what: string) => {
      this.watchLog.push(`${new Date().toISOString().slice(11, 23)} ${what}`)
      if (this.watchLog.length > 30) this.watchLog.shift()
    }
    // A broker replays retained messages to a new subscription while live ones already flow, so a retained
    // "offline" from before a restart can arrive after the live "online": the product's MqttConnection drops such
    // stale retained state, and so does this watcher (per topic, since its last connect).
    const live = new Set<string>()
    w.on('connect', () => {
      live.clear()
      note('connected')
    })
    w.on('close', () => note('closed'))
    w.on('error', (e) => note(`error: ${e.message}`))
    w.on('message', (topic, payload, packet) => {
      if (!packet.retain) live.add(topic)
      else if (live.has(topic)) {
        note(
          `${topic.split('/').slice(1, 3).join('/')} ${payload.toString().slice(0, 20)} (stale retained, ignored)`,
        )
        return
      }
      if (topic.endsWith('/availability')) {
        this.availability.set(topic, payload.toString())
        note(`${topic.split('/').slice(1, 3).join('/')} ${payload.toString()}`)
      } else if (topic.endsWith('/status') && payload.length > 0) {
        const s = ServiceStatus.safeParse(JSON.parse(payload.toString()))
        const [, host, service] = topic.split('/')
        if (s.success)
          this.statuses.set(`${host}/${service}`, {
            state: s.data.state,
            reason: s.data.reason,
            ts: s.data.ts,
          })
      }
    })
    w.on('connect', () => void w.subscribe(['homelab/+/+/availability', 'homelab/+/+/status'], { qos: 1 }))
    await new Promise<void>((r) => w.once('connect', () => r()))
    this.watcher = w
  }

  status(
    service: string,
    host = this.host,
  ): { state: string; reason: string | null; ts: number } | undefined {
    return this.statuses.get(`${host}/${service}`)
  }

  isOnline(service: string, host = this.host): boolean {
    return this.availability.get(`homelab/${host}/${service}/availability`) === 'online'
  }

  async waitOnline(service: string, timeoutMs = 30_000, proc?: Proc | null): Promise<void> {
    await waitFor(
      () => {
        if (proc && proc.exitCode !== null)
          throw new Error(`the ${service} exited (${proc.exitCode}): ${proc.output().slice(-3000)}`)
        return this.isOnline(service)
      },
      timeoutMs,
      `the ${service} to be online`,
    ).catch((e: Error) => {
      throw new Error(
        `${e.message}; the watcher saw: ${this.watchLog.join(' | ')}; it said: ${proc?.output().slice(-3000) ?? ''}`,
      )
    })
  }

  /** Everything in one process (npm start), its embedded broker on this stack's port. */
  async startAllInOne(env: Record<string, string> = {}): Promise<Proc> {
    if (!this.brokerPort) this.brokerPort = await freePort()
    if (!this.gatewayPort) this.gatewayPort = await freePort()
    this.availability.delete(`homelab/${this.host}/recorder/availability`)
    const p = this.spawn('all-in-one', {
      HOMELAB_MQTT_PORT: String(this.brokerPort),
      HOMELAB_MQTT_BIND: '127.0.0.1',
      HOMELAB_PORT: String(this.gatewayPort),
      HOMELAB_BIND: '127.0.0.1',
      ...env,
    })
    this.broker = p
    await waitFor(
      async () => {
        if (p.exitCode !== null) throw new Error(`npm start exited (${p.exitCode}): ${p.output()}`)
        return tcpOpen(this.brokerPort)
      },
      60_000,
      'the embedded broker to listen',
    )
    if (!this.watcher) await this.watch()
    await this.waitOnline('recorder', 60_000, p)
    return p
  }

  /**
   * Waits until a service has connected to the broker as it runs now: it publishes its status at every connect, so a
   * status newer than the broker's last start says so (its retained availability may still be the one from before).
   */
  async waitConnected(service: string, timeoutMs = 90_000): Promise<void> {
    await waitFor(
      () => (this.status(service)?.ts ?? 0) >= this.brokerStartedAt,
      timeoutMs,
      `the ${service} to connect to the broker again`,
    )
  }

  async startRecorder(wait = true): Promise<Proc> {
    this.availability.delete(`homelab/${this.host}/recorder/availability`)
    const p = this.spawn('recorder', this.serviceEnv('recorder'))
    this.recorder = p
    if (wait) await this.waitOnline('recorder', 30_000, p)
    return p
  }

  async startAlerter(env: Record<string, string> = {}): Promise<Proc> {
    this.availability.delete(`homelab/${this.host}/alerter/availability`)
    const p = this.spawn('alerter', { ...this.serviceEnv('alerter'), ...env })
    this.alerter = p
    await this.waitOnline('alerter', 30_000, p)
    return p
  }

  async startGateway(adminToken: string): Promise<Proc> {
    if (!this.gatewayPort) this.gatewayPort = await freePort()
    const p = this.spawn('gateway', {
      ...this.serviceEnv('gateway'),
      HOMELAB_PORT: String(this.gatewayPort),
      HOMELAB_BIND: '127.0.0.1',
      HOMELAB_ADMIN_TOKEN: adminToken,
    })
    this.gateway = p
    await waitFor(
      async () => {
        if (p.exitCode !== null) throw new Error(`the gateway exited (${p.exitCode}): ${p.output()}`)
        return tcpOpen(this.gatewayPort)
      },
      30_000,
      'the gateway to listen',
    )
    return p
  }

  /** Sends a signal and waits for the process to end. */
  async stop(p: Proc | null, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!p) return null
    if (p.exitCode === null && p.signalCode === null) p.kill(signal)
    return exited(p)
  }

  publish(cfg: PublisherConfig): PublisherRun {
    const users = this.users()
    const kind = cfg.kind ?? 'system'
    const service = kind === 'system' ? 'sys-collector' : 'docker-collector'
    const config = {
      url: this.url,
      username: cfg.username ?? service,
      password: cfg.password ?? users[cfg.username ?? service],
      host: cfg.host ?? this.host,
      kind,
      entities: cfg.entities ?? 1,
      count: cfg.count,
      rate: cfg.rate,
      startTs: cfg.startTs ?? Date.now() - 86_400_000,
      eventEvery: cfg.eventEvery ?? 0,
      ...(cfg.clientId ? { clientId: cfg.clientId } : {}),
    }
    const proc = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', join(ROOT, 'test', 'helpers', 'fault-publisher.ts')],
      { env: { ...process.env, FP_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'pipe'] },
    ) as Proc
    let out = ''
    let published = 0
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()))
    let resolveDone: (v: { published: number; events: number; counters: Record<string, number> }) => void
    const done = new Promise<{ published: number; events: number; counters: Record<string, number> }>(
      (r, reject) => {
        resolveDone = r
        proc.once('exit', (code) =>
          reject(new Error(`the publisher exited (${code}) before it was done: ${out}`)),
        )
      },
    )
    let buf = ''
    proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const l = buf.slice(0, i)
        buf = buf.slice(i + 1)
        out += `${l}\n`
        const m = JSON.parse(l) as {
          published?: number
          done?: boolean
          events: number
          counters: Record<string, number>
        }
        if (m.published !== undefined) published = m.published
        if (m.done) resolveDone({ published: m.published ?? 0, events: m.events, counters: m.counters })
      }
    })
    Object.assign(proc, { output: () => out })
    this.all.add(proc)
    proc.once('exit', () => this.all.delete(proc))
    return { proc, done, published: () => published }
  }

  /** What the recorder has stored, read from its database with a read-only connection. */
  stored(
    kind: 'system' | 'container' = 'system',
    entities = 1,
    host = this.host,
  ): { values: number[][]; events: string[] } | null {
    if (!existsSync(this.dbPath)) return null
    let db: ReturnType<typeof openReader> | null = null
    try {
      db = openReader(this.dbPath)
      const r = new HistoryReader(db)
      const values: number[][] = []
      for (let e = 0; e < entities; e++) {
        const name = kind === 'system' ? 'uptime' : containerSeries.pids(`c${e}`)
        const id = r.seriesIdOf(host, name)
        values.push(id === null ? [] : r.readRaw(id, 0, Date.now()).values)
      }
      const events = db
        .prepare<[], { id: string }>("SELECT id FROM events WHERE type = 'test.marker' ORDER BY id")
        .all()
        .map((x) => x.id)
      return { values, events }
    } catch {
      return null
    } finally {
      db?.close()
    }
  }

  integrity(): string {
    const db = new Database(this.dbPath, { readonly: true })
    try {
      return (db.pragma('integrity_check', { simple: true }) as string) ?? 'no answer'
    } finally {
      db.close()
    }
  }

  async close(): Promise<void> {
    this.watcher?.end(true)
    this.watcher = null
    for (const p of [...this.all]) {
      p.kill('SIGKILL')
      await exited(p)
    }
  }
}

/** What a fault run lost and duplicated, per entity: stored values against the counters that were published. */
export function tally(
  stored: { values: number[][]; events: string[] },
  published: { steps: number; events: number; first?: number },
): {
  expected: number
  stored: number
  lost: number
  duplicated: number
  eventsLost: number
  eventsDuplicated: number
} {
  const first = published.first ?? 0
  const kind = stored.values.length
  let n = 0
  let lost = 0
  let dup = 0
  for (const vs of stored.values) {
    n += vs.length
    const seen = new Set(vs)
    dup += vs.length - seen.size
    for (let i = first; i < first + published.steps; i++) if (!seen.has(i)) lost++
  }
  const ev = new Set(stored.events)
  return {
    expected: kind * published.steps,
    stored: n,
    lost,
    duplicated: dup,
    eventsLost: Math.max(0, published.events - ev.size),
    eventsDuplicated: stored.events.length - ev.size,
  }
}
