import { isDeepStrictEqual } from 'node:util'
import type { Alert, AlertNotification, ChannelType, ChannelView, Severity } from '@homelab/contracts'
import type { Counters, Logger } from '@homelab/service-kit'
import { message } from './channels/format.js'
import { call, DeliveryError, failure } from './channels/http.js'
import { deliver, type Endpoints, PROVIDER_ENDPOINTS } from './channels/providers.js'
import { quietUntil } from './channels/quiet.js'
import { type Channel, groupMs } from './rules.js'
import type { AlertStore, Delivery } from './store.js'

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 }
const NTFY_PRIORITY: Record<Severity, string> = { info: '3', warning: '4', critical: '5' }

/**
 * Sends one message to one channel: one notification, or several that fired together on one host (grouped). Returns
 * the provider's answer; throws with a readable reason when it did not arrive (a DeliveryError says whether
 * retrying can help and when).
 */
export type Send = (name: string, channel: Channel, ns: AlertNotification[]) => Promise<string>

export interface NotifierOptions {
  store: AlertStore
  now: () => number
  send: Send
  /** First retry after this long, doubling each time (with jitter) up to `retryMaxMs`. */
  retryBaseMs: number
  retryMaxMs: number
  /** Give up (and record the failure) after this many attempts. */
  maxAttempts: number
  onGiveUp: (d: Delivery, error: string) => void
  /** Where a test notification says it comes from. */
  host: string
  log: Logger
  counters: Counters
}

class Bucket {
  private tokens: number
  private at: number

  constructor(
    private readonly max: number,
    private readonly perMs: number,
    now: number,
  ) {
    this.tokens = max
    this.at = now
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.max, this.tokens + ((now - this.at) * this.max) / this.perMs)
    this.at = now
  }

  take(now: number): boolean {
    this.refill(now)
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** When the next token is there. */
  nextAt(now: number): number {
    this.refill(now)
    return now + Math.ceil(((1 - this.tokens) * this.perMs) / this.max)
  }
}

/** What a human reads: the title and text of the notification of one state change. */
export function describe(
  a: Alert,
  state: AlertNotification['state'],
  reason: AlertNotification['reason'],
): { title: string; text: string } {
  const title =
    state === 'firing' ? `[${a.severity}] ${a.name} on ${a.host}` : `[resolved] ${a.name} on ${a.host}`
  const why =
    reason === 'no_data'
      ? ' (its data stopped)'
      : reason === 'rule_removed'
        ? ' (the rule was removed or disabled)'
        : ''
  return { title, text: state === 'firing' ? a.message : `${a.message}${why}` }
}

/** How a channel's deliveries go, as its view shows it. */
interface Health {
  state: 'ok' | 'retrying' | 'failing'
  error: string | null
  at: number
}

/** At most this many alerts in one grouped message. */
const GROUP_MAX = 20
/** A provider's Retry-After is honoured up to this long. */
const RETRY_AFTER_MAX_MS = 3_600_000

/**
 * Delivers notifications from the store's queue: per channel in order (a resolved message never overtakes its
 * firing one), each channel rate-limited by a token bucket (messages over the limit wait, they are not dropped),
 * held through its quiet hours, alerts that fire together on one host grouped into one message, failures retried
 * with exponential backoff and jitter (or when the provider says, on 429), given up after `maxAttempts` — or at once
 * when the provider refuses for good (credentials, an unknown chat) — with a record of why.
 */
export class Notifier {
  private channels = new Map<string, Channel>()
  private defaults = new Set<string>()
  private fromEnvironment = new Set<string>()
  private readonly buckets = new Map<string, Bucket>()
  private readonly health = new Map<string, Health>()
  private readonly busy = new Set<string>()
  private timer: NodeJS.Timeout | null = null
  private started = false
  private running = new Set<Promise<void>>()

  constructor(private readonly o: NotifierOptions) {}

  setChannels(
    channels: Map<string, Channel>,
    meta: { defaults?: readonly string[]; fromEnvironment?: readonly string[] } = {},
  ): void {
    const now = this.o.now()
    for (const [name, c] of channels) {
      const old = this.channels.get(name)
      if (!old || old.rateLimit.max !== c.rateLimit.max || old.rateLimit.per !== c.rateLimit.per)
        this.buckets.set(name, new Bucket(c.rateLimit.max, c.rateLimit.per, now))
      // A changed channel starts over: its old failure said nothing about the new settings.
      if (old && !isDeepStrictEqual(old, c)) this.health.delete(name)
    }
    for (const name of this.health.keys()) if (!channels.has(name)) this.health.delete(name)
    this.channels = channels
    this.defaults = new Set(meta.defaults ?? [])
    this.fromEnvironment = new Set(meta.fromEnvironment ?? [])
  }

  /** Does this channel take alerts of this severity? */
  accepts(name: string, severity: Severity): boolean {
    const c = this.channels.get(name)
    return c !== undefined && RANK[severity] >= RANK[c.minSeverity]
  }

  /** How long a new message to this channel waits for others to group with (0: none). */
  holdMs(name: string): number {
    const c = this.channels.get(name)
    return c ? groupMs(c) : 0
  }

  /** Delivers what is queued, then wakes up only when something is due (no polling while the queue is idle). */
  start(): void {
    this.started = true
    this.pump()
  }

  /** Wakes up at the earliest time a pending delivery is due (a retry, a rate limit), if any. */
  private schedule(): void {
    if (!this.started) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const next = this.o.store.nextDue()
    if (next === null) return
    const wait = Math.min(60_000, Math.max(10, next - this.o.now()))
    this.timer = setTimeout(() => this.pump(), wait)
    this.timer.unref()
  }

  /** Starts every delivery that is due (at most one in flight per channel). */
  pump(): void {
    try {
      this.pumpNow()
    } finally {
      this.schedule()
    }
  }

  private pumpNow(): void {
    const now = this.o.now()
    for (const d of this.o.store.heads()) {
      if (this.busy.has(d.channel) || d.nextAt > now) continue
      const channel = this.channels.get(d.channel)
      if (!channel) {
        // The channel left the rules file: nothing can deliver this any more.
        this.giveUp([d], d.attempts, `channel "${d.channel}" no longer exists`, now)
        continue
      }
      const quiet = quietUntil(channel.quietHours, d.payload.alert.severity, now)
      if (quiet !== null) {
        this.o.counters.inc('notify.quiet_held')
        this.o.store.updateDelivery(
          d.seq,
          { status: 'pending', attempts: d.attempts, nextAt: quiet, lastError: d.lastError },
          now,
        )
        continue
      }
      const bucket = this.buckets.get(d.channel)
      if (!bucket) continue
      if (!bucket.take(now)) {
        this.o.counters.inc('notify.rate_limited')
        this.o.store.updateDelivery(
          d.seq,
          { status: 'pending', attempts: d.attempts, nextAt: bucket.nextAt(now), lastError: d.lastError },
          now,
        )
        continue
      }
      const group = this.groupOf(d, channel)
      this.busy.add(d.channel)
      const p = this.attempt(group, channel).finally(() => {
        this.busy.delete(d.channel)
        this.running.delete(p)
        // The next message of this channel (or this one's retry) may be due now.
        this.pump()
      })
      this.running.add(p)
    }
  }

  /**
   * The head and the deliveries right behind it that go in the same message: same host and state, queued within the
   * channel's group window of the head (in queue order, so nothing overtakes).
   */
  private groupOf(head: Delivery, channel: Channel): Delivery[] {
    const window = groupMs(channel)
    if (window === 0) return [head]
    const group: Delivery[] = []
    for (const d of this.o.store.pendingOf(head.channel, GROUP_MAX)) {
      const same =
        d.state === head.state &&
        d.payload.alert.host === head.payload.alert.host &&
        d.created <= head.created + window
      if (!same) break
      group.push(d)
    }
    return group.length > 0 ? group : [head]
  }

  private async attempt(ds: Delivery[], channel: Channel): Promise<void> {
    const head = ds[0]
    if (!head) return
    const attempts = head.attempts + 1
    try {
      await this.o.send(
        head.channel,
        channel,
        ds.map((d) => d.payload),
      )
      const now = this.o.now()
      for (const d of ds)
        this.o.store.updateDelivery(d.seq, { status: 'sent', attempts, nextAt: 0, lastError: null }, now)
      this.o.counters.inc('notify.sent', ds.length)
      if (ds.length > 1) this.o.counters.inc('notify.grouped', ds.length)
      this.health.set(head.channel, { state: 'ok', error: null, at: now })
    } catch (e) {
      const error = ((e as Error).message || String(e)).slice(0, 1000)
      const now = this.o.now()
      this.o.counters.inc('notify.errors')
      if (e instanceof DeliveryError && e.permanent) {
        this.o.counters.inc('notify.refused')
        this.health.set(head.channel, { state: 'failing', error, at: now })
        this.giveUp(ds, attempts, error, now)
        return
      }
      this.health.set(head.channel, { state: 'retrying', error, at: now })
      if (attempts >= this.o.maxAttempts) {
        this.health.set(head.channel, { state: 'failing', error, at: now })
        this.giveUp(ds, attempts, error, now)
        return
      }
      const said = e instanceof DeliveryError ? e.retryAfterMs : null
      if (said !== null) this.o.counters.inc('notify.retry_after')
      const backoff = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** (attempts - 1))
      const nextAt =
        said !== null
          ? now + Math.min(RETRY_AFTER_MAX_MS, Math.max(said, 10))
          : now + Math.round(backoff * (0.8 + Math.random() * 0.4))
      this.o.log.once(
        `notify:${head.channel}:${error}`,
        `notification to "${head.channel}" failed (attempt ${attempts} of ${this.o.maxAttempts}, next in ${nextAt - now} ms): ${error}`,
      )
      for (const d of ds)
        this.o.store.updateDelivery(d.seq, { status: 'pending', attempts, nextAt, lastError: error }, now)
    }
  }

  private giveUp(ds: Delivery[], attempts: number, error: string, now: number): void {
    for (const d of ds) {
      this.o.counters.inc('notify.failed')
      this.o.log.warn(
        `gave up notifying "${d.channel}" of ${d.payload.title} after ${attempts} attempts: ${error}`,
      )
      this.o.store.updateDelivery(d.seq, { status: 'failed', attempts, nextAt: 0, lastError: error }, now)
      this.o.onGiveUp({ ...d, attempts }, error)
    }
  }

  /**
   * Sends a test notification to a channel now (outside the queue) and returns the provider's answer, or why it did
   * not arrive. A named channel's health follows the outcome; a channel being tried before it is saved has none.
   */
  async test(name: string, channel: Channel, by: string): Promise<{ ok: boolean; message: string }> {
    const now = this.o.now()
    const n = testNotification(this.o.host, by, now)
    const saved = this.channels.get(name) === channel
    try {
      const answer = await this.o.send(name, channel, [n])
      this.o.counters.inc('notify.tests')
      if (saved) this.health.set(name, { state: 'ok', error: null, at: this.o.now() })
      return { ok: true, message: answer }
    } catch (e) {
      const error = ((e as Error).message || String(e)).slice(0, 1000)
      this.o.counters.inc('notify.test_errors')
      if (saved)
        this.health.set(name, {
          state: e instanceof DeliveryError && e.permanent ? 'failing' : 'retrying',
          error,
          at: this.o.now(),
        })
      return { ok: false, message: error }
    }
  }

  views(): ChannelView[] {
    const counts = this.o.store.counts()
    return [...this.channels].map(([name, c]) => {
      const n = counts.get(name)
      const h = this.health.get(name)
      return {
        name,
        type: typeOf(c),
        target: c.type === 'mqtt' ? `notify/${c.topic}` : c.type === 'url' ? c.url.shown : redactUrl(c.url),
        minSeverity: c.minSeverity,
        rateLimit: { max: c.rateLimit.max, perMs: c.rateLimit.per },
        pending: n?.pending ?? 0,
        sent: n?.sent ?? 0,
        failed: n?.failed ?? 0,
        health: h ?? { state: 'unknown', error: null, at: null },
        quietHours: c.quietHours ?? null,
        groupMs: groupMs(c),
        isDefault: this.defaults.has(name),
        origin: this.fromEnvironment.has(name) ? 'environment' : 'file',
      }
    })
  }

  /** Waits for deliveries in flight (a clean stop). */
  async stop(): Promise<void> {
    this.started = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await Promise.allSettled([...this.running])
  }
}

function typeOf(c: Channel): ChannelType {
  if (c.type !== 'url') return c.type
  return c.url.target.kind
}

/** What "send a test notification" sends: an info alert of its own, clearly a test. */
function testNotification(host: string, by: string, now: number): AlertNotification {
  const alert: Alert = {
    id: 'test00000000',
    rule: 'test',
    name: 'Test notification',
    severity: 'info',
    host,
    subject: 'alerter',
    labels: {},
    series: null,
    state: 'firing',
    since: now,
    firingSince: now,
    episode: `test-${now}`,
    value: null,
    message: `A test from homelab-observability, sent by ${by}. If you read this, alerts will reach you here.`,
    ack: null,
    silencedUntil: null,
    silencedBy: null,
  }
  return {
    v: 1,
    id: `test-${now}:firing`,
    state: 'firing',
    alert,
    reason: null,
    title: `[test] homelab-observability on ${host}`,
    message: alert.message,
    ts: now,
  }
}

/**
 * A URL as anyone may see it: scheme and host only. The rest may be a secret — user info, a query token, a webhook
 * path with its key (Discord, Slack), an ntfy topic (whoever knows it can read it).
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname.length > 1 ? '/…' : ''}`
  } catch {
    return '(invalid URL)'
  }
}

export interface SenderOptions {
  /** Delivers the MQTT channel. */
  publishMqtt: (topic: string, n: AlertNotification) => void
  timeoutMs: number
  /** HOMELAB_PUBLIC_URL: messages link back to the alert there. */
  publicUrl?: string | null
  endpoints?: Endpoints
}

/**
 * The senders of every channel type: the rules file's typed webhook, ntfy and MQTT channels, and the providers a
 * notification URL names. Each attempt is bounded by `timeoutMs`.
 */
export function channelSender(o: SenderOptions): Send {
  const matrixTokens = new Map<string, string>()
  const endpoints = o.endpoints ?? PROVIDER_ENDPOINTS
  return async (_name, channel, ns) => {
    if (channel.type === 'mqtt') {
      for (const n of ns) o.publishMqtt(channel.topic, n)
      return `published on notify/${channel.topic}`
    }
    if (channel.type === 'url') {
      const ctx = { timeoutMs: o.timeoutMs, secrets: channel.url.secrets, endpoints, matrixTokens }
      const documents = ns.map((n) => ({ id: n.id, body: JSON.stringify(n) }))
      return deliver(channel.url.target, message(ns, o.publicUrl ?? null), documents, ctx)
    }
    const ctx = {
      timeoutMs: o.timeoutMs,
      secrets: channel.type === 'ntfy' && channel.token ? [channel.token] : [],
    }
    const answers: string[] = []
    for (const n of ns) {
      const a =
        channel.type === 'webhook'
          ? await call(ctx, 'the webhook', channel.url, {
              method: 'POST',
              headers: { ...channel.headers, 'content-type': 'application/json', 'idempotency-key': n.id },
              body: JSON.stringify(n),
            })
          : await call(ctx, 'ntfy', channel.url, {
              method: 'POST',
              headers: {
                // Header values must be Latin-1; ntfy reads RFC 2047 for the rest, so keep the title ASCII.
                title: n.title.replace(/[^\x20-\x7e]/g, '?'),
                priority: n.state === 'firing' ? (NTFY_PRIORITY[n.alert.severity] ?? '3') : '2',
                tags: n.state === 'firing' ? 'rotating_light' : 'white_check_mark',
                ...(channel.token ? { authorization: `Bearer ${channel.token}` } : {}),
              },
              body: n.message,
            })
      if (a.status < 200 || a.status >= 300)
        throw failure(ctx, channel.type === 'webhook' ? 'the webhook' : 'ntfy', a, a.text.slice(0, 200))
      answers.push(`HTTP ${a.status}`)
    }
    return answers.join(', ')
  }
}
