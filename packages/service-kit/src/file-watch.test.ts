import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { watchForChanges } from './file-watch.js'

describe('watchForChanges', () => {
  const stops: Array<() => void> = []
  afterEach(() => {
    for (const s of stops.splice(0)) s()
  })

  function setup(initial: string | null) {
    const dir = mkdtempSync(join(tmpdir(), 'homelab-watch-'))
    const file = join(dir, 'rules.json')
    if (initial !== null) writeFileSync(file, initial)
    const calls: number[] = []
    stops.push(watchForChanges(file, () => calls.push(Date.now()), { settleMs: 50 }))
    return { dir, file, calls }
  }
  const until = async (check: () => boolean, ms = 3000) => {
    for (const t = Date.now(); Date.now() - t < ms && !check(); ) await sleep(20)
    return check()
  }

  it('sees a write in place, once per burst of writes, and a second write later', async () => {
    const { file, calls } = setup('{"a":1}')
    writeFileSync(file, '{"a":')
    writeFileSync(file, '{"a":22}')
    expect(await until(() => calls.length > 0)).toBe(true)
    await sleep(200)
    expect(calls.length).toBe(1)
    writeFileSync(file, '{"a":333}')
    expect(await until(() => calls.length === 2)).toBe(true)
  })

  it('follows the file when it is replaced by a rename, and keeps seeing writes to the new one', async () => {
    const { dir, file, calls } = setup('{"a":1}')
    writeFileSync(join(dir, '.rules.json.tmp'), '{"a":2}')
    renameSync(join(dir, '.rules.json.tmp'), file)
    expect(await until(() => calls.length === 1)).toBe(true)
    writeFileSync(file, '{"a":3, "b": 4}')
    expect(await until(() => calls.length === 2)).toBe(true)
  })

  it('sees a file that did not exist appear, and go', async () => {
    const { file, calls } = setup(null)
    writeFileSync(file, '{}')
    expect(await until(() => calls.length === 1)).toBe(true)
    rmSync(file)
    expect(await until(() => calls.length === 2)).toBe(true)
  })

  it('is not woken by the other files of its folder (a database beside it), and stops when told', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'homelab-watch-'))
    const file = join(dir, 'rules.json')
    writeFileSync(file, '{"a":1}')
    let wakes = 0
    const calls: number[] = []
    const stop = watchForChanges(file, () => calls.push(Date.now()), { settleMs: 50, onWake: () => wakes++ })
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'homelab.db-wal'), `page ${i}`)
    await sleep(300)
    expect(wakes).toBe(0)
    expect(calls.length).toBe(0)
    writeFileSync(file, '{"a":2}')
    expect(await until(() => calls.length === 1)).toBe(true)
    expect(wakes).toBeGreaterThan(0)
    stop()
    writeFileSync(file, '{"a":3}')
    await sleep(300)
    expect(calls.length).toBe(1)
  })

  it('looks for an absent file in a busy folder by a stat instead of waking at every write beside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'homelab-watch-'))
    const file = join(dir, 'probes.json')
    let wakes = 0
    const calls: number[] = []
    stops.push(
      watchForChanges(file, () => calls.push(Date.now()), {
        settleMs: 50,
        absentPollMs: 200,
        onWake: () => wakes++,
      }),
    )
    await sleep(100)
    for (let i = 0; i < 100; i++) {
      writeFileSync(join(dir, 'homelab.db-wal'), `page ${i}`)
      await sleep(2)
    }
    await sleep(100)
    // Up to the busy mark (20 a minute) the folder's notifications wake it; then none of the 100 writes do.
    expect(wakes).toBeGreaterThan(0)
    expect(wakes).toBeLessThan(40)
    expect(calls.length).toBe(0)
    writeFileSync(file, '{"probes":[]}')
    expect(await until(() => calls.length === 1)).toBe(true)
    // Present again: watched on its own inode, so the database beside it wakes nothing.
    await sleep(300)
    const before = wakes
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'homelab.db-wal'), `page ${i}`)
    await sleep(300)
    expect(wakes).toBe(before)
    writeFileSync(file, '{"probes":[1]}')
    expect(await until(() => calls.length === 2)).toBe(true)
  })

  it('falls back to a stat every second where the folder cannot be watched (it does not exist yet)', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'homelab-watch-'))
    const file = join(parent, 'later', 'probes.json')
    const calls: number[] = []
    stops.push(watchForChanges(file, () => calls.push(Date.now()), { settleMs: 50 }))
    // Started a moment ago, as a watcher is long before anyone edits its file.
    await sleep(100)
    mkdirSync(join(parent, 'later'))
    writeFileSync(file, '{"probes":[]}')
    expect(await until(() => calls.length === 1, 4000)).toBe(true)
  })
})
