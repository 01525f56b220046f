import type { Event, Sample } from '@homelab/contracts'
import { describe, expect, it } from 'vitest'
import { Evaluator, type Instance, type Transition } from './evaluator.js'
import { parseRules, type Rule } from './rules.js'

/** An engine on a clock the test drives, with every transition and persisted change recorded. */
function setup(rules: unknown[]) {
  let now = 1_700_000_000_000
  const transitions: Transition[] = []
  const saved = new Map<string, Instance>()
  const engine = new Evaluator({
    now: () => now,
    noDataMs: 600_000,
    self: { host: 'pi', service: 'alerter' },
    onTransition: (t) => transitions.push(t),
    onChange: (id, inst) => (inst ? saved.set(id, structuredClone(inst)) : saved.delete(id)),
  })
  engine.setRules(parseRules({ rules }).set)
  return {
    engine,
    transitions,
    saved,
    get now() {
      return now
    },
    advance(ms: number) {
      now += ms
      engine.tick()
    },
    /** One system reading at the current time with these samples. */
    reading(samples: Sample[], host = 'pi') {
      engine.onReading(host, 'system', null, now, now, samples, 5000)
    },
    event(type: string, subject: string, data: Record<string, unknown> = {}, host = 'pi') {
      const e: Event = {
        v: 1,
        ts: now,
        host,
        source: 'docker-collector',
        id: `${type}-${now}-${Math.random()}`,
        type,
        severity: 'info',
        subject,
        message: `${type} ${subject}`,
        data,
      }
      engine.onEvent(e)
    },
  }
}

const cpu: Rule | object = {
  id: 'cpu-high',
  type: 'threshold',
  metric: 'cpu.usage',
  op: '>',
  value: 90,
  for: '5m',
  resolve: { value: 80, for: '1m' },
  unit: '%',
}

describe('threshold rules (driven readings, every 5 s)', () => {
  it('fire only after the condition held for its duration, once', () => {
    const t = setup([cpu])
    for (let i = 0; i < 60; i++) {
      t.reading([['cpu.usage', 95]])
      t.advance(5000)
    }
    // 60 readings over 4 min 55 s: pending, not firing.
    expect(t.transitions).toEqual([])
    expect(t.engine.list()[0]?.alert.state).toBe('pending')
    t.reading([['cpu.usage', 95]]) // 5 min after the first
    expect(t.transitions.map((x) => x.state)).toEqual(['firing'])
    expect(t.transitions[0]?.alert).toMatchObject({
      rule: 'cpu-high',
      host: 'pi',
      subject: 'system',
      value: 95,
    })
    for (let i = 0; i < 100; i++) {
      t.advance(5000)
      t.reading([['cpu.usage', 99]])
    }
    expect(t.transitions).toHaveLength(1)
  })

  it('a pending alert whose condition stops holding goes away without a word', () => {
    const t = setup([cpu])
    t.reading([['cpu.usage', 95]])
    t.advance(240_000)
    t.reading([['cpu.usage', 95]])
    t.advance(5000)
    t.reading([['cpu.usage', 89]])
    t.advance(120_000)
    t.reading([['cpu.usage', 95]])
    expect(t.transitions).toEqual([])
    // The duration starts again from the new crossing.
    expect(t.engine.list()[0]?.alert.since).toBe(t.now)
  })

  it('resolve only past the resolve value, held for the resolve duration', () => {
    const t = setup([cpu])
    t.reading([['cpu.usage', 95]])
    t.advance(300_000)
    t.reading([['cpu.usage', 95]])
    expect(t.transitions.map((x) => x.state)).toEqual(['firing'])
    // Below the trigger but above the resolve value: still firing, for as long as it stays there.
    for (let i = 0; i < 60; i++) {
      t.advance(5000)
      t.reading([['cpu.usage', 85]])
    }
    expect(t.transitions).toHaveLength(1)
    // Below 80, but for less than a minute, then back up: still firing.
    for (let i = 0; i < 11; i++) {
      t.advance(5000)
      t.reading([['cpu.usage', 70]])
    }
    t.advance(5000)
    t.reading([['cpu.usage', 82]])
    expect(t.transitions).toHaveLength(1)
    // Below 80 for a full minute: resolved, once.
    for (let i = 0; i <= 12; i++) {
      t.advance(5000)
      t.reading([['cpu.usage', 70]])
    }
    expect(t.transitions.map((x) => [x.state, x.reason])).toEqual([
      ['firing', null],
      ['resolved', 'condition'],
    ])
    expect(t.engine.list()).toEqual([])
  })

  it('never flaps at the boundary', () => {
    const t = setup([{ ...cpu, for: 0, resolve: { value: 80 } }])
    // A value dancing around the trigger fires once and stays firing (it never goes below the resolve value).
    for (let i = 0; i < 500; i++) {
      t.reading([['cpu.usage', i % 2 ? 90.1 : 89.9]])
      t.advance(5000)
    }
    expect(t.transitions.map((x) => x.state)).toEqual(['firing'])
    // Dancing around the resolve value resolves once and does not fire again (it never goes above the trigger).
    for (let i = 0; i < 500; i++) {
      t.reading([['cpu.usage', i % 2 ? 80.1 : 79.9]])
      t.advance(5000)
    }
    expect(t.transitions.map((x) => x.state)).toEqual(['firing', 'resolved'])
    // Exactly at the trigger value is not above it.
    t.reading([['cpu.usage', 90]])
    expect(t.transitions).toHaveLength(2)
  })

  it('one alert per labelled series, matched by label globs and hosts', () => {
    const t = setup([
      {
        id: 'disk',
        type: 'threshold',
        metric: 'fs.percent',
        labels: { mount: '/mnt/*' },
        hosts: 'nas*',
        op: '>=',
        value: 90,
      },
    ])
    t.reading(
      [
        ['fs.percent{mount=/}', 99],
        ['fs.percent{mount=/mnt/a}', 95],
        ['fs.percent{mount=/mnt/b}', 90],
        ['fs.percent{mount=/mnt/c}', 50],
      ],
      'nas1',
    )
    t.reading([['fs.percent{mount=/mnt/a}', 99]], 'pi')
    expect(t.transitions.map((x) => `${x.alert.host}:${x.alert.subject}`).sort()).toEqual([
      'nas1:/mnt/a',
      'nas1:/mnt/b',
    ])
    expect(t.transitions[0]?.alert.series).toBe('fs.percent{mount=/mnt/a}')
    expect(t.transitions[0]?.alert.labels).toEqual({ mount: '/mnt/a' })
  })

  it('the rules view shows what each rule watches: firing first, at most 50', () => {
    const t = setup([{ id: 'disk', type: 'threshold', metric: 'fs.percent', op: '>', value: 90 }])
    const samples: Sample[] = Array.from({ length: 80 }, (_, i) => [
      `fs.percent{mount=/m${String(i).padStart(2, '0')}}`,
      i === 77 ? 95 : 10,
    ])
    t.reading(samples)
    const [view] = t.engine.views(
      parseRules({ rules: [{ id: 'disk', type: 'threshold', metric: 'fs.percent', op: '>', value: 90 }] }).set
        .rules,
      new Map(),
    )
    expect(view?.instances).toHaveLength(50)
    expect(view?.instances[0]).toEqual({ host: 'pi', subject: '/m77', value: 95, state: 'firing' })
    expect(view?.instances[1]).toMatchObject({ subject: '/m00', value: 10, state: 'ok' })
    expect(view?.summary).toBe('fs.percent > 90; resolves below 90')
  })

  it('a series that stops sending resolves as no_data; an older sample than the last is ignored', () => {
    const t = setup([{ ...cpu, for: 0 }])
    t.reading([['cpu.usage', 95]])
    t.engine.onReading('pi', 'system', null, t.now - 60_000, t.now, [['cpu.usage', 10]], 5000)
    expect(t.engine.list()[0]?.alert.value).toBe(95)
    t.advance(600_000)
    expect(t.transitions.map((x) => [x.state, x.reason])).toEqual([
      ['firing', null],
      ['resolved', 'no_data'],
    ])
  })

  it('a restored firing alert carries on without being announced again', () => {
    const rule = { ...cpu, for: 0, resolve: { value: 80 } }
    const a = setup([rule])
    a.reading([['cpu.usage', 95]])
    expect(a.transitions).toHaveLength(1)
    const b = setup([rule])
    b.engine.restore([...a.saved.values()], () => false)
    b.engine.setRules(parseRules({ rules: [rule] }).set)
    b.reading([['cpu.usage', 97]])
    expect(b.transitions).toEqual([])
    expect(b.engine.list()[0]?.alert).toMatchObject({
      state: 'firing',
      episode: a.transitions[0]?.alert.episode,
    })
    b.advance(5000)
    b.reading([['cpu.usage', 10]])
    expect(b.transitions.map((x) => [x.state, x.alert.episode])).toEqual([
      ['resolved', a.transitions[0]?.alert.episode],
    ])
  })

  it('a removed or disabled rule resolves its alerts', () => {
    const t = setup([{ ...cpu, for: 0 }])
    t.reading([['cpu.usage', 95]])
    t.engine.setRules(parseRules({ rules: [{ ...cpu, for: 0, enabled: false }] }).set)
    expect(t.transitions.map((x) => [x.state, x.reason])).toEqual([
      ['firing', null],
      ['resolved', 'rule_removed'],
    ])
  })
})

describe('event rules', () => {
  const crashed = {
    id: 'crashed',
    type: 'event',
    match: { event: 'container.die', where: { exitCode: { notIn: [0, 143] } } },
    resolve: { on: [{ event: 'container.start' }], after: '2m' },
  }

  it('fire on a matching event and resolve after the resolving event and a quiet period', () => {
    const t = setup([crashed])
    t.event('container.die', 'web', { exitCode: 0 })
    t.event('container.die', 'web', { exitCode: 143 })
    expect(t.transitions).toEqual([])
    t.event('container.die', 'web', { exitCode: 2 })
    expect(t.transitions.map((x) => [x.state, x.alert.subject])).toEqual([['firing', 'web']])
    t.advance(3_600_000)
    expect(t.transitions).toHaveLength(1) // no resolving event yet
    t.event('container.start', 'web')
    t.advance(60_000)
    t.event('container.die', 'web', { exitCode: 1 }) // crashed again before the quiet period ended
    t.advance(120_000)
    expect(t.transitions).toHaveLength(1)
    t.event('container.start', 'web')
    t.advance(119_000)
    expect(t.transitions).toHaveLength(1)
    t.advance(1000)
    expect(t.transitions.map((x) => [x.state, x.reason])).toEqual([
      ['firing', null],
      ['resolved', 'condition'],
    ])
  })

  it('count within a window: 3 restarts in 10 minutes fire, 3 spread wider do not', () => {
    const t = setup([
      {
        id: 'loop',
        type: 'event',
        match: { event: 'container.restart' },
        count: 3,
        within: '10m',
        resolve: { after: '10m' },
      },
    ])
    t.event('container.restart', 'db')
    t.advance(400_000)
    t.event('container.restart', 'db')
    t.advance(400_000)
    t.event('container.restart', 'db') // the first is out of the window now
    expect(t.transitions).toEqual([])
    t.advance(60_000)
    t.event('container.restart', 'db')
    expect(t.transitions.map((x) => [x.state, x.alert.value])).toEqual([['firing', 3]])
    t.advance(599_000)
    expect(t.transitions).toHaveLength(1)
    t.advance(1000)
    expect(t.transitions.map((x) => [x.state, x.reason])).toEqual([
      ['firing', null],
      ['resolved', 'quiet'],
    ])
  })
})

describe('silence rules', () => {
  it('a service offline for longer than its time fires; back online resolves', () => {
    const t = setup([{ id: 'offline', type: 'availability', for: '2m' }])
    t.engine.onAvailability('pi', 'docker-collector', 'offline')
    t.engine.onAvailability('pi', 'alerter', 'offline') // its own: never watched by itself
    t.advance(119_000)
    expect(t.transitions).toEqual([])
    t.advance(1000)
    expect(t.transitions.map((x) => [x.state, x.alert.subject])).toEqual([['firing', 'docker-collector']])
    t.engine.onAvailability('pi', 'docker-collector', 'online')
    expect(t.transitions.map((x) => x.state)).toEqual(['firing', 'resolved'])
    // Offline briefly: nothing.
    t.engine.onAvailability('pi', 'docker-collector', 'offline')
    t.advance(30_000)
    t.engine.onAvailability('pi', 'docker-collector', 'online')
    t.advance(300_000)
    expect(t.transitions).toHaveLength(2)
  })

  it('a service that was only waiting out its offline time when the alerter stopped starts its wait again', () => {
    const rule = { id: 'offline', type: 'availability', for: '2m' }
    const a = setup([rule])
    a.engine.onAvailability('pi', 'recorder', 'offline')
    expect([...a.saved.values()].map((i) => i.alert.state)).toEqual(['pending'])
    const b = setup([rule])
    b.advance(3_600_000) // the alerter was away for an hour
    b.engine.restore([...a.saved.values()], (id) => id === 'offline')
    b.advance(1000)
    expect(b.transitions).toEqual([])
    // The retained topic says online when it is back: nothing to announce.
    b.engine.onAvailability('pi', 'recorder', 'online')
    expect(b.transitions).toEqual([])
  })

  it('a host that stops sending readings fires after N of its intervals; a new reading resolves', () => {
    const t = setup([{ id: 'silent', type: 'stale', reading: 'system', intervals: 6, atLeast: '10s' }])
    t.reading([['cpu.usage', 1]])
    t.advance(30_000) // 6 × 5 s: not more than the limit yet
    expect(t.transitions).toEqual([])
    t.advance(1000)
    expect(t.transitions.map((x) => [x.state, x.alert.subject, x.alert.host])).toEqual([
      ['firing', 'system', 'pi'],
    ])
    t.advance(60_000)
    expect(t.transitions).toHaveLength(1)
    // The retained (old) reading seen again after a restart is not a new reading.
    t.engine.onReading('pi', 'system', null, t.now - 91_000, t.now - 91_000, [], 5000)
    expect(t.transitions).toHaveLength(1)
    t.reading([['cpu.usage', 1]])
    expect(t.transitions.map((x) => x.state)).toEqual(['firing', 'resolved'])
  })
})
