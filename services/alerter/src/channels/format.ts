import type { AlertNotification, Severity } from '@homelab/contracts'

/** What a person reads, whatever the provider: built once per message, laid out by each sender. */
export interface Message {
  /** `[critical] CPU high on pi`, `[resolved] …`, or `[critical] 3 alerts on pi` for a group. */
  title: string
  state: 'firing' | 'resolved'
  /** The highest severity of the alerts in it (what a provider's priority follows). */
  severity: Severity
  host: string
  /** One entry per alert (one, unless alerts that fired together were grouped). */
  items: { name: string; subject: string; text: string }[]
  /** When the (first) alert started. */
  since: number
  /** The alert in the dashboard (HOMELAB_PUBLIC_URL), or null when that is not set. */
  link: string | null
  /** For the idempotency of retries (Matrix transaction ids, webhook keys). */
  id: string
}

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 }

/** One message for one notification or a group of them (same channel, host and state; the caller checks). */
export function message(ns: readonly AlertNotification[], publicUrl: string | null): Message {
  const first = ns[0]
  if (!first) throw new Error('a message needs at least one notification')
  const severity = ns.reduce<Severity>(
    (s, n) => (RANK[n.alert.severity] > RANK[s] ? n.alert.severity : s),
    first.alert.severity,
  )
  const base = publicUrl?.replace(/\/+$/, '') ?? null
  return {
    title:
      ns.length === 1
        ? first.title
        : `[${first.state === 'firing' ? severity : 'resolved'}] ${ns.length} alerts on ${first.alert.host}`,
    state: first.state,
    severity,
    host: first.alert.host,
    items: ns.map((n) => ({ name: n.alert.name, subject: n.alert.subject, text: n.message })),
    since: Math.min(...ns.map((n) => n.alert.firingSince ?? n.alert.since)),
    link: base ? (ns.length === 1 ? `${base}/alerts#${first.alert.id}` : `${base}/alerts`) : null,
    id: ns
      .map((n) => n.id)
      .join('+')
      .slice(0, 200),
  }
}

/** A time as people read it in a notification: the alerter's local time with its zone. */
export function when(ts: number): string {
  return new Date(ts).toLocaleString('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  })
}

/** The body as plain lines: what, where, since, link. */
export function plainLines(m: Message): string[] {
  const what =
    m.items.length === 1
      ? [m.items[0]?.text ?? '']
      : m.items.map((i) => `• ${i.name} (${i.subject}): ${i.text}`)
  const where = m.items.length === 1 ? `${m.host} · ${m.items[0]?.subject}` : m.host
  return [
    ...what,
    `Where: ${where}`,
    `${m.state === 'firing' ? 'Since' : 'Started'}: ${when(m.since)}`,
    ...(m.link ? [m.link] : []),
  ]
}

/** The body without the link, for providers that carry the link in a field of its own (a click URL, an embed's). */
export function textWithoutLink(m: Message): string {
  return plainLines(m)
    .filter((l) => l !== m.link)
    .join('\n')
}

export function plainText(m: Message): string {
  return plainLines(m).join('\n')
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }
export const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => ESC[c] ?? c)

/** The body in the small HTML subset Telegram, Matrix and e-mail all render (b, a, br). */
export function html(m: Message, opts: { title: boolean; newline: string }): string {
  const lines = plainLines(m).map((l) =>
    l === m.link ? `<a href="${escapeHtml(l)}">Open in homelab-observability</a>` : escapeHtml(l),
  )
  return [...(opts.title ? [`<b>${escapeHtml(m.title)}</b>`] : []), ...lines].join(opts.newline)
}
