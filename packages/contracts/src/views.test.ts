import { describe, expect, it } from 'vitest'
import { syntheticContainerReading, syntheticUnitReading } from '../../../test/helpers/readings.js'
import { containerView } from './docker.js'
import { unitView } from './systemd.js'

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
    const { unit, stats } = syntheticUnitReading(7, 'nginx.service')
    expect(unitView('pi', unit, stats, 7, false)).toStrictEqual({
      host: 'pi',
      ...unit,
      stats,
      updatedAt: 7,
      stale: false,
    })
  })
})
