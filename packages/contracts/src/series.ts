import type { SystemReading } from './system.js'

/** A numeric sample extracted from a reading: series name (host-relative) and value. */
export type Sample = readonly [name: string, value: number]

/**
 * Series names are `<metric>` or `<metric>{<label>=<value>}`; with the host they identify a series.
 * The names below are the public series of a system reading (documented in docs/api.md).
 */
export const systemSeries = {
  cpuUsage: 'cpu.usage',
  cpuUser: 'cpu.user',
  cpuSystem: 'cpu.system',
  cpuIowait: 'cpu.iowait',
  cpuCore: (i: number) => `cpu.core{core=${i}}`,
  load1: 'load.1',
  load5: 'load.5',
  load15: 'load.15',
  memTotal: 'mem.total',
  memUsed: 'mem.used',
  memAvailable: 'mem.available',
  memPercent: 'mem.percent',
  swapTotal: 'swap.total',
  swapUsed: 'swap.used',
  cpuTemperature: 'cpu.temperature',
  temperature: (sensor: string) => `temp.celsius{sensor=${sensor}}`,
  uptime: 'uptime',
  fsTotal: (mount: string) => `fs.total{mount=${mount}}`,
  fsUsed: (mount: string) => `fs.used{mount=${mount}}`,
  fsPercent: (mount: string) => `fs.percent{mount=${mount}}`,
  diskRead: (d: string) => `disk.read_bps{disk=${d}}`,
  diskWrite: (d: string) => `disk.write_bps{disk=${d}}`,
  diskReadOps: (d: string) => `disk.read_iops{disk=${d}}`,
  diskWriteOps: (d: string) => `disk.write_iops{disk=${d}}`,
  netRx: (i: string) => `net.rx_bps{iface=${i}}`,
  netTx: (i: string) => `net.tx_bps{iface=${i}}`,
} as const

/** All numeric samples of a system reading. A null temperature yields no sample (a gap, never a 0). */
export function systemSamples(r: SystemReading): Sample[] {
  const s = systemSeries
  const out: Sample[] = [
    [s.cpuUsage, r.cpu.usage],
    [s.cpuUser, r.cpu.user],
    [s.cpuSystem, r.cpu.system],
    [s.cpuIowait, r.cpu.iowait],
    [s.load1, r.load[0]],
    [s.load5, r.load[1]],
    [s.load15, r.load[2]],
    [s.memTotal, r.memory.total],
    [s.memUsed, r.memory.used],
    [s.memAvailable, r.memory.available],
    [s.memPercent, r.memory.percent],
    [s.swapTotal, r.memory.swapTotal],
    [s.swapUsed, r.memory.swapUsed],
    [s.uptime, r.uptimeSec],
  ]
  for (const [i, v] of r.cpu.cores.entries()) out.push([s.cpuCore(i), v])
  if (r.cpuTemperature !== null) out.push([s.cpuTemperature, r.cpuTemperature])
  for (const t of r.temperatures) out.push([s.temperature(t.sensor), t.celsius])
  for (const f of r.filesystems) {
    out.push([s.fsTotal(f.mount), f.total], [s.fsUsed(f.mount), f.used], [s.fsPercent(f.mount), f.percent])
  }
  for (const d of r.disks) {
    out.push(
      [s.diskRead(d.name), d.readBytesPerSec],
      [s.diskWrite(d.name), d.writeBytesPerSec],
      [s.diskReadOps(d.name), d.readOpsPerSec],
      [s.diskWriteOps(d.name), d.writeOpsPerSec],
    )
  }
  for (const n of r.network)
    out.push([s.netRx(n.iface), n.rxBytesPerSec], [s.netTx(n.iface), n.txBytesPerSec])
  return out
}

/** Series name syntax accepted by the history API. */
export const SERIES_NAME_RE = /^[a-z][a-z0-9_.]*(?:\{[a-z_]+=[^{}\n]{1,256}\})?$/
