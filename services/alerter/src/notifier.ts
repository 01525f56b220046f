import type { Alert, AlertNotification, ChannelView, Severity } from '@homelab/contracts'
import type { Counters, Logger } from '@homelab/service-kit'
import type { Channel } from './rules.js'
import type { AlertStore, Delivery } from './store.js'

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 }
const NTFY_PRIORITY: Record<Severity, string> = { info: '3', warning: '4', critical: '5' }

/** Sends one notification to one channel; throws with a readable reason when it did not arrive. */
export type Send = (name: string, channel: Channel, n: AlertNotification) => Promise<void>

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

/**
 * Delivers notifications from the store's queue: per channel in order (a resolved message never overtakes its
 * firing one), each channel rate-limited by a token bucket (messages over the limit wait, they are not dropped),
 * failures retried with exponential backoff and jitter, given up after `maxAttempts` with a record of why.
 */
export class Notifier {
  private channels = new Map<string, Channel>()
  private readonly buckets = new Map<string, Bucket>()
  private readonly busy = new Set<string>()
  private timer: NodeJS.Timeout | null = null
  private started = false
  private running = new Set<Promise<void>>()

  constructor(private readonly o: NotifierOptions) {}

  setChannels(channels: Map<string, Channel>): void {
    const now = this.o.now()
    for (const [name, c] of channels) {
      const old = this.channels.get(name)
      if (!old || old.rateLimit.max !== c.rateLimit.max || old.rateLimit.per !== c.rateLimit.per)
        this.buckets.set(name, new Bucket(c.rateLimit.max, c.rateLimit.per, now))
    }
    this.channels = channels
  }

  /** Does this channel take alerts of this severity? */
  accepts(name: string, severity: Severity): boolean {
    const c = this.channels.get(name)
    return c !== undefined && RANK[severity] >= RANK[c.minSeverity]
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
        this.giveUp(d, d.attempts, `channel "${d.channel}" no longer exists`, now)
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
      this.busy.add(d.channel)
      const p = this.attempt(d, channel).finally(() => {
        this.busy.delete(d.channel)
        this.running.delete(p)
        // The next message of this channel (or this one's retry) may be due now.
        this.pump()
      })
      this.running.add(p)
    }
  }

  private async attempt(d: Delivery, channel: Channel): Promise<void> {
    const attempts = d.attempts + 1
    try {
      await this.o.send(d.channel, channel, d.payload)
      this.o.store.updateDelivery(
        d.seq,
        { status: 'sent', attempts, nextAt: 0, lastError: null },
        this.o.now(),
      )
      this.o.counters.inc('notify.sent')
    } catch (e) {
      const error = ((e as Error).message || String(e)).slice(0, 1000)
      const now = this.o.now()
      this.o.counters.inc('notify.errors')
      if (attempts >= this.o.maxAttempts) {
        this.giveUp(d, attempts, error, now)
        return
      }
      const backoff = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** (attempts - 1))
      const nextAt = now + Math.round(backoff * (0.8 + Math.random() * 0.4))
      this.o.log.once(
        `notify:${d.channel}:${error}`,
        `notification to "${d.channel}" failed (attempt ${attempts} of ${this.o.maxAttempts}, next in ${nextAt - now} ms): ${error}`,
      )
      this.o.store.updateDelivery(d.seq, { status: 'pending', attempts, nextAt, lastError: error }, now)
    }
  }

  private giveUp(d: Delivery, attempts: number, error: string, now: number): void {
    this.o.counters.inc('notify.failed')
    this.o.log.warn(
      `gave up notifying "${d.channel}" of ${d.payload.title} after ${attempts} attempts: ${error}`,
    )
    this.o.store.updateDelivery(d.seq, { status: 'failed', attempts, nextAt: 0, lastError: error }, now)
    this.o.onGiveUp({ ...d, attempts }, error)
  }

  views(): ChannelView[] {
    const counts = this.o.store.counts()
    return [...this.channels].map(([name, c]) => {
      const n = counts.get(name)
      return {
        name,
        type: c.type,
        target: c.type === 'mqtt' ? `notify/${c.topic}` : redactUrl(c.url),
        minSeverity: c.minSeverity,
        rateLimit: { max: c.rateLimit.max, perMs: c.rateLimit.per },
        pending: n?.pending ?? 0,
        sent: n?.sent ?? 0,
        failed: n?.failed ?? 0,
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

/** The HTTP channels: a JSON webhook and ntfy. `publishMqtt` delivers the MQTT channel. */
export function httpSender(
  publishMqtt: (topic: string, n: AlertNotification) => void,
  timeoutMs: number,
): Send {
  return async (_name, channel, n) => {
    if (channel.type === 'mqtt') {
      publishMqtt(channel.topic, n)
      return
    }
    let res: Response
    const { title, message: text } = n
    try {
      if (channel.type === 'webhook') {
        res = await fetch(channel.url, {
          method: 'POST',
          headers: {
            ...channel.headers,
            'content-type': 'application/json',
            'idempotency-key': n.id,
            'user-agent': 'homelab-observability-alerter',
          },
          body: JSON.stringify(n),
          signal: AbortSignal.timeout(timeoutMs),
        })
      } else {
        res = await fetch(channel.url, {
          method: 'POST',
          headers: {
            // Header values must be Latin-1; ntfy reads RFC 2047 for the rest, so keep the title ASCII.
            title: title.replace(/[^\x20-\x7e]/g, '?'),
            priority: n.state === 'firing' ? (NTFY_PRIORITY[n.alert.severity] ?? '3') : '2',
            tags: n.state === 'firing' ? 'rotating_light' : 'white_check_mark',
            ...(channel.token ? { authorization: `Bearer ${channel.token}` } : {}),
          },
          body: text,
          signal: AbortSignal.timeout(timeoutMs),
        })
      }
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } }
      throw new Error(
        err.name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : `${err.cause?.code ?? err.cause?.message ?? err.message}`,
      )
    }
    await res.body?.cancel().catch(() => undefined)
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`)
  }
}
