import type { SystemReading } from '@homelab/contracts'
import type { RawSnapshot } from './host-reader.js'
import { clampPct, cpuPercent } from './procfs.js'

const perSec = (delta: number, ms: number) => (ms > 0 && delta > 0 ? Math.round((delta * 1000) / ms) : 0)

/** Builds the published reading from two raw snapshots (rates over the time between them). Pure. */
export function buildReading(
  prev: RawSnapshot,
  cur: RawSnapshot,
  host: string,
  intervalMs: number,
): SystemReading {
  const ms = cur.at - prev.at
  const cpu = cpuPercent(prev.cpu.total, cur.cpu.total)
  const cores = cur.cpu.cores.map((c, i) => {
    const p = prev.cpu.cores[i]
    return p ? cpuPercent(p, c).usage : 0
  })
  const used = cur.mem.total - cur.mem.available
  return {
    v: 1,
    ts: cur.at,
    host,
    source: 'sys-collector',
    intervalMs,
    cpu: { ...cpu, cores },
    load: cur.load.map((l) => Math.round(l * 100) / 100) as [number, number, number],
    memory: {
      total: cur.mem.total,
      used,
      available: cur.mem.available,
      percent: cur.mem.total > 0 ? clampPct((100 * used) / cur.mem.total) : 0,
      swapTotal: cur.mem.swapTotal,
      swapUsed: Math.max(0, cur.mem.swapTotal - cur.mem.swapFree),
    },
    cpuTemperature: cur.temperature,
    temperatures: cur.temperatures,
    filesystems: cur.filesystems.map((f) => ({
      mount: f.mount,
      device: f.device,
      fsType: f.fsType,
      total: f.total,
      used: f.used,
      available: f.available,
      // As df: used / (used + available), since reserved blocks are not available to users.
      percent: f.used + f.available > 0 ? clampPct((100 * f.used) / (f.used + f.available)) : 0,
    })),
    disks: [...cur.disks].flatMap(([name, c]) => {
      const p = prev.disks.get(name)
      if (!p) return []
      return [
        {
          name,
          readBytesPerSec: perSec((c.readSectors - p.readSectors) * 512, ms),
          writeBytesPerSec: perSec((c.writeSectors - p.writeSectors) * 512, ms),
          readOpsPerSec: perSec(c.reads - p.reads, ms),
          writeOpsPerSec: perSec(c.writes - p.writes, ms),
        },
      ]
    }),
    network: [...cur.net].flatMap(([iface, c]) => {
      const p = prev.net.get(iface)
      if (!p) return []
      return [
        {
          iface,
          rxBytesPerSec: perSec(c.rxBytes - p.rxBytes, ms),
          txBytesPerSec: perSec(c.txBytes - p.txBytes, ms),
          rxBytes: c.rxBytes,
          txBytes: c.txBytes,
        },
      ]
    }),
    uptimeSec: Math.round(cur.uptime),
  }
}
