import { Hono, type MiddlewareHandler } from 'hono'
import type { Env, GatewayDeps } from '../context.js'
import { ApiFailure } from '../errors.js'
import { exposition } from '../exposition.js'
import { requireLogin } from '../middleware.js'

/** Prometheus' own content type for the text format. */
export const EXPOSITION_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/**
 * Prometheus authenticates with a bearer token (`authorization: credentials`) or basic auth (`basic_auth`): with
 * basic auth, the password is an API token (any role; the user name is not used). Everything else is as the API.
 */
function scrapeLogin(deps: GatewayDeps): MiddlewareHandler<Env> {
  const login = requireLogin(deps)
  return async (c, next) => {
    const header = c.req.header('authorization')
    if (!header?.startsWith('Basic ')) return login(c, next)
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
    const password = decoded.slice(decoded.indexOf(':') + 1)
    const principal = deps.auth.verifyBearer(password)
    if (!principal) {
      deps.counters.inc('auth.bad_token')
      throw new ApiFailure(401, 'unauthorized', 'the basic-auth password must be a valid API token')
    }
    c.set('principal', principal)
    await next()
  }
}

/** The exposition of what the gateway holds now. */
function scrape(deps: GatewayDeps): Response {
  deps.counters.inc('metrics.scrapes')
  return new Response(exposition(deps.hub.snapshot(), Date.now()), {
    headers: { 'content-type': EXPOSITION_TYPE, 'cache-control': 'no-store' },
  })
}

/** `GET /metrics` on the gateway's port: a login (an API token, as Prometheus sends it) of any role. */
export function prometheusRoutes(deps: GatewayDeps) {
  return new Hono<Env>().use('*', scrapeLogin(deps)).get('/', () => scrape(deps))
}

/**
 * The separate listener (HOMELAB_METRICS_LISTEN): `/metrics` only, without a login, for a Prometheus on a network
 * the owner trusts — bind it to an address only that network reaches.
 */
export function openMetricsApp(deps: GatewayDeps) {
  return new Hono()
    .get('/metrics', () => scrape(deps))
    .all('*', (c) => c.text('only /metrics is served here', 404))
}
