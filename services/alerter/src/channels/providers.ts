import type { Severity } from '@homelab/contracts'
import { z } from 'zod'
import { html, type Message, plainText, textWithoutLink } from './format.js'
import { type Answer, answerAs, type CallContext, call, DeliveryError, failure } from './http.js'
import { hideSecrets, type Target } from './url.js'

/** Where the hosted providers answer (tests point them at a local receiver that answers as they document). */
export interface Endpoints {
  telegram: string
  discord: string
  slackHooks: string
  slackApi: string
  pushover: string
}

export const PROVIDER_ENDPOINTS: Endpoints = {
  telegram: 'https://api.telegram.org',
  discord: 'https://discord.com',
  slackHooks: 'https://hooks.slack.com',
  slackApi: 'https://slack.com',
  pushover: 'https://api.pushover.net',
}

export interface ProviderContext extends CallContext {
  endpoints: Endpoints
  /** Matrix access tokens from a password login, kept between messages (by homeserver and user). */
  matrixTokens: Map<string, string>
}

/** A provider's answer to a delivered message, as the "send a test" button shows it. */
export type Delivered = string

type Sender<K extends Target['kind']> = (
  t: Extract<Target, { kind: K }>,
  m: Message,
  ctx: ProviderContext,
) => Promise<Delivered>

const COLOR: Record<Severity | 'resolved', number> = {
  critical: 0xd60510,
  warning: 0xffc441,
  info: 0x2488ff,
  resolved: 0x2eb872,
}
const colorOf = (m: Message): number => (m.state === 'resolved' ? COLOR.resolved : COLOR[m.severity])

// ---- Telegram (Bot API sendMessage) ----

const TelegramAnswer = z.object({
  ok: z.boolean(),
  description: z.string().optional(),
  result: z.object({ message_id: z.number() }).optional(),
  parameters: z.object({ retry_after: z.number().optional() }).optional(),
})

const telegram: Sender<'telegram'> = async (t, m, ctx) => {
  const ids: string[] = []
  for (const { chat, thread } of t.chats) {
    const a = await call(ctx, 'Telegram', `${ctx.endpoints.telegram}/bot${t.token}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        chat_id: chat,
        ...(thread !== null ? { message_thread_id: thread } : {}),
        text: html(m, { title: true, newline: '\n' }).slice(0, 4096),
        parse_mode: 'HTML',
        disable_notification: t.silent || m.state === 'resolved',
        link_preview_options: { is_disabled: true },
      }),
    })
    const body = answerAs(TelegramAnswer, a)
    if (a.status !== 200 || !body?.ok)
      throw failure(ctx, 'Telegram', a, body?.description ?? a.text, body?.parameters?.retry_after ?? null)
    ids.push(`message ${body.result?.message_id ?? '?'} in ${chat}`)
  }
  return `Telegram accepted ${ids.join(', ')}`
}

// ---- Discord (webhook, with ?wait=true so the message is confirmed) ----

const DiscordAnswer = z.object({
  id: z.string().optional(),
  message: z.string().optional(),
  retry_after: z.number().optional(),
})

const discord: Sender<'discord'> = async (t, m, ctx) => {
  const q = new URLSearchParams({ wait: 'true', ...(t.threadId ? { thread_id: t.threadId } : {}) })
  const a = await call(
    ctx,
    'Discord',
    `${ctx.endpoints.discord}/api/webhooks/${t.webhookId}/${t.token}?${q}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...(t.username ? { username: t.username } : {}),
        allowed_mentions: { parse: [] },
        embeds: [
          {
            title: m.title.slice(0, 256),
            description: textWithoutLink(m).slice(0, 4000),
            color: colorOf(m),
            ...(m.link ? { url: m.link } : {}),
            timestamp: new Date(m.since).toISOString(),
          },
        ],
      }),
    },
  )
  const body = answerAs(DiscordAnswer, a)
  if (a.status < 200 || a.status >= 300)
    throw failure(ctx, 'Discord', a, body?.message ?? a.text, body?.retry_after ?? null)
  return `Discord accepted message ${body?.id ?? '(no id)'}`
}

// ---- Slack (incoming webhook, or the Web API's chat.postMessage with a bot token) ----

const SlackApiAnswer = z.object({ ok: z.boolean(), error: z.string().optional(), ts: z.string().optional() })

/** chat.postMessage answers 200 with ok: false; these errors will not go away by retrying. */
const SLACK_PERMANENT = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_arguments',
  'msg_too_long',
])

const slack: Sender<'slack'> = async (t, m, ctx) => {
  const attachment = {
    color: `#${colorOf(m).toString(16).padStart(6, '0')}`,
    title: m.title,
    ...(m.link ? { title_link: m.link } : {}),
    text: textWithoutLink(m),
    ts: Math.round(m.since / 1000),
  }
  const payload = {
    text: m.title,
    attachments: [attachment],
    ...(t.username ? { username: t.username } : {}),
  }
  if (t.mode === 'webhook') {
    const a = await call(ctx, 'Slack', `${ctx.endpoints.slackHooks}${t.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    })
    if (a.status !== 200) throw failure(ctx, 'Slack', a, a.text)
    return `Slack answered "${a.text.slice(0, 50)}"`
  }
  const a = await call(ctx, 'Slack', `${ctx.endpoints.slackApi}/api/chat.postMessage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${t.token}` },
    body: JSON.stringify({ channel: t.channel, ...payload }),
  })
  const body = answerAs(SlackApiAnswer, a)
  if (a.status !== 200) throw failure(ctx, 'Slack', a, body?.error ?? a.text)
  if (!body?.ok) {
    const error = body?.error ?? 'no "ok" in the answer'
    throw new DeliveryError(
      `Slack refused the message: ${error}`,
      SLACK_PERMANENT.has(error),
      error === 'ratelimited' ? 60_000 : null,
    )
  }
  return `Slack posted message ${body.ts ?? ''} in ${t.channel}`
}

// ---- Gotify (POST /message with the application token) ----

const GotifyAnswer = z.object({
  id: z.number().optional(),
  error: z.string().optional(),
  errorDescription: z.string().optional(),
})
const GOTIFY_PRIORITY: Record<Severity, number> = { critical: 8, warning: 5, info: 2 }

const gotify: Sender<'gotify'> = async (t, m, ctx) => {
  const a = await call(ctx, 'Gotify', `${t.base}/message`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gotify-key': t.token },
    body: JSON.stringify({
      title: m.title,
      message: plainText(m),
      priority: t.priority ?? (m.state === 'resolved' ? 1 : GOTIFY_PRIORITY[m.severity]),
      extras: {
        'client::display': { contentType: 'text/plain' },
        ...(m.link ? { 'client::notification': { click: { url: m.link } } } : {}),
      },
    }),
  })
  const body = answerAs(GotifyAnswer, a)
  if (a.status !== 200)
    throw failure(
      ctx,
      'Gotify',
      a,
      [body?.error, body?.errorDescription].filter(Boolean).join(': ') || a.text,
    )
  return `Gotify stored message ${body?.id ?? '?'}`
}

// ---- Pushover (POST /1/messages.json, form encoded) ----

const PushoverAnswer = z.object({
  status: z.number(),
  request: z.string().optional(),
  errors: z.array(z.string()).optional(),
})
const PUSHOVER_PRIORITY: Record<Severity, number> = { critical: 1, warning: 0, info: -1 }

const pushover: Sender<'pushover'> = async (t, m, ctx) => {
  const form = new URLSearchParams({
    token: t.token,
    user: t.user,
    title: m.title.slice(0, 250),
    message: textWithoutLink(m).slice(0, 1024),
    priority: String(t.priority ?? (m.state === 'resolved' ? -1 : PUSHOVER_PRIORITY[m.severity])),
    timestamp: String(Math.round(m.since / 1000)),
    ...(m.link ? { url: m.link, url_title: 'Open in homelab-observability' } : {}),
    ...(t.devices.length ? { device: t.devices.join(',') } : {}),
  })
  const a = await call(ctx, 'Pushover', `${ctx.endpoints.pushover}/1/messages.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  })
  const body = answerAs(PushoverAnswer, a)
  if (a.status !== 200 || body?.status !== 1)
    throw failure(ctx, 'Pushover', a, body?.errors?.join('; ') ?? a.text)
  return `Pushover accepted request ${body.request ?? '?'}`
}

// ---- Matrix (client-server API v3: login once, resolve aliases, send m.room.message) ----

const MatrixError = z.object({
  errcode: z.string().optional(),
  error: z.string().optional(),
  retry_after_ms: z.number().optional(),
})
const MatrixLogin = z.object({ access_token: z.string().min(1) })
const MatrixRoom = z.object({ room_id: z.string().min(1) })
const MatrixJoined = z.object({ joined_rooms: z.array(z.string()) })
const MatrixSent = z.object({ event_id: z.string() })

function matrixFailure(ctx: ProviderContext, a: Answer): DeliveryError {
  const e = answerAs(MatrixError, a)
  const why = [e?.errcode, e?.error].filter(Boolean).join(': ') || a.text
  return failure(ctx, 'Matrix', a, why, e?.retry_after_ms !== undefined ? e.retry_after_ms / 1000 : null)
}

async function matrixToken(t: Extract<Target, { kind: 'matrix' }>, ctx: ProviderContext): Promise<string> {
  if (t.user === null) return t.password
  const key = `${t.base}|${t.user}`
  const known = ctx.matrixTokens.get(key)
  if (known) return known
  const a = await call(ctx, 'Matrix', `${t.base}/_matrix/client/v3/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: t.user },
      password: t.password,
      // One device for all logins, not a new one each time the alerter starts.
      device_id: 'HOMELAB_OBSERVABILITY',
      initial_device_display_name: 'homelab-observability alerter',
    }),
  })
  const body = answerAs(MatrixLogin, a)
  if (a.status !== 200 || !body) throw matrixFailure(ctx, a)
  ctx.matrixTokens.set(key, body.access_token)
  return body.access_token
}

const matrix: Sender<'matrix'> = async (t, m, ctx) => {
  const api = `${t.base}/_matrix/client/v3`
  const send = async (token: string): Promise<Delivered> => {
    const auth = { authorization: `Bearer ${token}` }
    const secrets = { ...ctx, secrets: [...ctx.secrets, token] }
    let rooms: string[] = []
    if (t.rooms.length === 0) {
      const a = await call(secrets, 'Matrix', `${api}/joined_rooms`, { method: 'GET', headers: auth })
      const body = answerAs(MatrixJoined, a)
      if (a.status !== 200 || !body) throw matrixFailure(secrets, a)
      rooms = body.joined_rooms
      if (rooms.length === 0)
        throw new DeliveryError('Matrix: the user is in no room; name rooms= in the URL', true)
    } else
      for (const r of t.rooms) {
        if (r.startsWith('!')) {
          rooms.push(r)
          continue
        }
        const a = await call(secrets, 'Matrix', `${api}/directory/room/${encodeURIComponent(r)}`, {
          method: 'GET',
          headers: auth,
        })
        const body = answerAs(MatrixRoom, a)
        if (a.status !== 200 || !body) throw matrixFailure(secrets, a)
        rooms.push(body.room_id)
      }
    const events: string[] = []
    for (const room of rooms) {
      // The transaction id makes a retry of the same message a no-op for the homeserver.
      const txn = encodeURIComponent(`${m.id}|${room}`.slice(0, 250))
      const a = await call(
        secrets,
        'Matrix',
        `${api}/rooms/${encodeURIComponent(room)}/send/m.room.message/${txn}`,
        {
          method: 'PUT',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({
            msgtype: 'm.text',
            body: `${m.title}\n${plainText(m)}`,
            format: 'org.matrix.custom.html',
            formatted_body: html(m, { title: true, newline: '<br>' }),
          }),
        },
      )
      const body = answerAs(MatrixSent, a)
      if (a.status !== 200 || !body) throw matrixFailure(secrets, a)
      events.push(`${body.event_id} in ${room}`)
    }
    return `Matrix accepted ${events.join(', ')}`
  }
  const token = await matrixToken(t, ctx)
  try {
    return await send(token)
  } catch (e) {
    // A login's token may have been logged out: log in again once.
    if (t.user !== null && e instanceof DeliveryError && /M_UNKNOWN_TOKEN/.test(e.message)) {
      ctx.matrixTokens.delete(`${t.base}|${t.user}`)
      return send(await matrixToken(t, ctx))
    }
    throw e
  }
}

// ---- ntfy (JSON publishing to the server's root, which keeps a UTF-8 title intact) ----

const NtfyAnswer = z.object({ id: z.string().optional(), error: z.string().optional() })
const NTFY_PRIORITY: Record<Severity, number> = { critical: 5, warning: 4, info: 3 }

const ntfy: Sender<'ntfy'> = async (t, m, ctx) => {
  const auth: Record<string, string> =
    t.user || t.password
      ? { authorization: `Basic ${Buffer.from(`${t.user}:${t.password}`).toString('base64')}` }
      : {}
  const a = await call(ctx, 'ntfy', `${t.base}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({
      topic: t.topic,
      title: m.title,
      message: textWithoutLink(m),
      priority: t.priority ?? (m.state === 'resolved' ? 2 : NTFY_PRIORITY[m.severity]),
      tags: [m.state === 'firing' ? 'rotating_light' : 'white_check_mark'],
      ...(m.link ? { click: m.link } : {}),
    }),
  })
  const body = answerAs(NtfyAnswer, a)
  if (a.status !== 200) throw failure(ctx, 'ntfy', a, body?.error ?? a.text)
  return `ntfy accepted message ${body?.id ?? '?'}`
}

// ---- E-mail (SMTP through nodemailer, loaded only by an alerter that has an e-mail channel) ----

const email: Sender<'email'> = async (t, m, ctx) => {
  const { createTransport } = await import('nodemailer')
  const transport = createTransport({
    host: t.host,
    port: t.port,
    secure: t.security === 'tls',
    requireTLS: t.security === 'starttls',
    ignoreTLS: t.security === 'none',
    ...(t.user ? { auth: { user: t.user, pass: t.password ?? '' } } : {}),
    ...(t.authMethod && t.authMethod !== 'none' ? { authMethod: t.authMethod } : {}),
    tls: { rejectUnauthorized: t.verify, servername: t.host },
    connectionTimeout: ctx.timeoutMs,
    greetingTimeout: ctx.timeoutMs,
    socketTimeout: ctx.timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  })
  try {
    const info = await transport.sendMail({
      from: t.fromName ? { name: t.fromName, address: t.from } : t.from,
      to: t.to,
      subject: m.title,
      text: plainText(m),
      html: `<p>${html(m, { title: false, newline: '<br>\n' })}</p>`,
      headers: { 'X-Homelab-Alert': m.id, 'Auto-Submitted': 'auto-generated' },
    })
    return `the SMTP server answered "${String(info.response).slice(0, 200)}"`
  } catch (e) {
    throw smtpFailure(ctx, e)
  } finally {
    transport.close()
  }
}

const SmtpError = z.object({
  code: z.string().optional(),
  responseCode: z.number().optional(),
  response: z.string().optional(),
  message: z.string(),
})

function smtpFailure(ctx: CallContext, e: unknown): DeliveryError {
  const r = SmtpError.safeParse(e)
  if (!r.success) return new DeliveryError(`SMTP: ${String(e)}`, false)
  const { code, responseCode, response, message } = r.data
  const said = hideSecrets(response ?? message, ctx.secrets).slice(0, 300)
  const temporary = responseCode !== undefined && responseCode >= 400 && responseCode < 500
  if (code === 'EAUTH') return new DeliveryError(`the SMTP server refused the login: ${said}`, !temporary)
  if (code === 'EENVELOPE')
    return new DeliveryError(`the SMTP server refused the sender or a recipient: ${said}`, !temporary)
  if (code === 'ETLS' || /certificate|self.signed/i.test(message))
    return new DeliveryError(
      `SMTP TLS failed: ${said} (for a self-signed certificate, add verify=no to the URL)`,
      true,
    )
  if (code === 'EMESSAGE' && responseCode !== undefined && responseCode >= 500)
    return new DeliveryError(`the SMTP server rejected the message: ${said}`, true)
  return new DeliveryError(`SMTP${code ? ` ${code}` : ''}: ${said}`, false)
}

// ---- a JSON webhook (generic:// and plain http(s)://) ----

const webhook = async (
  t: Extract<Target, { kind: 'webhook' }>,
  body: string,
  idempotencyKey: string,
  ctx: ProviderContext,
): Promise<Delivered> => {
  const a = await call(ctx, 'the webhook', t.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    body,
  })
  if (a.status < 200 || a.status >= 300) throw failure(ctx, 'the webhook', a, a.text.slice(0, 200))
  return `the webhook answered HTTP ${a.status}`
}

/**
 * Sends one message to one target. A webhook receives the notification document (JSON, one per alert: `documents`);
 * every other provider the message laid out for people.
 */
export async function deliver(
  t: Target,
  m: Message,
  documents: readonly { id: string; body: string }[],
  ctx: ProviderContext,
): Promise<Delivered> {
  switch (t.kind) {
    case 'telegram':
      return telegram(t, m, ctx)
    case 'discord':
      return discord(t, m, ctx)
    case 'slack':
      return slack(t, m, ctx)
    case 'gotify':
      return gotify(t, m, ctx)
    case 'pushover':
      return pushover(t, m, ctx)
    case 'matrix':
      return matrix(t, m, ctx)
    case 'ntfy':
      return ntfy(t, m, ctx)
    case 'email':
      return email(t, m, ctx)
    case 'webhook': {
      const answers: Delivered[] = []
      for (const d of documents) answers.push(await webhook(t, d.body, d.id, ctx))
      return answers.join('; ')
    }
  }
}
