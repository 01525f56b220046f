import type { SystemReading } from '@homelab/contracts'
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
