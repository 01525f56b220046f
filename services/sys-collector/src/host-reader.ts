import { readdir, readFile, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { ProcFile } from './proc-file.js'
import {
  type CpuTimes,
  type DiskCounters,
  hostMounts,
  type Mount,
  type NetCounters,
  parseDiskstats,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parseProcStat,
  parseUptime,
} from './procfs.js'

export interface HostPaths {
  /** Where the host's /proc is (`/proc`, or `/host/proc` in a container). */
  proc: string
  /** Where the host's /sys is. */
  sys: string
  /** Where the host's root filesystem is mounted ('' when this is the host). */
  rootfs: string
}

/** One raw read of the host's counters; rates come from the difference of two. */
export interface RawSnapshot {
  at: number
  cpu: { total: CpuTimes; cores: CpuTimes[] }
  mem: ReturnType<typeof parseMeminfo>
  load: [number, number, number]
  uptime: number
  disks: Map<string, DiskCounters>
  net: Map<string, NetCounters>
  filesystems: Array<Mount & { total: number; used: number; available: number }>
  temperature: number | null
  temperatures: Array<{ sensor: string; celsius: number }>
}

const isWholeDisk = (name: string) => !/^(loop|ram|zram|fd|sr)\d*/.test(name)

/**
 * Reads the host's state with asynchronous file reads and `statfs` only: no child processes, nothing blocking.
 * Discovery that does not change between samples (the temperature sensor, which block devices are disks) is done
 * once in `init()`, and the mount table is re-read only every minute.
 */
export class HostReader {
  private tempPath: string | null = null
  private sensors: Sensor[] = []
  private disks = new Set<string>()
  private mounts: Mount[] = []
  private mountsReadAt = 0

  private readonly files: Record<'stat' | 'meminfo' | 'loadavg' | 'uptime' | 'diskstats' | 'netdev', ProcFile>

  constructor(private readonly paths: HostPaths) {
    this.files = {
      stat: new ProcFile([join(this.paths.proc, 'stat')]),
      meminfo: new ProcFile([join(this.paths.proc, 'meminfo')]),
      loadavg: new ProcFile([join(this.paths.proc, 'loadavg')]),
      uptime: new ProcFile([join(this.paths.proc, 'uptime')]),
      diskstats: new ProcFile([join(this.paths.proc, 'diskstats')]),
      // PID 1's view is the host's network namespace when /proc is the host's (e.g. mounted in a container).
      netdev: new ProcFile([join(this.paths.proc, '1/net/dev'), join(this.paths.proc, 'net/dev')]),
    }
  }

  async init(): Promise<void> {
    this.tempPath = await findCpuTemperature(this.paths.sys)
    this.sensors = await findSensors(this.paths.sys)
    try {
      this.disks = new Set((await readdir(join(this.paths.sys, 'block'))).filter(isWholeDisk))
    } catch {
      this.disks = new Set()
    }
  }

  get temperatureSource(): string | null {
    return this.tempPath
  }

  private tempFile: ProcFile | null = null

  async read(): Promise<RawSnapshot> {
    const p = this.paths.proc
    const now = Date.now()
    if (now - this.mountsReadAt > 60_000) {
      this.mounts = hostMounts(
        await readFile(join(p, '1/mountinfo'), 'utf8').catch(() =>
          readFile(join(p, 'self/mountinfo'), 'utf8'),
        ),
        this.paths.rootfs,
      )
      this.mountsReadAt = now
    }
    const f = this.files
    // The kernel's counters first, on the loop (see ProcFile); sensors and file systems, which may wait on a device
    // or a mount, through the thread pool.
    const stat = f.stat.readSync()
    const meminfo = f.meminfo.readSync()
    const loadavg = f.loadavg.readSync()
    const uptime = f.uptime.readSync()
    let diskstats = ''
    try {
      diskstats = f.diskstats.readSync()
    } catch {}
    const netdev = f.netdev.readSync()
    const [temperature, filesystems, temperatures] = await Promise.all([
      this.readTemperature(),
      Promise.all(this.mounts.map((m) => this.statMount(m))),
      this.readSensors(),
    ])
    return {
      at: now,
      cpu: parseProcStat(stat),
      mem: parseMeminfo(meminfo),
      load: parseLoadavg(loadavg),
      uptime: parseUptime(uptime),
      disks: parseDiskstats(diskstats, (n) => this.disks.has(n)),
      net: parseNetDev(netdev),
      temperature,
      temperatures,
      filesystems: filesystems.filter((x): x is NonNullable<typeof x> => x !== null),
    }
  }

  /** Closes the files kept open between samples. */
  async close(): Promise<void> {
    await Promise.all(
      [
        ...Object.values(this.files),
        ...(this.tempFile ? [this.tempFile] : []),
        ...this.sensors.flatMap((s) => (s.file ? [s.file] : [])),
      ].map((x) => x.close()),
    )
  }

  private async statMount(m: Mount) {
    try {
      const s = await statfs(join(this.paths.rootfs || '/', m.mount))
      const total = s.blocks * s.bsize
      if (total === 0) return null
      const available = s.bavail * s.bsize
      const used = total - s.bfree * s.bsize
      return { ...m, total, used, available }
    } catch {
      return null
    }
  }

  /** Every sensor's temperature now (a sensor that cannot be read this time is left out). */
  private async readSensors(): Promise<Array<{ sensor: string; celsius: number }>> {
    const out = await Promise.all(
      this.sensors.map(async (s) => {
        s.file ??= new ProcFile([s.path])
        try {
          const milli = Number((await s.file.read()).trim())
          return Number.isFinite(milli) && milli > -100_000 && milli < 200_000
            ? [{ sensor: s.name, celsius: Math.round(milli / 100) / 10 }]
            : []
        } catch {
          return []
        }
      }),
    )
    return out.flat()
  }

  private async readTemperature(): Promise<number | null> {
    if (!this.tempPath) return null
    try {
      this.tempFile ??= new ProcFile([this.tempPath])
      const milli = Number((await this.tempFile.read()).trim())
      return Number.isFinite(milli) ? Math.round(milli / 100) / 10 : null
    } catch {
      return null
    }
  }
}

const CPU_HWMON = [
  'coretemp',
  'k10temp',
  'zenpower',
  'cpu_thermal',
  'cpu-thermal',
  'soc_thermal',
  'rpi_volt',
  'scpi_sensors',
]
const CPU_ZONES = [
  'x86_pkg_temp',
  'cpu-thermal',
  'cpu_thermal',
  'soc-thermal',
  'soc_thermal',
  'cpu',
  'cpu0-thermal',
  'k10temp',
]

interface Sensor {
  /** "coretemp Package id 0", "nvme Composite", "thermal acpitz": chip and label, unique. */
  name: string
  path: string
  file?: ProcFile
}

const readText = (p: string) =>
  readFile(p, 'utf8').then(
    (t) => t.trim(),
    () => '',
  )

/**
 * Every temperature sensor: each hwmon chip's `temp*_input` (named by the chip and the input's label), then each
 * thermal zone no hwmon chip already covers (named by its type). At most 32; names are made unique.
 */
export async function findSensors(sys: string): Promise<Sensor[]> {
  const out: Sensor[] = []
  const hwmon = join(sys, 'class/hwmon')
  const chips = new Set<string>()
  for (const d of (await readdir(hwmon).catch(() => [] as string[])).sort()) {
    const chip = (await readText(join(hwmon, d, 'name'))) || d
    chips.add(chip)
    const inputs = (await readdir(join(hwmon, d)).catch(() => [] as string[]))
      .filter((f) => /^temp\d+_input$/.test(f))
      .sort((a, b) => Number(a.slice(4, -6)) - Number(b.slice(4, -6)))
    for (const f of inputs) {
      const label = await readText(join(hwmon, d, f.replace('_input', '_label')))
      out.push({ name: `${chip} ${label || f.slice(0, -6)}`.slice(0, 60), path: join(hwmon, d, f) })
    }
  }
  const thermal = join(sys, 'class/thermal')
  for (const d of (await readdir(thermal).catch(() => [] as string[])).sort()) {
    if (!d.startsWith('thermal_zone')) continue
    const type = (await readText(join(thermal, d, 'type'))) || d
    if (chips.has(type)) continue
    out.push({ name: `thermal ${type}`.slice(0, 60), path: join(thermal, d, 'temp') })
  }
  const seen = new Map<string, number>()
  return out.slice(0, 32).map((s) => {
    const n = (seen.get(s.name) ?? 0) + 1
    seen.set(s.name, n)
    return n > 1 ? { ...s, name: `${s.name} #${n}`.slice(0, 64) } : s
  })
}

/** Finds the file holding the CPU temperature (millidegrees), or null when the machine exposes none. */
export async function findCpuTemperature(sys: string): Promise<string | null> {
  const hwmon = join(sys, 'class/hwmon')
  for (const d of await readdir(hwmon).catch(() => [] as string[])) {
    const name = (await readFile(join(hwmon, d, 'name'), 'utf8').catch(() => '')).trim()
    if (CPU_HWMON.includes(name)) {
      const file = join(hwmon, d, 'temp1_input')
      if (
        await readFile(file, 'utf8').then(
          () => true,
          () => false,
        )
      )
        return file
    }
  }
  const thermal = join(sys, 'class/thermal')
  for (const d of await readdir(thermal).catch(() => [] as string[])) {
    if (!d.startsWith('thermal_zone')) continue
    const type = (await readFile(join(thermal, d, 'type'), 'utf8').catch(() => '')).trim()
    if (CPU_ZONES.includes(type)) return join(thermal, d, 'temp')
  }
  return null
}
