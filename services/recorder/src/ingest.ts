import { EVENT_SAMPLES, type Event, readingSamples, type Topics } from '@homelab/contracts'
import { type Counters, decode, type Logger } from '@homelab/service-kit'
import { project } from './projections.js'
import type { Store } from './store.js'

export type IngestOutcome = 'stored' | 'duplicate' | 'quarantined' | 'ignored'

export interface IngestOptions {
  maxPayloadBytes: number
}

/**
 * SQLite errors that say the database or the disk cannot take writes now (full, damaged, unreadable, locked), as
 * opposed to one message that cannot be stored. Nothing of a batch that meets one is acknowledged: the broker keeps
 * those messages until the cause is gone.
 */
const ENVIRONMENT = /^SQLITE_(FULL|IOERR|CORRUPT|NOTADB|BUSY|LOCKED|READONLY|CANTOPEN|NOMEM|PROTOCOL)/

export class StorageUnavailable extends Error {
  override name = 'StorageUnavailable'
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

function environmentError(e: unknown): StorageUnavailable | null {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' && ENVIRONMENT.test(code)
    ? new StorageUnavailable(code, (e as Error).message)
    : null
}

interface Item {
  topic: string
  payload: Buffer
}

/**
 * Turns MQTT messages into stored facts. Every message is decoded once (service-kit's `decode`: topic, size, JSON,
 * schema, host and source against the topic); what fails is counted, logged once per cause and kept in the
 * quarantine table. A batch is one transaction (group commit). A message that passes validation but still cannot
 * be stored (a poison message) is quarantined with its reason and the others of the batch are stored; it is never
 * redelivered forever. A database or disk that cannot take writes throws StorageUnavailable: nothing of that batch
 * is acknowledged.
 */
export class Ingest {
  private readonly batchTx: (items: readonly Item[]) => IngestOutcome[]
  private readonly isolatedTx: (items: readonly Item[]) => IngestOutcome[]
  private readonly oneTx: (item: Item) => IngestOutcome

  constructor(
    private readonly store: Store,
    private readonly topics: Topics,
    private readonly o: IngestOptions,
    private readonly log: Logger,
    private readonly counters: Counters,
  ) {
    const db = store.db
    this.batchTx = db.transaction((items: readonly Item[]) =>
      store.withRollupsDeferred(() => items.map((i) => this.apply(i.topic, i.payload))),
    )
    // Inside isolatedTx, each message runs in its own savepoint (a nested transaction), so one that throws is rolled
    // back alone.
    this.oneTx = db.transaction((i: Item) => this.apply(i.topic, i.payload))
    this.isolatedTx = db.transaction((items: readonly Item[]) =>
      items.map((i) => {
        try {
          return this.oneTx(i)
        } catch (e) {
          const env = environmentError(e)
          if (env) throw env
          return this.reject(i.topic, `unstorable: ${(e as Error).message || String(e)}`, i.payload)
        }
      }),
    )
  }

  /**
   * Stores many messages in one transaction. Bad input in one message is quarantined and does not affect the others;
   * a database that cannot take writes rolls the whole batch back and throws StorageUnavailable.
   */
  handleBatch(items: readonly Item[]): IngestOutcome[] {
    let outcomes: IngestOutcome[]
    try {
      outcomes = this.batchTx(items)
    } catch (e) {
      // The rollback undid rows the in-memory indexes already knew about.
      this.reload()
      const env = environmentError(e)
      if (env) throw this.unavailable(env, items.length)
      // One message of the batch cannot be stored: again, each in its own savepoint.
      this.counters.inc('batches.isolated')
      try {
        outcomes = this.isolatedTx(items)
      } catch (again) {
        this.reload()
        throw this.unavailable(
          environmentError(again) ?? new StorageUnavailable('?', String(again)),
          items.length,
        )
      }
      this.reload()
    }
    for (const outcome of outcomes) this.counters.inc(`messages.${outcome}`)
    this.counters.inc('batches')
    return outcomes
  }

  /** Rebuilds the store's indexes; when the database cannot be read now, the store does it at its next write. */
  private reload(): void {
    try {
      this.store.reload()
    } catch {
      this.counters.inc('store.reload_failed')
    }
  }

  private unavailable(e: StorageUnavailable, n: number): StorageUnavailable {
    this.counters.inc('messages.store_errors', n)
    this.log.once(`store:${e.code}`, `could not store a batch of ${n} messages (${e.code}): ${e.message}`)
    return e
  }

  /** Stores one message (QoS 0 has no batch); returns once its transaction has committed. */
  handle(topic: string, payload: Buffer): IngestOutcome {
    return this.handleBatch([{ topic, payload }])[0]!
  }

  private reject(topic: string, reason: string, payload: Buffer): IngestOutcome {
    this.counters.inc(`invalid.${reason.split(':')[0]}`)
    this.log.once(`invalid:${reason.slice(0, 200)}`, `quarantined a message on ${topic}: ${reason}`)
    this.store.quarantine(topic, reason, payload)
    return 'quarantined'
  }

  private apply(topic: string, payload: Buffer): IngestOutcome {
    const r = decode({ topics: this.topics, maxPayloadBytes: this.o.maxPayloadBytes }, topic, payload)
    if (!r.ok) return this.reject(topic, r.reason, payload)
    const m = r.message
    switch (m.kind) {
      // Commands are audited by their executor's command.result event; notifications by the alerter's alert events.
      case 'command':
      case 'notification':
        return 'ignored'
      case 'cleared':
        // A cleared retained document (a container that is gone): no longer current.
        this.store.deleteLatest(topic)
        return 'ignored'
      case 'availability': {
        const { host, service } = m.topic
        if (this.store.serviceAvailability(host, service) === m.value) return 'duplicate'
        const ts = Date.now()
        const event: Event = {
          v: 1,
          ts,
          host,
          source: 'recorder',
          id: `avail:${host}:${service}:${ts}:${m.value}`,
          type: 'service.availability',
          severity: m.value === 'online' ? 'info' : 'warning',
          subject: service,
          message: `${service} on ${host} is ${m.value}`,
          data: { service, availability: m.value },
        }
        this.store.addEvent(event)
        project(this.store, event)
        return 'stored'
      }
      case 'event': {
        const e = m.doc
        if (!this.store.addEvent(e)) return 'duplicate'
        project(this.store, e)
        const samples = EVENT_SAMPLES[e.type]?.(e)
        if (samples?.length) this.stored(this.store.addSamples(e.host, e.ts, samples))
        return 'stored'
      }
      case 'status':
        this.store.putLatest(topic, m.topic.host, m.topic.service, 'status', m.doc.ts, JSON.stringify(m.doc))
        return 'stored'
      case 'reading': {
        // Its samples go to the raw tier and rollups, the document to the latest cache.
        const { host, service, kind, entity } = m.topic
        const { doc } = m.reading
        this.store.putLatest(topic, host, service, kind, doc.ts, JSON.stringify(doc))
        const samples = readingSamples(m.reading, entity)
        if (samples.length === 0) return 'stored'
        const s = this.stored(this.store.addSamples(host, doc.ts, samples))
        return s.stored === 0 && s.duplicates > 0 ? 'duplicate' : 'stored'
      }
    }
  }

  private stored<R extends { stored: number; refused: number }>(r: R): R {
    this.counters.inc('samples.stored', r.stored)
    if (r.refused > 0) this.counters.inc('limits.series', r.refused)
    return r
  }
}
