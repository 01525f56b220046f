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
    const { dir, file, calls } = setup('{"a":1}')
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'homelab.db-wal'), `page ${i}`)
    await sleep(300)
    expect(calls.length).toBe(0)
    stops.pop()?.()
    writeFileSync(file, '{"a":2}')
    await sleep(300)
    expect(calls.length).toBe(0)
  })

  it('falls back to a stat every second where the folder cannot be watched (it does not exist yet)', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'homelab-watch-'))
    const file = join(parent, 'later', 'probes.json')
    const calls: number[] = []
    stops.push(watchForChanges(file, () => calls.push(Date.now()), { settleMs: 50 }))
    // The stat's first answer (through the thread pool) is what later ones are compared with: a file created before
    // it arrives is "no change" to it. Started a second ago, as a watcher is long before anyone edits its file.
    await sleep(1100)
    mkdirSync(join(parent, 'later'))
    writeFileSync(file, '{"probes":[]}')
    expect(await until(() => calls.length === 1, 4000)).toBe(true)
  })
})
