import http from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * Stand-ins for the hosted notification providers (none can be reached from here), on one loopback server, each
 * checking the request as its API documents it and answering as it documents, errors included:
 *
 * - Telegram Bot API: `POST /bot<token>/sendMessage`, JSON with `chat_id` and `text` (≤ 4096), `parse_mode` one of
 *   HTML/Markdown/MarkdownV2; `{ok: true, result: Message}`; a wrong token 401 `{ok: false, error_code: 401,
 *   description: "Unauthorized"}`, an unknown chat 400 "Bad Request: chat not found", flood control 429 with
 *   `parameters.retry_after`.
 * - Discord webhooks: `POST /api/webhooks/<id>/<token>?wait=true`, JSON with `content` or `embeds` (≤ 10; title ≤ 256,
 *   description ≤ 4096); 200 with the message; a wrong token 401 "Invalid Webhook Token" (50027), an unknown webhook
 *   404 (10015), a rate limit 429 with `Retry-After` and `retry_after`.
 * - Slack incoming webhooks: `POST /services/<T>/<B>/<secret>`, JSON with `text` or `blocks`/`attachments`; 200 "ok";
 *   403 "invalid_token", 404 "no_service", 400 "invalid_payload". Slack Web API `POST /api/chat.postMessage` with a
 *   bearer token: 200 `{ok: true, channel, ts}` or 200 `{ok: false, error: "invalid_auth"}`.
 * - Gotify: `POST /message` with `X-Gotify-Key` (or `?token=`), JSON with `message`; 200 with the message; 401
 *   `{error: "Unauthorized", errorCode: 401, errorDescription: …}`; 400 when `message` is missing.
 * - Pushover: `POST /1/messages.json`, form encoded `token`, `user`, `message` (≤ 1024), `title` (≤ 250); 200
 *   `{status: 1, request}`; 400 `{token: "invalid", errors: […], status: 0, request}`; 429 over the monthly limit.
 * - Matrix client-server API v3: `POST /_matrix/client/v3/login` (m.login.password with an m.id.user identifier),
 *   `GET /_matrix/client/v3/directory/room/<alias>`, `GET /_matrix/client/v3/joined_rooms`,
 *   `PUT /_matrix/client/v3/rooms/<room>/send/m.room.message/<txnId>` with a bearer token (the same txnId twice is
 *   one event); 403 M_FORBIDDEN for a wrong password, 401 M_UNKNOWN_TOKEN, 429 M_LIMIT_EXCEEDED with `retry_after_ms`.
 * - ntfy: JSON publishing `POST /` with `topic`, `message`, `title`, `priority` (1–5), `tags`, `click`; basic auth; 200
 *   with the message; 403 `{code: 40301, http: 403, error: "forbidden"}`; 429 `{code: 42901, …}`.
 *
 * `mode` switches a provider to one of its error answers (or to hanging); every request is recorded.
 */
export type Mode =
  | 'ok'
  | 'unauthorized'
  | 'not_found'
  | 'rate_limited'
  | 'bad_request'
  | 'hang'
  | 'server_error'

export interface Received {
  provider: string
  method: string
  path: string
  headers: http.IncomingHttpHeaders
  body: string
}

export interface FakeProviders {
  url: string
  received: Received[]
  mode: Record<string, Mode>
  /** Tokens each provider accepts. */
  tokens: {
    telegram: string
    discord: { id: string; token: string }
    slackHook: string
    slackBot: string
    gotify: string
    pushover: { token: string; user: string }
    matrix: { user: string; password: string; token: string; rooms: Record<string, string> }
    ntfy: { user: string; password: string }
  }
  close(): Promise<void>
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

function parse(body: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(body)
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v))
      : null
  } catch {
    return null
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)

export async function startFakeProviders(): Promise<FakeProviders> {
  const tokens: FakeProviders['tokens'] = {
    telegram: '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw',
    discord: { id: '1111222233334444555', token: 'DiScOrDtOkEn_abcdefghijklmnopqrstuvwxyz-0123' },
    slackHook: 'T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX',
    slackBot: 'xoxb-1234-5678-abcdef',
    gotify: 'AzyoeNS.D4iJLVa',
    pushover: { token: 'azGDORePK8gMaC0QOYAMyEEuzJnyUi', user: 'uQiRzpo4DXghDmr9QzzfQu27cmVRsG' },
    matrix: {
      user: 'alerts',
      password: 'matrix-pass',
      token: 'syt_matrix_access_token',
      rooms: { '#homelab:example.org': '!roomid:example.org' },
    },
    ntfy: { user: 'phil', password: 'ntfy-pass' },
  }
  const received: Received[] = []
  const mode: Record<string, Mode> = {}
  const seenTxn = new Map<string, string>()
  let nextId = 1

  const server = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => {
      body += c
    })
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x')
      const path = u.pathname
      const provider = path.startsWith('/bot')
        ? 'telegram'
        : path.startsWith('/api/webhooks/')
          ? 'discord'
          : path.startsWith('/services/')
            ? 'slack'
            : path === '/api/chat.postMessage'
              ? 'slack-api'
              : path === '/message'
                ? 'gotify'
                : path === '/1/messages.json'
                  ? 'pushover'
                  : path.startsWith('/_matrix/')
                    ? 'matrix'
                    : path === '/'
                      ? 'ntfy'
                      : 'unknown'
      received.push({ provider, method: req.method ?? '', path: req.url ?? '', headers: req.headers, body })
      const m = mode[provider] ?? 'ok'
      if (m === 'hang') return // never answers: the sender's time-out must end it
      if (m === 'server_error') {
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>')
        return
      }
      const handler = HANDLERS[provider]
      if (!handler) {
        json(res, 404, { error: 'no such endpoint' })
        return
      }
      handler({ req, res, u, body, m })
    })
  })

  type Ctx = { req: http.IncomingMessage; res: http.ServerResponse; u: URL; body: string; m: Mode }
  const HANDLERS: Record<string, (c: Ctx) => void> = {
    telegram: ({ req, res, u, body, m }) => {
      const match = /^\/bot([^/]+)\/sendMessage$/.exec(u.pathname)
      if (req.method !== 'POST' || !match)
        return json(res, 404, { ok: false, error_code: 404, description: 'Not Found' })
      if (match[1] !== tokens.telegram || m === 'unauthorized')
        return json(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' })
      if (m === 'rate_limited')
        return json(res, 429, {
          ok: false,
          error_code: 429,
          description: 'Too Many Requests: retry after 3',
          parameters: { retry_after: 3 },
        })
      const b = parse(body)
      const text = str(b?.text)
      if (!req.headers['content-type']?.startsWith('application/json') || !b || !text || text.length > 4096)
        return json(res, 400, {
          ok: false,
          error_code: 400,
          description: 'Bad Request: message text is empty',
        })
      if (b.parse_mode !== undefined && !['HTML', 'Markdown', 'MarkdownV2'].includes(String(b.parse_mode)))
        return json(res, 400, {
          ok: false,
          error_code: 400,
          description: 'Bad Request: unsupported parse_mode',
        })
      if (m === 'not_found' || b.chat_id === '-1000')
        return json(res, 400, { ok: false, error_code: 400, description: 'Bad Request: chat not found' })
      json(res, 200, {
        ok: true,
        result: { message_id: nextId++, date: Math.floor(Date.now() / 1000), chat: { id: b.chat_id }, text },
      })
    },
    discord: ({ req, res, u, body, m }) => {
      const match = /^\/api\/webhooks\/(\d+)\/([^/]+)$/.exec(u.pathname)
      if (req.method !== 'POST' || !match)
        return json(res, 405, { message: '405: Method Not Allowed', code: 0 })
      if (match[1] !== tokens.discord.id || m === 'not_found')
        return json(res, 404, { message: 'Unknown Webhook', code: 10015 })
      if (match[2] !== tokens.discord.token || m === 'unauthorized')
        return json(res, 401, { message: 'Invalid Webhook Token', code: 50027 })
      if (m === 'rate_limited')
        return json(
          res,
          429,
          { message: 'You are being rate limited.', retry_after: 1.5, global: false },
          { 'retry-after': '2', 'x-ratelimit-remaining': '0' },
        )
      const b = parse(body)
      const embeds = Array.isArray(b?.embeds) ? b.embeds : []
      const ok =
        b &&
        (str(b.content) || embeds.length > 0) &&
        embeds.length <= 10 &&
        embeds.every((e: unknown) => {
          const o = parse(JSON.stringify(e))
          return o && (str(o.title) ?? '').length <= 256 && (str(o.description) ?? '').length <= 4096
        })
      if (!ok) return json(res, 400, { message: 'Cannot send an empty message', code: 50006 })
      const message = { id: String(900000 + nextId++), type: 0, content: b.content ?? '', embeds }
      // Without ?wait=true Discord answers 204 and no message.
      if (u.searchParams.get('wait') === 'true') json(res, 200, message)
      else res.writeHead(204).end()
    },
    slack: ({ req, res, u, body, m }) => {
      if (req.method !== 'POST') return void res.writeHead(405).end('invalid_method')
      if (u.pathname !== `/services/${tokens.slackHook}` || m === 'not_found')
        return void res.writeHead(404, { 'content-type': 'text/html' }).end('no_service')
      if (m === 'unauthorized')
        return void res.writeHead(403, { 'content-type': 'text/html' }).end('invalid_token')
      if (m === 'rate_limited') return void res.writeHead(429, { 'retry-after': '30' }).end('rate_limited')
      const b = parse(body)
      if (!b || !(str(b.text) || Array.isArray(b.blocks) || Array.isArray(b.attachments)))
        return void res.writeHead(400, { 'content-type': 'text/html' }).end('invalid_payload')
      res.writeHead(200, { 'content-type': 'text/html' }).end('ok')
    },
    'slack-api': ({ req, res, body, m }) => {
      if (req.headers.authorization !== `Bearer ${tokens.slackBot}` || m === 'unauthorized')
        return json(res, 200, { ok: false, error: 'invalid_auth' })
      if (m === 'rate_limited')
        return json(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': '4' })
      const b = parse(body)
      if (!b || !str(b.channel)) return json(res, 200, { ok: false, error: 'channel_not_found' })
      if (!str(b.text) && !Array.isArray(b.attachments))
        return json(res, 200, { ok: false, error: 'no_text' })
      json(res, 200, { ok: true, channel: b.channel, ts: `${Date.now() / 1000}` })
    },
    gotify: ({ req, res, u, body, m }) => {
      const key = req.headers['x-gotify-key'] ?? u.searchParams.get('token')
      if (req.method !== 'POST') return json(res, 405, { error: 'Method Not Allowed', errorCode: 405 })
      if (key !== tokens.gotify || m === 'unauthorized')
        return json(res, 401, {
          error: 'Unauthorized',
          errorCode: 401,
          errorDescription: 'you need to provide a valid access token or user credentials to access this api',
        })
      const b = parse(body)
      if (!b || !str(b.message))
        return json(res, 400, {
          error: 'Bad Request',
          errorCode: 400,
          errorDescription: "Field 'message' is required",
        })
      json(res, 200, {
        id: nextId++,
        appid: 1,
        message: b.message,
        title: b.title ?? '',
        priority: b.priority ?? 0,
        extras: b.extras ?? null,
        date: new Date().toISOString(),
      })
    },
    pushover: ({ req, res, body, m }) => {
      const request = `req-${nextId++}`
      if (req.method !== 'POST') return json(res, 404, { status: 0, errors: ['not found'], request })
      const f = new URLSearchParams(body)
      if (m === 'rate_limited')
        return json(res, 429, { status: 0, errors: ['application is over its monthly limit'], request })
      if (f.get('token') !== tokens.pushover.token || m === 'unauthorized')
        return json(res, 400, {
          token: 'invalid',
          errors: ['application token is invalid'],
          status: 0,
          request,
        })
      if (f.get('user') !== tokens.pushover.user)
        return json(res, 400, {
          user: 'invalid',
          errors: ['user identifier is not a valid user, group, or subscribed user key'],
          status: 0,
          request,
        })
      const message = f.get('message') ?? ''
      if (!message || message.length > 1024 || (f.get('title') ?? '').length > 250)
        return json(res, 400, { message: 'invalid', errors: ['message cannot be blank'], status: 0, request })
      json(res, 200, { status: 1, request })
    },
    matrix: ({ req, res, u, body, m }) => {
      const api = '/_matrix/client/v3'
      const p = decodeURIComponent(u.pathname)
      if (m === 'rate_limited')
        return json(res, 429, {
          errcode: 'M_LIMIT_EXCEEDED',
          error: 'Too many requests',
          retry_after_ms: 1500,
        })
      if (p === `${api}/login` && req.method === 'POST') {
        const b = parse(body)
        const id = parse(JSON.stringify(b?.identifier ?? null))
        if (b?.type !== 'm.login.password' || id?.type !== 'm.id.user')
          return json(res, 400, { errcode: 'M_UNKNOWN', error: 'Unknown login type' })
        if (id.user !== tokens.matrix.user || b.password !== tokens.matrix.password)
          return json(res, 403, { errcode: 'M_FORBIDDEN', error: 'Invalid username or password' })
        return json(res, 200, {
          access_token: tokens.matrix.token,
          user_id: `@${tokens.matrix.user}:example.org`,
          device_id: str(b.device_id) ?? 'GENERATED',
        })
      }
      if (req.headers.authorization !== `Bearer ${tokens.matrix.token}` || m === 'unauthorized')
        return json(res, 401, {
          errcode: 'M_UNKNOWN_TOKEN',
          error: 'Invalid access token passed.',
          soft_logout: false,
        })
      if (p.startsWith(`${api}/directory/room/`) && req.method === 'GET') {
        const alias = p.slice(`${api}/directory/room/`.length)
        const room = tokens.matrix.rooms[alias]
        return room
          ? json(res, 200, { room_id: room, servers: ['example.org'] })
          : json(res, 404, { errcode: 'M_NOT_FOUND', error: `Room alias ${alias} not found` })
      }
      if (p === `${api}/joined_rooms` && req.method === 'GET')
        return json(res, 200, { joined_rooms: Object.values(tokens.matrix.rooms) })
      const send = /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/send\/m\.room\.message\/(.+)$/.exec(p)
      if (send && req.method === 'PUT') {
        const [, room = '', txn = ''] = send
        if (!Object.values(tokens.matrix.rooms).includes(room))
          return json(res, 403, { errcode: 'M_FORBIDDEN', error: `User not in room ${room}` })
        const b = parse(body)
        if (b?.msgtype !== 'm.text' || !str(b.body))
          return json(res, 400, { errcode: 'M_BAD_JSON', error: 'msgtype and body are required' })
        const event = seenTxn.get(`${room}|${txn}`) ?? `$event${nextId++}`
        seenTxn.set(`${room}|${txn}`, event)
        return json(res, 200, { event_id: event })
      }
      json(res, 404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' })
    },
    ntfy: ({ req, res, body, m }) => {
      const auth = `Basic ${Buffer.from(`${tokens.ntfy.user}:${tokens.ntfy.password}`).toString('base64')}`
      if (req.method !== 'POST' && req.method !== 'PUT')
        return json(res, 405, { code: 40501, http: 405, error: 'method not allowed' })
      if (
        (req.headers.authorization !== undefined && req.headers.authorization !== auth) ||
        m === 'unauthorized'
      )
        return json(res, 401, { code: 40101, http: 401, error: 'unauthorized' })
      if (req.headers.authorization === undefined)
        return json(res, 403, { code: 40301, http: 403, error: 'forbidden' })
      if (m === 'rate_limited')
        return json(res, 429, { code: 42901, http: 429, error: 'limit reached: too many requests' })
      const b = parse(body)
      const priority = b?.priority
      if (
        !b ||
        !str(b.topic) ||
        (priority !== undefined && !(typeof priority === 'number' && priority >= 1 && priority <= 5))
      )
        return json(res, 400, {
          code: 40024,
          http: 400,
          error: 'invalid request: topic invalid or priority invalid',
        })
      json(res, 200, {
        id: `ntfy${nextId++}`,
        time: Math.floor(Date.now() / 1000),
        event: 'message',
        topic: b.topic,
        title: b.title,
        message: b.message,
        priority,
        tags: b.tags,
        click: b.click,
      })
    },
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    mode,
    tokens,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
