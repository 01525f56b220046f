import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Alert, AlertNotification } from '@homelab/contracts'
import { Counters, createLogger } from '@homelab/service-kit'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { DeliveryError } from '../services/alerter/src/channels/http.js'
import { channelSender, Notifier } from '../services/alerter/src/notifier.js'
import { Channel } from '../services/alerter/src/rules.js'
import { AlertStore } from '../services/alerter/src/store.js'
import { type FakeProviders, startFakeProviders } from './helpers/fake-providers.js'
import { REFUSED_RECIPIENT, SMTP_PASSWORD, SMTP_USER, type SmtpStandIn, startSmtp } from './helpers/smtp.js'

/**
 * Every notification provider, each against a receiver that checks the request its API documents and answers as it
 * documents (errors included), and e-mail against a real SMTP server with STARTTLS, TLS and AUTH on loopback.
 */

const alert: Alert = {
  id: 'abcdef012345',
  rule: 'disk-full',
  name: 'Disk almost full',
  severity: 'critical',
  host: 'pi',
  subject: '/srv',
  labels: { mount: '/srv' },
  series: 'disk.used_pct',
  state: 'firing',
  since: Date.UTC(2026, 11, 7, 14, 0),
  firingSince: Date.UTC(2026, 11, 7, 14, 5),
  episode: 'ep-1',
  value: 97,
  message: 'disk.used_pct of /srv on pi is 97.0% (> 95% for 5m)',
  ack: null,
  silencedUntil: null,
  silencedBy: null,
}

function notification(
  i = 1,
  over: Partial<Alert> = {},
  state: 'firing' | 'resolved' = 'firing',
): AlertNotification {
  const a = { ...alert, ...over, episode: `ep-${i}` }
  return {
    v: 1,
    id: `ep-${i}:${state}`,
    state,
    alert: a,
    reason: state === 'resolved' ? 'condition' : null,
    title:
      state === 'firing' ? `[${a.severity}] ${a.name} on ${a.host}` : `[resolved] ${a.name} on ${a.host}`,
    message: a.message,
    ts: a.since,
  }
}

let fake: FakeProviders
let base = ''
const send = () =>
  channelSender({
    publishMqtt: () => undefined,
    timeoutMs: 1500,
    publicUrl: 'https://monitor.example.org/',
    endpoints: {
      telegram: fake.url,
      discord: fake.url,
      slackHooks: fake.url,
      slackApi: fake.url,
      pushover: fake.url,
    },
  })

const channel = (url: string): Channel => Channel.parse({ type: 'url', url })
const deliver = (url: string, ns: AlertNotification[] = [notification()]) => send()('test', channel(url), ns)
async function refused(url: string): Promise<DeliveryError> {
  try {
    await deliver(url)
  } catch (e) {
    if (e instanceof DeliveryError) return e
    throw e
  }
  throw new Error(`${url}: delivered`)
}
const last = () => {
  const r = fake.received.at(-1)
  if (!r) throw new Error('nothing received')
  let json = null
  try {
    json = JSON.parse(r.body)
  } catch {
    // a form or text body
  }
  return { ...r, json }
}

beforeAll(async () => {
  fake = await startFakeProviders()
  base = fake.url.replace('http://', '')
})
afterAll(() => fake.close())
beforeEach(() => {
  fake.received.length = 0
  for (const k of Object.keys(fake.mode)) delete fake.mode[k]
})

describe('HTTP providers, as their APIs document them', () => {
  it('Telegram: sendMessage with the bot token in the path, HTML text with what, where, since and the link', async () => {
    const { telegram: token } = fake.tokens
    const answer = await deliver(`telegram://${token}@telegram?chats=@homelab,-100555:9`)
    expect(answer).toMatch(/^Telegram accepted message \d+ in @homelab, message \d+ in -100555$/)
    expect(fake.received.map((r) => [r.method, r.path])).toEqual([
      ['POST', `/bot${token}/sendMessage`],
      ['POST', `/bot${token}/sendMessage`],
    ])
    const first = JSON.parse(fake.received[0]?.body ?? '')
    expect(first).toMatchObject({ chat_id: '@homelab', parse_mode: 'HTML', disable_notification: false })
    expect(first.text).toContain('<b>[critical] Disk almost full on pi</b>')
    expect(first.text).toContain(alert.message.replace('>', '&gt;'))
    expect(first.text).toContain('Where: pi · /srv')
    expect(first.text).toMatch(/Since: 7 Dec 2026/)
    expect(first.text).toContain('<a href="https://monitor.example.org/alerts#abcdef012345">')
    expect(last().json).toMatchObject({ chat_id: '-100555', message_thread_id: 9 })
  })

  it('Telegram: a wrong token is refused for good; flood control comes back when it says; an unknown chat is named', async () => {
    fake.mode.telegram = 'unauthorized'
    const e = await refused(`telegram://${fake.tokens.telegram}@telegram?chats=1`)
    expect(e.permanent).toBe(true)
    expect(e.message).toMatch(/^Telegram answered HTTP 401: Unauthorized — the credentials were refused/)
    expect(e.message).not.toContain(fake.tokens.telegram.split(':')[1])
    fake.mode.telegram = 'rate_limited'
    const limited = await refused(`telegram://${fake.tokens.telegram}@telegram?chats=1`)
    expect([limited.permanent, limited.retryAfterMs]).toEqual([false, 3000])
    delete fake.mode.telegram
    const chat = await refused(`telegram://${fake.tokens.telegram}@telegram?chats=-1000`)
    expect([chat.permanent, chat.message]).toEqual([
      true,
      'Telegram answered HTTP 400: Bad Request: chat not found',
    ])
  })

  it('Discord: an embed per message on the webhook, confirmed with ?wait=true; 401, 404 and 429 with Retry-After', async () => {
    const { id, token } = fake.tokens.discord
    expect(await deliver(`discord://${token}@${id}?username=homelab`)).toMatch(
      /^Discord accepted message 9\d+$/,
    )
    const r = last()
    expect([r.method, r.path]).toEqual(['POST', `/api/webhooks/${id}/${token}?wait=true`])
    expect(r.headers['content-type']).toBe('application/json')
    expect(r.json).toMatchObject({
      username: 'homelab',
      allowed_mentions: { parse: [] },
      embeds: [
        {
          title: '[critical] Disk almost full on pi',
          color: 0xd60510,
          url: 'https://monitor.example.org/alerts#abcdef012345',
          timestamp: new Date(alert.firingSince ?? 0).toISOString(),
        },
      ],
    })
    expect(r.json.embeds[0].description).toContain('Where: pi · /srv')
    fake.mode.discord = 'unauthorized'
    expect((await refused(`discord://${token}@${id}`)).message).toMatch(/HTTP 401: Invalid Webhook Token/)
    fake.mode.discord = 'not_found'
    expect(await refused(`discord://${token}@${id}`)).toMatchObject({
      permanent: true,
      message: expect.stringMatching(/404: Unknown Webhook/),
    })
    fake.mode.discord = 'rate_limited'
    // The header (2 s) wins over the body's retry_after (1.5 s): both are documented, the header is the contract.
    expect(await refused(`discord://${token}@${id}`)).toMatchObject({ permanent: false, retryAfterMs: 2000 })
  })

  it('Slack: an attachment on the incoming webhook ("ok"), and chat.postMessage with a bot token ({ok: false} read)', async () => {
    const [t, b, x] = fake.tokens.slackHook.split('/')
    expect(await deliver(`slack://hook:${t}-${b}-${x}@webhook`)).toBe('Slack answered "ok"')
    expect(last().path).toBe(`/services/${fake.tokens.slackHook}`)
    expect(last().json).toMatchObject({
      text: '[critical] Disk almost full on pi',
      attachments: [{ color: '#d60510', title_link: 'https://monitor.example.org/alerts#abcdef012345' }],
    })
    fake.mode.slack = 'unauthorized'
    expect(await refused(`slack://hook:${t}-${b}-${x}@webhook`)).toMatchObject({
      permanent: true,
      message: expect.stringMatching(/HTTP 403: invalid_token/),
    })
    fake.mode.slack = 'rate_limited'
    expect(await refused(`slack://${t}/${b}/${x}`)).toMatchObject({ permanent: false, retryAfterMs: 30_000 })
    const bot = fake.tokens.slackBot.replace(/^xoxb-/, '')
    expect(await deliver(`slack://xoxb:${bot}@C0123456`)).toMatch(/^Slack posted message [\d.]+ in C0123456$/)
    expect(last().headers.authorization).toBe(`Bearer ${fake.tokens.slackBot}`)
    expect(last().json).toMatchObject({ channel: 'C0123456' })
    const wrong = await refused('slack://xoxb:0000-0000-wrong@C0123456')
    expect([wrong.permanent, wrong.message]).toEqual([true, 'Slack refused the message: invalid_auth'])
  })

  it('Gotify: POST /message with X-Gotify-Key, a priority from the severity and a click URL', async () => {
    expect(await deliver(`gotify://${base}/${fake.tokens.gotify}?disabletls=yes`)).toMatch(
      /^Gotify stored message \d+$/,
    )
    const r = last()
    expect([r.method, r.path, r.headers['x-gotify-key']]).toEqual(['POST', '/message', fake.tokens.gotify])
    expect(r.json).toMatchObject({
      title: '[critical] Disk almost full on pi',
      priority: 8,
      extras: {
        'client::notification': { click: { url: 'https://monitor.example.org/alerts#abcdef012345' } },
      },
    })
    expect(r.json.message).toContain(alert.message)
    await deliver(`gotify://${base}/${fake.tokens.gotify}?disabletls=yes&priority=3`, [
      notification(1, {}, 'resolved'),
    ])
    expect(last().json.priority).toBe(3)
    const e = await refused(`gotify://${base}/Wrong.Token12?disabletls=yes`)
    expect([e.permanent, e.message]).toEqual([
      true,
      "Gotify answered HTTP 401: Unauthorized: you need to provide a valid access token or user credentials to access this api — the credentials were refused; fix the channel's URL",
    ])
  })

  it('Pushover: the form fields of /1/messages.json, devices, priority by severity; its error list shown', async () => {
    const { token, user } = fake.tokens.pushover
    expect(await deliver(`pushover://shoutrrr:${token}@${user}/?devices=phone,tablet`)).toMatch(
      /^Pushover accepted request req-\d+$/,
    )
    const f = new URLSearchParams(last().body)
    expect(last().headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(Object.fromEntries(f)).toMatchObject({
      token,
      user,
      title: '[critical] Disk almost full on pi',
      priority: '1',
      device: 'phone,tablet',
      url: 'https://monitor.example.org/alerts#abcdef012345',
      timestamp: String(Math.round((alert.firingSince ?? 0) / 1000)),
    })
    const e = await refused(`pushover://shoutrrr:${'x'.repeat(30)}@${user}`)
    expect([e.permanent, e.message]).toEqual([
      true,
      'Pushover answered HTTP 400: application token is invalid',
    ])
    fake.mode.pushover = 'rate_limited'
    expect((await refused(`pushover://shoutrrr:${token}@${user}`)).permanent).toBe(false)
  })

  it('Matrix: a password login once, an alias resolved, m.room.message with HTML, the same txnId on a retry', async () => {
    const { user, password, token } = fake.tokens.matrix
    const url = `matrix://${user}:${password}@${base}/?rooms=homelab:example.org&disableTLS=yes`
    const sender = send()
    const c = channel(url)
    const answer = await sender('m', c, [notification()])
    expect(answer).toMatch(/^Matrix accepted \$event\d+ in !roomid:example.org$/)
    expect(fake.received.map((r) => [r.method, decodeURIComponent(r.path.split('/send/')[0] ?? '')])).toEqual(
      [
        ['POST', '/_matrix/client/v3/login'],
        ['GET', '/_matrix/client/v3/directory/room/#homelab:example.org'],
        ['PUT', '/_matrix/client/v3/rooms/!roomid:example.org'],
      ],
    )
    expect(JSON.parse(fake.received[0]?.body ?? '')).toMatchObject({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user },
    })
    const sent = last()
    expect(sent.headers.authorization).toBe(`Bearer ${token}`)
    expect(sent.json).toMatchObject({ msgtype: 'm.text', format: 'org.matrix.custom.html' })
    expect(sent.json.formatted_body).toContain('<b>[critical] Disk almost full on pi</b>')
    // The same message again: the login is reused and the homeserver sees the same transaction (one event).
    const again = await sender('m', c, [notification()])
    expect(again).toBe(answer)
    expect(fake.received.filter((r) => r.path.endsWith('/login'))).toHaveLength(1)
    // An access token instead of a login, and every joined room when none is named.
    expect(await deliver(`matrix://:${token}@${base}?disableTLS=yes`)).toMatch(/in !roomid:example.org$/)
    const wrong = await refused(`matrix://${user}:nope@${base}/?rooms=!roomid:example.org&disableTLS=yes`)
    expect([wrong.permanent, wrong.message]).toEqual([
      true,
      "Matrix answered HTTP 403: M_FORBIDDEN: Invalid username or password — the credentials were refused; fix the channel's URL",
    ])
    fake.mode.matrix = 'rate_limited'
    expect(
      await refused(`matrix://:${token}@${base}?disableTLS=yes&rooms=!roomid:example.org`),
    ).toMatchObject({
      permanent: false,
      retryAfterMs: 1500,
    })
  })

  it('ntfy: JSON publishing with a UTF-8 title, priority, tags, click and basic auth', async () => {
    const { user, password } = fake.tokens.ntfy
    const n = notification(1, { name: 'Température élevée' })
    expect(await deliver(`ntfy://${user}:${password}@${base}/homelab?scheme=http`, [n])).toMatch(
      /^ntfy accepted message ntfy\d+$/,
    )
    const r = last()
    expect(r.headers.authorization).toBe(`Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`)
    expect(r.json).toMatchObject({
      topic: 'homelab',
      title: '[critical] Température élevée on pi',
      priority: 5,
      tags: ['rotating_light'],
      click: 'https://monitor.example.org/alerts#abcdef012345',
    })
    await deliver(`ntfy://${user}:${password}@${base}/homelab?scheme=http`, [notification(1, {}, 'resolved')])
    expect(last().json).toMatchObject({ priority: 2, tags: ['white_check_mark'] })
    expect((await refused(`ntfy://${user}:wrong@${base}/homelab?scheme=http`)).message).toMatch(
      /HTTP 401: unauthorized/,
    )
    fake.mode.ntfy = 'rate_limited'
    expect(await refused(`ntfy://${user}:${password}@${base}/homelab?scheme=http`)).toMatchObject({
      permanent: false,
    })
  })

  it('a provider that hangs is cut at the time-out, one that fails with 5xx is retried, neither leaks the token', async () => {
    fake.mode.telegram = 'hang'
    const started = Date.now()
    const hung = await refused(`telegram://${fake.tokens.telegram}@telegram?chats=1`)
    expect(Date.now() - started).toBeLessThan(5000)
    expect([hung.permanent, hung.message]).toEqual([false, 'Telegram: no answer within 1500 ms'])
    fake.mode.telegram = 'server_error'
    const bad = await refused(`telegram://${fake.tokens.telegram}@telegram?chats=1`)
    expect(bad.permanent).toBe(false)
    expect(bad.message).toMatch(/^Telegram answered HTTP 502/)
    for (const e of [hung, bad]) expect(e.message).not.toContain('AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw')
  })
})

describe('the notifier with provider channels', () => {
  let dir = ''
  let store: AlertStore
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hl-notify-'))
    store = new AlertStore(join(dir, 'alerter.db'))
  })
  afterEach(() => {
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function notifier(channels: Record<string, Channel>, clock: { now: number }) {
    const n = new Notifier({
      store,
      now: () => clock.now,
      send: send(),
      retryBaseMs: 1000,
      retryMaxMs: 60_000,
      maxAttempts: 5,
      onGiveUp: () => undefined,
      log: createLogger('test', () => undefined),
      counters: new Counters(),
      host: 'pi',
    })
    n.setChannels(new Map(Object.entries(channels)))
    return n
  }
  function enqueue(name: string, n: AlertNotification, now: number, nextAt = now) {
    store.addDelivery({
      id: `${n.id}:${name}`,
      channel: name,
      alertId: n.alert.id,
      rule: n.alert.rule,
      episode: n.alert.episode ?? '',
      state: n.state,
      payload: n,
      status: 'pending',
      nextAt,
      now,
    })
  }
  async function step(n: Notifier): Promise<void> {
    n.pump()
    await new Promise((r) => setTimeout(r, 80))
  }
  const phone = () => channel(`telegram://${fake.tokens.telegram}@telegram?chats=@homelab`)

  it('stops retrying a channel whose credentials are refused and says why on the channel', async () => {
    fake.mode.telegram = 'unauthorized'
    const n = notifier({ phone: phone() }, { now: Date.now() })
    enqueue('phone', notification(1), 0)
    enqueue('phone', notification(2), 0)
    await step(n)
    await step(n)
    // Both went in one message (they fired together on one host), tried once: retrying a refused token cannot help.
    expect(fake.received).toHaveLength(1)
    expect(store.recentDeliveries(5).map((d) => [d.status, d.attempts])).toEqual([
      ['failed', 1],
      ['failed', 1],
    ])
    expect(n.views()[0]?.health).toMatchObject({
      state: 'failing',
      error: expect.stringMatching(/^Telegram answered HTTP 401: Unauthorized/),
    })
    // Fixed (here: the provider takes it again), the next message goes and the channel is well again.
    delete fake.mode.telegram
    enqueue('phone', notification(3), 0)
    await step(n)
    expect(n.views()[0]?.health.state).toBe('ok')
  })

  it("honours the provider's Retry-After", async () => {
    fake.mode.telegram = 'rate_limited'
    const clock = { now: 1_000_000 }
    const n = notifier({ phone: phone() }, clock)
    enqueue('phone', notification(1), clock.now)
    await step(n)
    expect(store.recentDeliveries(1)[0]).toMatchObject({
      status: 'pending',
      attempts: 1,
      nextAt: clock.now + 3000,
    })
    expect(n.views()[0]?.health.state).toBe('retrying')
    await step(n)
    expect(fake.received).toHaveLength(1) // not before the 3 s it asked for
    delete fake.mode.telegram
    clock.now += 3000
    await step(n)
    expect(store.recentDeliveries(1)[0]?.status).toBe('sent')
  })

  it('sends alerts that fire together on one host as one message, and another host apart', async () => {
    const clock = { now: 1_000_000 }
    const n = notifier({ phone: phone() }, clock)
    expect(n.holdMs('phone')).toBe(5000)
    enqueue('phone', notification(1), clock.now, clock.now + 5000)
    clock.now += 1000
    enqueue(
      'phone',
      notification(2, { name: 'CPU busy', subject: 'system', severity: 'warning' }),
      clock.now,
      clock.now + 5000,
    )
    enqueue('phone', notification(3, { host: 'nas' }), clock.now, clock.now + 5000)
    await step(n)
    expect(fake.received).toHaveLength(0) // held for the others
    clock.now += 4000
    await step(n)
    clock.now += 1000 // the other host's message waited its own 5 s
    await step(n)
    const texts = fake.received.map((r) => JSON.parse(r.body).text as string)
    expect(texts).toHaveLength(2)
    expect(texts[0]).toContain('<b>[critical] 2 alerts on pi</b>')
    expect(texts[0]).toContain('• Disk almost full (/srv)')
    expect(texts[0]).toContain('• CPU busy (system)')
    expect(texts[1]).toContain('<b>[critical] Disk almost full on nas</b>')
    expect(store.recentDeliveries(5).every((d) => d.status === 'sent')).toBe(true)
  })

  it('holds messages through quiet hours, sends them when they end, and lets the severe through', async () => {
    const clock = { now: Date.UTC(2026, 11, 7, 23, 30) }
    const quiet = {
      ...phone(),
      quietHours: { from: '22:00', to: '07:00', timezone: 'UTC', except: 'critical' as const },
    }
    const n = notifier({ phone: quiet }, clock)
    enqueue('phone', notification(1, { severity: 'warning' }), clock.now)
    enqueue('phone', notification(2, { severity: 'critical', host: 'nas' }), clock.now)
    await step(n)
    expect(fake.received).toHaveLength(0)
    expect(store.recentDeliveries(5).find((d) => d.id === 'ep-1:firing:phone')).toMatchObject({
      status: 'pending',
      nextAt: Date.UTC(2026, 11, 8, 7, 0),
    })
    clock.now = Date.UTC(2026, 11, 8, 7, 0)
    await step(n)
    await step(n)
    expect(fake.received.map((r) => JSON.parse(r.body).text.split('\n')[0])).toEqual([
      '<b>[warning] Disk almost full on pi</b>',
      '<b>[critical] Disk almost full on nas</b>',
    ])
  })

  it('"send a test" answers with what the provider said, or why it failed', async () => {
    const n = notifier({ phone: phone() }, { now: Date.now() })
    const ok = await n.test('phone', n.views().length ? phone() : phone(), 'admin')
    expect(ok.ok).toBe(true)
    expect(ok.message).toMatch(/^Telegram accepted message \d+ in @homelab$/)
    expect(JSON.parse(last().body).text).toContain('A test from homelab-observability, sent by admin')
    fake.mode.telegram = 'unauthorized'
    const bad = await n.test('phone', phone(), 'admin')
    expect(bad).toEqual({
      ok: false,
      message:
        "Telegram answered HTTP 401: Unauthorized — the credentials were refused; fix the channel's URL",
    })
  })
})

describe('e-mail through a real SMTP server', () => {
  let plain: SmtpStandIn
  let tls: SmtpStandIn
  const auth = `${encodeURIComponent(SMTP_USER)}:${SMTP_PASSWORD}`
  beforeAll(async () => {
    plain = await startSmtp({ secure: false })
    tls = await startSmtp({ secure: true })
  })
  afterAll(async () => {
    await plain.close()
    await tls.close()
  })

  it('STARTTLS and AUTH on the submission port: subject, from, to, the text and the HTML', async () => {
    const url = `smtp://${auth}@127.0.0.1:${plain.port}/?from=pi@example.org&fromName=Homelab&to=me@example.org,you@example.org&encryption=explicittls&verify=no`
    const answer = await deliver(url)
    expect(answer).toMatch(/^the SMTP server answered "250 /)
    const m = plain.messages.at(-1)
    expect(m?.auth).toBe(SMTP_USER)
    expect(m?.envelope).toEqual({ from: 'pi@example.org', to: ['me@example.org', 'you@example.org'] })
    expect(m?.mail.subject).toBe('[critical] Disk almost full on pi')
    expect(m?.mail.from?.value).toEqual([{ name: 'Homelab', address: 'pi@example.org' }])
    expect(m?.mail.headers.get('auto-submitted')).toBe('auto-generated')
    expect(m?.mail.text).toContain(alert.message)
    expect(m?.mail.text).toContain('Where: pi · /srv')
    expect(m?.mail.text).toContain('https://monitor.example.org/alerts#abcdef012345')
    expect(m?.mail.html).toContain('<a href="https://monitor.example.org/alerts#abcdef012345">')
  })

  it('TLS from the first byte (smtps://)', async () => {
    await deliver(`smtps://${auth}@127.0.0.1:${tls.port}/?from=pi@example.org&to=me@example.org&verify=no`)
    expect(tls.messages.at(-1)?.mail.subject).toBe('[critical] Disk almost full on pi')
  })

  it('a refused login, a refused recipient and an unverifiable certificate are each refused for good, with why', async () => {
    const wrong = await refused(
      `smtp://${encodeURIComponent(SMTP_USER)}:not-it@127.0.0.1:${plain.port}/?from=pi@example.org&to=me@example.org&encryption=explicittls&verify=no`,
    )
    expect(wrong.permanent).toBe(true)
    expect(wrong.message).toMatch(/^the SMTP server refused the login: .*535/)
    expect(wrong.message).not.toContain('not-it')
    const rcpt = await refused(
      `smtp://${auth}@127.0.0.1:${plain.port}/?from=pi@example.org&to=${REFUSED_RECIPIENT}&encryption=explicittls&verify=no`,
    )
    expect(rcpt.permanent).toBe(true)
    expect(rcpt.message).toMatch(/^the SMTP server refused the sender or a recipient: .*550/)
    const cert = await refused(
      `smtp://${auth}@127.0.0.1:${plain.port}/?from=pi@example.org&to=me@example.org&encryption=explicittls`,
    )
    expect(cert.permanent).toBe(true)
    expect(cert.message).toMatch(/add verify=no to the URL/)
    expect(cert.message).not.toContain(SMTP_PASSWORD)
  })

  it('a server that is not there is worth retrying', async () => {
    const e = await refused(`smtp://127.0.0.1:1/?from=pi@example.org&to=me@example.org`)
    expect(e.permanent).toBe(false)
    expect(e.message).toMatch(/ECONNREFUSED|ECONNECTION/)
  })
})
