import { createTopics, SystemReading } from '@homelab/contracts'
import { Counters, MqttConnection } from '@homelab/service-kit'
import type { MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { syntheticReading } from './helpers/readings.js'
import { connectClient, HOST, startTestBroker, tempDir, testLog, waitFor } from './helpers/stack.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup() {
  const dir = tempDir()
  const b = await startTestBroker(dir.path)
  cleanups.push(dir.remove, () => b.broker.stop())
  const client = async (user: 'sys-collector' | 'gateway' | 'recorder' | 'homeassistant' | 'alerter') => {
    const c = await connectClient(b.url, user, b.credentials[user])
    cleanups.push(() => void c.end(true))
    return c
  }
  return { ...b, dir, client }
}

/** The sys-collector's connection, as the service makes it. */
function sysCollectorConnection(b: Awaited<ReturnType<typeof startTestBroker>>, counters: Counters) {
  return new MqttConnection({
    url: b.url,
    username: 'sys-collector',
    password: b.credentials['sys-collector'],
    clientId: `sys-collector-${HOST}`,
    host: HOST,
    service: 'sys-collector',
    topics: createTopics('homelab'),
    log: testLog('conn'),
    counters,
    version: 'test',
  })
}

const publish = (c: MqttClient, topic: string, payload: string) =>
  new Promise<void>((resolve, reject) =>
    c.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(err) : resolve())),
  )

describe('broker security', () => {
  it('refuses a wrong password and an unknown user', async () => {
    const { url } = await setup()
    await expect(connectClient(url, 'sys-collector', 'wrong-password-wrong')).rejects.toMatchObject({
      code: 134,
    })
    await expect(connectClient(url, 'nobody', 'whatever-whatever')).rejects.toMatchObject({ code: 134 })
    await expect(connectClient(url, 'gateway', undefined)).rejects.toMatchObject({ code: 134 })
  })

  it('keeps a collector out of other subtrees and off command topics', async () => {
    const { client, broker } = await setup()
    const watcher = await client('gateway')
    const seen: string[] = []
    // (The broker's own availability and status are there too.)
    watcher.on('message', (t) => t.includes('/broker/') || seen.push(t))
    await watcher.subscribeAsync('homelab/#', { qos: 1 })
    const sys = await client('sys-collector')
    const denied: string[] = []
    broker.events.on('denied', (d: { topic: string }) => denied.push(d.topic))

    const forbidden = [
      `homelab/${HOST}/docker-collector/reading/container/web`,
      `homelab/${HOST}/sys-collector/cmd`,
      `homelab/${HOST}/sys-collector/set/anything`,
      `homelab/${HOST}/docker-collector/cmd`,
      'homeassistant/status',
    ]
    for (const t of forbidden)
      await expect(publish(sys, t, '{}'), t).rejects.toThrow(/Not authorized|135|not authorized/i)
    expect(denied).toStrictEqual(forbidden)
    // A permitted message published after them arrives; none of the forbidden ones did.
    await publish(sys, `homelab/${HOST}/sys-collector/status`, 'marker')
    await waitFor(() => seen.includes(`homelab/${HOST}/sys-collector/status`))
    expect(seen).toStrictEqual([`homelab/${HOST}/sys-collector/status`])

    await expect(sys.subscribeAsync('homelab/#', { qos: 1 })).rejects.toThrow(/Not authorized/)
    await expect(sys.subscribeAsync(`homelab/${HOST}/docker-collector/cmd`, { qos: 1 })).rejects.toThrow(
      /Not authorized/,
    )
    const granted = await sys.subscribeAsync(`homelab/${HOST}/sys-collector/cmd`, { qos: 1 })
    expect(granted.map((g) => g.qos)).toStrictEqual([1])
    expect(sys.connected).toBe(true)
  })

  it('lets Home Assistant publish commands and its status but not readings', async () => {
    const { client } = await setup()
    const ha = await client('homeassistant')
    await publish(ha, `homelab/${HOST}/docker-collector/set/web`, 'restart')
    await publish(ha, 'homeassistant/status', 'online')
    await expect(publish(ha, `homelab/${HOST}/sys-collector/reading/system`, '{}')).rejects.toThrow()
  })

  it('delivers a command to its executor only: a channel change and its token never reach the others', async () => {
    const { client } = await setup()
    const got = new Map<string, string[]>()
    const watch = async (user: 'homeassistant' | 'recorder' | 'alerter', filter: string) => {
      const c = await client(user)
      got.set(user, [])
      c.on('message', (topic) => got.get(user)?.push(topic))
      await c.subscribeAsync(filter, { qos: 1 })
    }
    await watch('homeassistant', 'homelab/#')
    await watch('recorder', 'homelab/#')
    await watch('alerter', `homelab/${HOST}/alerter/cmd`)
    const gw = await client('gateway')
    const cmd = `homelab/${HOST}/alerter/cmd`
    await publish(
      gw,
      cmd,
      JSON.stringify({
        v: 1,
        action: 'set_channel',
        target: 'phone',
        params: { url: 'telegram://secret@telegram?chats=1' },
      }),
    )
    // Something every subscriber of everything may see, sent after it: once it is in, the command had its chance.
    await publish(gw, `homelab/${HOST}/gateway/event/probe`, '{}')
    await waitFor(
      () => got.get('homeassistant')?.includes(`homelab/${HOST}/gateway/event/probe`),
      5000,
      'the event',
    )
    await waitFor(
      () => got.get('recorder')?.includes(`homelab/${HOST}/gateway/event/probe`),
      5000,
      'the event',
    )
    await waitFor(() => got.get('alerter')?.includes(cmd), 5000, 'the command at its executor')
    expect(got.get('homeassistant')).not.toContain(cmd)
    expect(got.get('recorder')).not.toContain(cmd)
  })
})

describe('broker persistence', () => {
  it('delivers a retained message live even when other messages follow it at once', async () => {
    // aedes writes a retained message to LevelDB before emitting it and drops, per subscriber, messages older than
    // one already delivered: without retainInOrder the `online` below never reached live subscribers.
    const { client } = await setup()
    const sub = await client('recorder')
    const got: string[] = []
    sub.on('message', (t, p) => got.push(`${t.split('/').slice(-1)[0]}=${p.toString()}`))
    const base = `homelab/${HOST}/sys-collector`
    await sub.subscribeAsync(`${base}/#`, { qos: 1 })
    const pub = await client('sys-collector')
    for (let i = 0; i < 20; i++) {
      pub.publish(`${base}/availability`, `online`, { qos: 1, retain: true })
      pub.publish(`${base}/event/system.test`, `e${i}`, { qos: 1 })
      pub.publish(`${base}/status`, `s${i}`, { qos: 0, retain: true })
    }
    await waitFor(() => got.length >= 60, 5000, 'all 60 messages')
    expect(got.filter((g) => g === 'availability=online')).toHaveLength(20)
    expect(got.filter((g) => g.startsWith('status='))).toHaveLength(20)
    // And the last retained value is the one kept.
    const late = await client('gateway')
    const retained: string[] = []
    late.on('message', (t, p) => retained.push(`${t.split('/').slice(-1)[0]}=${p.toString()}`))
    await late.subscribeAsync(`${base}/status`, { qos: 1 })
    await waitFor(() => retained.length > 0, 5000, 'retained status')
    expect(retained).toEqual(['status=s19'])
  })

  it('delivers every QoS 1 message to a persistent session under load', async () => {
    // Regression: aedes-persistence-level alone lost ~1 % here (see serialized-persistence.ts).
    const dir = tempDir()
    cleanups.push(dir.remove)
    const b = await startTestBroker(dir.path)
    cleanups.push(() => b.broker.stop())
    const rec = await connectClient(b.url, 'recorder', b.credentials.recorder, {
      clean: false,
      clientId: `recorder-${HOST}.load`,
      properties: { sessionExpiryInterval: 3600 },
    })
    cleanups.push(() => void rec.end(true))
    const got = new Set<string>()
    rec.on('message', (_t, p) => got.add(p.toString()))
    await rec.subscribeAsync('homelab/#', { qos: 1 })
    const pub = await connectClient(b.url, 'sys-collector', b.credentials['sys-collector'])
    cleanups.push(() => void pub.end(true))
    const total = 3000
    let next = 0
    let inflight = 0
    await new Promise<void>((done) => {
      const pump = () => {
        while (inflight < 100 && next < total) {
          inflight++
          pub.publish(`homelab/${HOST}/sys-collector/reading/system`, String(next++), { qos: 1 }, () => {
            inflight--
            pump()
          })
        }
        if (next >= total && inflight === 0) done()
      }
      pump()
    })
    await waitFor(() => got.size >= total, 15_000, `${total} messages`).catch(() => undefined)
    expect([...Array(total).keys()].filter((i) => !got.has(String(i)))).toStrictEqual([])
  })

  it('keeps a persistent session connected when it subscribes while messages flow', async () => {
    // Regression: aedes 2 beta delivers a message to a new persistent subscription before it has stored that
    // subscription, so the message was never queued for it; its outgoingUpdate then fails ("no such packet") and the
    // broker dropped the connection. A service that subscribed while others published (the alerter, started last in
    // npm start) was disconnected at its first start.
    const { url, credentials, client } = await setup()
    const pub = await client('sys-collector')
    let flowing = true
    let sent = 0
    const flow = (async () => {
      while (flowing) {
        await publish(pub, `homelab/${HOST}/sys-collector/event/x.y`, String(sent++))
      }
    })()
    const clients: MqttClient[] = []
    let closes = 0
    for (let i = 0; i < 5; i++) {
      const sub = await connectClient(url, 'recorder', credentials.recorder, {
        clean: false,
        clientId: `recorder-${HOST}.late${i}`,
        properties: { sessionExpiryInterval: 3600 },
        reconnectPeriod: 0,
      })
      cleanups.push(() => void sub.end(true))
      sub.on('close', () => closes++)
      clients.push(sub)
      await sub.subscribeAsync('homelab/#', { qos: 1 })
    }
    await new Promise((r) => setTimeout(r, 500))
    flowing = false
    await flow
    expect(sent).toBeGreaterThan(50)
    expect(closes).toBe(0)
    expect(clients.every((c) => c.connected)).toBe(true)
  })

  it('counts and names a client id that two connections keep taking from each other', async () => {
    const { url, credentials, broker } = await setup()
    const twin = () =>
      connectClient(url, 'sys-collector', credentials['sys-collector'], {
        clientId: `sys-collector-${HOST}.twin`,
        reconnectPeriod: 100,
      })
    const a = await twin()
    const b = await twin()
    cleanups.push(
      () => void a.end(true),
      () => void b.end(true),
    )
    await waitFor(() => broker.counters.get('sessions.taken_over') >= 3, 10_000, 'three takeovers')
  })

  it('keeps retained availability and state across a restart, and clients reconnect by themselves', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    let b = await startTestBroker(dir.path)
    const port = b.broker.port
    const topics = createTopics('homelab')
    const counters = new Counters()
    const conn = sysCollectorConnection(b, counters)
    conn.start()
    cleanups.push(() => conn.stop())
    await conn.whenConnected()
    const reading = syntheticReading(Date.now(), 1)
    conn.publishJson(topics.reading(HOST, 'sys-collector', 'system'), SystemReading, reading, {
      retain: true,
    })

    const retained = async () => {
      const c = await connectClient(b.url, 'gateway', b.credentials.gateway)
      const got = new Map<string, string>()
      c.on('message', (t, p) => got.set(t, p.toString()))
      await c.subscribeAsync(`homelab/${HOST}/sys-collector/#`, { qos: 1 })
      await waitFor(() => got.size >= 3, 5000, 'retained messages')
      c.end(true)
      return got
    }
    const before = await retained()
    expect(before.get(topics.availability(HOST, 'sys-collector'))).toBe('online')
    expect(JSON.parse(before.get(topics.reading(HOST, 'sys-collector', 'system'))!)).toStrictEqual(reading)

    await b.broker.stop()
    await waitFor(() => !conn.connected, 5000, 'disconnect')
    // Published while the broker is down: buffered, sent after reconnecting.
    const during = syntheticReading(Date.now() + 1, 2)
    conn.publishJson(topics.reading(HOST, 'sys-collector', 'system'), SystemReading, during, { retain: true })
    expect(conn.bufferedCount).toBe(1)
    b = await startTestBroker(dir.path, port)
    cleanups.push(() => b.broker.stop())
    await waitFor(() => counters.get('mqtt.connects') >= 2, 20_000, 'reconnect')
    const after = await retained()
    expect(after.get(topics.availability(HOST, 'sys-collector'))).toBe('online')
    expect(JSON.parse(after.get(topics.reading(HOST, 'sys-collector', 'system'))!)).toStrictEqual(during)
    expect(JSON.parse(after.get(topics.status(HOST, 'sys-collector'))!).state).toBe('ok')
  })

  it('lets a service stop at once while its broker is down', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const b = await startTestBroker(dir.path)
    const conn = sysCollectorConnection(b, new Counters())
    conn.start()
    await conn.whenConnected()
    await b.broker.stop()
    await waitFor(() => !conn.connected, 5000, 'disconnect')
    // mqtt.js's graceful end waits for acknowledgements no broker will send: this stop used to never return.
    const started = Date.now()
    await conn.stop()
    expect(Date.now() - started).toBeLessThan(1000)
  })
})
