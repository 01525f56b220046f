import {
  Availability,
  classify,
  EVENT_SAMPLES,
  type Event,
  Event as EventSchema,
  type Topics,
} from '@homelab/contracts'
import type { Counters, Logger } from '@homelab/service-kit'
import type { z } from 'zod'
import { project } from './projections.js'
import type { Store } from './store.js'

export type IngestOutcome = 'stored' | 'duplicate' | 'quarantined' | 'ignored'

export interface IngestOptions {
  maxPayloadBytes: number
}

/**
 * Turns one MQTT message into stored facts, inside one transaction. Invalid input — a topic outside the tree, a
 * payload over the size limit, bad JSON, a payload that fails its schema, or one whose host/source disagree with its
 * topic — is counted, logged once per cause, kept in the quarantine table and otherwise dropped; it never throws.
 */
export class Ingest {
  private readonly batchTx: (items: ReadonlyArray<{ topic: string; payload: Buffer }>) => IngestOutcome[]

  constructor(
    private readonly store: Store,
    private readonly topics: Topics,
    private readonly o: IngestOptions,
    private readonly log: Logger,
    private readonly counters: Counters,
  ) {
    this.batchTx = store.db.transaction((items: ReadonlyArray<{ topic: string; payload: Buffer }>) =>
      items.map((i) => this.apply(i.topic, i.payload)),
    )
  }

  /**
   * Stores many messages in one transaction (group commit). Bad input in one message is quarantined and does not
   * affect the others; a storage error rolls the whole batch back and is rethrown, so none of it is acknowledged.
   */
  handleBatch(items: ReadonlyArray<{ topic: string; payload: Buffer }>): IngestOutcome[] {
    try {
      const outcomes = this.batchTx(items)
      for (const outcome of outcomes) this.counters.inc(`messages.${outcome}`)
      this.counters.inc('batches')
      return outcomes
    } catch (e) {
      this.counters.inc('messages.store_errors', items.length)
      this.log.once(
        `store:${(e as Error).message}`,
        `could not store a batch of ${items.length} messages:`,
        e,
      )
      throw e
    }
  }

  /** Stores one message (QoS 0 has no batch); returns once its transaction has committed. */
  handle(topic: string, payload: Buffer): IngestOutcome {
    return this.handleBatch([{ topic, payload }])[0]!
  }

  private reject(topic: string, reason: string, payload: Buffer): IngestOutcome {
    this.counters.inc(`invalid.${reason.split(':')[0]}`)
    this.log.once(`invalid:${reason}`, `quarantined a message on ${topic}: ${reason}`)
    this.store.quarantine(topic, reason, payload)
    return 'quarantined'
  }

  private apply(topic: string, payload: Buffer): IngestOutcome {
    const t = this.topics.parse(topic)
    if (!t) return this.reject(topic, 'topic: not in the topic tree', payload)
    const c = classify(t)
    // Commands are audited by their executor's command.result event; notifications by the alerter's alert events.
    if (c.kind === 'command' || c.kind === 'notification') return 'ignored'
    if (c.kind === 'unknown') return this.reject(topic, `topic: ${c.reason}`, payload)
    if (payload.length === 0 && (c.kind === 'reading' || c.kind === 'status')) {
      // A cleared retained document (a container that is gone): no longer current.
      this.store.deleteLatest(topic)
      return 'ignored'
    }
    if (payload.length > this.o.maxPayloadBytes) {
      return this.reject(
        topic,
        `oversized: ${payload.length} bytes (limit ${this.o.maxPayloadBytes})`,
        payload,
      )
    }
    if (c.kind === 'availability') {
      if (payload.length === 0) return 'ignored' // a cleared retained message
      const a = Availability.safeParse(payload.toString('utf8'))
      if (!a.success) return this.reject(topic, 'schema: availability must be "online" or "offline"', payload)
      if (this.store.serviceAvailability(t.host, t.service) === a.data) return 'duplicate'
      const ts = Date.now()
      const event: Event = {
        v: 1,
        ts,
        host: t.host,
        source: 'recorder',
        id: `avail:${t.host}:${t.service}:${ts}:${a.data}`,
        type: 'service.availability',
        severity: a.data === 'online' ? 'info' : 'warning',
        subject: t.service,
        message: `${t.service} on ${t.host} is ${a.data}`,
        data: { service: t.service, availability: a.data },
      }
      this.store.addEvent(event)
      project(this.store, event)
      return 'stored'
    }
    let json: unknown
    try {
      json = JSON.parse(payload.toString('utf8'))
    } catch {
      return this.reject(topic, 'json: not valid JSON', payload)
    }
    const schema: z.ZodType =
      c.kind === 'reading' ? c.readingKind.schema : c.kind === 'status' ? c.schema : EventSchema
    const parsed = schema.safeParse(json)
    if (!parsed.success) {
      const i = parsed.error.issues[0]
      return this.reject(topic, `schema: ${i?.path.join('.') || '(root)'}: ${i?.message}`, payload)
    }
    const doc = parsed.data as { host: string; source: string; ts: number }
    if (doc.host !== t.host || doc.source !== t.service) {
      return this.reject(
        topic,
        `mismatch: payload says ${doc.host}/${doc.source}, topic says ${t.host}/${t.service}`,
        payload,
      )
    }
    if (c.kind === 'event') {
      const e = parsed.data as Event
      if (!this.store.addEvent(e)) return 'duplicate'
      project(this.store, e)
      const samples = EVENT_SAMPLES[e.type]?.(e)
      if (samples?.length)
        this.counters.inc('samples.stored', this.store.addSamples(e.host, e.ts, samples).stored)
      return 'stored'
    }
    if (c.kind === 'status') {
      this.store.putLatest(topic, t.host, t.service, 'status', doc.ts, JSON.stringify(doc))
      return 'stored'
    }
    // A reading: its samples go to the raw tier and rollups, the document to the latest cache.
    const kind = t.channel === 'reading' ? t.kind : ''
    this.store.putLatest(topic, t.host, t.service, kind, doc.ts, JSON.stringify(doc))
    if (!c.readingKind.samples) return 'stored'
    const r = this.store.addSamples(
      t.host,
      doc.ts,
      c.readingKind.samples(doc, t.channel === 'reading' ? t.entity : null),
    )
    this.counters.inc('samples.stored', r.stored)
    if (r.stored === 0 && r.duplicates > 0) return 'duplicate'
    return 'stored'
  }
}
