import type { ContainerReading, SystemReading, UnitReading } from '@homelab/contracts'
import { HOST } from './stack.js'

/** A valid system reading with values derived from `i`, so tests know exactly what was stored. */
export function syntheticReading(ts: number, i: number, host = HOST): SystemReading {
  return {
    v: 1,
    ts,
    host,
    source: 'sys-collector',
    intervalMs: 1000,
    cpu: { usage: (i % 1000) / 10, user: 1, system: 1, iowait: 0, cores: [1, 2] },
    load: [0.1, 0.2, 0.3],
    memory: { total: 8e9, used: 1e9 + i, available: 7e9 - i, percent: 12.5, swapTotal: 0, swapUsed: 0 },
    cpuTemperature: null,
    temperatures: [],
    filesystems: [
      {
        mount: '/',
        device: '/dev/sda1',
        fsType: 'ext4',
        total: 1e11,
        used: 5e10,
        available: 5e10,
        percent: 50,
      },
    ],
    disks: [],
    network: [
      { iface: 'eth0', rxBytesPerSec: 100, txBytesPerSec: 200, rxBytes: 1000 + i, txBytes: 2000 + i },
    ],
    uptimeSec: 1000 + i,
  }
}

/** A valid reading of a running container whose pid count is `i` (what the fault suite counts). */
export function syntheticContainerReading(
  ts: number,
  i: number,
  name: string,
  host = HOST,
): ContainerReading {
  return {
    v: 1,
    ts,
    host,
    source: 'docker-collector',
    container: {
      id: `${Buffer.from(name).toString('hex')}000000000000`.slice(0, 12),
      name,
      image: 'busybox',
      composeProject: null,
      composeService: null,
      state: 'running',
      statusText: 'Up',
      health: 'none',
      restartCount: 0,
      createdAt: 1_700_000_000_000,
      startedAt: 1_700_000_000_000,
      finishedAt: null,
      exitCode: null,
      oomKilled: false,
      memoryLimitSet: null,
      ports: [],
      control: { allowed: false, reason: 'test' },
    },
    stats: {
      cpuPercent: 1,
      memoryUsed: 1e6,
      memoryLimit: 8e9,
      memoryPercent: 0.01,
      networkRx: 0,
      networkTx: 0,
      networkRxRate: 0,
      networkTxRate: 0,
      blockRead: 0,
      blockWrite: 0,
      blockReadRate: 0,
      blockWriteRate: 0,
      pids: i,
    },
  }
}

/** A valid reading of an active service unit named `name`, with stats. */
export function syntheticUnitReading(ts: number, name: string, host = HOST): UnitReading {
  return {
    v: 1,
    ts,
    host,
    source: 'systemd-collector',
    unit: {
      name,
      description: 'web server',
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
      unitFileState: 'enabled',
      result: 'success',
      mainPid: 42,
      nRestarts: 0,
      since: 5,
      control: { allowed: false, reason: 'not in HOMELAB_SYSTEMD_CONTROL' },
    },
    stats: { memoryBytes: 1000, cpuPercent: 1.5, tasks: 3 },
  }
}
