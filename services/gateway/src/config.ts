import { commonShape, port } from '@homelab/service-kit'
import { z } from 'zod'

export const GatewayConfig = z.object({
  ...commonShape,
  HOMELAB_PORT: port('HOMELAB_PORT').default(8080),
  HOMELAB_BIND: z.string().min(1).default('0.0.0.0'),
  /** A bearer token with full rights; generated into <data>/secrets/admin-token when unset. */
  HOMELAB_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').max(256).optional(),
  /** Folder of the built web app; defaults to web/dist next to the project. */
  HOMELAB_WEB_DIR: z.string().optional(),
  /** A login session that is not used for this long ends. */
  HOMELAB_SESSION_IDLE_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 365)
    .default(72),
  /** How long a login session lasts at most. */
  HOMELAB_SESSION_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 365)
    .default(24 * 7),
  /** How long a command waits for its executor's reply before answering 504. */
  HOMELAB_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(500).max(300_000).default(30_000),
  /** Set when the gateway is served over HTTPS (adds Secure to the session cookie). */
  HOMELAB_SECURE_COOKIES: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
})
export type GatewayConfig = z.infer<typeof GatewayConfig>

/** The session lifetimes a gateway config sets. */
export function sessionOptions(
  c: Pick<GatewayConfig, 'HOMELAB_SESSION_HOURS' | 'HOMELAB_SESSION_IDLE_HOURS'>,
) {
  return { ttlMs: c.HOMELAB_SESSION_HOURS * 3_600_000, idleMs: c.HOMELAB_SESSION_IDLE_HOURS * 3_600_000 }
}
