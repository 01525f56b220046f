import { join } from 'node:path'
import { HistoryReader, openWriter, ProjectionReader } from '@homelab/storage'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/helpers/stack.js'
import { project } from './projections.js'
import { rebuildProjections } from './rebuild.js'
import { Store } from './store.js'

const dirs: Array<{ remove: () => void }> = []
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove()
})

function open(chunkSamples = 4) {
  const d = tempDir()
  dirs.push(d)
  const path = join(d.path, 'h.db')
  const db = openWriter(path)
  return {
    db,
    path,
    store: new Store(db, { chunkSamples }),
    reader: new HistoryReader(db),
    projections: new ProjectionReader(db),
  }
}

const series = (r: HistoryReader) => r.readRaw(r.seriesIdOf('h', 'x')!, 0, 1e13)

describe('store', () => {
  it('stores a late (redelivered) sample once, whether its neighbours are staged or sealed', () => {
    const { store, reader } = open(4)
    for (const ts of [1000, 2000, 4000, 5000, 6000, 7000]) store.addSamples('h', ts, [['x', ts / 1000]])
    // 3000 arrives after newer ones were sealed: stored; a second delivery of 3000 or 5000 is a duplicate.
    expect(store.addSamples('h', 3000, [['x', 3]])).toStrictEqual({ stored: 1, duplicates: 0, refused: 0 })
    expect(store.addSamples('h', 3000, [['x', 3]])).toStrictEqual({ stored: 0, duplicates: 1, refused: 0 })
    expect(store.addSamples('h', 5000, [['x', 5]])).toStrictEqual({ stored: 0, duplicates: 1, refused: 0 })
    expect(store.addSamples('h', 7000, [['x', 7]])).toStrictEqual({ stored: 0, duplicates: 1, refused: 0 })
    expect(series(reader)).toStrictEqual({
      ts: [1000, 2000, 3000, 4000, 5000, 6000, 7000],
      values: [1, 2, 3, 4, 5, 6, 7],
    })
  })

  it('keeps min, max, sum and count in the 1-minute and 1-hour rollups, and rebuild reproduces them from raw', () => {
    const { db, store } = open(3)
    const minute = 1_700_000_040_000 // a minute boundary
    const t = minute + 40_000
    for (const [i, v] of [5, 1, 9, 3].entries()) store.addSamples('h', t + i * 10_000, [['x', v]])
    const rollups = () => ({
      m: db.prepare('SELECT bucket, min, max, sum, count FROM rollup_1m ORDER BY bucket').all(),
      h: db.prepare('SELECT bucket, min, max, sum, count FROM rollup_1h ORDER BY bucket').all(),
    })
    const before = rollups()
    expect(before.m).toStrictEqual([
      { bucket: minute, min: 1, max: 5, sum: 6, count: 2 },
      { bucket: minute + 60_000, min: 3, max: 9, sum: 12, count: 2 },
    ])
    db.exec('DELETE FROM rollup_1m; DELETE FROM rollup_1h')
    expect(rebuildProjections(db, store).samples).toBe(4)
    expect(rollups()).toStrictEqual(before)
    // A late sample of the minute before, staged after the first three were sealed: rebuild starts from its bucket
    // (it used to start from the first chunk's and stop on the row it had kept).
    expect(store.addSamples('h', minute - 20_000, [['x', 4]]).stored).toBe(1)
    const withLate = rollups()
    expect(withLate.m[0]).toStrictEqual({ bucket: minute - 60_000, min: 4, max: 4, sum: 4, count: 1 })
    expect(rebuildProjections(db, store).samples).toBe(5)
    expect(rollups()).toStrictEqual(withLate)
  })

  it('writes the same rollups when a batch adds them up in memory, on top of rows already stored, and none if it throws', () => {
    const minute = 1_700_000_040_000
    const samples: Array<[number, number]> = [5, 1, 9, 3, 7, 2].map((v, i) => [
      minute + 40_000 + i * 10_000,
      v,
    ])
    const rollups = (db: ReturnType<typeof open>['db']) => ({
      m: db.prepare('SELECT bucket, min, max, sum, count FROM rollup_1m ORDER BY bucket').all(),
      h: db.prepare('SELECT bucket, min, max, sum, count FROM rollup_1h ORDER BY bucket').all(),
    })
    const one = open(100)
    for (const [ts, v] of samples) one.store.addSamples('h', ts, [['x', v]])
    const batched = open(100)
    batched.store.addSamples('h', samples[0]![0], [['x', samples[0]![1]]])
    batched.db.transaction(() =>
      batched.store.withRollupsDeferred(() => {
        for (const [ts, v] of samples.slice(1)) batched.store.addSamples('h', ts, [['x', v]])
        // The minute still being added up is written only at the end of the batch.
        expect(rollups(batched.db).m.map((r) => (r as { bucket: number }).bucket)).toStrictEqual([minute])
      }),
    )()
    expect(rollups(batched.db)).toStrictEqual(rollups(one.db))
    expect(rollups(one.db).m).toHaveLength(2)

    const failed = open(100)
    expect(() =>
      failed.db.transaction(() =>
        failed.store.withRollupsDeferred(() => {
          failed.store.addSamples('h', minute, [['x', 1]])
          throw new Error('poison')
        }),
      )(),
    ).toThrow('poison')
    failed.store.reload()
    expect(rollups(failed.db)).toStrictEqual({ m: [], h: [] })
    failed.store.addSamples('h', minute, [['x', 4]])
    expect(rollups(failed.db).m).toStrictEqual([{ bucket: minute, min: 4, max: 4, sum: 4, count: 1 }])
  })

  it('survives a reopen: the newest sample per series is known again, so a replay is ignored', () => {
    const { db, path } = open(2)
    let store = new Store(db, { chunkSamples: 2 })
    for (const ts of [1000, 2000, 3000]) store.addSamples('h', ts, [['x', 1]])
    db.close()
    const db2 = openWriter(path)
    store = new Store(db2, { chunkSamples: 2 })
    expect(store.addSamples('h', 2000, [['x', 1]])).toStrictEqual({ stored: 0, duplicates: 1, refused: 0 })
    expect(store.addSamples('h', 3000, [['x', 1]])).toStrictEqual({ stored: 0, duplicates: 1, refused: 0 })
    expect(store.addSamples('h', 4000, [['x', 1]])).toStrictEqual({ stored: 1, duplicates: 0, refused: 0 })
    db2.close()
  })
})

describe('container projection', () => {
  const info = (name: string, state: string, id = 'b'.repeat(64)) => ({
    id,
    name,
    image: 'nginx',
    composeProject: null,
    composeService: null,
    state,
    statusText: '',
    health: 'none',
    restartCount: 0,
    createdAt: 1,
    startedAt: null,
    finishedAt: null,
    exitCode: null,
    oomKilled: false,
    memoryLimitSet: null,
    ports: [],
    control: { allowed: false, reason: 'x' },
  })
  const ev = (seq: number, type: string, subject: string, data: Record<string, unknown>) => ({
    v: 1 as const,
    ts: 1_000 + seq,
    host: 'h',
    source: 'docker-collector' as const,
    id: `event-0000${seq}`,
    type,
    severity: 'info' as const,
    subject,
    message: '',
    data,
  })

  it('keeps the current state per container from its events, follows renames and removals, and rebuilds the same', () => {
    const { db, store, projections } = open()
    const events = [
      ev(1, 'container.sync', 'web', { container: info('web', 'running') }),
      ev(2, 'container.sync', 'db', { container: info('db', 'running', 'c'.repeat(64)) }),
      ev(3, 'container.die', 'web', { exitCode: 1, container: info('web', 'exited') }),
      ev(4, 'container.rename', 'web2', { oldName: 'web', container: info('web2', 'exited') }),
      ev(5, 'container.destroy', 'db', { id: 'c'.repeat(64) }),
      ev(6, 'command.result', 'web2', { action: 'start' }),
    ]
    for (const e of events) {
      store.addEvent(e)
      project(store, e)
    }
    const rows = () => projections.containers('h').map((r) => [r.name, JSON.parse(r.info).state, r.updatedAt])
    expect(rows()).toStrictEqual([['web2', 'exited', 1004]])
    // An older event delivered late does not roll the state back.
    project(store, ev(0, 'container.start', 'web2', { container: info('web2', 'running') }))
    expect(rows()).toStrictEqual([['web2', 'exited', 1004]])
    expect(rebuildProjections(db, store).events).toBe(events.length)
    expect(rows()).toStrictEqual([['web2', 'exited', 1004]])
    expect(projections.containers(null)).toHaveLength(1)
    expect(projections.containers('other')).toHaveLength(0)
  })

  it('keeps the Ollama server state and models from its events and rebuilds the same', () => {
    const { db, store, projections } = open()
    const model = (name: string) => ({
      name,
      digest: 'd',
      size: 10,
      modifiedAt: null,
      format: null,
      family: null,
      parameterSize: null,
      quantization: null,
    })
    const loaded = (name: string) => ({
      name,
      digest: 'd',
      size: 10,
      sizeVram: 5,
      gpuPercent: 50,
      contextLength: null,
      expiresAt: null,
      parameterSize: null,
      quantization: null,
    })
    const o = (seq: number, type: string, subject: string, data: Record<string, unknown>) => ({
      ...ev(seq, type, subject, data),
      source: 'ollama-collector' as const,
    })
    const events = [
      o(1, 'ollama.sync', 'ollama', { version: '0.12.6', installed: [model('a:1b')], loaded: [] }),
      o(2, 'ollama.model_installed', 'b/c:7b', { model: model('b/c:7b') }),
      o(3, 'ollama.model_loaded', 'b/c:7b', { model: loaded('b/c:7b') }),
      o(4, 'ollama.inference', 'b/c:7b', { outcome: 'ok' }),
      o(5, 'ollama.model_removed', 'a:1b', { model: model('a:1b') }),
      o(6, 'ollama.down', 'ollama', { version: '0.12.6', reason: 'connection refused' }),
    ]
    for (const e of events) {
      store.addEvent(e)
      project(store, e)
    }
    const state = () => {
      const r = projections.ollama('h')!
      return {
        up: r.up,
        version: r.version,
        reason: r.reason,
        installed: (JSON.parse(r.installed) as Array<{ name: string }>).map((m) => m.name),
        loaded: (JSON.parse(r.loaded) as Array<{ name: string }>).map((m) => m.name),
      }
    }
    const expected = {
      up: 0,
      version: '0.12.6',
      reason: 'connection refused',
      installed: ['b/c:7b'],
      loaded: [],
    }
    expect(state()).toStrictEqual(expected)
    project(store, o(0, 'ollama.model_loaded', 'x:1b', { model: loaded('x:1b') }))
    expect(state()).toStrictEqual(expected)
    expect(rebuildProjections(db, store).events).toBe(events.length)
    expect(state()).toStrictEqual(expected)
    const up = o(7, 'ollama.up', 'ollama', {
      version: '0.13.0',
      installed: [model('b/c:7b')],
      loaded: [loaded('b/c:7b')],
    })
    project(store, up)
    expect(state()).toStrictEqual({
      up: 1,
      version: '0.13.0',
      reason: null,
      installed: ['b/c:7b'],
      loaded: ['b/c:7b'],
    })
    expect(projections.ollama('other')).toBeNull()
  })
})
