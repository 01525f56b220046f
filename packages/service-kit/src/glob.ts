/**
 * Shell-style name patterns for allowlists (`HOMELAB_DOCKER_CONTROL`, `HOMELAB_SYSTEMD_CONTROL`): `*` matches any
 * run of characters, `?` exactly one, everything else itself. The whole name must match.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = ''
  for (const ch of pattern) {
    if (ch === '*') re += '.*'
    else if (ch === '?') re += '.'
    else re += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')
  }
  return new RegExp(`^${re}$`, 's')
}

/** A compiled allowlist: `match(name)` returns the first pattern that matches, or null. */
export function compileGlobs(patterns: readonly string[]): { match(name: string): string | null } {
  const compiled = patterns.map((p) => [p, globToRegExp(p)] as const)
  return {
    match(name) {
      for (const [p, re] of compiled) if (re.test(name)) return p
      return null
    },
  }
}
