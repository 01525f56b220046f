import { join } from 'node:path'
import { commonShape, haShape } from '@homelab/service-kit'
import { z } from 'zod'

export const ProbeCollectorShape = {
  /** The probes file (JSON, docs/probes.md); default `<data>/probes.json`. Re-read when it changes. */
  HOMELAB_PROBES_FILE: z.string().min(1).optional(),
  /** Checks in flight at most. */
  HOMELAB_PROBE_CONCURRENCY: z.coerce
    .number({ error: 'must be a whole number 1–256' })
    .int('must be a whole number 1–256')
    .min(1, 'must be a whole number 1–256')
    .max(256, 'must be a whole number 1–256')
    .default(16),
  /** The ping program for ICMP probes (a path or a name on PATH). */
  HOMELAB_PING: z.string().min(1).max(512).default('ping'),
}

export const ProbeCollectorConfig = z.object({ ...commonShape, ...haShape, ...ProbeCollectorShape })
export type ProbeCollectorConfig = z.infer<typeof ProbeCollectorConfig>

/** The probe settings of a loaded config, as the service takes them (shared with the all-in-one). */
export function probeOptions(
  c: Pick<ProbeCollectorConfig, keyof typeof ProbeCollectorShape> & { HOMELAB_DATA_DIR: string },
) {
  return {
    file: c.HOMELAB_PROBES_FILE ?? join(c.HOMELAB_DATA_DIR, 'probes.json'),
    concurrency: c.HOMELAB_PROBE_CONCURRENCY,
    ping: c.HOMELAB_PING,
  }
}
