import { describe, expect, it } from 'vitest'
import { toUnitInfo, toUnitStats } from './convert.js'

// Properties as systemd 252 returns them over D-Bus (Get on org.freedesktop.systemd1.Unit / .Service), unwrapped.
const nginxUnit = {
  Description: 'A high performance web server and a reverse proxy server',
  LoadState: 'loaded',
  ActiveState: 'active',
  SubState: 'running',
  UnitFileState: 'enabled',
  StateChangeTimestamp: 1_700_000_000_123_456,
}
const nginxService = {
  Result: 'success',
  MainPID: 812,
  NRestarts: 2,
  MemoryCurrent: 6_459_392,
  CPUUsageNSec: 81_000_000,
  TasksCurrent: 3,
}
const allowed = { allowed: true, reason: 'the name matches HOMELAB_SYSTEMD_CONTROL pattern "nginx*"' }

describe('systemd properties to the contract', () => {
  it('maps a running service', () => {
    expect(toUnitInfo('nginx.service', nginxUnit, nginxService, allowed)).toStrictEqual({
      name: 'nginx.service',
      description: 'A high performance web server and a reverse proxy server',
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
      unitFileState: 'enabled',
      result: 'success',
      mainPid: 812,
      nRestarts: 2,
      since: 1_700_000_000_123,
      control: allowed,
    })
  })

  it('gives a non-service unit no result, pid or restarts, and fills what systemd left out', () => {
    const info = toUnitInfo('backup.timer', { ActiveState: 'active', SubState: 'waiting' }, {}, allowed)
    expect(info).toMatchObject({
      loadState: 'loaded',
      subState: 'waiting',
      unitFileState: '',
      description: '',
      result: null,
      mainPid: null,
      nRestarts: null,
      since: null,
    })
  })

  it("treats systemd's UINT64_MAX and wrong types as unknown", () => {
    const s = { ...nginxService, MemoryCurrent: 2 ** 64 - 1, TasksCurrent: '3', NRestarts: -1 }
    expect(toUnitInfo('nginx.service', nginxUnit, s, allowed).nRestarts).toBe(0)
    const { stats } = toUnitStats('active', s, { ns: null, at: 0 }, 1000)
    expect(stats).toStrictEqual({ memoryBytes: null, cpuPercent: null, tasks: null })
  })

  it('computes CPU as percent of one core between two samples, never across a reset or while stopped', () => {
    const first = toUnitStats('active', nginxService, { ns: null, at: 0 }, 10_000)
    expect(first.stats).toStrictEqual({ memoryBytes: 6_459_392, cpuPercent: null, tasks: 3 })
    // 250 ms of CPU in 5 s = 5 % of one core.
    const second = toUnitStats('active', { ...nginxService, CPUUsageNSec: 331_000_000 }, first.cpu, 15_000)
    expect(second.stats.cpuPercent).toBeCloseTo(5, 6)
    const reset = toUnitStats('active', { ...nginxService, CPUUsageNSec: 1_000 }, second.cpu, 20_000)
    expect(reset.stats.cpuPercent).toBeNull()
    const stopped = toUnitStats('inactive', nginxService, second.cpu, 20_000)
    expect(stopped.stats).toStrictEqual({ memoryBytes: null, cpuPercent: null, tasks: null })
  })
})
