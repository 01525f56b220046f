/**
 * Notification URLs in the form Shoutrrr (and mostly Apprise) users already have: `telegram://token@telegram?chats=…`,
 * `smtp://user:pass@host:587/?from=…&to=…`. A URL is parsed once, when the rules file is read: an error names the
 * part that is wrong and the form expected, and a parsed target carries its secrets apart, so that they can be kept
 * out of anything shown or logged.
 */

export type Target =
  | { kind: 'telegram'; token: string; chats: { chat: string; thread: number | null }[]; silent: boolean }
  | { kind: 'discord'; webhookId: string; token: string; username: string | null; threadId: string | null }
  | { kind: 'slack'; mode: 'webhook'; path: string; username: string | null }
  | { kind: 'slack'; mode: 'bot'; token: string; channel: string; username: string | null }
  | { kind: 'gotify'; base: string; token: string; priority: number | null }
  | { kind: 'pushover'; token: string; user: string; devices: string[]; priority: number | null }
  | { kind: 'matrix'; base: string; user: string | null; password: string; rooms: string[] }
  | { kind: 'ntfy'; base: string; topic: string; user: string; password: string; priority: number | null }
  | {
      kind: 'email'
      host: string
      port: number
      user: string | null
      password: string | null
      from: string
      fromName: string | null
      to: string[]
      /** tls: TLS from the first byte (port 465); starttls: required; none: plain; auto: STARTTLS when offered. */
      security: 'auto' | 'none' | 'starttls' | 'tls'
      verify: boolean
      authMethod: string | null
    }
  | { kind: 'webhook'; url: string }

export type Provider = Target['kind']

export interface ParsedUrl {
  target: Target
  /** The URL as anyone may see it: what identifies the destination, never a token, password or key. */
  shown: string
  /** Every secret in the URL (kept out of errors and answers shown). */
  secrets: string[]
}

/** The form each scheme expects, named in every error about it. */
export const FORMS: Record<string, string> = {
  telegram: 'telegram://<bot token>@telegram?chats=<chat id or @channel>[,…]',
  discord: 'discord://<webhook token>@<webhook id>',
  slack:
    'slack://hook:<T…>-<B…>-<secret>@webhook (an incoming webhook) or slack://xoxb:<bot token>@<channel id>',
  gotify: 'gotify://<host>[:port][/path]/<application token>',
  pushover: 'pushover://shoutrrr:<api token>@<user key>/[?devices=<device>[,…]]',
  matrix:
    'matrix://<user>:<password>@<host>[:port]/?rooms=<!room id or alias>[,…] (or matrix://:<access token>@<host>/…)',
  ntfy: 'ntfy://[<user>:<password>@]<host>[:port]/<topic>',
  smtp: 'smtp://[<user>:<password>@]<host>[:port]/?from=<address>&to=<address>[,…] (smtps:// for TLS on port 465)',
  generic: 'generic://<host>[:port]/<path> (HTTPS; generic+http://… for plain HTTP)',
  https: 'https://<host>/<path> (a JSON webhook)',
}

const SCHEMES = Object.keys(FORMS).join(', ')

export class NotifyUrlError extends Error {
  override name = 'NotifyUrlError'
}

const fail = (scheme: string, what: string): never => {
  const form = FORMS[scheme]
  throw new NotifyUrlError(`${what}; expected ${form ?? `one of ${SCHEMES}`}`)
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** Query parameters by lower-case name (Shoutrrr's are case-insensitive: `disableTLS` = `disabletls`). */
function params(u: URL): Map<string, string> {
  const m = new Map<string, string>()
  for (const [k, v] of u.searchParams) m.set(k.toLowerCase(), v)
  return m
}

const yes = (v: string | undefined): boolean | null =>
  v === undefined ? null : /^(yes|true|1|on)$/i.test(v) ? true : /^(no|false|0|off)$/i.test(v) ? false : null

function list(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

function priority(scheme: string, v: string | undefined, min: number, max: number): number | null {
  if (v === undefined) return null
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max)
    fail(scheme, `priority must be a whole number ${min}…${max}, not "${v}"`)
  return n
}

/** `https` unless the URL asks for plain HTTP (`disabletls=yes`, ntfy's `scheme=http`). */
function base(u: URL, p: Map<string, string>, path = ''): string {
  const plain = yes(p.get('disabletls')) === true || p.get('scheme') === 'http'
  return `${plain ? 'http' : 'https'}://${u.host}${path}`
}

const EMAIL = /^[^\s@,<>]+@[^\s@,<>]+$/

/**
 * Apprise's forms of the same providers, read as their Shoutrrr equivalent: `tgram://<bot token>/<chat>[/<chat>…]`,
 * `discord://<webhook id>/<webhook token>`, `pover://<user key>@<api token>[/<device>…]`, `ntfys://`, `gotifys://`,
 * `matrixs://` (TLS; `ntfy://`, `gotify://`, `matrix://` are TLS here too, as in Shoutrrr), `json(s)://` (a webhook).
 */
function fromApprise(text: string): string {
  const m = /^([a-z]+):\/\/(.*)$/i.exec(text)
  if (!m) return text
  const scheme = (m[1] ?? '').toLowerCase()
  const rest = m[2] ?? ''
  const [main = '', query = ''] = rest.split(/\?(.*)/s)
  const q = query ? `&${query}` : ''
  switch (scheme) {
    case 'tgram': {
      // The bot token holds a ":" that a URL would read as a port: split by hand.
      const [token = '', ...chats] = main.split('/').filter(Boolean)
      return `telegram://${token}@telegram?chats=${chats.join(',')}${q}`
    }
    case 'discord': {
      const parts = main.split('/').filter(Boolean)
      return parts.length === 2 && !main.includes('@')
        ? `discord://${parts[1]}@${parts[0]}${query ? `?${query}` : ''}`
        : text
    }
    case 'pover': {
      const [auth = '', ...devices] = main.split('/').filter(Boolean)
      const [user = '', token = ''] = auth.split('@')
      return `pushover://shoutrrr:${token}@${user}/?devices=${devices.join(',')}${q}`
    }
    case 'ntfys':
    case 'gotifys':
    case 'matrixs':
      return `${scheme.slice(0, -1)}://${rest}`
    case 'json':
      return `generic+http://${rest}`
    case 'jsons':
      return `generic+https://${rest}`
    default:
      return text
  }
}

/** Parses a notification URL; throws a NotifyUrlError naming what is wrong and the form expected. */
export function parseNotifyUrl(raw: string): ParsedUrl {
  const text = fromApprise(raw.trim())
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase()
  if (!scheme) throw new NotifyUrlError(`not a URL; expected one of ${SCHEMES}, e.g. ${FORMS.ntfy}`)
  let u: URL
  try {
    u = new URL(text)
  } catch {
    return fail(
      scheme === 'smtps' ? 'smtp' : scheme,
      'this URL does not parse (a reserved character not escaped?)',
    )
  }
  const p = params(u)
  const user = decode(u.username)
  const pass = decode(u.password)
  const segments = u.pathname.split('/').filter(Boolean).map(decode)
  switch (scheme) {
    case 'telegram': {
      // A bot token is `<id>:<secret>`, which a URL reads as user and password.
      const token = pass ? `${user}:${pass}` : user
      if (!/^\d+:[A-Za-z0-9_-]{10,}$/.test(token))
        fail(scheme, 'the bot token (before "@") is missing or malformed')
      const chats = list(p.get('chats') ?? p.get('channels')).map((c) => {
        const [chat = '', thread] = c.split(':')
        if (!/^(-?\d+|@[A-Za-z0-9_]{4,})$/.test(chat)) fail(scheme, `"${c}" is not a chat id or @channel`)
        if (thread !== undefined && !/^\d+$/.test(thread))
          fail(scheme, `"${c}": the thread after ":" is not a number`)
        return { chat, thread: thread === undefined ? null : Number(thread) }
      })
      if (chats.length === 0) fail(scheme, 'chats= is missing')
      const notify = yes(p.get('notification'))
      return {
        target: { kind: 'telegram', token, chats, silent: notify === false },
        shown: `telegram://…@telegram?chats=${chats.map((c) => c.chat).join(',')}`,
        secrets: [token, pass].filter(Boolean),
      }
    }
    case 'discord': {
      const webhookId = u.hostname
      if (!/^\d{5,30}$/.test(webhookId)) fail(scheme, 'the webhook id (after "@") is missing or not a number')
      if (!/^[A-Za-z0-9_-]{20,}$/.test(user))
        fail(scheme, 'the webhook token (before "@") is missing or malformed')
      return {
        target: {
          kind: 'discord',
          webhookId,
          token: user,
          username: p.get('username') ?? null,
          threadId: p.get('thread_id') ?? p.get('threadid') ?? null,
        },
        shown: `discord://…@${webhookId}`,
        secrets: [user],
      }
    }
    case 'slack': {
      const name = p.get('botname') ?? p.get('username') ?? null
      if (user === 'hook' || (!user && segments.length === 2)) {
        // slack://hook:T…-B…-X…@webhook, or the older slack://T…/B…/X…
        const parts = user === 'hook' ? pass.split('-') : [u.hostname, ...segments]
        if (parts.length !== 3 || parts.some((x) => !/^[A-Za-z0-9]+$/.test(x)))
          fail(scheme, 'the webhook token is not three parts T…-B…-secret')
        return {
          target: { kind: 'slack', mode: 'webhook', path: `/services/${parts.join('/')}`, username: name },
          shown: `slack://hook:${parts[0]}-…@webhook`,
          secrets: [pass, parts[2] ?? ''].filter(Boolean),
        }
      }
      if (/^xox[bp]$/.test(user)) {
        if (!pass) fail(scheme, 'the bot token (after "xoxb:") is missing')
        if (!/^[A-Z0-9]{6,}$/i.test(u.hostname)) fail(scheme, 'the channel id (after "@") is missing')
        const token = `${user}-${pass}`
        return {
          target: { kind: 'slack', mode: 'bot', token, channel: u.hostname, username: name },
          shown: `slack://${user}:…@${u.hostname}`,
          secrets: [token, pass],
        }
      }
      return fail(scheme, 'the token is neither hook:… nor xoxb:…')
    }
    case 'gotify': {
      const token = segments.at(-1)
      if (!u.hostname) fail(scheme, 'the host is missing')
      if (!token || !/^[A-Za-z0-9._-]{8,}$/.test(token))
        fail(scheme, 'the application token (the last path part) is missing')
      const path = segments.slice(0, -1).map(encodeURIComponent).join('/')
      return {
        target: {
          kind: 'gotify',
          base: base(u, p, path ? `/${path}` : ''),
          token: token ?? '',
          priority: priority(scheme, p.get('priority'), 0, 10),
        },
        shown: `gotify://${u.host}${path ? `/${path}` : ''}/…`,
        secrets: [token ?? ''],
      }
    }
    case 'pushover': {
      if (!/^[A-Za-z0-9]{20,40}$/.test(pass))
        fail(scheme, 'the API token (after "shoutrrr:") is missing or malformed')
      if (!/^[A-Za-z0-9]{20,40}$/.test(u.hostname))
        fail(scheme, 'the user key (after "@") is missing or malformed')
      const devices = list(p.get('devices'))
      return {
        target: {
          kind: 'pushover',
          token: pass,
          user: u.hostname,
          devices,
          priority: priority(scheme, p.get('priority'), -2, 1),
        },
        shown: `pushover://…@…${devices.length ? `?devices=${devices.join(',')}` : ''}`,
        secrets: [pass, u.hostname],
      }
    }
    case 'matrix': {
      if (!u.hostname) fail(scheme, 'the host is missing')
      if (!pass) fail(scheme, 'the password or access token (after ":") is missing')
      // Aliases come without their "#" (it would start the URL's fragment); room ids keep their "!".
      const rooms = list(p.get('rooms') ?? p.get('room')).map((r) => (/^[!#]/.test(r) ? r : `#${r}`))
      return {
        target: { kind: 'matrix', base: base(u, p), user: user || null, password: pass, rooms },
        shown: `matrix://${user ? `${user}:` : ':'}…@${u.host}${rooms.length ? `?rooms=${rooms.join(',')}` : ''}`,
        secrets: [pass],
      }
    }
    case 'ntfy': {
      const topic = segments.join('/')
      if (!u.hostname) fail(scheme, 'the host is missing')
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(topic))
        fail(scheme, 'the topic (the path) is missing or not 1–64 of A-Z, a-z, 0-9, "_", "-"')
      return {
        target: {
          kind: 'ntfy',
          base: base(u, p),
          topic,
          user,
          password: pass,
          priority: priority(scheme, p.get('priority'), 1, 5),
        },
        // Whoever knows a topic can read it: it is as secret as a password.
        shown: `ntfy://${u.host}/…`,
        secrets: [pass, topic].filter(Boolean),
      }
    }
    case 'smtp':
    case 'smtps': {
      if (!u.hostname) fail('smtp', 'the host is missing')
      const from = p.get('from') ?? p.get('fromaddress') ?? ''
      if (!EMAIL.test(from)) fail('smtp', 'from= is missing or not an e-mail address')
      const to = list(p.get('to') ?? p.get('toaddresses'))
      if (to.length === 0) fail('smtp', 'to= is missing')
      for (const t of to) if (!EMAIL.test(t)) fail('smtp', `"${t}" in to= is not an e-mail address`)
      const enc = (p.get('encryption') ?? '').toLowerCase()
      const port = u.port ? Number(u.port) : scheme === 'smtps' ? 465 : 25
      const startTls = yes(p.get('usestarttls'))
      const security: 'auto' | 'none' | 'starttls' | 'tls' =
        scheme === 'smtps' || enc === 'implicittls' || (enc === '' && port === 465)
          ? 'tls'
          : enc === 'explicittls' || startTls === true
            ? 'starttls'
            : enc === 'none' || startTls === false
              ? 'none'
              : enc === '' || enc === 'auto'
                ? 'auto'
                : fail('smtp', `encryption=${enc} is not one of none, explicittls, implicittls, auto`)
      const auth = (p.get('auth') ?? '').toLowerCase()
      const authMethod =
        auth === '' || auth === 'unknown'
          ? null
          : auth === 'plain' || auth === 'login'
            ? auth.toUpperCase()
            : auth === 'crammd5'
              ? 'CRAM-MD5'
              : auth === 'none'
                ? 'none'
                : fail('smtp', `auth=${auth} is not one of plain, login, crammd5, none`)
      return {
        target: {
          kind: 'email',
          host: u.hostname,
          port,
          user: user || null,
          password: pass || null,
          from,
          fromName: p.get('fromname') ?? null,
          to,
          security,
          verify: yes(p.get('verify')) !== false,
          authMethod,
        },
        shown: `${scheme}://${user ? `${user}:…@` : ''}${u.host}/?to=${to.length === 1 ? to[0] : `${to.length} recipients`}`,
        secrets: [pass].filter(Boolean),
      }
    }
    case 'generic':
    case 'generic+http':
    case 'generic+https':
    case 'http':
    case 'https': {
      const proto =
        scheme === 'http' || scheme === 'generic+http' || yes(p.get('disabletls')) === true ? 'http' : 'https'
      if (!u.hostname) fail(scheme.startsWith('generic') ? 'generic' : 'https', 'the host is missing')
      const rest = text.replace(/^[^:]+:\/\//, '')
      const url = `${proto}://${rest}`
      const secrets = [pass, ...segments.filter((s) => s.length >= 16), ...u.searchParams.values()].filter(
        Boolean,
      )
      return {
        target: { kind: 'webhook', url },
        shown: `${proto}://${u.host}${segments.length ? '/…' : ''}`,
        secrets,
      }
    }
    default:
      throw new NotifyUrlError(`"${scheme}://" is not a channel this alerter knows; use one of ${SCHEMES}`)
  }
}

/** Replaces every secret in a text (a provider's answer, an error) by "…". */
export function hideSecrets(text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('…')
  return out
}
