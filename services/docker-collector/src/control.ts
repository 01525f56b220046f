import type { ControlPolicy } from '@homelab/contracts'
import { compileGlobs } from '@homelab/service-kit'

export const CONTROL_LABEL = 'homelab.control'

/**
 * Who may be started, stopped and restarted: a container whose name matches a HOMELAB_DOCKER_CONTROL pattern or
 * that carries the label `homelab.control=true`. The label `homelab.control=false` wins over a pattern, so an owner
 * can allow `*` and still protect a database.
 */
export class ControlPolicyMatcher {
  private readonly globs: ReturnType<typeof compileGlobs>

  constructor(patterns: readonly string[]) {
    this.globs = compileGlobs(patterns)
  }

  policy(name: string, labels: Readonly<Record<string, string>> | null | undefined): ControlPolicy {
    const label = labels?.[CONTROL_LABEL]?.trim().toLowerCase()
    if (label === 'false')
      return { allowed: false, reason: `the container has the label ${CONTROL_LABEL}=false` }
    if (label === 'true')
      return { allowed: true, reason: `the container has the label ${CONTROL_LABEL}=true` }
    const p = this.globs.match(name)
    if (p !== null) return { allowed: true, reason: `the name matches HOMELAB_DOCKER_CONTROL pattern "${p}"` }
    return {
      allowed: false,
      reason: `control is not enabled for "${name}": add it to HOMELAB_DOCKER_CONTROL or label it ${CONTROL_LABEL}=true`,
    }
  }
}
