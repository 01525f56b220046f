import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTopics } from '@homelab/contracts'
import { Counters, createLogger, MqttConnection } from '@homelab/service-kit'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../../test/helpers/stack.js'
import { SystemdBus } from './bus.js'
import { CgroupReader } from './cgroup.js'
import { SystemdCollector } from './collector.js'

const topics = createTopics('homelab')
/** Far longer than the test's own timeout: a stop that waits for a call to time out fails the test. */
const CALL_TIMEOUT_MS = 120_000

function collector(address: string): { c: SystemdCollector; counters: Counters; conn: MqttConnection } {
  const log = createLogger('test', () => undefined)
  const counters = new Counters()
  const conn = new MqttConnection({
    url: 'mqtt://127.0.0.1:9',
    username: 'x',
    password: 'y',
    clientId: 'systemd-collector-pi',
    host: 'pi',
    service: 'systemd-collector',
    topics,
    log,
    counters,
    version: 'test',
  })
  const c = new SystemdCollector({
    conn,
    topics,
    host: 'pi',
    bus: new SystemdBus(address, CALL_TIMEOUT_MS),
    units: ['*'],
    control: [],
    intervalMs: 60_000,
    resyncMs: 60_000,
    jobTimeoutMs: 1000,
    cgroups: new CgroupReader(''),
    log,
    counters,
  })
  return { c, counters, conn }
}

describe('SystemdCollector without a usable bus', () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f()
  })

  it('counts a failed connect, reports why, and stops at once (no read left waiting on the failed bus)', {
    timeout: 5000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hl-sd-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const { c, counters, conn } = collector(`unix:path=${join(dir, 'no-such-socket')}`)
    c.start()
    await waitFor(() => counters.get('bus.errors') >= 1, 5000, 'a failed connect')
    expect(c.isConnected).toBe(false)
    expect(c.unavailableReason).toMatch(/no system bus/)
    await c.stop()
    await conn.stop()
  })

  it('stops at once while a bus accepted the connection but never answers its hello', {
    timeout: 5000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hl-sd-'))
    const sockets: Socket[] = []
    const mute: Server = createServer((s) => {
      sockets.push(s)
      s.on('error', () => undefined)
    })
    const path = join(dir, 'bus')
    await new Promise<void>((r) => mute.listen(path, r))
    cleanups.push(
      () => rmSync(dir, { recursive: true, force: true }),
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy()
          mute.close(() => r())
        }),
    )
    const { c, conn } = collector(`unix:path=${path}`)
    c.start()
    await waitFor(() => sockets.length === 1, 5000, 'the connection to the mute bus')
    expect(c.isConnected).toBe(false)
    await c.stop()
    await conn.stop()
  })
})
