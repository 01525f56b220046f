import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { ProcessInfo } from '@homelab/contracts'
import { afterAll, describe, expect, it } from 'vitest'
import {
  cgroupPlace,
  commandLine,
  openFilesLimit,
  ProcessReader,
  parsePasswd,
  parsePidStat,
  processState,
} from './processes.js'

describe('the /proc parsers', () => {
  it('reads a stat line whose name holds spaces and parentheses', () => {
    const line =
      '4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1200 0 3 0 150 50 0 0 20 0 7 0 123456 987654321 2048 18446744073709551615'
    expect(parsePidStat(line)).toStrictEqual({
      name: 'my (odd) name',
      state: 'S',
      ticks: 200,
      threads: 7,
      startTicks: 123456,
      rssPages: 2048,
    })
    expect(parsePidStat('garbage')).toBeNull()
    expect(parsePidStat('1 (x) S')).toBeNull()
  })

  it('spells out states and shortens command lines', () => {
    expect(processState('R')).toBe('running')
    expect(processState('D')).toBe('disk-sleep')
    expect(processState('W')).toBe('other')
    expect(commandLine('node\0server.js\0--port\x008080\0')).toBe('node server.js --port 8080')
    const long = commandLine(`x\0${'a'.repeat(500)}`)
    expect(long).toHaveLength(200)
    expect(long.endsWith('…')).toBe(true)
  })

  it('finds the container and the unit in a cgroup', () => {
    const id = 'a'.repeat(12) + 'b'.repeat(52)
    expect(cgroupPlace(`0::/system.slice/docker-${id}.scope\n`)).toStrictEqual({
      containerId: id,
      unit: null,
    })
    expect(cgroupPlace(`12:cpu:/docker/${id}\n1:name=systemd:/docker/${id}\n`).containerId).toBe(id)
    expect(cgroupPlace('0::/system.slice/nginx.service\n')).toStrictEqual({
      containerId: null,
      unit: 'nginx.service',
    })
    expect(cgroupPlace('0::/user.slice/user-1000.slice/session-3.scope\n').unit).toBe('session-3.scope')
    expect(cgroupPlace('0::/\n')).toStrictEqual({ containerId: null, unit: null })
    expect(cgroupPlace('')).toStrictEqual({ containerId: null, unit: null })
  })

  it('reads the soft limit on open files', () => {
    const limits = [
      'Limit                     Soft Limit           Hard Limit           Units',
      'Max processes             95571                95571                processes',
      'Max open files            1024                 524288               files',
    ].join('\n')
    expect(openFilesLimit(limits)).toBe(1024)
    expect(openFilesLimit(limits.replace('1024   ', 'unlimited'))).toBeNull()
    expect(openFilesLimit('garbage')).toBeNull()
  })

  it('maps uids to names, first entry wins', () => {
    const m = parsePasswd(
      'root:x:0:0:root:/root:/bin/bash\nbad line\nalice:x:1000:1000::/home/alice:/bin/sh\ntoor:x:0:0::/:/bin/sh\n',
    )
    expect(m.get(0)).toBe('root')
    expect(m.get(1000)).toBe('alice')
    expect(m.size).toBe(2)
  })
})

describe('the process reader on this machine', () => {
  // A process that keeps one core busy and holds 96 MB: it belongs at the top of both lists.
  const child = spawn(process.execPath, ['-e', 'const b = Buffer.alloc(96e6, 1); for (;;) b[0]++'], {
    stdio: 'ignore',
  })
  afterAll(() => {
    child.kill('SIGKILL')
  })

  it('lists a process the test started, with its CPU and resident memory as /proc says', async () => {
    const pid = child.pid!
    const reader = new ProcessReader('/proc', '/etc/passwd', 10)
    reader.init()
    reader.sample()
    const ticksOf = () => {
      const st = parsePidStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))!
      return st.ticks
    }
    await sleep(1500)
    const t0 = ticksOf()
    const a0 = Date.now()
    reader.sample()
    await sleep(2000)
    const s = reader.sample()
    const t1 = ticksOf()
    const a1 = Date.now()
    const p = s.processes.find((x) => x.pid === pid)
    expect(p, JSON.stringify(s.processes.map((x) => [x.pid, x.name, x.cpuPercent]))).toBeDefined()
    expect(ProcessInfo.safeParse(p).success).toBe(true)
    // The CPU % the reader computed matches the ticks /proc counted over (nearly) the same window.
    const expected = ((t1 - t0) / 100 / ((a1 - a0) / 1000)) * 100
    expect(p!.cpuPercent).toBeGreaterThan(50)
    expect(Math.abs(p!.cpuPercent - expected)).toBeLessThan(15)
    const vmRss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
    expect(p!.rss).toBeGreaterThan(90e6)
    expect(Math.abs(p!.rss - vmRss) / vmRss).toBeLessThan(0.05)
    expect(p!.command).toContain('Buffer.alloc(96e6')
    expect(p!.name).toBe('node')
    expect(p!.state === 'running' || p!.state === 'sleeping').toBe(true)
    expect(p!.user).toBe(
      readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.split(':')[2] === String(process.getuid?.()))
        ?.split(':')[0],
    )
    expect(Math.abs(p!.startedAt - Date.now())).toBeLessThan(120_000)
    // Counts cover every process, not only the listed ones.
    expect(s.total).toBeGreaterThan(s.processes.length / 2)
    expect(s.total).toBeGreaterThanOrEqual(2)
    expect(s.processes.length).toBeLessThanOrEqual(20)
    reader.close()
  })
})

describe('the stat files the reader keeps open', () => {
  /** Our own descriptors open on some process's /proc/[pid]/stat, by pid. */
  const statFdsOf = (pid: number | '*') =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`)
        return pid === '*' ? /^\/proc\/\d+\/stat$/.test(target) : target === `/proc/${pid}/stat`
      } catch {
        return false
      }
    }).length

  it('reads each process through one descriptor across samples and closes it when the process exits', async () => {
    const reader = new ProcessReader('/proc', '/etc/passwd', 10)
    reader.init()
    const child = spawn('sleep', ['60'], { stdio: 'ignore' })
    const pid = child.pid!
    await sleep(200)
    const first = reader.sample()
    expect(statFdsOf(pid)).toBe(1)
    expect(reader.openStats).toBe(first.total)
    reader.sample()
    expect(statFdsOf(pid)).toBe(1) // the same one, not another per sample

    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
    const after = reader.sample()
    expect(after.processes.some((p) => p.pid === pid)).toBe(false)
    expect(statFdsOf(pid)).toBe(0)
    expect(reader.openStats).toBe(after.total)

    reader.close()
    expect(reader.openStats).toBe(0)
    expect(statFdsOf('*')).toBe(0)
  })
})
