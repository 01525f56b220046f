import { commonShape, duration, globList, haShape } from '@homelab/service-kit'
import { z } from 'zod'

export const SystemdCollectorShape = {
  /** The standard variable; dbus-next's default is the system bus socket. */
  DBUS_SYSTEM_BUS_ADDRESS: z
    .string()
    .regex(
      /^unix:(path|abstract)=\S+$/,
      'must be a D-Bus address such as unix:path=/run/dbus/system_bus_socket',
    )
    .default('unix:path=/var/run/dbus/system_bus_socket'),
  /** Which units are monitored (glob patterns on unit names). */
  HOMELAB_SYSTEMD_UNITS: globList.transform((l) => (l.length ? l : ['*.service'])),
  /** Units that may be started/stopped/restarted (glob patterns). Empty = none. */
  HOMELAB_SYSTEMD_CONTROL: globList,
  /** How often active units' memory and CPU are read. */
  HOMELAB_SYSTEMD_INTERVAL_MS: duration(1000, 3_600_000).default(10_000),
  /** The safety-net resync (changes arrive as signals; this catches anything missed). */
  HOMELAB_SYSTEMD_RESYNC_MS: duration(10_000, 86_400_000).default(300_000),
  /** How long a start/stop/restart job may take before the answer is `timeout`. */
  HOMELAB_SYSTEMD_JOB_TIMEOUT_MS: duration(1000, 600_000).default(25_000),
  /**
   * Where the journal is: empty reads the system's (journalctl's default places, every machine id); in a
   * container, the host's /var/log/journal mounted read-only (compose: /host/journal).
   */
  HOMELAB_JOURNAL_DIR: z.string().default(''),
  /**
   * Where the cgroup tree systemd manages is mounted: active services' memory, CPU and tasks are read from its files
   * (checked against systemd's cgroup ids) instead of three D-Bus calls each. `off`: always over D-Bus. In compose,
   * the host's /sys/fs/cgroup mounted read-only at /host/cgroup.
   */
  HOMELAB_CGROUP_ROOT: z.string().default('/sys/fs/cgroup'),
}

export const SystemdCollectorConfig = z.object({ ...commonShape, ...haShape, ...SystemdCollectorShape })
export type SystemdCollectorConfig = z.infer<typeof SystemdCollectorConfig>
