import { z } from 'zod'
import { envelopeShape } from './envelope.js'

const Bytes = z.number().int().min(0)
const Percent = z.number().min(0).max(100)
const Rate = z.number().min(0)

export const Filesystem = z.object({
  mount: z.string().min(1).max(512),
  device: z.string().max(512),
  fsType: z.string().max(64),
  total: Bytes,
  used: Bytes,
  available: Bytes,
  percent: Percent,
})
export type Filesystem = z.infer<typeof Filesystem>

export const DiskIo = z.object({
  name: z.string().min(1).max(128),
  readBytesPerSec: Rate,
  writeBytesPerSec: Rate,
  readOpsPerSec: Rate,
  writeOpsPerSec: Rate,
})
export type DiskIo = z.infer<typeof DiskIo>

export const NetInterface = z.object({
  iface: z.string().min(1).max(64),
  rxBytesPerSec: Rate,
  txBytesPerSec: Rate,
  rxBytes: Bytes,
  txBytes: Bytes,
})
export type NetInterface = z.infer<typeof NetInterface>

/** One snapshot of a host, published by sys-collector every interval. Rates are over the last interval. */
export const SystemReading = z.object({
  ...envelopeShape,
  source: z.literal('sys-collector'),
  intervalMs: z.number().int().min(100).max(3_600_000),
  cpu: z.object({
    usage: Percent,
    user: Percent,
    system: Percent,
    iowait: Percent,
    cores: z.array(Percent).max(1024),
  }),
  load: z.tuple([z.number().min(0), z.number().min(0), z.number().min(0)]),
  memory: z.object({
    total: Bytes,
    used: Bytes,
    available: Bytes,
    percent: Percent,
    swapTotal: Bytes,
    swapUsed: Bytes,
  }),
  /** °C; null when the machine exposes no CPU sensor (never a made-up 0). */
  cpuTemperature: z.number().min(-100).max(200).nullable(),
  /**
   * Every temperature sensor the machine exposes (hwmon chips and thermal zones: CPU, NVMe, chipset, Wi-Fi…), °C.
   * Absent from readings of older collectors.
   */
  temperatures: z
    .array(z.object({ sensor: z.string().min(1).max(64), celsius: z.number().min(-100).max(200) }))
    .max(64)
    .default([]),
  filesystems: z.array(Filesystem).max(256),
  disks: z.array(DiskIo).max(256),
  network: z.array(NetInterface).max(256),
  uptimeSec: z.number().min(0),
})
export type SystemReading = z.infer<typeof SystemReading>

/** Static facts about a host, published retained at start. */
export const HostFacts = z.object({
  ...envelopeShape,
  source: z.literal('sys-collector'),
  hostname: z.string().max(255),
  os: z.string().max(255),
  kernel: z.string().max(255),
  arch: z.string().max(64),
  model: z.string().max(255),
  cpuModel: z.string().max(255),
  cpuCores: z.number().int().min(0),
  bootTime: z.number().int().min(0),
})
export type HostFacts = z.infer<typeof HostFacts>

/** Interfaces that carry no traffic of the machine's own: loopback, container veths and bridges, tunnels. */
export function isVirtualInterface(iface: string): boolean {
  return /^(lo|veth|docker|br-|virbr|cni|flannel|cali|vxlan|tun|tap|wg|ifb|dummy)/.test(iface)
}
