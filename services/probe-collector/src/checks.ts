import { spawn } from 'node:child_process'
import { Resolver } from 'node:dns/promises'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import tls, { type PeerCertificate } from 'node:tls'
import type { CertInfo, HttpTimings } from '@homelab/contracts'
import type { DnsSpec, HttpSpec, IcmpSpec, ProbeSpec, TcpSpec, TlsSpec } from './probes-file.js'

/** What one check found (the reading's fields; the collector adds the envelope and the state's `since`). */
export interface CheckResult {
  up: boolean
  latencyMs: number | null
  reason: string | null
  status: number | null
  http: HttpTimings | null
  cert: CertInfo | null
  lossPercent: number | null
  answers: string[] | null
}

const empty: CheckResult = {
  up: false,
  latencyMs: null,
  reason: null,
  status: null,
  http: null,
  cert: null,
  lossPercent: null,
  answers: null,
}

/** How much of a body is read for a keyword or a JSON path: a huge answer is cut, never buffered whole. */
export const MAX_BODY_BYTES = 1024 * 1024
const DAY = 86_400_000

const ms = (from: bigint, to: bigint | null) =>
  to === null ? null : Math.round(Number(to - from) / 1e4) / 100
const now = () => process.hrtime.bigint()

/** A network error as a person reads it ("connection refused", "no such host"). */
export function describeError(e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e))
  const code = 'code' in err && typeof err.code === 'string' ? err.code : ''
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'the name could not be resolved (DNS did not answer)',
    ECONNRESET: 'the connection was reset',
    EHOSTUNREACH: 'the host is unreachable',
    ENETUNREACH: 'the network is unreachable',
    ETIMEDOUT: 'timed out',
    EPROTO: 'the TLS handshake failed',
  }
  return known[code] ? `${known[code]} (${code})` : err.message.slice(0, 500)
}

/** The certificate a TLS socket presented, as a probe reports it. */
function certInfo(socket: tls.TLSSocket, hostname: string, at: number): CertInfo | null {
  const c: PeerCertificate = socket.getPeerCertificate(false)
  if (!c?.valid_to) return null
  const validTo = Date.parse(c.valid_to)
  const validFrom = Date.parse(c.valid_from)
  const name = (o: object | undefined) =>
    Object.entries(o ?? {})
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
      .join(', ')
      .slice(0, 500)
  const mismatch = tls.checkServerIdentity(hostname, c)
  const authError = socket.authorizationError
  return {
    subject: name(c.subject),
    issuer: name(c.issuer),
    validFrom: Number.isFinite(validFrom) ? validFrom : 0,
    validTo: Number.isFinite(validTo) ? validTo : 0,
    daysLeft: Math.floor((validTo - at) / DAY),
    chainValid: socket.authorized,
    chainError: socket.authorized ? null : String(authError ?? 'unknown').slice(0, 200),
    hostnameMatch: mismatch === undefined,
  }
}

function isIP(h: string): boolean {
  return net.isIP(h) !== 0
}

/** Why a certificate makes a probe down (expired, not yet valid, a chain that does not verify, another name). */
export function certProblem(c: CertInfo, at: number): string | null {
  if (c.validTo <= at) return `the certificate expired on ${new Date(c.validTo).toISOString().slice(0, 10)}`
  if (c.validFrom > at) return 'the certificate is not valid yet'
  if (!c.hostnameMatch) return `the certificate is not for this host (${c.subject})`
  if (!c.chainValid) return `the certificate does not verify: ${c.chainError}`
  return null
}

/** A value at a dotted path in JSON ("checks.0.ok"); undefined when there is none. */
function at(json: unknown, path: string): unknown {
  let v: unknown = json
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined
    v = Array.isArray(v) ? v[Number(k)] : Object.entries(v).find(([key]) => key === k)?.[1]
  }
  return v
}

interface HttpHop {
  status: number
  location: string | null
  body: string
  timings: HttpTimings
  cert: CertInfo | null
}

/** One HTTP request, timed phase by phase, its body read up to MAX_BODY_BYTES; rejects on error or time-out. */
function request(p: HttpSpec, url: URL, signal: AbortSignal, wantBody: boolean): Promise<HttpHop> {
  return new Promise((resolve, reject) => {
    const start = now()
    let lookup: bigint | null = null
    let connect: bigint | null = null
    let secure: bigint | null = null
    const lib = url.protocol === 'https:' ? https : http
    const req = lib.request(
      url,
      {
        method: p.method,
        headers: { 'user-agent': 'homelab-observability-probe', ...p.headers },
        signal,
        // The chain is checked and reported (a self-signed certificate is down unless verifyTls is false), not
        // refused by Node before the probe can say why.
        rejectUnauthorized: false,
        agent: false,
        servername: isIP(url.hostname) ? '' : url.hostname,
      },
      (res) => {
        const firstByte = now()
        const socket = res.socket
        const cert = socket instanceof tls.TLSSocket ? certInfo(socket, url.hostname, Date.now()) : null
        const timings: HttpTimings = {
          dnsMs: lookup === null ? null : ms(start, lookup),
          connectMs: connect === null ? null : ms(lookup ?? start, connect),
          tlsMs: secure === null ? null : ms(connect ?? start, secure),
          firstByteMs: ms(start, firstByte),
        }
        const chunks: Buffer[] = []
        let size = 0
        const finish = () =>
          resolve({
            status: res.statusCode ?? 0,
            location: typeof res.headers.location === 'string' ? res.headers.location : null,
            body: Buffer.concat(chunks).toString('utf8'),
            timings,
            cert,
          })
        if (!wantBody) {
          res.destroy()
          finish()
          return
        }
        res.on('data', (c: Buffer) => {
          if (size >= MAX_BODY_BYTES) return
          chunks.push(c)
          size += c.length
          if (size >= MAX_BODY_BYTES) {
            res.destroy()
            finish()
          }
        })
        res.on('end', finish)
        res.on('error', reject)
      },
    )
    req.on('socket', (s) => {
      s.on('lookup', () => {
        lookup = now()
      })
      s.on('connect', () => {
        connect = now()
      })
      s.on('secureConnect', () => {
        secure = now()
      })
    })
    req.on('error', reject)
    req.end(p.body)
  })
}

async function httpCheck(p: HttpSpec, signal: AbortSignal): Promise<CheckResult> {
  const started = now()
  const seen = new Set<string>()
  let url = new URL(p.url)
  const needBody = p.keyword !== undefined || p.json !== undefined
  for (let hop = 0; ; hop++) {
    seen.add(url.toString())
    const r = await request(p, url, signal, needBody && p.method !== 'HEAD')
    const redirect = r.status >= 300 && r.status < 400 && r.location !== null
    if (redirect && p.maxRedirects > 0) {
      if (hop >= p.maxRedirects)
        return { ...empty, status: r.status, reason: `more than ${p.maxRedirects} redirects` }
      const next = new URL(r.location ?? '', url)
      if (seen.has(next.toString()))
        return { ...empty, status: r.status, reason: `a redirect loop (back to ${next})` }
      url = next
      continue
    }
    const latencyMs = ms(started, now())
    const base: CheckResult = { ...empty, latencyMs, status: r.status, http: r.timings, cert: r.cert }
    const okStatus = p.status.some(([lo, hi]) => r.status >= lo && r.status <= hi)
    if (!okStatus)
      return {
        ...base,
        reason: `HTTP ${r.status} is not one of ${p.status.map(([a, b]) => (a === b ? a : `${a}-${b}`)).join(',')}`,
      }
    const problem = r.cert ? certProblem(r.cert, Date.now()) : null
    if (problem && p.verifyTls) return { ...base, reason: problem }
    if (p.keyword !== undefined && !r.body.includes(p.keyword))
      return { ...base, reason: `the answer does not contain "${p.keyword}"` }
    if (p.json) {
      let doc: unknown
      try {
        doc = JSON.parse(r.body)
      } catch {
        return { ...base, reason: 'the answer is not JSON' }
      }
      const v = at(doc, p.json.path)
      if (v !== p.json.equals)
        return {
          ...base,
          reason: `${p.json.path} is ${JSON.stringify(v) ?? 'missing'}, not ${JSON.stringify(p.json.equals)}`,
        }
    }
    return { ...base, up: true, reason: problem }
  }
}

function tcpCheck(p: TcpSpec, signal: AbortSignal): Promise<CheckResult> {
  return new Promise((resolve, reject) => {
    const start = now()
    const s = net.connect({ host: p.host, port: p.port, signal })
    s.once('connect', () => {
      const latencyMs = ms(start, now())
      s.destroy()
      resolve({ ...empty, up: true, latencyMs })
    })
    s.once('error', reject)
  })
}

function tlsCheck(p: TlsSpec, signal: AbortSignal): Promise<CheckResult> {
  return new Promise((resolve, reject) => {
    const start = now()
    const servername = p.servername ?? p.host
    const s = tls.connect({
      host: p.host,
      port: p.port,
      servername: isIP(servername) ? '' : servername,
      rejectUnauthorized: false,
    })
    signal.addEventListener('abort', () => s.destroy(new Error('timeout')), { once: true })
    s.once('secureConnect', () => {
      const latencyMs = ms(start, now())
      const cert = certInfo(s, servername, Date.now())
      s.destroy()
      if (!cert) return resolve({ ...empty, latencyMs, reason: 'no certificate was presented' })
      const problem = certProblem(cert, Date.now())
      resolve({ ...empty, up: problem === null, latencyMs, cert, reason: problem })
    })
    s.once('error', reject)
  })
}

async function dnsCheck(p: DnsSpec, timeoutMs: number): Promise<CheckResult> {
  const r = new Resolver({ timeout: timeoutMs, tries: 1 })
  if (p.server) r.setServers([p.server])
  const start = now()
  const got: unknown = await r.resolve(p.name, p.record)
  const latencyMs = ms(start, now())
  const answers = (Array.isArray(got) ? got : [got])
    .map((a) =>
      typeof a === 'string'
        ? a
        : Array.isArray(a)
          ? a.join('')
          : a !== null && typeof a === 'object'
            ? Object.values(a).join(' ')
            : String(a),
    )
    .slice(0, 50)
  if (p.expect !== undefined && !answers.includes(p.expect))
    return {
      ...empty,
      latencyMs,
      answers,
      reason: `${p.expect} is not among the answers (${answers.join(', ') || 'none'})`,
    }
  return { ...empty, up: true, latencyMs, answers }
}

/** ICMP echo through the system's `ping` (Node has no raw sockets): loss and the average round trip. */
function icmpCheck(p: IcmpSpec, timeoutMs: number, ping: string): Promise<CheckResult> {
  return new Promise((resolve) => {
    const waitS = Math.max(1, Math.ceil(timeoutMs / 1000))
    const child = spawn(ping, ['-n', '-c', String(p.count), '-i', '0.2', '-W', String(waitS), p.host], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs + 2000 + p.count * 250,
    })
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      if (out.length < 64 * 1024) out += c.toString('utf8')
    })
    child.stderr.on('data', (c: Buffer) => {
      if (out.length < 64 * 1024) out += c.toString('utf8')
    })
    child.once('error', (e) =>
      resolve({
        ...empty,
        reason:
          'code' in e && e.code === 'ENOENT'
            ? `the ping program is missing: install iputils-ping (or set HOMELAB_PING to its path)`
            : describeError(e),
      }),
    )
    child.once('close', () => {
      const loss = /([\d.]+)% packet loss/.exec(out)
      const rtt = /= [\d.]+\/([\d.]+)\/[\d.]+/.exec(out)
      if (!loss) {
        const line = out.trim().split('\n').at(-1) ?? ''
        return resolve({ ...empty, reason: line ? `ping: ${line.slice(0, 300)}` : 'ping gave no answer' })
      }
      const lossPercent = Number(loss[1])
      const latencyMs = rtt ? Number(rtt[1]) : null
      resolve({
        ...empty,
        up: lossPercent < 100,
        latencyMs,
        lossPercent,
        reason:
          lossPercent >= 100
            ? 'no echo reply'
            : lossPercent > 0
              ? `${lossPercent}% of the packets lost`
              : null,
      })
    })
  })
}

/**
 * Runs one probe, bounded by its time-out whatever the server does (a slow-loris server, a hang after the
 * headers): the check never throws, a failure is a result that is down with the reason.
 */
export async function runCheck(p: ProbeSpec, opts: { ping: string }): Promise<CheckResult> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new Error('timeout')), p.timeout)
  try {
    switch (p.type) {
      case 'http':
        return await httpCheck(p, controller.signal)
      case 'tcp':
        return await tcpCheck(p, controller.signal)
      case 'tls':
        return await tlsCheck(p, controller.signal)
      case 'dns':
        return await withTimeout(dnsCheck(p, p.timeout), controller.signal)
      case 'icmp':
        return await icmpCheck(p, p.timeout, opts.ping)
    }
  } catch (e) {
    return {
      ...empty,
      reason: controller.signal.aborted ? `no answer within ${p.timeout} ms` : describeError(e),
    }
  } finally {
    clearTimeout(timer)
  }
}

function withTimeout<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    signal.addEventListener('abort', () => reject(new Error('timeout')), { once: true })
    p.then(resolve, reject)
  })
}
