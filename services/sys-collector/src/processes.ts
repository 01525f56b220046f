import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { ProcessInfo, ProcessState } from '@homelab/contracts'
import { readSmallFile } from '@homelab/service-kit'

/**
 * Reads the host's processes from `/proc/[pid]` (no child process, no library): every process's `stat` on each
 * sample (its CPU ticks, resident pages, state, threads), and the command line, owner and cgroup only of the
 * processes that make the top lists (cached for as long as the same process lives). The reads are synchronous with
 * one reused buffer: at 400 processes that is cheaper than 400 round trips through libuv's thread pool. Each
 * process's `stat` stays open between samples (up to MAX_OPEN_STATS of them), so a sample costs one pread per
 * process rather than an open, a read and a close.
 */

/** `/proc/[pid]/stat` → the fields the sampler uses; null when it is not a stat line. Pure. */
export function parsePidStat(text: string): {
  name: string
  state: string
  ticks: number
  threads: number
  startTicks: number
  rssPages: number
} | null {
  // The name is between the first "(" and the last ")": it may itself hold spaces and parentheses.
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) return null
  const f = text.slice(close + 2).split(' ')
  // After the name: state is field 3 of stat(5), so f[i] is field i + 3.
  const num = (field: number) => Number(f[field - 3])
  const ticks = num(14) + num(15)
  const out = {
    name: text.slice(open + 1, close),
    state: f[0] ?? '?',
    ticks,
    threads: num(20),
    startTicks: num(22),
    rssPages: num(24),
  }
  return Number.isFinite(ticks) && Number.isFinite(out.startTicks) && Number.isFinite(out.rssPages)
    ? out
    : null
}

const STATES: Record<string, ProcessState> = {
  R: 'running',
  S: 'sleeping',
  D: 'disk-sleep',
  T: 'stopped',
  t: 'stopped',
  Z: 'zombie',
  X: 'zombie',
  I: 'idle',
}
export const processState = (code: string): ProcessState => STATES[code] ?? 'other'

/** A NUL-separated `/proc/[pid]/cmdline` as one line, cut at `max` characters with "…". Pure. */
export function commandLine(raw: string, max = 200): string {
  const s = raw
    .replace(/\0+$/, '')
    .replace(/\0/g, ' ')
    .replace(/\p{Cc}/gu, ' ')
  return s.length > max ? `${s.slice(0, max - 1)}…` : s
}

/**
 * Where a process's cgroup (`/proc/[pid]/cgroup`) puts it: the Docker container (`docker-<id>.scope` with the
 * systemd driver, `/docker/<id>` with cgroupfs) and the systemd unit (the last `.service` or `.scope` level). Pure.
 */
export function cgroupPlace(text: string): { containerId: string | null; unit: string | null } {
  // cgroup v2 has one "0::<path>" line; with v1 the systemd hierarchy (name=systemd) carries the units.
  const lines = text.split('\n').filter(Boolean)
  const path =
    lines.find((l) => l.startsWith('0::'))?.slice(3) ??
    lines.find((l) => l.includes(':name=systemd:'))?.split(':')[2] ??
    lines[0]?.split(':')[2] ??
    ''
  const all = lines.join('\n')
  const container = /(?:docker-|\/docker\/)([0-9a-f]{64})/.exec(all)
  const units = path.split('/').filter((p) => /\.(service|scope)$/.test(p))
  const unit = units.at(-1) ?? null
  return { containerId: container?.[1] ?? null, unit: container ? null : unit }
}

/** uid → user name from a passwd file's text. Pure. */
export function parsePasswd(text: string): Map<number, string> {
  const m = new Map<number, string>()
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':')
    const n = Number(uid)
    if (name && Number.isInteger(n) && !m.has(n)) m.set(n, name.slice(0, 64))
  }
  return m
}

interface Tracked {
  startTicks: number
  ticks: number
}

interface Meta {
  startTicks: number
  command: string
  user: string
  containerId: string | null
  unit: string | null
}

export interface ProcessSample {
  total: number
  running: number
  threads: number
  processes: ProcessInfo[]
}

/** USER_HZ: the unit of the tick counts in stat, 100 on every Linux architecture. */
const TICKS_PER_SEC = 100
/**
 * `stat` files kept open between samples at most (and never more than a quarter of the process's limit on open
 * files, so sockets and the database always have room); past that, the rest are opened and closed each sample.
 */
export const MAX_OPEN_STATS = 1024

/** The soft limit on open files from `/proc/self/limits`' text; null when unlimited or not found. Pure. */
export function openFilesLimit(limits: string): number | null {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(limits)
  return m?.[1] && m[1] !== 'unlimited' ? Number(m[1]) : null
}

export class ProcessReader {
  private readonly buf = Buffer.allocUnsafe(4096)
  private prev = new Map<number, Tracked>()
  private prevAt = 0
  private readonly meta = new Map<number, Meta>()
  private users = new Map<number, string>()
  private usersReadAt = 0
  private bootMs = 0
  private pageSize = 4096
  /** Counted by the caller: /proc entries that vanished or did not parse during a sample (normal, processes exit). */
  skipped = 0
  /** pid → its `/proc/[pid]/stat` kept open. The descriptor belongs to that process, not to the number: once it has
   * exited, a read fails (ESRCH) even if a new process took the pid, and the path is opened again. */
  private readonly statFds = new Map<number, number>()
  private maxOpenStats = MAX_OPEN_STATS

  constructor(
    private readonly proc: string,
    private readonly passwdPath: string,
    private readonly top: number,
  ) {}

  init(): void {
    const btime = /^btime (\d+)$/m.exec(readFileSync(join(this.proc, 'stat'), 'utf8'))
    this.bootMs = btime ? Number(btime[1]) * 1000 : 0
    // The kernel's page size, from our own resident pages (Node has no sysconf): 4 KiB, 16 KiB or 64 KiB.
    const pages = Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1])
    const guess = pages > 0 ? process.memoryUsage().rss / pages : 4096
    this.pageSize = [4096, 16384, 65536].reduce((a, b) => (Math.abs(b - guess) < Math.abs(a - guess) ? b : a))
    let limit: number | null = null
    try {
      limit = openFilesLimit(readFileSync('/proc/self/limits', 'utf8'))
    } catch {}
    this.maxOpenStats = Math.min(MAX_OPEN_STATS, limit === null ? MAX_OPEN_STATS : Math.floor(limit / 4))
  }

  /** Reads a small /proc file into the shared buffer; null when the process is gone. */
  private read(path: string): string | null {
    return readSmallFile(path, this.buf)
  }

  /** A process's `stat`, from its descriptor kept open when there is one; null when the process is gone. */
  private readStat(pid: number, entry: string): string | null {
    const kept = this.statFds.get(pid)
    if (kept !== undefined) {
      try {
        return this.buf.toString('latin1', 0, readSync(kept, this.buf, 0, this.buf.length, 0))
      } catch {
        this.closeStat(pid) // the process it was opened for has exited
      }
    }
    let fd: number
    try {
      fd = openSync(join(this.proc, entry, 'stat'), 'r')
    } catch {
      return null
    }
    let keep = false
    try {
      const text = this.buf.toString('latin1', 0, readSync(fd, this.buf, 0, this.buf.length, 0))
      keep = this.statFds.size < this.maxOpenStats
      if (keep) this.statFds.set(pid, fd)
      return text
    } catch {
      return null
    } finally {
      if (!keep) closeSync(fd)
    }
  }

  private closeStat(pid: number): void {
    const fd = this.statFds.get(pid)
    if (fd === undefined) return
    this.statFds.delete(pid)
    try {
      closeSync(fd)
    } catch {}
  }

  /** How many `stat` files are open now (for tests). */
  get openStats(): number {
    return this.statFds.size
  }

  /** Closes the `stat` files kept open. */
  close(): void {
    for (const pid of [...this.statFds.keys()]) this.closeStat(pid)
  }

  private userOf(uid: number): string {
    const now = Date.now()
    if (now - this.usersReadAt > 300_000) {
      this.usersReadAt = now
      try {
        this.users = parsePasswd(readFileSync(this.passwdPath, 'utf8'))
      } catch {
        this.users = new Map()
      }
    }
    return this.users.get(uid) ?? String(uid)
  }

  private metaOf(pid: number, startTicks: number, name: string): Meta {
    const known = this.meta.get(pid)
    if (known && known.startTicks === startTicks) return known
    const dir = join(this.proc, String(pid))
    const cmd = this.read(join(dir, 'cmdline'))
    let uid = -1
    try {
      uid = statSync(dir).uid
    } catch {}
    const place = cgroupPlace(this.read(join(dir, 'cgroup')) ?? '')
    const m: Meta = {
      startTicks,
      command: cmd ? commandLine(cmd) : `[${name}]`,
      user: uid < 0 ? '?' : this.userOf(uid),
      ...place,
    }
    this.meta.set(pid, m)
    return m
  }

  /** One sample: counts over every process, and the top `top` by CPU (since the last sample) and by memory. */
  sample(now = Date.now()): ProcessSample {
    const elapsedSec = this.prevAt > 0 ? (now - this.prevAt) / 1000 : 0
    const next = new Map<number, Tracked>()
    const rows: Array<{
      pid: number
      name: string
      state: string
      cpu: number
      rss: number
      threads: number
      startTicks: number
    }> = []
    let running = 0
    let threads = 0
    for (const entry of readdirSync(this.proc)) {
      const c = entry.charCodeAt(0)
      if (c < 48 || c > 57) continue
      const pid = Number(entry)
      const text = this.readStat(pid, entry)
      const st = text ? parsePidStat(text) : null
      if (!st) {
        this.skipped++
        continue
      }
      next.set(pid, { startTicks: st.startTicks, ticks: st.ticks })
      const before = this.prev.get(pid)
      const dt = before && before.startTicks === st.startTicks ? st.ticks - before.ticks : 0
      const cpu = elapsedSec > 0 ? Math.max(0, (100 * dt) / TICKS_PER_SEC / elapsedSec) : 0
      if (st.state === 'R') running++
      threads += Number.isFinite(st.threads) ? st.threads : 0
      rows.push({ pid, ...st, cpu, rss: st.rssPages * this.pageSize })
    }
    this.prev = next
    this.prevAt = now
    for (const pid of this.meta.keys()) if (!next.has(pid)) this.meta.delete(pid)
    for (const pid of [...this.statFds.keys()]) if (!next.has(pid)) this.closeStat(pid)

    const chosen = new Map<number, (typeof rows)[number]>()
    for (const r of [...rows].sort((a, b) => b.cpu - a.cpu || b.rss - a.rss).slice(0, this.top))
      chosen.set(r.pid, r)
    for (const r of [...rows].sort((a, b) => b.rss - a.rss).slice(0, this.top)) chosen.set(r.pid, r)
    const processes = [...chosen.values()].map((r): ProcessInfo => {
      const m = this.metaOf(r.pid, r.startTicks, r.name)
      return {
        pid: r.pid,
        name: r.name.slice(0, 64),
        command: m.command,
        user: m.user,
        cpuPercent: Math.min(102_400, Math.round(r.cpu * 10) / 10),
        rss: r.rss,
        state: processState(r.state),
        threads: Number.isFinite(r.threads) ? r.threads : 0,
        startedAt: Math.round(this.bootMs + (r.startTicks * 1000) / TICKS_PER_SEC),
        containerId: m.containerId,
        unit: m.unit,
      }
    })
    return { total: rows.length, running, threads, processes }
  }
}
