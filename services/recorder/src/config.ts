import { commonShape } from '@homelab/service-kit'
import { z } from 'zod'

const days = (d: number) =>
  z.coerce
    .number({ error: 'must be a number of days' })
    .positive('must be a positive number of days')
    .max(36_500, 'must be at most 36500 days')
    .default(d)

export const RecorderConfig = z.object({
  ...commonShape,
  HOMELAB_RETENTION_RAW_DAYS: days(7),
  HOMELAB_RETENTION_1M_DAYS: days(90),
  HOMELAB_RETENTION_1H_DAYS: days(1825),
  HOMELAB_RETENTION_EVENTS_DAYS: days(365),
  /** Largest payload the recorder accepts; bigger ones are quarantined (truncated). */
  HOMELAB_MAX_PAYLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(256 * 1024),
  /** Series one host may have (a flood of made-up entities stops here, counted and reported in the status). */
  HOMELAB_MAX_SERIES_PER_HOST: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
})
export type RecorderConfig = z.infer<typeof RecorderConfig>
