import { commonShape, duration, haShape } from '@homelab/service-kit'
import { z } from 'zod'

export const SysCollectorConfig = z.object({
  ...commonShape,
  ...haShape,
  /** Sampling interval; 1 s to 1 h. */
  HOMELAB_SYS_INTERVAL_MS: duration(1000, 3_600_000).default(5000),
  HOMELAB_PROC_DIR: z.string().min(1).default('/proc'),
  HOMELAB_SYS_DIR: z.string().min(1).default('/sys'),
  /** Where the host's root filesystem is mounted when this runs in a container (e.g. /host); empty on the host. */
  HOMELAB_ROOTFS: z.string().default(''),
  /** How many processes each top list (by CPU, by memory) carries; 0 turns the processes reading off. */
  HOMELAB_PROCESSES_TOP: z.coerce.number().int().min(0).max(100).default(15),
})
export type SysCollectorConfig = z.infer<typeof SysCollectorConfig>
