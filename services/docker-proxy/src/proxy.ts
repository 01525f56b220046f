import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Counters, Logger } from '@homelab/service-kit'
import { verdict } from './rules.js'

export interface DockerProxyOptions {
  socketPath: string
  port: number
  bind: string
  control: boolean
  log: Logger
  counters: Counters
}

/**
 * A filtering proxy for the Docker API: it alone holds the Docker socket; the docker-collector reaches the engine
 * through it over TCP and can do only what `verdict` allows. Allowed requests are piped through unchanged (the
 * event stream included); refused ones get Docker's own error shape with status 403, counted and logged once.
 */
export class DockerProxy {
  private server: http.Server | null = null

  constructor(private readonly o: DockerProxyOptions) {}

  async start(): Promise<number> {
    const { o } = this
    const server = http.createServer((req, res) => {
      const v = verdict(req.method ?? 'GET', req.url ?? '/', o.control)
      if (!v.allowed) {
        o.counters.inc('denied')
        o.log.once(
          `deny:${req.method} ${(req.url ?? '').split('?')[0]}`,
          `refused ${req.method} ${req.url}: ${v.reason}`,
        )
        const body = JSON.stringify({ message: `refused by homelab docker-proxy: ${v.reason}` })
        res.writeHead(403, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        res.end(body)
        req.resume()
        return
      }
      o.counters.inc('forwarded')
      const headers = { ...req.headers }
      delete headers.connection
      const up = http.request(
        { socketPath: o.socketPath, method: req.method, path: req.url, headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers)
          r.pipe(res)
        },
      )
      up.on('error', (e: NodeJS.ErrnoException) => {
        o.counters.inc('errors')
        o.log.once(`up:${e.code}`, `Docker at ${o.socketPath}: ${e.code ?? e.message}`)
        if (!res.headersSent) {
          const body = JSON.stringify({ message: `Docker at ${o.socketPath}: ${e.code ?? e.message}` })
          res.writeHead(502, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          })
          res.end(body)
        } else res.destroy()
      })
      res.on('close', () => up.destroy())
      req.pipe(up)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(o.port, o.bind, () => resolve())
    })
    this.server = server
    const port = (server.address() as AddressInfo).port
    o.log.info(
      `Docker API proxy on ${o.bind}:${port} → ${o.socketPath}: reads only${o.control ? ', plus start/stop/restart' : ''}`,
    )
    return port
  }

  async stop(): Promise<void> {
    const s = this.server
    this.server = null
    if (!s) return
    await new Promise<void>((r) => {
      s.close(() => r())
      s.closeAllConnections()
    })
  }
}
