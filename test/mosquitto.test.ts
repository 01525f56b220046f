import { readFileSync } from 'node:fs'
import { HistoryResponse, SystemMetrics } from '@homelab/contracts'
import { Counters } from '@homelab/service-kit'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeWith, mosquittoPath } from './helpers/infra.js'
import { MOSQUITTO_USERS, startMosquitto } from './helpers/mosquitto.js'
import { syntheticReading } from './helpers/readings.js'
import {
  connectClient,
  HOST,
  startGateway,
  startRecorder,
  startSysCollector,
  tempDir,
  waitFor,
} from './helpers/stack.js'

const bin = mosquittoPath()
const ADMIN = 'admin-token-for-mosquitto-tests-01'
const cleanups: Array<() => Promise<void> | void> = []

describeWith(
  'Mosquitto',
  bin !== null,
  'Install it with `apt-get install -y mosquitto mosquitto-clients`.',
)('with Mosquitto (MQTT 5) as the external broker', () => {
  let url = ''
  let base = ''
  const recorderCounters = new Counters()
  let recorder: ReturnType<typeof startRecorder>

  beforeAll(async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const m = await startMosquitto(bin!, dir.path)
    cleanups.push(() => m.stop())
    url = m.url
    recorder = startRecorder(dir.path, url, 'recorder', MOSQUITTO_USERS.recorder, recorderCounters)
    cleanups.push(() => recorder.stop())
    await recorder.conn.whenConnected()
    const gw = await startGateway(dir.path, url, 'gateway', MOSQUITTO_USERS.gateway, ADMIN)
    await gw.start()
    cleanups.push(() => gw.stop())
    base = `http://127.0.0.1:${gw.port}`
    const sys = await startSysCollector(url, 'sys-collector', MOSQUITTO_USERS['sys-collector'], 1000)
    cleanups.push(() => sys.stop())
  })

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })
    return { status: res.status, body: (await res.json()) as unknown }
  }

  it('carries readings from the collector through Mosquitto to the recorder and the history API', async () => {
    const h = await waitFor(
      async () => {
        const r = await get(`/api/history?series=mem.total&from=${Date.now() - 60_000}`)
        if (r.status !== 200) return null
        const parsed = HistoryResponse.parse(r.body)
        return parsed.columns[0].length >= 2 ? parsed : null
      },
      20_000,
      'two samples through Mosquitto',
    )
    const kb = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1])
    expect(h.columns[1].at(-1)).toBe(kb * 1024)
    const now = await get('/api/metrics/system')
    expect(SystemMetrics.parse(now.body).memoryTotal).toBe(kb * 1024)
  })

  it('enforces the generated ACL: a collector cannot publish a command', async () => {
    const sys = await connectClient(url, 'sys-collector', MOSQUITTO_USERS['sys-collector'])
    cleanups.push(() => void sys.end(true))
    await expect(sys.publishAsync(`homelab/${HOST}/docker-collector/cmd`, '{}', { qos: 1 })).rejects.toThrow(
      /Not authorized/i,
    )
    // Mosquitto refuses a wrong password with 135 (not authorized) where aedes says 134 (bad user name or password).
    const refused = await connectClient(url, 'sys-collector', 'wrong-password-123').then(
      () => null,
      (e: { code: number }) => e.code,
    )
    expect([134, 135]).toContain(refused)
  })

  it('lets the recorder count and quarantine a 1 MB payload that Mosquitto accepts, and keep storing', async () => {
    const sys = await connectClient(url, 'sys-collector', MOSQUITTO_USERS['sys-collector'])
    cleanups.push(() => void sys.end(true))
    const topic = `homelab/${HOST}/sys-collector/reading/system`
    const ts = Date.now() + 7_200_000
    await sys.publishAsync(
      topic,
      JSON.stringify({ ...syntheticReading(ts, 1), note: 'x'.repeat(1_000_000) }),
      { qos: 1 },
    )
    await sys.publishAsync(topic, JSON.stringify(syntheticReading(ts + 1000, 2)), { qos: 1 })
    await waitFor(
      () => recorderCounters.get('invalid.oversized') === 1,
      10_000,
      'the oversized payload to be counted',
    )
    await waitFor(
      async () => {
        const r = await get(`/api/history?series=uptime&from=${ts}&to=${ts + 2000}`)
        return r.status === 200 && HistoryResponse.parse(r.body).columns[1].includes(1002)
      },
      10_000,
      'the good reading after it',
    )
  })
})
