import { execFile } from 'node:child_process'
import { basename } from 'node:path'
import type { DiskInfo, DisksReading } from '@homelab/contracts'
import { z } from 'zod'

/**
 * S.M.A.R.T. through smartctl's JSON output (smartmontools ≥ 7.0): the disks `smartctl --scan-open` finds, each read
 * with `-i -H -A -n standby`, so a disk that sleeps is not woken (smartctl answers "in STANDBY mode" and exit status
 * bit 1; the disk keeps its last values). Everything read is checked with a schema of the fields used; output that
 * does not match is kept as unknown (the disk's state `error`, its message naming the field) and counted.
 */

/** The parts of smartctl's JSON this reads (https://www.smartmontools.org/wiki/JSON, json_format_version 1). */
const Message = z.object({ string: z.string(), severity: z.string().optional() })
const SmartctlHeader = z.object({
  json_format_version: z.tuple([z.literal(1), z.number()]).rest(z.number()),
  smartctl: z.object({
    version: z.array(z.number()).optional(),
    messages: z.array(Message).optional(),
    exit_status: z.number().int(),
  }),
})
const Count = z.number().int().min(0)
const AtaAttribute = z.object({
  id: z.number().int(),
  name: z.string(),
  value: z.number().optional(),
  thresh: z.number().optional(),
  when_failed: z.string().optional(),
  raw: z.object({ value: z.number() }),
})
export const SmartctlDevice = SmartctlHeader.extend({
  device: z
    .object({ name: z.string(), type: z.string().optional(), protocol: z.string().optional() })
    .optional(),
  model_name: z.string().optional(),
  serial_number: z.string().optional(),
  firmware_version: z.string().optional(),
  user_capacity: z.object({ bytes: Count }).optional(),
  nvme_total_capacity: Count.optional(),
  smart_status: z.object({ passed: z.boolean() }).optional(),
  temperature: z.object({ current: z.number() }).optional(),
  power_on_time: z.object({ hours: Count }).optional(),
  power_cycle_count: Count.optional(),
  ata_smart_attributes: z.object({ table: z.array(AtaAttribute) }).optional(),
  nvme_smart_health_information_log: z
    .object({
      critical_warning: Count.optional(),
      temperature: z.number().optional(),
      percentage_used: Count.optional(),
      power_cycles: Count.optional(),
      power_on_hours: Count.optional(),
      media_errors: Count.optional(),
    })
    .optional(),
})
export type SmartctlDevice = z.infer<typeof SmartctlDevice>

const SmartctlScan = SmartctlHeader.extend({
  devices: z
    .array(
      z.object({
        name: z.string(),
        info_name: z.string().optional(),
        type: z.string(),
        protocol: z.string().optional(),
        open_error: z.string().optional(),
      }),
    )
    .optional(),
})

/** smartctl's exit status bits (smartctl(8), RETURN VALUES). */
const EXIT = { commandLine: 1, openFailedOrLowPower: 2, commandFailed: 4, diskFailing: 8 } as const

const ATA_REALLOCATED = 5
const ATA_PENDING = 197
const ATA_UNCORRECTABLE = 198

export interface ScannedDevice {
  /** What the disk is called (series label, HA, API). */
  name: string
  device: string
  type: string
  protocol: string
  openError: string | null
}

/** The disk name for a device path: `/dev/sda` → sda, `/dev/disk/by-id/ata-X` → ata-X (kept to the allowed set). */
export function diskName(device: string): string {
  const n = basename(device)
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64)
  return n || 'disk'
}

function messageText(messages: z.infer<typeof Message>[] | undefined, severity?: string): string | null {
  const m = (messages ?? []).filter((x) => severity === undefined || x.severity === severity)
  return m.length > 0
    ? m
        .map((x) => x.string.trim())
        .join('; ')
        .slice(0, 1000)
    : null
}

/** What is known of a disk before it is read (or when it cannot be). */
export function emptyDisk(d: ScannedDevice): DiskInfo {
  return {
    name: d.name,
    device: d.device,
    type: d.type,
    protocol: d.protocol,
    model: null,
    serial: null,
    firmware: null,
    capacityBytes: null,
    state: 'error',
    health: 'unknown',
    temperatureC: null,
    powerOnHours: null,
    powerCycles: null,
    reallocatedSectors: null,
    pendingSectors: null,
    uncorrectableSectors: null,
    usedPercent: null,
    mediaErrors: null,
    criticalWarning: null,
    failingAttributes: [],
    message: null,
    readAt: null,
  }
}

const str = (s: string | undefined, max: number) => (s === undefined ? null : s.trim().slice(0, max) || null)

export type ParsedDisk =
  | { kind: 'disk'; disk: DiskInfo }
  | { kind: 'standby'; message: string }
  | { kind: 'error'; message: string }
  | { kind: 'unknown'; message: string }

/**
 * One disk from `smartctl --json -i -H -A -n standby <dev>`'s output: its values, or why there are none (asleep,
 * could not be opened, output not understood).
 */
export function parseDevice(json: unknown, scanned: ScannedDevice, now: number): ParsedDisk {
  const header = SmartctlHeader.safeParse(json)
  if (!header.success) return { kind: 'unknown', message: 'not smartctl JSON (json_format_version 1)' }
  const exit = header.data.smartctl.exit_status
  const said = messageText(header.data.smartctl.messages)
  if (exit & EXIT.commandLine)
    return { kind: 'error', message: `smartctl refused the command: ${said ?? exit}` }
  if (exit & EXIT.openFailedOrLowPower) {
    if (said && /STANDBY|SLEEP|IDLE/i.test(said)) return { kind: 'standby', message: said }
    return { kind: 'error', message: said ?? 'smartctl could not open the device' }
  }
  const r = SmartctlDevice.safeParse(json)
  if (!r.success) {
    const i = r.error.issues[0]
    return {
      kind: 'unknown',
      message: `smartctl output not understood at ${i?.path.join('.') || '(root)'}: ${i?.message ?? 'invalid'}`,
    }
  }
  const o = r.data
  const nvme = o.nvme_smart_health_information_log
  const attrs = new Map((o.ata_smart_attributes?.table ?? []).map((a) => [a.id, a]))
  const raw = (id: number) => {
    const v = attrs.get(id)?.raw.value
    // An ATA raw value is 48 bits; vendors pack more into some (the low 16 bits hold the count for these three).
    return v === undefined || !Number.isSafeInteger(v) || v < 0 ? null : v > 0xffff_ffff ? v % 0x1_0000 : v
  }
  const failing = (o.ata_smart_attributes?.table ?? [])
    .filter((a) => a.when_failed === 'now')
    .map((a) => a.name.slice(0, 100))
    .slice(0, 64)
  const passed = o.smart_status?.passed
  const health: DiskInfo['health'] =
    exit & EXIT.diskFailing || passed === false ? 'failed' : passed === true ? 'passed' : 'unknown'
  const temperature = o.temperature?.current ?? nvme?.temperature ?? null
  const disk: DiskInfo = {
    ...emptyDisk(scanned),
    protocol: (o.device?.protocol ?? scanned.protocol).slice(0, 32),
    model: str(o.model_name, 200),
    serial: str(o.serial_number, 100),
    firmware: str(o.firmware_version, 100),
    capacityBytes: o.user_capacity?.bytes ?? o.nvme_total_capacity ?? null,
    state: 'active',
    health,
    temperatureC: temperature !== null && temperature > -100 && temperature < 300 ? temperature : null,
    powerOnHours: o.power_on_time?.hours ?? nvme?.power_on_hours ?? null,
    powerCycles: o.power_cycle_count ?? nvme?.power_cycles ?? null,
    reallocatedSectors: raw(ATA_REALLOCATED),
    pendingSectors: raw(ATA_PENDING),
    uncorrectableSectors: raw(ATA_UNCORRECTABLE),
    usedPercent: nvme?.percentage_used === undefined ? null : Math.min(255, nvme.percentage_used),
    mediaErrors: nvme?.media_errors ?? null,
    criticalWarning: nvme?.critical_warning === undefined ? null : Math.min(255, nvme.critical_warning),
    failingAttributes: failing,
    message:
      exit & EXIT.commandFailed
        ? `some SMART commands failed: ${said ?? `exit status ${exit}`}`.slice(0, 1000)
        : messageText(header.data.smartctl.messages, 'error'),
    readAt: now,
  }
  return { kind: 'disk', disk }
}

/** The devices of `smartctl --scan-open --json`, named (duplicate names get their type appended). */
export function parseScan(json: unknown): { devices: ScannedDevice[]; version: string | null } | null {
  const r = SmartctlScan.safeParse(json)
  if (!r.success) return null
  const seen = new Set<string>()
  const devices: ScannedDevice[] = []
  for (const d of (r.data.devices ?? []).slice(0, 64)) {
    let name = diskName(d.name)
    if (seen.has(name)) name = diskName(`${name}-${d.type}`)
    seen.add(name)
    devices.push({
      name,
      device: d.name.slice(0, 256),
      type: d.type.slice(0, 64),
      protocol: (d.protocol ?? '').slice(0, 32),
      openError: d.open_error ?? null,
    })
  }
  const v = r.data.smartctl.version
  return { devices, version: v ? v.join('.') : null }
}

export interface SmartOptions {
  /** The smartctl binary (a name on PATH or a path). */
  smartctl: string
  /** Devices to read (`/dev/sda`, or `/dev/sda:sat` with a type); empty: what `--scan-open` finds. */
  devices: string[]
  timeoutMs: number
}

interface RunResult {
  json: unknown
  /** The process could not be started (ENOENT: not installed; EACCES: not executable). */
  spawnError: NodeJS.ErrnoException | null
}

/** Runs smartctl and parses its JSON; a non-zero exit status is normal (it is a bit mask) and the JSON still comes. */
function run(bin: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      bin,
      ['--json=c', ...args],
      { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean }) | null
        if (e && typeof e.code === 'string') return resolve({ json: null, spawnError: e })
        if (e?.killed) return resolve({ json: null, spawnError: Object.assign(e, { code: 'ETIMEDOUT' }) })
        try {
          resolve({ json: JSON.parse(stdout), spawnError: null })
        } catch {
          resolve({ json: null, spawnError: null })
        }
      },
    )
  })
}

const DENIED = /permission denied|operation not permitted/i

/** What to grant when smartctl may not open the disks. */
export const GRANT_HINT =
  'run the sys-collector as root, or grant it CAP_SYS_RAWIO (NVMe: CAP_SYS_ADMIN) and the disk devices; in compose: user "0:0", cap_add and devices (docs/hardware.md)'

/**
 * Reads every disk. Keeps the last values of disks that sleep; counts what it could not understand.
 * `unknown` is how many outputs this read did not understand.
 */
export class SmartReader {
  private readonly last = new Map<string, DiskInfo>()

  constructor(
    private readonly o: SmartOptions,
    private readonly uid: number | null = process.getuid?.() ?? null,
  ) {}

  async read(
    now = Date.now(),
  ): Promise<{ smartctl: DisksReading['smartctl']; disks: DiskInfo[]; unknown: number }> {
    let version: string | null = null
    let devices: ScannedDevice[]
    if (this.o.devices.length > 0) {
      devices = this.o.devices.map((spec) => {
        const [dev, type] = spec.split(/:(?=[^/]*$)/) as [string, string | undefined]
        return { name: diskName(dev), device: dev, type: type ?? 'auto', protocol: '', openError: null }
      })
    } else {
      const scan = await run(this.o.smartctl, ['--scan-open'], this.o.timeoutMs)
      if (scan.spawnError) return { smartctl: this.unavailable(scan.spawnError), disks: [], unknown: 0 }
      const parsed = parseScan(scan.json)
      if (!parsed)
        return {
          smartctl: { available: true, version: null, reason: 'smartctl --scan-open output not understood' },
          disks: [],
          unknown: 1,
        }
      version = parsed.version
      devices = parsed.devices
    }
    const disks: DiskInfo[] = []
    let unknown = 0
    let denied = 0
    for (const dev of devices) {
      const prev = this.last.get(dev.name)
      if (dev.openError) {
        if (DENIED.test(dev.openError)) denied++
        disks.push({ ...(prev ?? emptyDisk(dev)), state: 'error', message: dev.openError.slice(0, 1000) })
        continue
      }
      const args = [
        '-i',
        '-H',
        '-A',
        '-n',
        'standby',
        ...(dev.type === 'auto' ? [] : ['-d', dev.type]),
        dev.device,
      ]
      const out = await run(this.o.smartctl, args, this.o.timeoutMs)
      if (out.spawnError) return { smartctl: this.unavailable(out.spawnError), disks: [], unknown }
      version ??= SmartctlHeader.safeParse(out.json).data?.smartctl.version?.join('.') ?? null
      const p = parseDevice(out.json, dev, now)
      if (p.kind === 'disk') {
        this.last.set(dev.name, p.disk)
        disks.push(p.disk)
        continue
      }
      if (p.kind === 'unknown') unknown++
      if (p.kind === 'error' && DENIED.test(p.message)) denied++
      const base = prev ?? emptyDisk(dev)
      disks.push({
        ...base,
        state: p.kind === 'standby' ? 'standby' : 'error',
        message:
          p.kind === 'standby'
            ? 'in standby: not woken (values from its last read)'
            : p.message.slice(0, 1000),
      })
    }
    const listed = new Set(devices.map((d) => d.name))
    for (const name of this.last.keys()) if (!listed.has(name)) this.last.delete(name)
    let reason: string | null = null
    if (denied > 0) reason = `smartctl may not open ${denied} disk(s): ${GRANT_HINT}`
    else if (devices.length === 0)
      reason =
        this.uid !== null && this.uid !== 0
          ? `smartctl found no disk it may open, running as uid ${this.uid}: ${GRANT_HINT}`
          : 'smartctl found no SMART-capable disk (virtual disks and many USB bridges have none; name devices in HOMELAB_SMART_DEVICES, e.g. /dev/sda:sat)'
    return { smartctl: { available: true, version, reason }, disks, unknown }
  }

  private unavailable(e: NodeJS.ErrnoException): DisksReading['smartctl'] {
    const reason =
      e.code === 'ENOENT'
        ? `smartctl is not installed (${this.o.smartctl} not found): install smartmontools (Debian/Ubuntu: apt install smartmontools; the image ships it)`
        : e.code === 'EACCES'
          ? `smartctl (${this.o.smartctl}) may not be run: ${e.message}`
          : e.code === 'ETIMEDOUT'
            ? `smartctl did not answer within ${this.o.timeoutMs} ms`
            : `smartctl could not be run: ${e.message}`
    return { available: false, version: null, reason }
  }
}

/** Events for what changed on a disk between two reads: health PASSED ↔ FAILED, sector or error counts growing. */
export function diskChanges(
  prev: DiskInfo | undefined,
  cur: DiskInfo,
): Array<{
  type: 'disk.health_changed' | 'disk.sectors_rising'
  from: string | number | null
  to: string | number
  field?: string
}> {
  if (!prev || cur.state !== 'active') return []
  const out: ReturnType<typeof diskChanges> = []
  if (prev.health !== 'unknown' && cur.health !== 'unknown' && prev.health !== cur.health)
    out.push({ type: 'disk.health_changed', from: prev.health, to: cur.health })
  for (const field of [
    'reallocatedSectors',
    'pendingSectors',
    'uncorrectableSectors',
    'mediaErrors',
  ] as const) {
    const a = prev[field]
    const b = cur[field]
    if (a !== null && b !== null && b > a) out.push({ type: 'disk.sectors_rising', from: a, to: b, field })
  }
  return out
}
