import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AlertStore } from './store.js'

describe('AlertStore.unitOfWork', () => {
  let dir: string
  let store: AlertStore
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'alert-store-'))
    store = new AlertStore(join(dir, 'alerter.db'))
  })
  afterEach(() => {
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('opens no transaction when nothing is written, and commits what is', () => {
    const total = () => store.db.prepare<[], { n: number }>('SELECT total_changes() AS n').get()?.n
    store.unitOfWork(() => {
      expect(store.getMeta('x')).toBeNull()
      expect(store.db.inTransaction).toBe(false)
    })
    store.unitOfWork(() => {
      store.setMeta('a', '1')
      expect(store.db.inTransaction).toBe(true)
      store.setMeta('b', '2')
    })
    expect(store.db.inTransaction).toBe(false)
    expect(total()).toBe(2)
    const reopened = new AlertStore(join(dir, 'alerter.db'))
    try {
      expect(reopened.getMeta('a')).toBe('1')
      expect(reopened.getMeta('b')).toBe('2')
    } finally {
      reopened.close()
    }
  })

  it('rolls back every write of a unit that throws, and the next unit works', () => {
    expect(() =>
      store.unitOfWork(() => {
        store.setMeta('a', '1')
        throw new Error('boom')
      }),
    ).toThrow('boom')
    expect(store.db.inTransaction).toBe(false)
    expect(store.getMeta('a')).toBeNull()
    store.unitOfWork(() => store.setMeta('a', '2'))
    expect(store.getMeta('a')).toBe('2')
  })
})
