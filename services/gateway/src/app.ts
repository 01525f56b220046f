import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SERVICE_VERSION } from '@homelab/service-kit'
import { serveStatic } from '@hono/node-server/serve-static'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { compress } from 'hono/compress'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Env, GatewayDeps } from './context.js'
import { ApiFailure } from './errors.js'
import { requireLogin } from './middleware.js'
import { openApiDocument } from './openapi.js'
import { alertRoutes } from './routes/alerts.js'
import { authRoutes } from './routes/auth.js'
import { dockerRoutes } from './routes/docker.js'
import { fleetRoutes } from './routes/fleet.js'
import { historyRoutes } from './routes/history.js'
import { hostRoutes } from './routes/hosts.js'
import { liveRoutes } from './routes/live.js'
import { metricsRoutes } from './routes/metrics.js'
import { ollamaRoutes } from './routes/ollama.js'
import { probeRoutes } from './routes/probes.js'
import { prometheusRoutes } from './routes/prometheus.js'
import { serviceRoutes } from './routes/services.js'
import { tokenRoutes, userRoutes } from './routes/users.js'

/** index.html with a `<base>` naming the path the app is served under: its assets and API calls are relative. */
export function withBase(html: string, basePath: string): string {
  const href = `${basePath}/`.replace(/[&"<>]/g, '')
  return html.replace(/<head>/i, `<head>\n    <base href="${href}" />`)
}

/**
 * The gateway's HTTP app. main.ts serves it; tests call `app.request()` or serve it on a loopback port. Everything is
 * under `deps.basePath` ('' or `/monitor`).
 */
export function createApp(deps: GatewayDeps) {
  const root = new Hono<Env>()
  const base = deps.basePath

  root.onError((err, c) => {
    if (err instanceof ApiFailure) {
      deps.counters.inc(`http.${err.status}`)
      return c.json(
        { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } },
        err.status as ContentfulStatusCode,
      )
    }
    deps.counters.inc('http.500')
    deps.log.error(`${c.req.method} ${c.req.path} failed:`, err)
    return c.json({ error: { code: 'internal', message: 'internal error' } }, 500)
  })

  root.use('*', async (c, next) => {
    await next()
    // API answers (some carry a new token) are never kept by a browser or a proxy.
    const path = c.req.path.slice(base.length)
    if (path.startsWith('/api/') || path === '/healthz') c.header('Cache-Control', 'no-store')
    c.header('X-Content-Type-Options', 'nosniff')
    c.header('Referrer-Policy', 'same-origin')
    if ((c.res.headers.get('content-type') ?? '').includes('text/html')) {
      c.header(
        'Content-Security-Policy',
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
      )
    }
  })

  if (base) {
    root.get('/', (c) => c.redirect(`${base}/`))
    root.get(base, (c) => c.redirect(`${base}/`))
  }
  const app = base ? root.basePath(base) : root

  // 503 when the gateway itself cannot work (no broker); degraded, with the reasons, when a service of the monitor
  // says it is (a full disk, a damaged database): the gateway is fine, so a container healthcheck passes.
  app.get('/healthz', (c) => {
    const db = deps.history() !== null
    const mqtt = deps.mqttConnected()
    const reasons = deps.hub
      .snapshot()
      .flatMap((m) =>
        m.channel === 'status' && m.payload?.state === 'degraded'
          ? [`${m.service} on ${m.host}: ${m.payload.reason}`]
          : [],
      )
    if (!mqtt) reasons.unshift('gateway: not connected to the broker')
    return c.json(
      { status: reasons.length ? 'degraded' : 'ok', mqtt, database: db, reasons },
      mqtt ? 200 : 503,
    )
  })

  // No endpoint takes more than a small JSON body.
  app.use(
    '/api/*',
    bodyLimit({
      maxSize: 64 * 1024,
      onError: () => {
        throw new ApiFailure(413, 'payload_too_large', 'the body is larger than 64 KiB')
      },
    }),
  )
  app.route('/metrics', prometheusRoutes(deps))
  // The API's description is no secret: served without a login, built once.
  let openApi: string | null = null
  app.get('/api/openapi.json', (c) => {
    openApi ??= JSON.stringify(openApiDocument({ version: SERVICE_VERSION, basePath: base }))
    c.header('Cache-Control', 'no-cache')
    return c.body(openApi, 200, { 'content-type': 'application/json; charset=utf-8' })
  })
  app.route('/api/auth', authRoutes(deps))
  app.route('/api/users', userRoutes(deps))
  app.route('/api/tokens', tokenRoutes(deps))
  const api = new Hono<Env>()
  api.use('*', requireLogin(deps))
  api.route('/metrics', metricsRoutes(deps))
  api.route('/', historyRoutes(deps))
  api.route('/', liveRoutes(deps))
  api.route('/', hostRoutes(deps))
  api.route('/fleet', fleetRoutes(deps))
  api.route('/docker', dockerRoutes(deps))
  api.route('/services', serviceRoutes(deps))
  api.route('/ollama', ollamaRoutes(deps))
  api.route('/probes', probeRoutes(deps))
  api.route('/alerts', alertRoutes(deps))
  app.route('/api', api)
  app.all('/api/*', () => {
    throw new ApiFailure(404, 'not_found', 'no such endpoint')
  })

  const web = deps.webDir
  if (web && existsSync(join(web, 'index.html'))) {
    const index = withBase(readFileSync(join(web, 'index.html'), 'utf8'), base)
    const rewriteRequestPath = (p: string) => p.slice(base.length)
    // The built assets' names carry their content hash: a browser keeps them for good and asks again only when a new
    // build names new ones. Sent gzip-compressed to a browser that accepts it (the app is ~265 KB, ~87 KB gzipped).
    app.use('/assets/*', compress({ encoding: 'gzip' }), async (c, next) => {
      await next()
      if (c.res.status === 200) c.header('Cache-Control', 'public, max-age=31536000, immutable')
    })
    app.use('/assets/*', serveStatic({ root: web, rewriteRequestPath }))
    // A file the build does not have is a 404, never the page (which would then be kept as that file).
    app.all('/assets/*', (c) => c.text('no such file', 404))
    // The page itself always carries its <base>; other files at the top of the build are served as they are.
    app.get('/', (c) => c.html(index))
    app.get('/index.html', (c) => c.html(index))
    // Under a base path, `/` above is `/monitor`, which redirects to `/monitor/` (relative URLs need the slash).
    if (base) root.get(`${base}/`, (c) => c.html(index))
    app.use('/*', serveStatic({ root: web, rewriteRequestPath }))
    // The app routes in the browser: any other path gets index.html.
    app.get('*', (c) => c.html(index))
  } else {
    app.get('/', (c) => c.text('The web app is not built: run `npm run build`.', 503))
  }
  return root
}
