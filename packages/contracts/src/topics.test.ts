import { describe, expect, it } from 'vitest'
import { sanitizeHostId } from './envelope.js'
import { createTopics } from './topics.js'

describe('topics', () => {
  const t = createTopics('homelab')

  it('builds and parses every channel back to its parts', () => {
    expect(t.parse(t.availability('pi', 'sys-collector'))).toStrictEqual({
      channel: 'availability',
      host: 'pi',
      service: 'sys-collector',
    })
    expect(t.parse(t.reading('pi', 'sys-collector', 'system'))).toStrictEqual({
      channel: 'reading',
      host: 'pi',
      service: 'sys-collector',
      kind: 'system',
      entity: null,
    })
    expect(t.parse(t.reading('pi', 'docker-collector', 'container', 'web'))).toStrictEqual({
      channel: 'reading',
      host: 'pi',
      service: 'docker-collector',
      kind: 'container',
      entity: 'web',
    })
    expect(t.parse(t.event('pi', 'recorder', 'service.availability'))).toStrictEqual({
      channel: 'event',
      host: 'pi',
      service: 'recorder',
      type: 'service.availability',
    })
    expect(t.parse(t.set('pi', 'docker-collector', 'web'))).toStrictEqual({
      channel: 'set',
      host: 'pi',
      service: 'docker-collector',
      target: 'web',
    })
    expect(t.parse(t.reply('pi', 'docker-collector', 'gw-1'))).toStrictEqual({
      channel: 'reply',
      host: 'pi',
      service: 'docker-collector',
      client: 'gw-1',
    })
    expect(t.parse(t.cmd('pi', 'systemd-collector'))).toStrictEqual({
      channel: 'cmd',
      host: 'pi',
      service: 'systemd-collector',
    })
  })

  it('supports a multi-level base topic', () => {
    const deep = createTopics('home/lab')
    expect(deep.parse(deep.status('pi', 'gateway'))).toStrictEqual({
      channel: 'status',
      host: 'pi',
      service: 'gateway',
    })
    expect(deep.all()).toBe('home/lab/#')
  })

  it('rejects topics outside the tree', () => {
    for (const bad of [
      'other/pi/sys-collector/status',
      'homelab/PI/sys-collector/status',
      'homelab/pi/unknown/status',
      'homelab/pi/sys-collector/nope',
      'homelab/pi/sys-collector/status/extra',
      'homelab/pi/sys-collector/reading',
    ]) {
      expect(t.parse(bad), bad).toBeNull()
    }
  })

  it('refuses names that would break the tree', () => {
    expect(() => t.set('pi', 'docker-collector', 'a/b')).toThrow()
    expect(() => t.set('pi', 'docker-collector', '+')).toThrow()
    expect(() => createTopics('a/#')).toThrow()
  })

  it('sanitizes host names into host ids', () => {
    expect(sanitizeHostId('My_Pi.local')).toBe('my-pi-local')
    expect(sanitizeHostId('---')).toBe('host')
    expect(sanitizeHostId('x'.repeat(80))).toHaveLength(63)
  })
})

describe('topic filters', () => {
  const t = createTopics('homelab')

  it('covers one channel, any host and service unless given', () => {
    expect(t.filter('availability')).toBe('homelab/+/+/availability')
    expect(t.filter('status', { host: 'pi' })).toBe('homelab/pi/+/status')
    expect(t.filter('reading')).toBe('homelab/+/+/reading/#')
    expect(t.filter('event')).toBe('homelab/+/+/event/+')
    expect(t.filter('event', { host: 'pi', service: 'docker-collector', deep: true })).toBe(
      'homelab/pi/docker-collector/event/#',
    )
    expect(t.filter('set', { host: 'pi', service: 'systemd-collector' })).toBe(
      'homelab/pi/systemd-collector/set/+',
    )
    expect(t.filter('notify', { service: 'alerter' })).toBe('homelab/+/alerter/notify/+')
    expect(t.filter('cmd')).toBe('homelab/+/+/cmd')
  })

  it('matches exactly the topics its builders make', () => {
    const matches = (filter: string, topic: string) => {
      const f = filter.split('/')
      const p = topic.split('/')
      for (let i = 0; i < f.length; i++) {
        if (f[i] === '#') return true
        if (f[i] !== '+' && f[i] !== p[i]) return false
      }
      return f.length === p.length
    }
    expect(matches(t.filter('reading'), t.reading('pi', 'docker-collector', 'container', 'web'))).toBe(true)
    expect(matches(t.filter('reading'), t.reading('pi', 'sys-collector', 'system'))).toBe(true)
    expect(matches(t.filter('event'), t.event('pi', 'recorder', 'service.availability'))).toBe(true)
    expect(matches(t.filter('event'), t.status('pi', 'recorder'))).toBe(false)
    expect(matches(t.filter('availability', { host: 'nas' }), t.availability('pi', 'recorder'))).toBe(false)
  })

  it('refuses a host that is not one topic level', () => {
    expect(() => t.filter('status', { host: '+' })).toThrow()
    expect(() => t.filter('status', { host: 'a/b' })).toThrow()
  })
})
