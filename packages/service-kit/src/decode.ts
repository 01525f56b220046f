import {
  Availability,
  classify,
  type Envelope,
  Event,
  eventDataIssue,
  type ParsedTopic,
  parseReading,
  type ReadingKindName,
  ServiceStatus,
  type Topics,
  type TypedReading,
} from '@homelab/contracts'

/** Why a message was refused; each is a counter (`invalid.<category>`) and the first word of a quarantine reason. */
export type InvalidCategory = 'topic' | 'oversized' | 'json' | 'schema' | 'mismatch'

type On<C extends ParsedTopic['channel']> = Extract<ParsedTopic, { channel: C }>

/** A message of the tree, validated against its contract. */
export type Decoded =
  | { kind: 'availability'; topic: On<'availability'>; value: Availability }
  /** An empty retained reading or status: the entity is gone (a removed container). */
  | { kind: 'cleared'; topic: On<'reading'>; readingKind: ReadingKindName }
  | { kind: 'cleared'; topic: On<'status'>; readingKind?: undefined }
  | { kind: 'reading'; topic: On<'reading'>; reading: TypedReading }
  | { kind: 'status'; topic: On<'status'>; doc: ServiceStatus }
  | { kind: 'event'; topic: On<'event'>; doc: Event }
  /** Commands, replies and notifications: not documents of the record; their consumers read them. */
  | { kind: 'command'; topic: ParsedTopic }
  | { kind: 'notification'; topic: On<'notify'> }

export type DecodeResult =
  | { ok: true; message: Decoded }
  | { ok: false; category: InvalidCategory; reason: string; topic: ParsedTopic | null }

export interface DecodeOptions {
  topics: Topics
  /** Larger payloads are refused before they are parsed. */
  maxPayloadBytes: number
}

const refuse = (category: InvalidCategory, reason: string, topic: ParsedTopic | null): DecodeResult => ({
  ok: false,
  category,
  reason: `${category}: ${reason}`,
  topic,
})

/**
 * The one decoder of the bus, used by every consumer (recorder, gateway, alerter): the topic parsed and classified,
 * the payload's size checked before it is parsed, its JSON validated against the contract schema of its topic
 * (whose depth and size bounds keep every accepted document safe to store and serialize), and its envelope checked
 * against the topic — a document that says it comes from another host or service than the topic it was published
 * on is refused, so the ACL on topics also binds what the documents claim.
 */
export function decode(o: DecodeOptions, topic: string, payload: Buffer): DecodeResult {
  if (!shared) return decodeOnce(o, topic, payload)
  const key = `${o.topics.base}\u0000${o.maxPayloadBytes}\u0000${topic}`
  const hit = shared.get(key)
  if (hit?.payload.equals(payload)) {
    counters?.inc('decode.shared')
    return hit.result
  }
  const result = decodeOnce(o, topic, payload)
  if (result.ok) deepFreeze(result.message)
  shared.delete(key)
  // A copy: the payload may be a view of the whole socket read it arrived in.
  shared.set(key, { payload: Buffer.from(payload), result })
  if (shared.size > sharedLimit) shared.delete(shared.keys().next().value ?? key)
  return result
}

let shared: Map<string, { payload: Buffer; result: DecodeResult }> | null = null
let sharedLimit = 0
let counters: { inc(name: string): void } | null = null

/**
 * Where several consumers run in one process (the all-in-one: recorder, gateway and alerter each receive every
 * message from the broker), the first of them decodes a message and the others get the same result: the last
 * message of each topic is kept with its decoded value (at most `maxTopics`), and a payload equal byte for byte is
 * not parsed or validated again. Decoded documents are frozen, as every consumer only reads them. 0 turns it off.
 */
export function shareDecoding(maxTopics: number, count?: { inc(name: string): void }): void {
  shared = maxTopics > 0 ? new Map() : null
  sharedLimit = maxTopics
  counters = count ?? null
}

function deepFreeze(v: unknown): void {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return
  Object.freeze(v)
  for (const x of Object.values(v)) deepFreeze(x)
}

function decodeOnce(o: DecodeOptions, topic: string, payload: Buffer): DecodeResult {
  const t = o.topics.parse(topic)
  if (!t) return refuse('topic', 'not in the topic tree', null)
  const c = classify(t)
  if (c.kind === 'command') return { ok: true, message: { kind: 'command', topic: t } }
  if (c.kind === 'notification' && t.channel === 'notify')
    return { ok: true, message: { kind: 'notification', topic: t } }
  if (c.kind === 'unknown') return refuse('topic', c.reason, t)
  if (payload.length === 0 && t.channel === 'status')
    return { ok: true, message: { kind: 'cleared', topic: t } }
  if (payload.length === 0 && t.channel === 'reading' && c.kind === 'reading')
    return { ok: true, message: { kind: 'cleared', topic: t, readingKind: c.name } }
  if (payload.length > o.maxPayloadBytes)
    return refuse('oversized', `${payload.length} bytes (limit ${o.maxPayloadBytes})`, t)
  if (t.channel === 'availability') {
    const a = Availability.safeParse(payload.toString('utf8'))
    if (!a.success) return refuse('schema', 'availability must be "online" or "offline"', t)
    return { ok: true, message: { kind: 'availability', topic: t, value: a.data } }
  }
  let json: unknown
  try {
    json = JSON.parse(payload.toString('utf8'))
  } catch {
    return refuse('json', 'not valid JSON', t)
  }
  const checkEnvelope = (doc: Envelope): DecodeResult | null =>
    doc.host !== t.host || doc.source !== t.service
      ? refuse('mismatch', `payload says ${doc.host}/${doc.source}, topic says ${t.host}/${t.service}`, t)
      : null
  const schemaError = (issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>) => {
    const i = issues[0]
    return refuse('schema', `${i?.path.join('.') || '(root)'}: ${i?.message}`, t)
  }
  if (t.channel === 'event') {
    const r = Event.safeParse(json)
    if (!r.success) return schemaError(r.error.issues)
    const issue = eventDataIssue(r.data)
    if (issue) return schemaError([issue])
    return checkEnvelope(r.data) ?? { ok: true, message: { kind: 'event', topic: t, doc: r.data } }
  }
  if (t.channel === 'status') {
    const r = ServiceStatus.safeParse(json)
    if (!r.success) return schemaError(r.error.issues)
    return checkEnvelope(r.data) ?? { ok: true, message: { kind: 'status', topic: t, doc: r.data } }
  }
  if (t.channel === 'reading' && c.kind === 'reading') {
    const r = parseReading(c.name, json)
    if (!r.ok) return schemaError(r.issues)
    return (
      checkEnvelope(r.reading.doc) ?? { ok: true, message: { kind: 'reading', topic: t, reading: r.reading } }
    )
  }
  return refuse('topic', `nothing is published on ${t.channel}`, t)
}
