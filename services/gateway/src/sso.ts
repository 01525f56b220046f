import type { Role } from '@homelab/contracts'
import type { GatewayConfig } from './config.js'

/** Groups of a single sign-on user (from a proxy's header or an OIDC claim) → a role, or null: not let in. */
export class RoleMapping {
  constructor(
    private readonly groups: { admin: string[]; operator: string[]; viewer: string[] },
    private readonly fallback: Role | null,
  ) {}

  static from(c: GatewayConfig): RoleMapping {
    return new RoleMapping(
      {
        admin: c.HOMELAB_AUTH_ADMIN_GROUPS,
        operator: c.HOMELAB_AUTH_OPERATOR_GROUPS,
        viewer: c.HOMELAB_AUTH_VIEWER_GROUPS,
      },
      c.HOMELAB_AUTH_DEFAULT_ROLE === 'none' ? null : 'viewer',
    )
  }

  roleOf(groups: readonly string[]): Role | null {
    const has = (list: string[]) => list.some((g) => groups.includes(g))
    if (has(this.groups.admin)) return 'admin'
    if (has(this.groups.operator)) return 'operator'
    if (has(this.groups.viewer)) return 'viewer'
    return this.fallback
  }
}

/** A groups header's value: comma or space separated names. */
export function splitGroups(header: string | undefined): string[] {
  return (header ?? '')
    .split(/[\s,]+/)
    .map((g) => g.trim())
    .filter(Boolean)
    .slice(0, 256)
}
