import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from './helpers/process.js'
import { tempDir } from './helpers/stack.js'

/** Runs the script (asynchronously: the HTTP server it checks runs in this process). */
const check = (...args: string[]) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn('bash', [join(ROOT, 'scripts', 'healthcheck.sh'), ...args])
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.on('close', (code) => resolve({ code, out: out.trim() }))
  })

describe('the container healthcheck', () => {
  const dir = tempDir('hl-health-')
  let server: Server
  let port = 0
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? 200 : 503
      res.end()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    port = (server.address() as AddressInfo).port
  })
  afterAll(() => {
    server.close()
    dir.remove()
  })

  it('passes a fresh ok health file and names why a stale, not-ok or missing one fails', async () => {
    const f = join(dir.path, 'health')
    writeFileSync(f, `${JSON.stringify({ ok: true, detail: 'connected to the broker', ts: Date.now() })}\n`)
    expect(await check('file', f)).toEqual({ code: 0, out: 'healthy' })
    writeFileSync(
      f,
      `${JSON.stringify({ ok: false, detail: 'not connected to the broker', ts: Date.now() })}\n`,
    )
    expect(await check('file', f)).toEqual({ code: 1, out: 'unhealthy: not connected to the broker' })
    writeFileSync(f, `${JSON.stringify({ ok: true, detail: 'x', ts: Date.now() - 45_000 })}\n`)
    expect(await check('file', f)).toEqual({ code: 1, out: `unhealthy: ${f} is 45 s old` })
    expect((await check('file', f, '60000')).code).toBe(0)
    expect(await check('file', join(dir.path, 'missing'))).toEqual({
      code: 1,
      out: `unhealthy: cannot read ${join(dir.path, 'missing')}`,
    })
  })

  it('checks that a port accepts connections and that an HTTP path answers 200', async () => {
    expect(await check('tcp', String(port))).toEqual({
      code: 0,
      out: `healthy: port ${port} accepts connections`,
    })
    expect(await check('http', String(port), '/healthz')).toEqual({
      code: 0,
      out: 'healthy: GET /healthz answered 200',
    })
    expect(await check('http', String(port), '/other')).toEqual({
      code: 1,
      out: 'unhealthy: GET /other answered HTTP/1.1 503 Service Unavailable',
    })
    await new Promise((r) => server.close(r))
    expect(await check('tcp', String(port))).toEqual({
      code: 1,
      out: `unhealthy: port ${port} does not accept connections`,
    })
  })
})
