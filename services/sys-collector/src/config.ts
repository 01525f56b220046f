import { commonShape, duration, globList, haShape } from '@homelab/service-kit'
import { z } from 'zod'
import { type NutTarget, parseNutTarget } from './nut.js'

/** `HOMELAB_UPS`: `auto` (upsd on 127.0.0.1:3493 when there is one), `off`, or a comma-separated list of servers. */
const UpsSetting = z
  .string()
  .default('auto')
  .transform((s, ctx): { auto: boolean; targets: NutTarget[] } => {
    const v = s.trim()
    if (v === 'off') return { auto: false, targets: [] }
    if (v === 'auto') return { auto: true, targets: [parseNutTarget('127.0.0.1:3493')] }
    const targets: NutTarget[] = []
    for (const spec of v.split(',').filter((x) => x.trim() !== '')) {
      try {
        targets.push(parseNutTarget(spec))
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message })
        return z.NEVER
      }
    }
    return { auto: false, targets }
  })

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
  /**
   * Disk health through smartctl: `auto` reads it where smartctl runs and reports what is missing without degrading
   * the service; `on` makes a missing smartctl or a disk it may not open a degraded status; `off` reads nothing.
   */
  HOMELAB_SMART: z.enum(['auto', 'on', 'off']).default('auto'),
  /** How often the disks are read (1 min to 1 day; disks in standby are not woken). */
  HOMELAB_SMART_INTERVAL_MS: duration(60_000, 86_400_000).default(1_800_000),
  /** The smartctl binary; default: `smartctl` on PATH, else /usr/sbin/smartctl (where Debian puts it). */
  HOMELAB_SMARTCTL: z.string().min(1).optional(),
  /** Devices to read instead of what `smartctl --scan-open` finds: `/dev/sda`, `/dev/sdb:sat`, comma-separated. */
  HOMELAB_SMART_DEVICES: globList.pipe(
    z
      .array(
        z
          .string()
          .regex(
            /^\/dev\/[A-Za-z0-9/._-]+(?::[a-z0-9,+_-]+)?$/,
            'a device is /dev/<name>[:<smartctl -d type>]',
          ),
      )
      .max(64),
  ),
  /** UPSes through NUT: `auto`, `off`, or `nut://[user:pass@]host[:port][/ups]`, `ups@host[:port]`, `host[:port]`. */
  HOMELAB_UPS: UpsSetting,
  /** How often the UPSes are read (1 s to 10 min). */
  HOMELAB_UPS_INTERVAL_MS: duration(1000, 600_000).default(5000),
})
export type SysCollectorConfig = z.infer<typeof SysCollectorConfig>
