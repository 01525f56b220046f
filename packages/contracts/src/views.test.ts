import { describe, expect, it } from 'vitest'
import { syntheticContainerReading } from '../../../test/helpers/readings.js'
import { containerView } from './docker.js'
import { type UnitInfo, unitView } from './systemd.js'

describe('views shared by the gateway and the dashboard', () => {
  it('names a container by id and name, and never shows stats of one that is not running', () => {
    const r = syntheticContainerReading(1_700_000_000_000, 3, 'web')
    const running = containerView('pi', r.container, r.stats, r.ts, false)
    expect(running).toMatchObject({
      host: 'pi',
      containerId: r.container.id,
      containerName: 'web',
      status: r.container.state,
      updatedAt: r.ts,
      stale: false,
    })
    expect(r.container.state).toBe('running')
    expect(running.stats).toStrictEqual(r.stats)
    const exited = containerView('pi', { ...r.container, state: 'exited' }, r.stats, r.ts, true)
    expect(exited).toMatchObject({ status: 'exited', stale: true, stats: null })
  })

  it('keeps a unit as it is, with where it came from', () => {
    const unit: UnitInfo = {
      name: 'nginx.service',
      description: 'web server',
      loadState: 'loaded',
      activeState: 'active',
      subState: 'running',
      unitFileState: 'enabled',
      result: 'success',
      mainPid: 42,
      nRestarts: 0,
      since: 5,
      control: { allowed: false, reason: 'not in HOMELAB_SYSTEMD_CONTROL' },
    }
    const stats = { memoryBytes: 1000, cpuPercent: 1.5, tasks: 3 }
    expect(unitView('pi', unit, stats, 7, false)).toStrictEqual({
      host: 'pi',
      ...unit,
      stats,
      updatedAt: 7,
      stale: false,
    })
  })
})
