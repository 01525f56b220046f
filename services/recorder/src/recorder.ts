import { mkdirSync } from 'node:fs'
import type { Topics } from '@homelab/contracts'
import { type Counters, type Logger, type MqttConnection, serviceConnection } from '@homelab/service-kit'
import { type Db, databasePath, openWriter } from '@homelab/storage'
import type { RecorderConfig } from './config.js'
import { Ingest, StorageUnavailable } from './ingest.js'
import { applyRetention } from './retention.js'
import { Store } from './store.js'

/** Where the recorder keeps its database (storage owns the name; re-exported for the recorder's users). */
export { databasePath }

export interface RecorderDeps {
  config: RecorderConfig
  topics: Topics
  host: string
  username: string
  password: string | undefined
  log: Logger
  counters: Counters
}

/** What a storage error means for the owner, and what to do about it. */
export function describeStorageError(e: StorageUnavailable, path: string): string {
  if (e.code.startsWith('SQLITE_FULL'))
    return `the disk is full: cannot write ${path} (messages wait in the broker until there is space)`
  if (e.code.startsWith('SQLITE_CORRUPT') || e.code.startsWith('SQLITE_NOTADB'))
    return `the database ${path} is damaged (${e.message}): stop the recorder and repair it (docs/troubleshooting.md); messages wait in the broker meanwhile`
  if (e.code.startsWith('SQLITE_IOERR')) return `cannot write ${path}: I/O error (${e.message})`
  return `cannot write ${path}: ${e.code} (${e.message})`
}

/**
 * The system of record. A persistent MQTT session (QoS 1) receives every message of the tree, including those
 * published while it was down; each batch is stored in one SQLite transaction and acknowledged only after it
 * commits. When the database cannot take writes (a full disk, a damaged file) the recorder says so in its status,
 * holds the batch unacknowledged, and tries again — reopening the database, so a repaired or replaced file is taken
 * up — until it works.
 */
export class Recorder {
  db: Db
  store: Store
  private ingest: Ingest
  readonly conn: MqttConnection
  private timers: NodeJS.Timeout[] = []
  private readonly path: string
  private reopenNext = false

  constructor(private readonly d: RecorderDeps) {
    mkdirSync(d.config.HOMELAB_DATA_DIR, { recursive: true })
    this.path = databasePath(d.config.HOMELAB_DATA_DIR)
    this.db = openWriter(this.path)
    this.store = this.newStore(this.db)
    this.ingest = this.newIngest(this.store)
    const login = { ...d, url: d.config.HOMELAB_MQTT_URL }
    this.conn = serviceConnection(login, 'recorder', d.counters, {
      persistentSession: true,
      // Every document carries its own time and the store keeps the newest: only availability (no timestamp) needs
      // the connection's check that a retained message is not older than a live one.
      dropStaleRetained: (topic) => topic.endsWith('/availability'),
      // Each batch is one transaction; its PUBACKs go out only after it commits.
      onBatch: (items) => this.storeBatch(items),
    })
    this.conn.onMessage((topic, payload, packet) => {
      if (packet.qos === 0) {
        try {
          this.storeBatch([{ topic, payload }])
        } catch {
          // counted and logged by Ingest; a QoS 0 message has no redelivery
        }
      }
    })
  }

  private newStore(db: Db): Store {
    return new Store(db, { maxSeriesPerHost: this.d.config.HOMELAB_MAX_SERIES_PER_HOST })
  }

  private newIngest(store: Store): Ingest {
    const { d } = this
    return new Ingest(
      store,
      d.topics,
      { maxPayloadBytes: d.config.HOMELAB_MAX_PAYLOAD_BYTES },
      d.log,
      d.counters,
    )
  }

  private storeBatch(items: ReadonlyArray<{ topic: string; payload: Buffer }>): 'stored' | 'retry' {
    try {
      if (this.reopenNext) this.reopen()
      this.ingest.handleBatch(items)
    } catch (e) {
      if (!(e instanceof StorageUnavailable)) throw e
      this.conn.condition('database', describeStorageError(e, this.path))
      // A damaged or unreadable file may be replaced or repaired while we wait: open it again before the retry.
      this.reopenNext = !e.code.startsWith('SQLITE_FULL') && !e.code.startsWith('SQLITE_BUSY')
      return 'retry'
    }
    if (this.conn.hasCondition('database')) {
      this.d.log.info(`${this.path} takes writes again`)
      this.conn.condition('database', null)
    }
    return 'stored'
  }

  /** Opens the database again (after an I/O error or damage); throws StorageUnavailable while it cannot. */
  private reopen(): void {
    try {
      this.db.close()
    } catch {
      // already unusable
    }
    try {
      this.db = openWriter(this.path)
      this.store = this.newStore(this.db)
      this.ingest = this.newIngest(this.store)
      this.reopenNext = false
    } catch (e) {
      const code = (e as { code?: unknown }).code
      throw new StorageUnavailable(typeof code === 'string' ? code : 'SQLITE_CANTOPEN', (e as Error).message)
    }
  }

  /** Hosts whose new series were refused in the last ten minutes: a limit the owner should know about. */
  private checkLimits(): void {
    const recent = [...this.store.seriesLimited].filter(([, at]) => at > Date.now() - 600_000).map(([h]) => h)
    this.conn.condition(
      'series-limit',
      recent.length
        ? `series limit (${this.d.config.HOMELAB_MAX_SERIES_PER_HOST} per host, HOMELAB_MAX_SERIES_PER_HOST) reached by ${recent.slice(0, 5).join(', ')}${recent.length > 5 ? ` and ${recent.length - 5} more` : ''}: their new series are not stored`
        : null,
    )
  }

  start(): void {
    const { d } = this
    this.conn.subscribe(d.topics.all(), 1)
    this.conn.start()
    this.timers.push(
      setInterval(() => {
        this.checkLimits()
        this.conn.publishStatus()
      }, 30_000),
    )
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
    try {
      this.db.transaction(() => this.store.sealAll())()
    } catch (e) {
      this.d.log.warn('could not seal the staged samples at stop (they stay staged):', e)
    }
    this.db.close()
  }
}
