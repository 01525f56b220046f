import { join } from 'node:path'
import { createTopics, type Event } from '@homelab/contracts'
import { Counters } from '@homelab/service-kit'
import { HistoryReader, openWriter } from '@homelab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import { syntheticReading } from '../../../test/helpers/readings.js'
import { tempDir, testLog } from '../../../test/helpers/stack.js'
import { Ingest, StorageUnavailable } from './ingest.js'
import { Store } from './store.js'

const dirs: Array<{ remove: () => void }> = []
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove()
})

const topics = createTopics('homelab')
const event = (id: string): Event => ({
  v: 1,
  ts: 1_700_000_000_000,
  host: 'h',
  source: 'sys-collector',
  id,
  type: 'test.marker',
  severity: 'info',
  subject: 's',
  message: '',
  data: {},
})

/** A store whose event log cannot take one event (as a value that fails only when written would). */
class FlakyStore extends Store {
  override addEvent(e: Event): boolean {
    if (e.id === 'cannot-store-1') throw new RangeError('Maximum call stack size exceeded')
    return super.addEvent(e)
  }
}

function setup(StoreClass: typeof Store = Store) {
  const d = tempDir()
  dirs.push(d)
  const db = openWriter(join(d.path, 'h.db'))
  const counters = new Counters()
  const store = new StoreClass(db)
  const ingest = new Ingest(store, topics, { maxPayloadBytes: 65536 }, testLog('ingest'), counters)
  return { db, store, ingest, counters }
}

describe('ingest', () => {
  it('quarantines a message that cannot be stored with its reason and stores the rest of its batch', () => {
    const { db, ingest, counters } = setup(FlakyStore)
    const r = (i: number) => ({
      topic: topics.reading('h', 'sys-collector', 'system'),
      payload: Buffer.from(JSON.stringify(syntheticReading(1_700_000_000_000 + i * 1000, i, 'h'))),
    })
    const e = (id: string) => ({
      topic: topics.event('h', 'sys-collector', 'test.marker'),
      payload: Buffer.from(JSON.stringify(event(id))),
    })
    const outcomes = ingest.handleBatch([r(0), e('fine-event-1'), e('cannot-store-1'), r(1)])
    expect(outcomes).toStrictEqual(['stored', 'stored', 'quarantined', 'stored'])
    expect(db.prepare('SELECT reason FROM quarantine').all()).toStrictEqual([
      { reason: 'unstorable: Maximum call stack size exceeded' },
    ])
    expect(db.prepare('SELECT id FROM events ORDER BY id').all()).toStrictEqual([{ id: 'fine-event-1' }])
    const h = new HistoryReader(db)
    expect(h.readRaw(h.seriesIdOf('h', 'uptime')!, 0, 2e12).values).toStrictEqual([1000, 1001])
    expect(counters.get('batches.isolated')).toBe(1)
    expect(counters.get('invalid.unstorable')).toBe(1)
  })

  it('refuses a whole batch when the database cannot take writes, and knows its series again after the rollback', () => {
    const { db, store, ingest } = setup()
    const reading = (i: number) => ({
      topic: topics.reading('h', 'sys-collector', 'system'),
      payload: Buffer.from(JSON.stringify(syntheticReading(1_700_000_000_000 + i * 1000, i, 'h'))),
    })
    ingest.handleBatch([reading(0)])
    db.pragma('query_only = ON')
    expect(() => ingest.handleBatch([reading(1)])).toThrow(StorageUnavailable)
    db.pragma('query_only = OFF')
    expect(ingest.handleBatch([reading(1)])).toStrictEqual(['stored'])
    const h = new HistoryReader(db)
    expect(h.readRaw(h.seriesIdOf('h', 'uptime')!, 0, 2e12).values).toStrictEqual([1000, 1001])
    expect(store.addSamples('h', 1_700_000_000_000, [['uptime', 1000]])).toStrictEqual({
      stored: 0,
      duplicates: 1,
      refused: 0,
    })
  })

  it('refuses new series of a host past its series limit and keeps its existing ones', () => {
    const d = tempDir()
    dirs.push(d)
    const db = openWriter(join(d.path, 'h.db'))
    const store = new Store(db, { maxSeriesPerHost: 3 })
    expect(
      store.addSamples('h', 1000, [
        ['a', 1],
        ['b', 1],
        ['c', 1],
        ['d', 1],
      ]),
    ).toStrictEqual({ stored: 3, duplicates: 0, refused: 1 })
    expect(
      store.addSamples('h', 2000, [
        ['a', 2],
        ['e', 2],
      ]),
    ).toStrictEqual({ stored: 1, duplicates: 0, refused: 1 })
    expect(store.addSamples('other', 1000, [['d', 1]])).toStrictEqual({
      stored: 1,
      duplicates: 0,
      refused: 0,
    })
    expect([...store.seriesLimited.keys()]).toStrictEqual(['h'])
  })
})
