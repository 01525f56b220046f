import { join } from 'node:path'
import { commonShape, duration } from '@homelab/service-kit'
import { z } from 'zod'
import { NotifyUrlError, parseNotifyUrl } from './channels/url.js'
import type { Channel } from './rules.js'

const HttpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')

/** The alerter's settings (docs/configuration.md). */
export const AlerterShape = {
  /** The rules file (JSON); written with the default rules when it does not exist. Default `<data>/alert-rules.json`. */
  HOMELAB_ALERT_RULES_FILE: z.string().min(1).optional(),
  /** Shortcuts without editing the rules file: a `webhook` and an `ntfy` channel every rule notifies by default. */
  HOMELAB_ALERT_WEBHOOK_URL: HttpUrl.optional(),
  HOMELAB_ALERT_NTFY_URL: HttpUrl.optional(),
  HOMELAB_ALERT_NTFY_TOKEN: z.string().min(1).max(500).optional(),
  /**
   * Notification URLs (`telegram://…`, `smtp://…`, `ntfy://…`), separated by spaces or newlines: a channel each, named
   * by its provider (`telegram`, `telegram-2` …), that every rule notifies by default.
   */
  HOMELAB_ALERT_NOTIFY_URLS: z
    .string()
    .max(20_000)
    .default('')
    .superRefine((v, ctx) => {
      for (const [i, u] of notifyUrls(v).entries())
        try {
          parseNotifyUrl(u)
        } catch (e) {
          // Only the scheme: the rest of the URL may be a secret.
          const scheme = /^[a-z0-9+.-]*/i.exec(u)?.[0] ?? ''
          ctx.addIssue({
            code: 'custom',
            message: `URL ${i + 1} (${scheme}://…): ${e instanceof NotifyUrlError ? e.message : String(e)}`,
          })
        }
    }),
  /** The address people open the dashboard at: notifications link back to the alert there. */
  HOMELAB_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** How often silence and quiet periods are checked. */
  HOMELAB_ALERT_TICK_MS: duration(50, 60_000).default(1000),
  HOMELAB_ALERT_RETRY_BASE_MS: duration(10, 600_000).default(2000),
  HOMELAB_ALERT_RETRY_MAX_MS: duration(100, 3_600_000).default(300_000),
  HOMELAB_ALERT_MAX_ATTEMPTS: z.coerce
    .number({ error: 'must be a whole number 1–100' })
    .int('must be a whole number 1–100')
    .min(1, 'must be a whole number 1–100')
    .max(100, 'must be a whole number 1–100')
    .default(10),
  HOMELAB_ALERT_HTTP_TIMEOUT_MS: duration(100, 120_000).default(10_000),
  /** A threshold alert whose series sends nothing for this long resolves as `no_data`. */
  HOMELAB_ALERT_NO_DATA_MS: duration(1000, 86_400_000).default(600_000),
}

export const AlerterConfig = z.object({ ...commonShape, ...AlerterShape })
export type AlerterConfig = z.infer<typeof AlerterConfig>

const notifyUrls = (v: string): string[] => v.split(/\s+/).filter(Boolean)

type Settings = z.infer<z.ZodObject<typeof AlerterShape>> & { HOMELAB_DATA_DIR: string }

export interface AlerterSettings {
  dataDir: string
  rulesFile: string
  extraChannels: Record<string, Channel>
  publicUrl: string | null
  tickMs: number
  retryBaseMs: number
  retryMaxMs: number
  maxAttempts: number
  httpTimeoutMs: number
  noDataMs: number
}

export function alerterSettings(c: Settings): AlerterSettings {
  const extra: Record<string, Channel> = {}
  const limit = { max: 30, per: 3_600_000 }
  if (c.HOMELAB_ALERT_WEBHOOK_URL)
    extra.webhook = {
      type: 'webhook',
      url: c.HOMELAB_ALERT_WEBHOOK_URL,
      headers: {},
      minSeverity: 'info',
      rateLimit: limit,
    }
  if (c.HOMELAB_ALERT_NTFY_URL)
    extra.ntfy = {
      type: 'ntfy',
      url: c.HOMELAB_ALERT_NTFY_URL,
      ...(c.HOMELAB_ALERT_NTFY_TOKEN ? { token: c.HOMELAB_ALERT_NTFY_TOKEN } : {}),
      minSeverity: 'info',
      rateLimit: limit,
    }
  for (const text of notifyUrls(c.HOMELAB_ALERT_NOTIFY_URLS)) {
    const parsed = parseNotifyUrl(text)
    const kind = parsed.target.kind
    let name: string = kind
    for (let i = 2; extra[name]; i++) name = `${kind}-${i}`
    extra[name] = {
      type: 'url',
      url: { text, ...parsed },
      minSeverity: 'info',
      rateLimit: limit,
    }
  }
  return {
    dataDir: c.HOMELAB_DATA_DIR,
    publicUrl: c.HOMELAB_PUBLIC_URL ?? null,
    rulesFile: c.HOMELAB_ALERT_RULES_FILE ?? join(c.HOMELAB_DATA_DIR, 'alert-rules.json'),
    extraChannels: extra,
    tickMs: c.HOMELAB_ALERT_TICK_MS,
    retryBaseMs: c.HOMELAB_ALERT_RETRY_BASE_MS,
    retryMaxMs: c.HOMELAB_ALERT_RETRY_MAX_MS,
    maxAttempts: c.HOMELAB_ALERT_MAX_ATTEMPTS,
    httpTimeoutMs: c.HOMELAB_ALERT_HTTP_TIMEOUT_MS,
    noDataMs: c.HOMELAB_ALERT_NO_DATA_MS,
  }
}
