import { join } from 'node:path'
import { HistoryReader, openReader } from '@homelab/storage'
import { afterAll, describe, expect, it } from 'vitest'
import { exited, spawnService } from './helpers/process.js'
import { syntheticReading } from './helpers/readings.js'
import { connectClient, HOST, startTestBroker, tempDir, waitFor } from './helpers/stack.js'

const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('recorder crash', () => {
  it('stores every reading published while it was SIGKILLed exactly once', { timeout: 120_000 }, async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const b = await startTestBroker(dir.path)
    cleanups.push(() => b.broker.stop())
    const env = {
      HOMELAB_DATA_DIR: dir.path,
      HOMELAB_MQTT_URL: b.url,
      HOMELAB_MQTT_PASSWORD: b.credentials.recorder!,
      HOMELAB_HOST_ID: HOST,
    }
    const dbPath = join(dir.path, 'homelab.db')
    const start = () => {
      const p = spawnService('recorder', env)
      cleanups.push(() => void p.kill('SIGKILL'))
      return p
    }
    let recorder = start()
    // The recorder is subscribed once the broker shows it online.
    const watcher = await connectClient(b.url, 'gateway', b.credentials.gateway)
    cleanups.push(() => void watcher.end(true))
    let online = 0
    watcher.on(
      'message',
      (t, p) => t.endsWith('/recorder/availability') && p.toString() === 'online' && online++,
    )
    await watcher.subscribeAsync(`homelab/${HOST}/recorder/availability`, { qos: 1 })
    await waitFor(() => online >= 1, 30_000, 'the recorder to come online')

    const pub = await connectClient(b.url, 'sys-collector', b.credentials['sys-collector'])
    cleanups.push(() => void pub.end(true))
    const t0 = Date.now() - 3_600_000
    let i = 0
    const publishSome = async (n: number) => {
      for (let k = 0; k < n; k++, i++) {
        await pub.publishAsync(
          `homelab/${HOST}/sys-collector/reading/system`,
          JSON.stringify(syntheticReading(t0 + i * 1000, i)),
          { qos: 1 },
        )
      }
    }
    await publishSome(300)
    recorder.kill('SIGKILL')
    await exited(recorder)
    await publishSome(300) // while the recorder is dead: the broker queues them for its persistent session
    recorder = start()
    await publishSome(300) // and while it comes back
    const total = i

    const count = () => {
      try {
        const db = openReader(dbPath)
        try {
          const r = new HistoryReader(db)
          const id = r.seriesIdOf(HOST, 'uptime')
          return id === null ? null : r.readRaw(id, 0, Date.now())
        } finally {
          db.close()
        }
      } catch {
        return null
      }
    }
    const raw = await waitFor(
      () => {
        const r = count()
        return r && r.ts.length >= total ? r : null
      },
      60_000,
      `${total} stored readings`,
    ).catch((e) => {
      throw new Error(
        `${e.message}; have ${count()?.ts.length}; recorder said: ${recorder.output().slice(-2000)}`,
      )
    })
    expect(raw.ts.length).toBe(total)
    expect(new Set(raw.ts).size).toBe(total)
    expect(raw.values).toStrictEqual(Array.from({ length: total }, (_, k) => 1000 + k))
    recorder.kill('SIGTERM')
    expect(await exited(recorder)).toBe(0)
  })
})
