/**
 * Pure parsers for the Linux files the sampler reads on every tick. They take file contents and return plain
 * numbers, so they are tested on fixed inputs and cost no process spawns (unlike several systeminformation calls).
 */

export interface CpuTimes {
  user: number
  nice: number
  system: number
  idle: number
  iowait: number
  irq: number
  softirq: number
  steal: number
}

/** `/proc/stat` → [total, ...per core] jiffies. */
export function parseProcStat(text: string): { total: CpuTimes; cores: CpuTimes[] } {
  let total: CpuTimes | null = null
  const cores: CpuTimes[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue
    const [name, ...rest] = line.trim().split(/\s+/)
    const n = rest.map(Number)
    const t: CpuTimes = {
      user: n[0] ?? 0,
      nice: n[1] ?? 0,
      system: n[2] ?? 0,
      idle: n[3] ?? 0,
      iowait: n[4] ?? 0,
      irq: n[5] ?? 0,
      softirq: n[6] ?? 0,
      steal: n[7] ?? 0,
    }
    if (name === 'cpu') total = t
    else cores.push(t)
  }
  if (!total) throw new Error('/proc/stat has no "cpu" line')
  return { total, cores }
}

const sum = (t: CpuTimes) => t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal

/** CPU use between two readings, in percent of the time elapsed. */
export function cpuPercent(
  a: CpuTimes,
  b: CpuTimes,
): { usage: number; user: number; system: number; iowait: number } {
  const dt = sum(b) - sum(a)
  if (dt <= 0) return { usage: 0, user: 0, system: 0, iowait: 0 }
  const pct = (x: number) => clampPct((100 * x) / dt)
  const idle = b.idle - a.idle + (b.iowait - a.iowait)
  return {
    usage: pct(dt - idle),
    user: pct(b.user - a.user + (b.nice - a.nice)),
    system: pct(b.system - a.system + (b.irq - a.irq) + (b.softirq - a.softirq)),
    iowait: pct(b.iowait - a.iowait),
  }
}

export function clampPct(x: number): number {
  return Math.round(Math.min(100, Math.max(0, x)) * 10) / 10
}

/** `/proc/meminfo` → bytes. `used` is total − available, as `free` reports it. */
export function parseMeminfo(text: string): {
  total: number
  available: number
  swapTotal: number
  swapFree: number
} {
  const kb = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line)
    if (m) kb.set(m[1]!, Number(m[2]) * 1024)
  }
  const total = kb.get('MemTotal')
  if (total === undefined) throw new Error('/proc/meminfo has no MemTotal')
  const available =
    kb.get('MemAvailable') ?? (kb.get('MemFree') ?? 0) + (kb.get('Cached') ?? 0) + (kb.get('Buffers') ?? 0)
  return {
    total,
    available: Math.min(available, total),
    swapTotal: kb.get('SwapTotal') ?? 0,
    swapFree: kb.get('SwapFree') ?? 0,
  }
}

export function parseLoadavg(text: string): [number, number, number] {
  const [a, b, c] = text.trim().split(/\s+/).map(Number)
  if (![a, b, c].every((x) => Number.isFinite(x)))
    throw new Error(`cannot parse /proc/loadavg: "${text.trim()}"`)
  return [a!, b!, c!]
}

export function parseUptime(text: string): number {
  const v = Number(text.trim().split(/\s+/)[0])
  if (!Number.isFinite(v)) throw new Error(`cannot parse /proc/uptime: "${text.trim()}"`)
  return v
}

export interface DiskCounters {
  readSectors: number
  writeSectors: number
  reads: number
  writes: number
}

/** `/proc/diskstats` → counters for the named devices (sector = 512 bytes, whatever the device's block size). */
export function parseDiskstats(text: string, include: (name: string) => boolean): Map<string, DiskCounters> {
  const out = new Map<string, DiskCounters>()
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/)
    const name = f[2]
    if (!name || f.length < 14 || !include(name)) continue
    out.set(name, {
      reads: Number(f[3]),
      readSectors: Number(f[5]),
      writes: Number(f[7]),
      writeSectors: Number(f[9]),
    })
  }
  return out
}

export interface NetCounters {
  rxBytes: number
  txBytes: number
}

/** `/proc/net/dev` → byte counters per interface, skipping loopback and container veth pairs. */
export function parseNetDev(text: string): Map<string, NetCounters> {
  const out = new Map<string, NetCounters>()
  for (const line of text.split('\n').slice(2)) {
    const idx = line.indexOf(':')
    if (idx < 0) continue
    const iface = line.slice(0, idx).trim()
    if (iface === 'lo' || iface.startsWith('veth')) continue
    const f = line
      .slice(idx + 1)
      .trim()
      .split(/\s+/)
      .map(Number)
    out.set(iface, { rxBytes: f[0] ?? 0, txBytes: f[8] ?? 0 })
  }
  return out
}

/** File system types that hold no user data (kernel interfaces, memory-backed, container layers, snaps). */
const PSEUDO_FS = new Set([
  'proc',
  'sysfs',
  'devtmpfs',
  'devpts',
  'tmpfs',
  'cgroup',
  'cgroup2',
  'mqueue',
  'debugfs',
  'tracefs',
  'securityfs',
  'pstore',
  'bpf',
  'autofs',
  'configfs',
  'fusectl',
  'hugetlbfs',
  'nsfs',
  'binfmt_misc',
  'ramfs',
  'squashfs',
  'efivarfs',
  'rpc_pipefs',
  'nfsd',
  'selinuxfs',
  'fuse.lxcfs',
  'fuse.gvfsd-fuse',
  'fuse.portal',
  'fuse.snapfuse',
  'overlay',
  'aufs',
  'shm',
  'devfs',
  'iso9660',
  'zfs_snapshot',
])

export interface Mount {
  mount: string
  device: string
  fsType: string
  devId: string
}

/** Decodes the octal escapes (`\040` for a space) the kernel uses in mount paths. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))
}

/**
 * `/proc/self/mountinfo` → real filesystems, one per device (a device mounted several times — bind mounts, Docker
 * volumes — is reported once, at its shortest path). The root is kept even when it is an overlay.
 */
/**
 * The filesystems of a mountinfo text, whichever view it is: the host's own (the host's PID 1 read through its
 * /proc mounted into a container: paths are the host's, `/` is the host's root) or a container's view in which the
 * host's root is mounted at `rootfs` (paths under `rootfs` are the host's). Only the second needs the prefix cut.
 */
export function hostMounts(text: string, rootfs: string): Mount[] {
  if (!rootfs) return parseMountinfo(text)
  const containerView = text.split('\n').some((l) => {
    const m = unescapeMount(l.split(' ')[4] ?? '')
    return m === rootfs || m.startsWith(`${rootfs}/`)
  })
  return parseMountinfo(text, containerView ? rootfs : '')
}

export function parseMountinfo(text: string, rootPrefix = ''): Mount[] {
  const byDev = new Map<string, Mount>()
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ')
    if (sep < 0) continue
    const left = line.slice(0, sep).split(' ')
    const right = line.slice(sep + 3).split(' ')
    const devId = left[2] ?? ''
    const root = left[3] ?? '/'
    let mount = unescapeMount(left[4] ?? '')
    const fsType = right[0] ?? ''
    const device = unescapeMount(right[1] ?? '')
    if (rootPrefix) {
      if (mount !== rootPrefix && !mount.startsWith(`${rootPrefix}/`)) continue
      mount = mount.slice(rootPrefix.length) || '/'
    }
    const isRoot = mount === '/'
    if (!isRoot && PSEUDO_FS.has(fsType)) continue
    if (
      !isRoot &&
      (mount.startsWith('/proc') ||
        mount.startsWith('/sys') ||
        mount.startsWith('/dev') ||
        mount.startsWith('/run'))
    )
      continue
    if (
      !isRoot &&
      (mount.includes('/docker/') || mount.includes('/containerd/') || mount.startsWith('/snap/'))
    )
      continue
    // Only the mount of a device's own root counts; a subdirectory bind mount would count the same bytes again.
    if (!isRoot && root !== '/') continue
    const prev = byDev.get(devId)
    if (!prev || mount.length < prev.mount.length) byDev.set(devId, { mount, device, fsType, devId })
  }
  return [...byDev.values()].sort((a, b) => a.mount.localeCompare(b.mount))
}
