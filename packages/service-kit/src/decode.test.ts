import { createTopics, LiveMessage, liveReading, type SystemReading } from '@homelab/contracts'
import { afterAll, describe, expect, it } from 'vitest'
import { decode, shareDecoding } from './decode.js'

const topics = createTopics('homelab')
const opts = { topics, maxPayloadBytes: 256 * 1024 }

const system: SystemReading = {
  v: 1,
  ts: 1_700_000_000_000,
  host: 'pi',
  source: 'sys-collector',
  intervalMs: 5000,
  cpu: { usage: 12.5, user: 8, system: 4.5, iowait: 0, cores: [10, 15] },
  load: [0.5, 0.4, 0.3],
  memory: { total: 8e9, used: 2e9, available: 6e9, percent: 25, swapTotal: 0, swapUsed: 0 },
  cpuTemperature: null,
  temperatures: [],
  filesystems: [],
  disks: [],
  network: [],
  uptimeSec: 1000,
}
const json = (v: unknown) => Buffer.from(JSON.stringify(v))

describe('decode', () => {
  it('gives a reading its kind and its typed document', () => {
    const r = decode(opts, topics.reading('pi', 'sys-collector', 'system'), json(system))
    if (!r.ok || r.message.kind !== 'reading') throw new Error(`not a reading: ${JSON.stringify(r)}`)
    const { reading } = r.message
    if (reading.kind !== 'system') throw new Error(`kind ${reading.kind}`)
    // Narrowed on the kind: the document is a SystemReading, no cast.
    expect(reading.doc.cpu.usage).toBe(12.5)
    expect(reading.doc.load).toStrictEqual([0.5, 0.4, 0.3])
  })

  it('refuses what the topic does not allow, each with its category', () => {
    const cases: Array<[string, Buffer, string]> = [
      ['homelab/pi/sys-collector/reading/nope', json(system), 'topic'],
      ['other/pi/sys-collector/reading/system', json(system), 'topic'],
      [topics.reading('pi', 'sys-collector', 'system'), Buffer.from('{'), 'json'],
      [topics.reading('pi', 'sys-collector', 'system'), json({ ...system, cpu: 'high' }), 'schema'],
      [topics.reading('pi', 'sys-collector', 'system'), json({ ...system, host: 'other' }), 'mismatch'],
      [topics.reading('pi', 'recorder', 'system'), json(system), 'mismatch'],
      [topics.reading('pi', 'sys-collector', 'system'), Buffer.alloc(300 * 1024, 32), 'oversized'],
      [topics.availability('pi', 'recorder'), Buffer.from('maybe'), 'schema'],
    ]
    for (const [topic, payload, category] of cases) {
      const r = decode(opts, topic, payload)
      expect(r.ok ? 'accepted' : r.category, topic).toBe(category)
    }
  })

  it("refuses an event whose data does not match its type's schema, and keeps a third party's type", () => {
    const event = (type: string, data: Record<string, unknown>) =>
      json({
        v: 1,
        ts: 1_700_000_000_000,
        host: 'pi',
        source: 'docker-collector',
        id: 'event-0001',
        type,
        severity: 'warning',
        subject: 'web',
        message: 'web died',
        data,
      })
    const topic = topics.event('pi', 'docker-collector', 'container.die')
    const bad = decode(opts, topic, event('container.die', { exitCode: 'one' }))
    expect(bad.ok ? 'accepted' : bad.reason).toMatch(/^schema: data\.exitCode: /)
    expect(decode(opts, topic, event('container.die', { exitCode: 1, extra: 'kept' })).ok).toBe(true)
    const other = topics.event('pi', 'docker-collector', 'acme.thing')
    expect(decode(opts, other, event('acme.thing', { anything: ['goes'] })).ok).toBe(true)
  })

  it('tells a cleared retained reading from a cleared status', () => {
    const reading = decode(
      opts,
      topics.reading('pi', 'docker-collector', 'container', 'web'),
      Buffer.alloc(0),
    )
    const status = decode(opts, topics.status('pi', 'docker-collector'), Buffer.alloc(0))
    expect(reading.ok && reading.message.kind === 'cleared' && reading.message.readingKind).toBe('container')
    expect(status.ok && status.message.kind === 'cleared' && status.message.readingKind).toBeUndefined()
  })

  it('builds live messages that the browser parses back to the same typed value', () => {
    const topic = topics.reading('pi', 'sys-collector', 'system')
    const r = decode(opts, topic, json(system))
    if (!r.ok || r.message.kind !== 'reading') throw new Error('not a reading')
    const m = liveReading(
      { topic, host: 'pi', service: 'sys-collector' },
      r.message.reading.kind,
      null,
      r.message.reading.doc,
    )
    const back = LiveMessage.parse(JSON.parse(JSON.stringify(m)))
    expect(back).toStrictEqual(m)
    if (back.channel !== 'reading' || back.kind !== 'system') throw new Error('lost its kind')
    expect(back.payload?.memory.percent).toBe(25)
    // A reading that claims one kind but carries another's document is refused, as the browser does.
    expect(LiveMessage.safeParse({ ...m, kind: 'unit' }).success).toBe(false)
    const cleared = liveReading({ topic, host: 'pi', service: 'sys-collector' }, 'container', 'web', null)
    expect(LiveMessage.parse(JSON.parse(JSON.stringify(cleared)))).toStrictEqual(cleared)
  })
})

describe('shared decoding (several consumers in one process)', () => {
  afterAll(() => shareDecoding(0))
  it('decodes an equal payload once per topic, and freezes what it shares', () => {
    const seen: string[] = []
    shareDecoding(2, { inc: (n) => seen.push(n) })
    const topic = topics.reading('pi', 'sys-collector', 'system')
    const a = decode(opts, topic, json(system))
    const b = decode(opts, topic, json(system))
    expect(b).toBe(a)
    expect(seen).toStrictEqual(['decode.shared'])
    if (!a.ok || a.message.kind !== 'reading' || a.message.reading.kind !== 'system')
      throw new Error('not a system reading')
    const doc = a.message.reading.doc
    expect(Object.isFrozen(doc) && Object.isFrozen(doc.cpu) && Object.isFrozen(doc.cpu.cores)).toBe(true)
    expect(Reflect.set(doc, 'ts', 0)).toBe(false)
    expect(doc.ts).toBe(system.ts)
    // Another payload on the topic is decoded anew; so is the same payload under other options.
    const c = decode(opts, topic, json({ ...system, ts: system.ts + 5000 }))
    expect(c).not.toBe(a)
    expect(decode({ ...opts, maxPayloadBytes: 1024 }, topic, json(system))).not.toBe(a)
    // At most two topics are kept: the oldest goes first.
    decode(opts, topics.status('pi', 'recorder'), Buffer.alloc(0))
    decode(opts, topics.status('pi', 'gateway'), Buffer.alloc(0))
    expect(decode(opts, topic, json({ ...system, ts: system.ts + 5000 }))).not.toBe(c)
  })
})
