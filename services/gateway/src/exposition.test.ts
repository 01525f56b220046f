import { type LiveMessage, liveReading } from '@homelab/contracts'
import { describe, expect, it } from 'vitest'
import { syntheticContainerReading, syntheticReading } from '../../../test/helpers/readings.js'
import { exposition } from './exposition.js'

const from = (service: LiveMessage['service'], kind: string, entity: string | null = null) => ({
  topic: `homelab/pi/${service}/reading/${kind}${entity ? `/${entity}` : ''}`,
  host: 'pi',
  service,
})

describe('Prometheus exposition', () => {
  it('writes one HELP and TYPE per family, its samples together, label values escaped', () => {
    const sys = syntheticReading(1_700_000_000_000, 1, 'pi')
    sys.filesystems = [{ ...sys.filesystems[0]!, mount: 'C:\\data "x"\nnext' }]
    const c = syntheticContainerReading(1_700_000_000_000, 2, 'web', 'pi')
    const messages: LiveMessage[] = [
      liveReading(from('sys-collector', 'system'), 'system', null, sys),
      liveReading(from('docker-collector', 'container', 'web'), 'container', 'web', c),
      {
        ...from('sys-collector', 'availability'),
        topic: 'homelab/pi/sys-collector/availability',
        channel: 'availability',
        payload: 'online',
      },
      // A cleared document (a removed container) exposes nothing.
      liveReading(from('docker-collector', 'container', 'gone'), 'container', 'gone', null),
    ]
    const text = exposition(messages, 1_700_000_005_000)
    const lines = text.trimEnd().split('\n')
    // Each family's samples follow its TYPE line, and no family appears twice.
    const types = lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2])
    expect(new Set(types).size).toBe(types.length)
    let family = ''
    for (const l of lines) {
      if (l.startsWith('# TYPE ')) family = l.split(' ')[2]!
      else if (!l.startsWith('#')) expect(l.startsWith(`${family}{`)).toBe(true)
    }
    expect(text).toContain('mountpoint="C:\\\\data \\"x\\"\\nnext"')
    expect(text).toContain(`node_load1{host="pi"} ${sys.load[0]}`)
    expect(text).toContain('homelab_reading_age_seconds{host="pi"} 5')
    expect(text).toContain('homelab_service_up{host="pi",service="sys-collector"} 1')
    expect(text).toContain(
      `container_memory_usage_bytes{host="pi",name="web",image="${c.container.image}"} ${c.stats!.memoryUsed}`,
    )
    expect(text).not.toContain('name="gone"')
    // A sensor the machine does not have is left out, never written as 0.
    expect(text).not.toContain('homelab_cpu_temperature_celsius{host="pi"} 0')
  })
})
