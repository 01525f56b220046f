import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { Level } from 'level'
import { describe, expect, it } from 'vitest'
import { tempDir, testLog } from '../../../test/helpers/stack.js'
import { hasLevelStore, migrateLevelStore } from './migrate-leveldb.js'
import { SqlitePersistence } from './sqlite-persistence.js'

const readAll = async <T>(s: AsyncIterable<T>) => {
  const out: T[] = []
  for await (const x of s) out.push(x)
  return out
}

describe('the broker store', () => {
  it('passes aedes-persistence’s own abstract test suite', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        '--test',
        join(import.meta.dirname, '..', 'test', 'conformance.node.ts'),
      ],
      { encoding: 'utf8', timeout: 120_000 },
    )
    expect(r.stdout).toMatch(/# fail 0\b/)
    expect(r.stdout).toMatch(/# pass 48\b/)
    expect(r.status).toBe(0)
  })

  it('keeps what was committed across a reopen, and refuses a second broker on the same file', async () => {
    const d = tempDir()
    const path = join(d.path, 'broker.db')
    const a = new SqlitePersistence(path)
    await a.setup({ id: 'b1' })
    expect(() => new SqlitePersistence(path)).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }))
    await a.addSubscriptions({ id: 'recorder-h' }, [{ topic: 'homelab/#', qos: 1 }])
    await a.storeRetained({
      cmd: 'publish',
      topic: 'homelab/h/x/availability',
      payload: Buffer.from('online'),
      qos: 1,
      retain: true,
    })
    for (let i = 0; i < 3; i++)
      await a.outgoingEnqueueCombi([{ clientId: 'recorder-h' }], {
        cmd: 'publish',
        topic: 'homelab/h/x/event/e',
        payload: Buffer.from(`m${i}`),
        qos: 1,
        retain: false,
        brokerId: 'b1',
        brokerCounter: i + 1,
      })
    await a.outgoingUpdate(
      { id: 'recorder-h' },
      {
        cmd: 'publish',
        topic: 't',
        payload: Buffer.alloc(0),
        qos: 1,
        retain: false,
        brokerId: 'b1',
        brokerCounter: 1,
        messageId: 7,
      },
    )
    expect(await a.outgoingClearMessageId({ id: 'recorder-h' }, { messageId: 7 })).toMatchObject({
      payload: Buffer.from('m0'),
    })
    await a.destroy()
    const b = new SqlitePersistence(path)
    await b.setup({ id: 'b2' })
    expect(await b.subscriptionsByTopic('homelab/h/x/event/e')).toStrictEqual([
      { clientId: 'recorder-h', topic: 'homelab/#', qos: 1, rh: undefined, rap: undefined, nl: undefined },
    ])
    expect(
      (await readAll(b.createRetainedStream('homelab/#'))).map((p) => p.payload.toString()),
    ).toStrictEqual(['online'])
    expect(
      (await readAll(b.outgoingStream({ id: 'recorder-h' }))).map((p) => p.payload.toString()),
    ).toStrictEqual(['m1', 'm2'])
    await b.destroy()
    d.remove()
  })

  it('takes over the LevelDB store of earlier versions: retained messages, sessions and their queues', async () => {
    const d = tempDir()
    const dir = join(d.path, 'broker')
    const require = createRequire(import.meta.url)
    const apl = require('aedes-persistence-level') as (db: Level<string, unknown>) => {
      setup(b: object): Promise<void>
      storeRetained(p: object): Promise<void>
      addSubscriptions(c: object, s: object[]): Promise<void>
      outgoingEnqueueCombi(s: object[], p: object): Promise<void>
      putWill(c: object, p: object): Promise<void>
      destroy(): Promise<void>
    }
    const level = new Level<string, unknown>(dir, { valueEncoding: 'view' })
    await level.open()
    const old = apl(level)
    await old.setup({ id: 'old' })
    await old.storeRetained({
      cmd: 'publish',
      topic: 'homelab/h/s/availability',
      payload: Buffer.from('online'),
      qos: 1,
      retain: true,
    })
    await old.addSubscriptions({ id: 'recorder-h' }, [{ topic: 'homelab/#', qos: 1 }])
    await old.outgoingEnqueueCombi([{ clientId: 'recorder-h', topic: 'homelab/#', qos: 1 }], {
      cmd: 'publish',
      topic: 'homelab/h/s/event/e',
      payload: Buffer.from('queued'),
      qos: 1,
      retain: false,
      brokerId: 'old',
      brokerCounter: 5,
    })
    await old.putWill(
      { id: 'sys-collector-h' },
      { topic: 'homelab/h/s/availability', payload: Buffer.from('offline'), qos: 1, retain: true },
    )
    await old.destroy()
    expect(hasLevelStore(dir)).toBe(true)
    const store = new SqlitePersistence(join(dir, 'broker.db'))
    await store.setup({ id: 'new' })
    expect(await migrateLevelStore(dir, store, testLog('broker'))).toBe(4)
    expect(hasLevelStore(dir)).toBe(false)
    expect((await readAll(store.createRetainedStream('#'))).map((p) => p.payload.toString())).toStrictEqual([
      'online',
    ])
    expect(
      (await readAll(store.outgoingStream({ id: 'recorder-h' }))).map((p) => p.payload.toString()),
    ).toStrictEqual(['queued'])
    expect(await store.subscriptionsByClient({ id: 'recorder-h' })).toMatchObject([
      { topic: 'homelab/#', qos: 1 },
    ])
    expect((await store.getWill({ id: 'sys-collector-h' }))?.payload.toString()).toBe('offline')
    await store.destroy()
    d.remove()
  })
})
