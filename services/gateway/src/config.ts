import { Role } from '@homelab/contracts'
import { commonShape, port } from '@homelab/service-kit'
import { z } from 'zod'
import { parseCidrs } from './client-address.js'

const groupList = z
  .string()
  .max(4096)
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean),
  )

export const GatewayConfig = z
  .object({
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
    /**
     * A second listener serving only `/metrics`, without a login (`127.0.0.1:9464`, `192.168.1.5:9464`): for a
     * Prometheus on a network you trust. Unset: `/metrics` is on the main port and needs an API token.
     */
    HOMELAB_METRICS_LISTEN: z
      .string()
      .regex(/^(\[[0-9a-fA-F:.]+\]|[0-9A-Za-z.-]+):\d{1,5}$/, 'must be address:port, e.g. 127.0.0.1:9464')
      .refine((v) => {
        const p = Number(v.slice(v.lastIndexOf(':') + 1))
        return p >= 1 && p <= 65535
      }, 'the port must be 1–65535')
      .optional(),
    /** The least role that may read container and unit logs: they often carry secrets. */
    HOMELAB_LOGS_ROLE: Role.default('operator'),
    /** Set when the gateway is served over HTTPS (adds Secure to the session cookie). */
    HOMELAB_SECURE_COOKIES: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    /**
     * Reverse proxies whose `X-Forwarded-For`/`Forwarded`, `X-Forwarded-Host`/`-Proto` and auth header are believed
     * (CIDRs or addresses, comma separated). From any other peer those headers count for nothing.
     */
    HOMELAB_TRUSTED_PROXIES: z
      .string()
      .max(4096)
      .default('')
      .superRefine((v, ctx) => {
        try {
          parseCidrs(v)
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message })
        }
      }),
    /** Forward auth: the header a trusted proxy names the logged-in user in (e.g. `Remote-User`); off when unset. */
    HOMELAB_AUTH_HEADER: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be a header name')
      .optional(),
    /** Forward auth: the header with the user's groups, comma or space separated (e.g. `Remote-Groups`). */
    HOMELAB_AUTH_GROUPS_HEADER: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be a header name')
      .optional(),
    /** Single sign-on users in one of these groups are admins (comma separated). */
    HOMELAB_AUTH_ADMIN_GROUPS: groupList,
    /** … operators. */
    HOMELAB_AUTH_OPERATOR_GROUPS: groupList,
    /** … viewers. */
    HOMELAB_AUTH_VIEWER_GROUPS: groupList,
    /** The role of a single sign-on user in none of those groups: `viewer`, or `none` to refuse them. */
    HOMELAB_AUTH_DEFAULT_ROLE: z.enum(['viewer', 'none']).default('viewer'),
    /** Serve everything under this path (`/monitor`), for a reverse proxy that passes the path as it is. */
    HOMELAB_BASE_PATH: z
      .string()
      .regex(/^(\/[A-Za-z0-9._~-]+)*\/?$/, 'must be a path such as /monitor')
      .default('')
      .transform((v) => v.replace(/\/+$/, '')),
    /** The address people open the dashboard at (`https://home.example/monitor`): the OIDC redirect and links. */
    HOMELAB_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** OIDC: the issuer URL (its /.well-known/openid-configuration is read at start). Off when unset. */
    HOMELAB_OIDC_ISSUER: z.url({ protocol: /^https?$/ }).optional(),
    HOMELAB_OIDC_CLIENT_ID: z.string().min(1).max(256).optional(),
    HOMELAB_OIDC_CLIENT_SECRET: z.string().min(1).max(1024).optional(),
    /** A file holding the client secret (Docker secrets). */
    HOMELAB_OIDC_CLIENT_SECRET_FILE: z.string().min(1).optional(),
    /** The ID token / userinfo claim with the user's groups. */
    HOMELAB_OIDC_GROUPS_CLAIM: z.string().min(1).max(128).default('groups'),
    HOMELAB_OIDC_SCOPES: z.string().max(512).default('openid profile email groups'),
  })
  .superRefine((c, ctx) => {
    if (!c.HOMELAB_OIDC_ISSUER) return
    if (!c.HOMELAB_OIDC_CLIENT_ID)
      ctx.addIssue({
        code: 'custom',
        path: ['HOMELAB_OIDC_CLIENT_ID'],
        message: 'is needed with HOMELAB_OIDC_ISSUER',
      })
    if (!c.HOMELAB_PUBLIC_URL)
      ctx.addIssue({
        code: 'custom',
        path: ['HOMELAB_PUBLIC_URL'],
        message:
          'is needed with HOMELAB_OIDC_ISSUER (the redirect URI is HOMELAB_PUBLIC_URL/api/auth/oidc/callback)',
      })
  })
export type GatewayConfig = z.infer<typeof GatewayConfig>

/** The session lifetimes a gateway config sets. */
export function sessionOptions(
  c: Pick<GatewayConfig, 'HOMELAB_SESSION_HOURS' | 'HOMELAB_SESSION_IDLE_HOURS'>,
) {
  return { ttlMs: c.HOMELAB_SESSION_HOURS * 3_600_000, idleMs: c.HOMELAB_SESSION_IDLE_HOURS * 3_600_000 }
}
