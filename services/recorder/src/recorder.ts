import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Topics } from '@homelab/contracts'
import { type Counters, type Logger, MqttConnection } from '@homelab/service-kit'
import { type Db, openWriter } from '@homelab/storage'
import type { RecorderConfig } from './config.js'
import { Ingest } from './ingest.js'
import { applyRetention } from './retention.js'
import { Store } from './store.js'

export function databasePath(dataDir: string): string {
  return join(dataDir, 'homelab.db')
}

export interface RecorderDeps {
  config: RecorderConfig
  topics: Topics
  host: string
  username: string
  password: string | undefined
  log: Logger
  counters: Counters
}

/**
 * The system of record. A persistent MQTT session (QoS 1) receives every message of the tree, including those
 * published while it was down; each is stored in one SQLite transaction and acknowledged only after it commits.
 */
export class Recorder {
  readonly db: Db
  readonly store: Store
  private readonly ingest: Ingest
  readonly conn: MqttConnection
  private timers: NodeJS.Timeout[] = []

  constructor(private readonly d: RecorderDeps) {
    mkdirSync(d.config.HOMELAB_DATA_DIR, { recursive: true })
    this.db = openWriter(databasePath(d.config.HOMELAB_DATA_DIR))
    this.store = new Store(this.db)
    this.ingest = new Ingest(
      this.store,
      d.topics,
      { maxPayloadBytes: d.config.HOMELAB_MAX_PAYLOAD_BYTES },
      d.log,
      d.counters,
    )
    this.conn = new MqttConnection({
      url: d.config.HOMELAB_MQTT_URL,
      username: d.username,
      password: d.password,
      clientId: `recorder-${d.host}`,
      host: d.host,
      service: 'recorder',
      topics: d.topics,
      log: d.log,
      counters: d.counters,
      persistentSession: true,
      version: '0.1.0',
      // Each batch is one transaction; its PUBACKs go out only after it commits.
      onBatch: (items) => this.ingest.handleBatch(items),
    })
    this.conn.onMessage((topic, payload, packet) => {
      if (packet.qos === 0) {
        try {
          this.ingest.handle(topic, payload)
        } catch {
          // counted and logged by Ingest; a QoS 0 message has no redelivery
        }
      }
    })
  }

  start(): void {
    const { d } = this
    this.conn.subscribe(d.topics.all(), 1)
    this.conn.start()
    this.timers.push(setInterval(() => this.conn.publishStatus(), 30_000))
    const retention = () => {
      try {
        const deleted = applyRetention(this.db, {
          raw: d.config.HOMELAB_RETENTION_RAW_DAYS,
          rollup1m: d.config.HOMELAB_RETENTION_1M_DAYS,
          rollup1h: d.config.HOMELAB_RETENTION_1H_DAYS,
          events: d.config.HOMELAB_RETENTION_EVENTS_DAYS,
          quarantine: 30,
        })
        const n = Object.values(deleted).reduce((a, b) => a + b, 0)
        if (n > 0) d.log.info('retention removed', deleted)
      } catch (e) {
        d.log.warn('retention failed:', e)
      }
    }
    retention()
    this.timers.push(setInterval(retention, 3_600_000))
    for (const t of this.timers) t.unref()
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t)
    await this.conn.stop()
    this.db.transaction(() => this.store.sealAll())()
    this.db.close()
  }
}
