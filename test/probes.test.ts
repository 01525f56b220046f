import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { join } from 'node:path'
import { createTopics, ProbeConfigResponse, ProbeReading, ProbesResponse } from '@homelab/contracts'
import { ProbeCollectorService } from '@homelab/probe-collector'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../services/probe-collector/src/checks.js'
import { ProbeSpec, ProbesError, parseProbes } from '../services/probe-collector/src/probes-file.js'
import { buildWeb, launchChromium } from './helpers/browser.js'
import { chromiumPath, describeWith, which } from './helpers/infra.js'
import { freePort } from './helpers/net.js'
import {
  connectClient,
  HOST,
  startAlerter,
  startGateway,
  startRecorder,
  startTestBroker,
  TEST_PASSWORD,
  tempDir,
  testLog,
  waitFor,
} from './helpers/stack.js'

/**
 * Probes against real servers on loopback: HTTP servers that answer, fail, hang, redirect forever or send a huge
 * body; HTTPS with a self-signed certificate that expires in 5 days and one for another name (made by openssl);
 * a TCP port that is closed; ping of loopback; a real DNS server (dnsmasq). Then the collector on a real broker,
 * with the recorder, gateway and alerter: readings, events, the API's uptime, an alert that fires and resolves.
 */
const dir = tempDir('hl-probes-')
const cleanups: Array<() => Promise<void> | void> = []
const servers: { plain: string; https: string; wrongName: string; closedPort: number; tlsPort: number } = {
  plain: '',
  https: '',
  wrongName: '',
  closedPort: 0,
  tlsPort: 0,
}
const hanging = new Set<net.Socket>()

function cert(name: string, days: number, cn: string): { key: Buffer; cert: Buffer } {
  const key = join(dir.path, `${name}.key`)
  const crt = join(dir.path, `${name}.crt`)
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      crt,
      '-days',
      String(days),
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=DNS:${cn}${cn === 'localhost' ? ',IP:127.0.0.1' : ''}`,
    ],
    { stdio: 'ignore' },
  )
  return { key: readFileSync(key), cert: readFileSync(crt) }
}

const handler: http.RequestListener = (req, res) => {
  const u = new URL(req.url ?? '/', 'http://x')
  switch (u.pathname) {
    case '/ok':
      res.writeHead(200, { 'content-type': 'text/plain' }).end('all systems nominal')
      return
    case '/json':
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'pass', checks: [{ ok: true }] }))
      return
    case '/fail':
      res.writeHead(500).end('boom')
      return
    case '/loop':
      res.writeHead(302, { location: '/loop2' }).end()
      return
    case '/loop2':
      res.writeHead(302, { location: '/loop' }).end()
      return
    case '/hang':
      // Headers never come: a slow-loris server.
      hanging.add(req.socket)
      return
    case '/huge': {
      // 20 MB, the keyword at the very end: a probe reads 1 MiB and stops.
      res.writeHead(200, { 'content-type': 'text/plain' })
      const chunk = Buffer.alloc(1024 * 1024, 'x')
      let n = 0
      const write = () => {
        while (n < 20) {
          n++
          if (!res.write(chunk)) return void res.once('drain', write)
        }
        res.end('NEEDLE')
      }
      write()
      return
    }
    default:
      res.writeHead(404).end()
  }
}

let dnsmasq: ChildProcess | null = null
let dnsPort = 0

beforeAll(async () => {
  cleanups.push(dir.remove)
  const plain = http.createServer(handler)
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r))
  servers.plain = `http://127.0.0.1:${(plain.address() as net.AddressInfo).port}`
  const soon = cert('soon', 5, 'localhost')
  const secure = https.createServer(soon, handler)
  await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r))
  servers.https = `https://localhost:${(secure.address() as net.AddressInfo).port}`
  servers.tlsPort = (secure.address() as net.AddressInfo).port
  const wrong = https.createServer(cert('wrong', 90, 'wrong.example'), handler)
  await new Promise<void>((r) => wrong.listen(0, '127.0.0.1', r))
  servers.wrongName = `https://localhost:${(wrong.address() as net.AddressInfo).port}`
  servers.closedPort = await freePort()
  cleanups.push(async () => {
    for (const s of hanging) s.destroy()
    for (const s of [plain, secure, wrong]) {
      s.closeAllConnections()
      await new Promise<void>((r) => s.close(() => r()))
    }
  })
  if (which('dnsmasq') || which('/usr/sbin/dnsmasq')) {
    dnsPort = await freePort()
    dnsmasq = spawn(
      which('dnsmasq') ?? '/usr/sbin/dnsmasq',
      [
        '--no-daemon',
        '--no-resolv',
        '--no-hosts',
        `--port=${dnsPort}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--address=/nas.probe.test/10.1.2.3',
        '--txt-record=nas.probe.test,homelab',
        '--user=root',
        '--pid-file=',
      ],
      { stdio: 'ignore' },
    )
    cleanups.push(() => void dnsmasq?.kill())
    await waitFor(
      async () => {
        const r = await runCheck(
          spec({ id: 'w', type: 'dns', name: 'nas.probe.test', server: `127.0.0.1:${dnsPort}` }),
          { ping: 'ping' },
        )
        return r.up
      },
      10_000,
      'dnsmasq',
    )
  }
}, 60_000)

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const spec = (p: Record<string, unknown>): ProbeSpec => ProbeSpec.parse({ timeout: '3s', ...p })
const check = (p: Record<string, unknown>) => runCheck(spec(p), { ping: which('ping') ?? 'ping' })

describe('HTTP(S) probes against real servers', () => {
  it('an answering server: up, the latency split, the keyword and a JSON path checked', async () => {
    const r = await check({ id: 'ok', type: 'http', url: `${servers.plain}/ok`, keyword: 'nominal' })
    expect(r).toMatchObject({ up: true, status: 200, reason: null, cert: null })
    expect(r.http?.connectMs).toBeGreaterThanOrEqual(0)
    expect(r.http?.firstByteMs).toBeGreaterThanOrEqual(r.http?.connectMs ?? 0)
    expect(r.http?.dnsMs).toBeNull() // an address: no lookup
    expect(r.http?.tlsMs).toBeNull()
    expect(
      (await check({ id: 'k', type: 'http', url: `${servers.plain}/ok`, keyword: 'missing' })).reason,
    ).toBe('the answer does not contain "missing"')
    expect(
      (
        await check({
          id: 'j',
          type: 'http',
          url: `${servers.plain}/json`,
          json: { path: 'checks.0.ok', equals: true },
        })
      ).up,
    ).toBe(true)
    expect(
      (
        await check({
          id: 'j',
          type: 'http',
          url: `${servers.plain}/json`,
          json: { path: 'status', equals: 'fail' },
        })
      ).reason,
    ).toBe('status is "pass", not "fail"')
  })

  it('a 500, a redirect loop, a server that hangs and a 20 MB body are each down or bounded, with why', async () => {
    expect(await check({ id: 'f', type: 'http', url: `${servers.plain}/fail` })).toMatchObject({
      up: false,
      status: 500,
      reason: 'HTTP 500 is not one of 200-399',
    })
    expect((await check({ id: 'f', type: 'http', url: `${servers.plain}/fail`, status: '500' })).up).toBe(
      true,
    )
    expect((await check({ id: 'l', type: 'http', url: `${servers.plain}/loop` })).reason).toMatch(
      /^a redirect loop/,
    )
    const started = Date.now()
    const hung = await check({ id: 'h', type: 'http', url: `${servers.plain}/hang`, timeout: '1s' })
    expect(Date.now() - started).toBeLessThan(2500)
    expect(hung).toMatchObject({ up: false, reason: 'no answer within 1000 ms' })
    const huge = await check({ id: 'b', type: 'http', url: `${servers.plain}/huge`, keyword: 'NEEDLE' })
    expect(huge).toMatchObject({ up: false, reason: 'the answer does not contain "NEEDLE"' })
    expect(huge.latencyMs).toBeLessThan(3000)
  })

  it('a self-signed certificate expiring in 5 days is reported, not hidden; another name is down', async () => {
    const strict = await check({ id: 's', type: 'http', url: `${servers.https}/ok` })
    expect(strict.up).toBe(false)
    expect(strict.reason).toMatch(
      /^the certificate does not verify: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/,
    )
    expect(strict.cert).toMatchObject({ chainValid: false, hostnameMatch: true, subject: 'CN=localhost' })
    expect([4, 5]).toContain(strict.cert?.daysLeft)
    expect(strict.http?.tlsMs).toBeGreaterThanOrEqual(0)
    expect(strict.http?.dnsMs).toBeGreaterThanOrEqual(0) // "localhost" is looked up
    const lax = await check({ id: 's', type: 'http', url: `${servers.https}/ok`, verifyTls: false })
    expect(lax).toMatchObject({ up: true, status: 200 })
    expect(lax.reason).toMatch(/does not verify/) // up, and still says so
    const other = await check({ id: 'w', type: 'http', url: `${servers.wrongName}/ok` })
    expect(other.reason).toBe('the certificate is not for this host (CN=wrong.example)')
    const bare = await check({ id: 't', type: 'tls', host: 'localhost', port: servers.tlsPort })
    expect(bare.cert?.daysLeft).toBe(strict.cert?.daysLeft)
    expect(bare.up).toBe(false)
  })
})

describe('TCP, ICMP and DNS probes', () => {
  it('a closed port is refused; an open one is up', async () => {
    expect(await check({ id: 'c', type: 'tcp', host: '127.0.0.1', port: servers.closedPort })).toMatchObject({
      up: false,
      reason: 'connection refused (ECONNREFUSED)',
    })
    expect((await check({ id: 'o', type: 'tcp', host: '127.0.0.1', port: servers.tlsPort })).up).toBe(true)
    expect((await check({ id: 'n', type: 'tcp', host: 'no-such-host.invalid', port: 80 })).reason).toMatch(
      /^no such host|could not be resolved/,
    )
  })

  describeWith(
    'ping (iputils-ping)',
    which('ping') !== null,
    'apt-get install -y iputils-ping',
  )('ICMP', () => {
    it('pings loopback — also an address where no TCP port listens', async () => {
      const r = await check({ id: 'p', type: 'icmp', host: '127.0.0.1', count: 3 })
      expect(r).toMatchObject({ up: true, lossPercent: 0, reason: null })
      expect(r.latencyMs).toBeGreaterThan(0)
      expect((await check({ id: 'q', type: 'tcp', host: '127.0.0.2', port: servers.closedPort })).up).toBe(
        false,
      )
      expect((await check({ id: 'q', type: 'icmp', host: '127.0.0.2', count: 2 })).up).toBe(true)
    })
  })

  describeWith(
    'dnsmasq',
    which('dnsmasq') !== null || which('/usr/sbin/dnsmasq') !== null,
    'apt-get install -y dnsmasq-base',
  )('DNS', () => {
    it('asks a real DNS server: the answer, an expected value, a name it does not know', async () => {
      const server = `127.0.0.1:${dnsPort}`
      expect(
        await check({ id: 'd', type: 'dns', name: 'nas.probe.test', server, expect: '10.1.2.3' }),
      ).toMatchObject({
        up: true,
        answers: ['10.1.2.3'],
      })
      expect(
        (await check({ id: 'd', type: 'dns', name: 'nas.probe.test', record: 'TXT', server })).answers,
      ).toEqual(['homelab'])
      expect(
        (await check({ id: 'd', type: 'dns', name: 'nas.probe.test', server, expect: '10.9.9.9' })).reason,
      ).toBe('10.9.9.9 is not among the answers (10.1.2.3)')
      expect((await check({ id: 'd', type: 'dns', name: 'other.probe.test', server })).up).toBe(false)
    })
  })
})

describe('the probes file', () => {
  it('names the probe and the field; refuses more than the limit; rejects duplicates', () => {
    const err = (text: string) => {
      try {
        parseProbes(text)
      } catch (e) {
        return e instanceof ProbesError ? e.errors : [String(e)]
      }
      return []
    }
    expect(err('{"probes": [{"id": "web", "type": "http", "url": "ftp://x"}]}')).toEqual([
      'probe "web" (probes[0]): url: an http:// or https:// URL',
    ])
    expect(err('{"probes": [{"id": "t", "type": "tcp", "host": "h", "port": 99999}]}')[0]).toMatch(
      /^probe "t" \(probes\[0\]\): port:/,
    )
    expect(err('{"probes": [{"id": "x", "type": "http", "url": "http://a", "interval": "1s"}]}')[0]).toMatch(
      /interval is a duration from 5 s/,
    )
    expect(err('{"probes": [{"id": "x", "type": "http", "url": "http://a", "status": "2xx"}]}')[0]).toMatch(
      /"2xx" is not a status/,
    )
    const many = JSON.stringify({
      probes: Array.from({ length: 10_000 }, (_, i) => ({ id: `p${i}`, type: 'tcp', host: 'a', port: 1 })),
    })
    expect(err(many)).toEqual(['probes: at most 500 probes per collector'])
    expect(
      err(
        '{"probes": [{"id": "a", "type": "tcp", "host": "h", "port": 1}, {"id": "a", "type": "tcp", "host": "h", "port": 2}]}',
      ),
    ).toEqual(['probe "a" (probes[1]): id: used by an earlier probe too'])
    expect(err('not json')[0]).toMatch(/^the file is not valid JSON/)
  })
})

describe('the probe-collector on a real broker, with the recorder, gateway and alerter', () => {
  it('publishes readings and events, keeps the last good file, and an alert fires and resolves', async () => {
    const data = tempDir('hl-probes-stack-')
    cleanups.push(data.remove)
    const b = await startTestBroker(data.path)
    cleanups.push(() => b.broker.stop())
    const rec = startRecorder(data.path, b.url, 'recorder', b.credentials.recorder)
    cleanups.push(() => rec.stop())
    await rec.conn.whenConnected()
    const ADMIN = 'admin-token-for-probe-tests-0001'
    await buildWeb(join(data.path, 'web'))
    const gw = await startGateway(
      data.path,
      b.url,
      'gateway',
      b.credentials.gateway,
      ADMIN,
      join(data.path, 'web'),
    )
    await gw.start()
    cleanups.push(() => gw.stop())
    // A fast probe-down rule (the default waits 2 minutes).
    const rulesFile = join(data.path, 'alert-rules.json')
    writeFileSync(
      rulesFile,
      JSON.stringify({
        rules: [
          {
            id: 'probe-down',
            type: 'threshold',
            metric: 'probe.up',
            op: '<=',
            value: 0,
            for: '1s',
          },
          {
            id: 'cert-expiring',
            type: 'threshold',
            metric: 'probe.cert_days',
            op: '<',
            value: 14,
            resolve: { value: 14 },
          },
        ],
      }),
    )
    const alerter = startAlerter(data.path, b.url, b.credentials.alerter, { rulesFile })
    cleanups.push(() => alerter.stop())
    const file = join(data.path, 'probes.json')
    const probes = (port: number) => ({
      probes: [
        { id: 'web', name: 'Web', type: 'http', url: `${servers.plain}/ok`, interval: '5s', timeout: '2s' },
        { id: 'db', type: 'tcp', host: '127.0.0.1', port, interval: '5s', timeout: '2s' },
        { id: 'cert', type: 'tls', host: 'localhost', port: servers.tlsPort, interval: '5s' },
      ],
    })
    writeFileSync(file, JSON.stringify(probes(servers.closedPort)))
    const watcher = await connectClient(b.url, 'homeassistant', b.credentials.homeassistant)
    cleanups.push(() => watcher.endAsync())
    const events: Array<{ type: string; subject: string }> = []
    watcher.on('message', (topic, payload) => {
      if (topic.includes('/probe-collector/event/')) events.push(JSON.parse(payload.toString()))
    })
    await watcher.subscribeAsync('homelab/+/probe-collector/event/#')
    const service = new ProbeCollectorService({
      url: b.url,
      username: 'probe-collector',
      password: b.credentials['probe-collector'],
      host: HOST,
      topics: createTopics('homelab'),
      file,
      concurrency: 4,
      ping: 'ping',
      log: testLog('probe-collector'),
    })
    await service.start()
    cleanups.push(() => service.stop())
    const auth = { authorization: `Bearer ${ADMIN}` }
    const list = async () =>
      ProbesResponse.parse(
        await (await fetch(`http://127.0.0.1:${gw.port}/api/probes`, { headers: auth })).json(),
      )
    const got = await waitFor(
      async () => {
        const r = await list()
        return r.probes.length === 3 ? r : null
      },
      20_000,
      'three probes on the API',
    )
    const byId = new Map(got.probes.map((p) => [p.reading.probe.id, p]))
    expect(byId.get('web')?.reading).toMatchObject({ up: true, status: 200 })
    expect(byId.get('db')?.reading).toMatchObject({ up: false, reason: 'connection refused (ECONNREFUSED)' })
    expect(byId.get('cert')?.reading.cert?.daysLeft).toBeLessThan(14)
    // Down first on the board.
    expect(got.probes[0]?.reading.up).toBe(false)
    await waitFor(
      () => events.find((e) => e.type === 'probe.down' && e.subject === 'db'),
      10_000,
      'probe.down',
    )
    await waitFor(
      () => events.find((e) => e.type === 'cert.expiring' && e.subject === 'cert'),
      10_000,
      'cert.expiring',
    )
    const alerts = async () =>
      (await (await fetch(`http://127.0.0.1:${gw.port}/api/alerts`, { headers: auth })).json()) as {
        alerts: Array<{ rule: string; state: string; labels: Record<string, string> }>
      }
    await waitFor(
      async () =>
        (await alerts()).alerts.find(
          (a) => a.rule === 'probe-down' && a.labels.probe === 'db' && a.state === 'firing',
        ),
      20_000,
      'the probe-down alert firing',
    )
    // The port opens: the probe comes up, the alert resolves.
    const listener = net.createServer((s) => s.destroy())
    await new Promise<void>((r) => listener.listen(servers.closedPort, '127.0.0.1', r))
    cleanups.push(() => new Promise<void>((r) => listener.close(() => r())))
    await waitFor(() => events.find((e) => e.type === 'probe.up' && e.subject === 'db'), 15_000, 'probe.up')
    await waitFor(
      async () => !(await alerts()).alerts.some((a) => a.rule === 'probe-down' && a.labels.probe === 'db'),
      20_000,
      'the alert resolved',
    )
    // A broken edit keeps the probes in force, and the collector says why.
    writeFileSync(file, '{"probes": [{"id": "web", "type": "http"}]}')
    await waitFor(() => service.conn.currentStatus.state === 'degraded', 5000, 'degraded')
    expect(service.conn.currentStatus.reason).toMatch(
      /^probes file rejected: probe "web" \(probes\[0\]\): url:/,
    )
    expect(service.collector.probes.map((p) => p.id).sort()).toEqual(['cert', 'db', 'web'])
    // Removing a probe clears its retained reading.
    writeFileSync(file, JSON.stringify({ probes: probes(servers.closedPort).probes.slice(0, 1) }))
    await waitFor(async () => (await list()).probes.length === 1, 10_000, 'two probes cleared')
    // The Probes page in a real browser: the board, down first, with the reason, uptime and certificate.
    if (chromiumPath()) {
      await gw.auth.accounts.add('owner', 'admin', TEST_PASSWORD)
      const browser = await launchChromium()
      cleanups.push(() => browser.close())
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(String(e)))
      await page.goto(`http://127.0.0.1:${gw.port}/probes`)
      await page.fill('#username', 'owner')
      await page.fill('#password', TEST_PASSWORD)
      await page.click('button[type=submit]')
      await page.waitForSelector('[data-testid=probe][data-probe=web]', { timeout: 15_000 })
      const row = (await page.textContent('[data-testid=probe][data-probe=web]')) ?? ''
      expect(row).toMatch(/Web.*HTTP http:\/\/127\.0\.0\.1:\d+\/ok.*up/)
      expect(
        await page.textContent('[data-testid=probe][data-probe=web] [data-testid=probe-uptime]'),
      ).toMatch(/^24 h 100 %/)
      expect(await page.textContent('[data-testid=probes-summary]')).toBe('1 up, 0 down')
      expect(errors).toEqual([])
    }
    const history = await (
      await fetch(`http://127.0.0.1:${gw.port}/api/probes/db/history?from=${Date.now() - 600_000}`, {
        headers: auth,
      })
    ).json()
    expect(history.events.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['probe.down', 'probe.up']),
    )
    ProbeReading.parse(got.probes[0]?.reading)

    // Admins edit the probes file from the dashboard: the collector checks the whole file as a hand edit, writes it,
    // and puts it in force; header values, a URL's password and a body are never shown ("…" keeps them).
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`http://127.0.0.1:${gw.port}${path}`, {
        ...init,
        headers: { ...auth, 'content-type': 'application/json', ...(init.headers ?? {}) },
      })
    const config = async () => {
      const c = ProbeConfigResponse.parse(await (await api('/api/probes/config')).json()).config
      if (!c) throw new Error('no probes file reported')
      return c
    }
    expect(await config()).toMatchObject({ file, writable: true, rejected: null, probes: [{ id: 'web' }] })
    const secretUrl = `${servers.plain.replace('http://', 'http://probe:pa55word@')}/ok`
    let r = await api('/api/probes/api', {
      method: 'PUT',
      body: JSON.stringify({
        type: 'http',
        url: secretUrl,
        headers: { Authorization: 'Bearer s3cret-token' },
        interval: '5s',
      }),
    })
    expect(await r.json()).toMatchObject({ outcome: 'done', message: 'probe api: added' })
    expect(JSON.parse(readFileSync(file, 'utf8')).probes[1]).toEqual({
      type: 'http',
      url: secretUrl,
      headers: { Authorization: 'Bearer s3cret-token' },
      interval: '5s',
      id: 'api',
    })
    await waitFor(() => service.collector.probes.some((p) => p.id === 'api'), 5000, 'the new probe in force')
    const shown = (await config()).probes.find((p) => p.id === 'api')
    expect(shown).toMatchObject({
      headers: { Authorization: '…' },
      url: expect.stringContaining('probe:%E2%80%A6@'),
    })
    expect(JSON.stringify(await config())).not.toMatch(/s3cret|pa55word/)
    // Sent back as shown, with another interval: the secrets stay.
    r = await api('/api/probes/api', {
      method: 'PUT',
      body: JSON.stringify({ ...shown, id: undefined, interval: '10s' }),
    })
    expect((await r.json()).outcome).toBe('done')
    expect(JSON.parse(readFileSync(file, 'utf8')).probes[1]).toMatchObject({
      url: secretUrl,
      headers: { Authorization: 'Bearer s3cret-token' },
      interval: '10s',
    })
    // A probe that is not valid is refused with the field named, and the file is left as it was.
    const before = readFileSync(file, 'utf8')
    r = await api('/api/probes/bad', { method: 'PUT', body: JSON.stringify({ type: 'tcp', host: 'db.lan' }) })
    expect(r.status).toBe(400)
    expect((await r.json()).error.message).toMatch(/probe "bad" \(probes\[2\]\): port:/)
    expect(readFileSync(file, 'utf8')).toBe(before)
    expect((await api('/api/probes/nosuch', { method: 'DELETE' })).status).toBe(404)
    // Viewers see the board, not the file, and cannot edit it.
    await gw.auth.accounts.add('vic', 'viewer', TEST_PASSWORD)
    const vicLogin = await fetch(`http://127.0.0.1:${gw.port}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'vic', password: TEST_PASSWORD }),
    })
    const vic = { cookie: (vicLogin.headers.get('set-cookie') ?? '').split(';')[0] ?? '' }
    expect((await fetch(`http://127.0.0.1:${gw.port}/api/probes`, { headers: vic })).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${gw.port}/api/probes/config`, { headers: vic })).status).toBe(403)
    expect(
      (
        await fetch(`http://127.0.0.1:${gw.port}/api/probes/api`, {
          method: 'DELETE',
          headers: { ...vic, 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(403)

    // The same in the browser: add a TCP probe, see its refusal, fix it, edit it, remove it.
    if (chromiumPath()) {
      const browser = await launchChromium()
      cleanups.push(() => browser.close())
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(String(e)))
      page.on('dialog', (d) => void d.accept())
      await page.goto(`http://127.0.0.1:${gw.port}/probes`)
      await page.fill('#username', 'owner')
      await page.fill('#password', TEST_PASSWORD)
      await page.click('button[type=submit]')
      await page.waitForSelector('[data-testid=probe-add]', { timeout: 15_000 })
      expect(await page.textContent('[data-testid=probes-file]')).toContain(`2 probes in ${file}`)
      await page.click('[data-testid=probe-add]')
      await page.fill('[data-testid=probe-form] input[name=id]', 'gate')
      await page.fill('[data-testid=probe-form] input[name=name]', 'Gate')
      await page.selectOption('[data-testid=probe-form] select[name=type]', 'tcp')
      await page.fill('[data-testid=probe-form] input[name=host]', '127.0.0.1')
      await page.fill('[data-testid=probe-form] input[name=port]', '99999')
      await page.click('[data-testid=probe-form] button[type=submit]')
      await page.waitForSelector('[data-testid=probe-form-error]')
      expect(await page.textContent('[data-testid=probe-form-error]')).toMatch(/port:/)
      await page.fill('[data-testid=probe-form] input[name=port]', String(servers.closedPort))
      await page.fill('[data-testid=probe-form] input[name=interval]', '5s')
      await page.click('[data-testid=probe-form] button[type=submit]')
      await page.waitForSelector('[data-testid=probe][data-probe=gate]', { timeout: 15_000 })
      expect(JSON.parse(readFileSync(file, 'utf8')).probes[2]).toEqual({
        type: 'tcp',
        name: 'Gate',
        interval: '5s',
        host: '127.0.0.1',
        port: servers.closedPort,
        id: 'gate',
      })
      await page.click('[data-testid=probe][data-probe=gate] [data-testid=probe-edit]')
      expect(await page.inputValue('[data-testid=probe-form] input[name=port]')).toBe(
        String(servers.closedPort),
      )
      await page.fill('[data-testid=probe-form] input[name=name]', 'Gate port')
      await page.click('[data-testid=probe-form] button[type=submit]')
      await page.waitForFunction(
        () =>
          document.querySelector('[data-testid=probe][data-probe=gate]')?.textContent?.includes('Gate port'),
        undefined,
        { timeout: 15_000 },
      )
      await page.click('[data-testid=probe][data-probe=gate] [data-testid=probe-remove]')
      await page.waitForFunction(
        () => !document.querySelector('[data-testid=probe][data-probe=gate]'),
        undefined,
        {
          timeout: 15_000,
        },
      )
      expect(JSON.parse(readFileSync(file, 'utf8')).probes.map((p: { id: string }) => p.id)).toEqual([
        'web',
        'api',
      ])
      expect(errors).toEqual([])
    }
  }, 120_000)
})
