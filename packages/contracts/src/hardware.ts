import { z } from 'zod'
import { EpochMs, envelopeShape } from './envelope.js'
import type { Sample } from './series.js'

/**
 * Hardware health the sys-collector reads beside the host's load: S.M.A.R.T. through `smartctl --json` (a slow
 * interval, the disks left asleep) and UPSes through NUT's network protocol (`upsd`, port 3493).
 */

/** A disk's name as series, HA and the API call it: its device name without `/dev/` (`sda`, `nvme0`). */
export const DiskName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a disk name is 1–64 of A-Z, a-z, 0-9, ".", "_", "-"')

/** smartctl's overall health self-assessment: PASSED, FAILED, or not known (in standby, or not reported). */
export const DiskHealth = z.enum(['passed', 'failed', 'unknown'])
export type DiskHealth = z.infer<typeof DiskHealth>

/**
 * One disk as smartctl reported it. A disk in standby is not woken (`-n standby`): its last values are kept and
 * `state` says `standby`. Values smartctl did not report are null.
 */
export const DiskInfo = z.object({
  name: DiskName,
  /** The device smartctl read (`/dev/sda`), with the type it used (`sat`, `nvme`, `scsi`). */
  device: z.string().max(256),
  type: z.string().max(64),
  /** ATA, NVMe or SCSI as smartctl names it. */
  protocol: z.string().max(32),
  model: z.string().max(200).nullable(),
  serial: z.string().max(100).nullable(),
  firmware: z.string().max(100).nullable(),
  capacityBytes: z.number().int().min(0).nullable(),
  /** `active`: read this time; `standby`: asleep, not woken (the values are the last read); `error`: not read. */
  state: z.enum(['active', 'standby', 'error']),
  health: DiskHealth,
  temperatureC: z.number().min(-100).max(300).nullable(),
  powerOnHours: z.number().int().min(0).nullable(),
  powerCycles: z.number().int().min(0).nullable(),
  /** ATA attribute 5 (Reallocated_Sector_Ct), raw. */
  reallocatedSectors: z.number().int().min(0).nullable(),
  /** ATA attribute 197 (Current_Pending_Sector), raw. */
  pendingSectors: z.number().int().min(0).nullable(),
  /** ATA attribute 198 (Offline_Uncorrectable), raw. */
  uncorrectableSectors: z.number().int().min(0).nullable(),
  /** NVMe: the share of its rated endurance used (can exceed 100). */
  usedPercent: z.number().int().min(0).max(255).nullable(),
  /** NVMe: media and data integrity errors. */
  mediaErrors: z.number().int().min(0).nullable(),
  /** NVMe: the critical warning bits (0: none). */
  criticalWarning: z.number().int().min(0).max(255).nullable(),
  /** ATA attributes at or below their threshold now (their names), e.g. a failing prefail attribute. */
  failingAttributes: z.array(z.string().max(100)).max(64),
  /** Why this disk was not read, or what smartctl warned about; null when all is well. */
  message: z.string().max(1000).nullable(),
  /** When its values were last read (a disk in standby keeps the time of its last read). */
  readAt: EpochMs.nullable(),
})
export type DiskInfo = z.infer<typeof DiskInfo>

/** `reading/disks` (retained): every disk smartctl found on the host, read every HOMELAB_SMART_INTERVAL_MS. */
export const DisksReading = z.object({
  ...envelopeShape,
  source: z.literal('sys-collector'),
  intervalMs: z.number().int().min(0),
  smartctl: z.object({
    /** smartctl ran (it may still have found no disk). */
    available: z.boolean(),
    version: z.string().max(32).nullable(),
    /** What to install or grant when it is not available, or why no disk is listed; null when disks were read. */
    reason: z.string().max(1000).nullable(),
  }),
  disks: z.array(DiskInfo).max(64),
})
export type DisksReading = z.infer<typeof DisksReading>

/** Public series of disks (label `disk` = the disk name). */
export const diskSeries = {
  healthy: (d: string) => `disk.healthy{disk=${d}}`,
  temperature: (d: string) => `disk.temperature{disk=${d}}`,
  powerOnHours: (d: string) => `disk.power_on_hours{disk=${d}}`,
  reallocated: (d: string) => `disk.reallocated_sectors{disk=${d}}`,
  pending: (d: string) => `disk.pending_sectors{disk=${d}}`,
  usedPercent: (d: string) => `disk.used_percent{disk=${d}}`,
  mediaErrors: (d: string) => `disk.media_errors{disk=${d}}`,
} as const

/** Samples of the disks read this time (a disk in standby or not read contributes none: no stale values). */
export function diskSamples(r: DisksReading): Sample[] {
  const out: Sample[] = []
  for (const d of r.disks) {
    if (d.state !== 'active') continue
    const n = d.name
    if (d.health !== 'unknown') out.push([diskSeries.healthy(n), d.health === 'passed' ? 1 : 0])
    if (d.temperatureC !== null) out.push([diskSeries.temperature(n), d.temperatureC])
    if (d.powerOnHours !== null) out.push([diskSeries.powerOnHours(n), d.powerOnHours])
    if (d.reallocatedSectors !== null) out.push([diskSeries.reallocated(n), d.reallocatedSectors])
    if (d.pendingSectors !== null) out.push([diskSeries.pending(n), d.pendingSectors])
    if (d.usedPercent !== null) out.push([diskSeries.usedPercent(n), d.usedPercent])
    if (d.mediaErrors !== null) out.push([diskSeries.mediaErrors(n), d.mediaErrors])
  }
  return out
}

/**
 * `disk.health_changed` when a disk's overall health changes (PASSED → FAILED or back; not to or from unknown);
 * `disk.sectors_rising` when its reallocated, pending or uncorrectable sectors or its NVMe media errors grow.
 * Subject: the disk name.
 */
export const DISK_EVENT_TYPES = ['disk.health_changed', 'disk.sectors_rising'] as const

export const DiskEventData = z
  .object({
    disk: DiskName,
    model: z.string().max(200).nullable(),
    from: z.union([z.string().max(32), z.number()]).nullable(),
    to: z.union([z.string().max(32), z.number()]),
    /** For `disk.sectors_rising`: which count grew (reallocatedSectors, pendingSectors, …). */
    field: z.string().max(64).optional(),
  })
  .loose()
export type DiskEventData = z.infer<typeof DiskEventData>

/** A UPS name as NUT spells it (`ups.conf` section), used as topic entity and series label. */
export const UpsName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a UPS name is 1–64 of A-Z, a-z, 0-9, ".", "_", "-"')

/** `reading/ups/<name>` (retained): one UPS as its NUT server reports it. */
export const UpsReading = z.object({
  ...envelopeShape,
  source: z.literal('sys-collector'),
  ups: z.object({
    name: UpsName,
    /** The NUT server (host:port) it was read from. */
    server: z.string().max(300),
    description: z.string().max(300).nullable(),
    model: z.string().max(200).nullable(),
  }),
  /** The server answered for this UPS this time; when not, `reason` says why and the values are the last known. */
  reachable: z.boolean(),
  reason: z.string().max(1000).nullable(),
  /** `ups.status` as NUT reports it ("OL CHRG", "OB DISCHRG LB"), and its flags. */
  status: z.string().max(200).nullable(),
  flags: z.array(z.string().max(32)).max(32),
  online: z.boolean(),
  onBattery: z.boolean(),
  lowBattery: z.boolean(),
  chargePercent: z.number().min(0).max(100).nullable(),
  runtimeSec: z.number().min(0).nullable(),
  loadPercent: z.number().min(0).max(1000).nullable(),
  inputVoltage: z.number().min(0).nullable(),
  outputVoltage: z.number().min(0).nullable(),
  batteryVoltage: z.number().min(0).nullable(),
  /** Since when it has been in its power state (on line / on battery). */
  since: EpochMs,
})
export type UpsReading = z.infer<typeof UpsReading>

/** Public series of UPSes (label `ups` = the UPS name). */
export const upsSeries = {
  onBattery: (u: string) => `ups.on_battery{ups=${u}}`,
  lowBattery: (u: string) => `ups.low_battery{ups=${u}}`,
  charge: (u: string) => `ups.charge_percent{ups=${u}}`,
  runtime: (u: string) => `ups.runtime_sec{ups=${u}}`,
  load: (u: string) => `ups.load_percent{ups=${u}}`,
  inputVoltage: (u: string) => `ups.input_voltage{ups=${u}}`,
} as const

export function upsSamples(r: UpsReading): Sample[] {
  if (!r.reachable) return []
  const u = r.ups.name
  const out: Sample[] = [
    [upsSeries.onBattery(u), r.onBattery ? 1 : 0],
    [upsSeries.lowBattery(u), r.lowBattery ? 1 : 0],
  ]
  if (r.chargePercent !== null) out.push([upsSeries.charge(u), r.chargePercent])
  if (r.runtimeSec !== null) out.push([upsSeries.runtime(u), r.runtimeSec])
  if (r.loadPercent !== null) out.push([upsSeries.load(u), r.loadPercent])
  if (r.inputVoltage !== null) out.push([upsSeries.inputVoltage(u), r.inputVoltage])
  return out
}

/**
 * State changes of a UPS (subject: its name): power lost and back, the battery low and recovered, the NUT server
 * or its driver no longer answering for it and answering again.
 */
export const UPS_EVENT_TYPES = [
  'ups.on_battery',
  'ups.on_line',
  'ups.low_battery',
  'ups.battery_ok',
  'ups.unreachable',
  'ups.reachable',
] as const

export const UpsEventData = z
  .object({
    ups: UpsName,
    server: z.string().max(300),
    status: z.string().max(200).nullable(),
    chargePercent: z.number().nullable(),
    runtimeSec: z.number().nullable(),
    reason: z.string().max(1000).nullable().optional(),
  })
  .loose()
export type UpsEventData = z.infer<typeof UpsEventData>

/** GET /api/hosts/:host/disks */
export const DisksResponse = DisksReading.extend({ stale: z.boolean() })
export type DisksResponse = z.infer<typeof DisksResponse>

/** GET /api/hosts/:host/ups */
export const UpsResponse = z.object({
  host: z.string(),
  stale: z.boolean(),
  ups: z.array(UpsReading),
})
export type UpsResponse = z.infer<typeof UpsResponse>
