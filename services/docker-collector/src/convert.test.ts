import { describe, expect, it } from 'vitest'
import {
  countersOf,
  describeDockerError,
  healthFromStatusText,
  type InspectJson,
  type StatsJson,
  toInfo,
  toStats,
} from './convert.js'

const ID = 'a'.repeat(64)
const allowed = { allowed: true, reason: 'test' }

/** A cgroup v1 stats document as Docker 20.10 returns it with one-shot (no precpu). */
function stats(at: string, cpu: number, system: number, extra: Partial<StatsJson> = {}): StatsJson {
  return {
    read: at,
    pids_stats: { current: 3 },
    cpu_stats: {
      cpu_usage: { total_usage: cpu, percpu_usage: [0, 0] },
      system_cpu_usage: system,
      online_cpus: 2,
    },
    memory_stats: { usage: 10_000_000, limit: 64 * 1024 * 1024, stats: { total_inactive_file: 2_000_000 } },
    networks: { eth0: { rx_bytes: 1000, tx_bytes: 500 }, eth1: { rx_bytes: 24, tx_bytes: 0 } },
    blkio_stats: {
      io_service_bytes_recursive: [
        { op: 'Read', value: 4096 },
        { op: 'Write', value: 8192 },
        { op: 'Total', value: 12288 },
      ],
    },
    ...extra,
  }
}

describe('stats', () => {
  it('computes CPU as a share of one core from two reads, memory without inactive page cache, and rates', () => {
    const a = stats('2026-01-01T00:00:00Z', 1e9, 100e9)
    const b = stats('2026-01-01T00:00:05Z', 6e9, 110e9, {
      networks: { eth0: { rx_bytes: 6000, tx_bytes: 1500 } },
    })
    const ca = countersOf(a, 0)
    const first = toStats(a, ca, null)
    expect(first.cpuPercent).toBeNull()
    expect(first.networkRxRate).toBeNull()
    expect(first).toMatchObject({ memoryUsed: 8_000_000, memoryLimit: 64 * 1024 * 1024, pids: 3 })
    expect(first).toMatchObject({ networkRx: 1024, networkTx: 500, blockRead: 4096, blockWrite: 8192 })
    const cb = countersOf(b, 0)
    const s = toStats(b, cb, ca)
    // 5e9 ns of container CPU over 10e9 ns of all-CPU time on 2 CPUs = one full core.
    expect(s.cpuPercent).toBeCloseTo(100, 6)
    expect(s.networkRxRate).toBeCloseTo((6000 - 1024) / 5, 6)
    expect(s.networkTxRate).toBeCloseTo((1500 - 500) / 5, 6)
    expect(s.blockReadRate).toBe(0)
    expect(s.memoryPercent).toBeCloseTo((8_000_000 / (64 * 1024 * 1024)) * 100, 6)
  })

  it('reports null rates after a counter reset (a restart), and uses cgroup v2 inactive_file', () => {
    const a = countersOf(stats('2026-01-01T00:00:00Z', 9e9, 100e9), 0)
    const v2 = stats('2026-01-01T00:00:05Z', 1e8, 110e9, {
      memory_stats: { usage: 5_000_000, limit: 1e9, stats: { inactive_file: 1_000_000 } },
      networks: { eth0: { rx_bytes: 10, tx_bytes: 10 } },
    })
    const s = toStats(v2, countersOf(v2, 0), a)
    expect(s.cpuPercent).toBeNull()
    expect(s.networkRxRate).toBeNull()
    expect(s.memoryUsed).toBe(4_000_000)
  })

  it('copes with a container on the host network and without blkio (fields absent)', () => {
    const s: StatsJson = { read: '2026-01-01T00:00:00Z', memory_stats: { usage: 1, limit: 2 } }
    const r = toStats(s, countersOf(s, 0), null)
    expect(r).toMatchObject({ networkRx: 0, networkTx: 0, blockRead: 0, pids: 0, memoryUsed: 1 })
  })
})

describe('container info', () => {
  const inspect: InspectJson = {
    Id: ID,
    Name: '/web',
    Created: '2026-01-01T00:00:00.5Z',
    RestartCount: 2,
    Config: {
      Image: 'nginx:1.27',
      Labels: { 'com.docker.compose.project': 'site', 'com.docker.compose.service': 'web' },
    },
    State: {
      Status: 'running',
      ExitCode: 0,
      OOMKilled: false,
      StartedAt: '2026-01-01T00:00:01Z',
      FinishedAt: '0001-01-01T00:00:00Z',
      Health: { Status: 'healthy' },
    },
    HostConfig: { Memory: 0 },
    NetworkSettings: {
      Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null, '53/udp': [] },
    },
  }

  it('maps inspect output, with compose labels, ports and zero times as null', () => {
    const i = toInfo(inspect, allowed, 'Up 5 minutes (healthy)')
    expect(i).toStrictEqual({
      id: ID,
      name: 'web',
      image: 'nginx:1.27',
      composeProject: 'site',
      composeService: 'web',
      state: 'running',
      statusText: 'Up 5 minutes (healthy)',
      health: 'healthy',
      restartCount: 2,
      createdAt: Date.parse('2026-01-01T00:00:00.5Z'),
      startedAt: Date.parse('2026-01-01T00:00:01Z'),
      finishedAt: null,
      exitCode: null,
      oomKilled: false,
      memoryLimitSet: null,
      ports: [
        { privatePort: 80, publicPort: 8080, type: 'tcp', ip: '0.0.0.0' },
        { privatePort: 443, publicPort: null, type: 'tcp', ip: null },
        { privatePort: 53, publicPort: null, type: 'udp', ip: null },
      ],
      control: allowed,
    })
  })

  it('keeps the exit code of an exited container and writes a status text when the list gave none', () => {
    const i = toInfo(
      {
        ...inspect,
        State: { Status: 'exited', ExitCode: 137, OOMKilled: true, FinishedAt: '2026-01-01T01:00:00Z' },
        HostConfig: { Memory: 8 * 1024 * 1024 },
      },
      allowed,
    )
    expect(i).toMatchObject({ state: 'exited', exitCode: 137, oomKilled: true, statusText: 'Exited (137)' })
    expect(i.memoryLimitSet).toBe(8 * 1024 * 1024)
    expect(toInfo({ Id: ID, State: { Status: 'weird' } }, allowed).state).toBe('dead')
  })

  it('reads health from the list text and names the fix for socket errors', () => {
    expect(healthFromStatusText('Up 3 seconds (health: starting)')).toBe('starting')
    expect(healthFromStatusText('Up 1 hour (unhealthy)')).toBe('unhealthy')
    expect(healthFromStatusText('Exited (0) 3 days ago')).toBe('none')
    expect(describeDockerError({ code: 'EACCES' }, '/var/run/docker.sock')).toMatch(
      /docker" group|socket proxy/,
    )
    expect(describeDockerError({ code: 'ENOENT' }, '/x.sock')).toMatch(/no Docker socket at \/x\.sock/)
  })
})
