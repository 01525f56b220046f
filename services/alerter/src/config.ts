import { join } from 'node:path'
import { commonShape, duration } from '@homelab/service-kit'
import { z } from 'zod'
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

type Settings = z.infer<z.ZodObject<typeof AlerterShape>> & { HOMELAB_DATA_DIR: string }

export interface AlerterSettings {
  dataDir: string
  rulesFile: string
  extraChannels: Record<string, Channel>
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
  return {
    dataDir: c.HOMELAB_DATA_DIR,
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
