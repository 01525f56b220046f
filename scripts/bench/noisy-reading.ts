import type { SystemReading } from '@homelab/contracts'

/** A reading with realistic noise: CPU jumps around (worst case for compression), memory and counters drift. */
export function noisyReading(
  host: string,
  ts: number,
  state: { mem: number; rx: number },
  rnd: () => number,
): SystemReading {
  state.mem += Math.round((rnd() - 0.5) * 64) * 4096
  state.rx += Math.round(rnd() * 200_000)
  const pct = () => Math.round(rnd() * 1000) / 10
  return {
    v: 1,
    ts,
    host,
    source: 'sys-collector',
    intervalMs: 1000,
    cpu: {
      usage: pct(),
      user: pct(),
      system: pct(),
      iowait: Math.round(rnd() * 20) / 10,
      cores: [pct(), pct(), pct(), pct()],
    },
    load: [Math.round(rnd() * 400) / 100, 1.5, 1.2],
    memory: {
      total: 8_000_000_000,
      used: state.mem,
      available: 8_000_000_000 - state.mem,
      percent: Math.round((1000 * state.mem) / 8e9) / 10,
      swapTotal: 0,
      swapUsed: 0,
    },
    cpuTemperature: Math.round((45 + rnd() * 10) * 10) / 10,
    temperatures: [],
    filesystems: [
      {
        mount: '/',
        device: '/dev/mmcblk0p2',
        fsType: 'ext4',
        total: 64e9,
        used: 20e9,
        available: 44e9,
        percent: 31.3,
      },
    ],
    disks: [
      {
        name: 'mmcblk0',
        readBytesPerSec: Math.round(rnd() * 1e5),
        writeBytesPerSec: Math.round(rnd() * 3e5),
        readOpsPerSec: Math.round(rnd() * 20),
        writeOpsPerSec: Math.round(rnd() * 40),
      },
    ],
    network: [
      {
        iface: 'eth0',
        rxBytesPerSec: Math.round(rnd() * 2e5),
        txBytesPerSec: Math.round(rnd() * 5e4),
        rxBytes: state.rx,
        txBytes: Math.round(state.rx / 2),
      },
    ],
    uptimeSec: Math.floor(ts / 1000) % 1e7,
  }
}

export function rng(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}
