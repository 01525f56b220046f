import { describe, expect, it } from 'vitest'
import { aclFor, canPublish, canSubscribe, filterCovers, topicMatches } from './acl.js'

describe('ACL', () => {
  const sys = aclFor('sys-collector', 'homelab')
  const gw = aclFor('gateway', 'homelab')
  const ha = aclFor('homeassistant', 'homelab')

  it('lets a collector publish only its own readings, status, events and replies', () => {
    expect(canPublish(sys, 'homelab/pi/sys-collector/reading/system')).toBe(true)
    expect(canPublish(sys, 'homelab/pi/sys-collector/availability')).toBe(true)
    expect(canPublish(sys, 'homelab/pi/docker-collector/reading/container/x')).toBe(false)
    expect(canPublish(sys, 'homelab/pi/sys-collector/cmd')).toBe(false)
    expect(canPublish(sys, 'homelab/pi/sys-collector/set/x')).toBe(false)
    expect(canPublish(sys, 'homelab/pi/docker-collector/cmd')).toBe(false)
    expect(canPublish(sys, 'elsewhere')).toBe(false)
    expect(canPublish(sys, 'homelab/pi/sys-collector/reading/#')).toBe(false)
  })

  it('lets a collector subscribe only to its own command topics', () => {
    expect(canSubscribe(sys, 'homelab/+/sys-collector/cmd')).toBe(true)
    expect(canSubscribe(sys, 'homelab/pi/sys-collector/set/+')).toBe(true)
    expect(canSubscribe(sys, 'homelab/#')).toBe(false)
    expect(canSubscribe(sys, 'homelab/+/+/cmd')).toBe(false)
    expect(canSubscribe(sys, '#')).toBe(false)
  })

  it('lets only the gateway and Home Assistant publish commands', () => {
    expect(canPublish(gw, 'homelab/pi/docker-collector/cmd')).toBe(true)
    expect(canPublish(ha, 'homelab/pi/docker-collector/set/web')).toBe(true)
    expect(canPublish(ha, 'homeassistant/status')).toBe(true)
    expect(canPublish(ha, 'homelab/pi/sys-collector/reading/system')).toBe(false)
    expect(canPublish(aclFor('recorder', 'homelab'), 'homelab/pi/docker-collector/cmd')).toBe(false)
  })

  it('lets the alerter watch everything and publish only its alerts and notifications, never commands', () => {
    const al = aclFor('alerter', 'homelab')
    expect(canSubscribe(al, 'homelab/+/+/event/+')).toBe(true)
    expect(canPublish(al, 'homelab/pi/alerter/event/alert.firing')).toBe(true)
    expect(canPublish(al, 'homelab/pi/alerter/reading/alerts')).toBe(true)
    expect(canPublish(al, 'homelab/pi/alerter/notify/alerts')).toBe(true)
    expect(canPublish(al, 'homelab/pi/alerter/reply/gw-1')).toBe(true)
    expect(canPublish(al, 'homelab/pi/docker-collector/cmd')).toBe(false)
    expect(canPublish(al, 'homelab/pi/docker-collector/set/web')).toBe(false)
    expect(canPublish(al, 'homelab/pi/sys-collector/reading/system')).toBe(false)
    expect(canPublish(al, 'homelab/pi/sys-collector/notify/x')).toBe(false)
    // The gateway (and Home Assistant) may send it commands: ack, silence, rule edits.
    expect(canPublish(gw, 'homelab/pi/alerter/cmd')).toBe(true)
  })

  it('matches MQTT filters as the spec says', () => {
    expect(topicMatches('a/+/c', 'a/b/c')).toBe(true)
    expect(topicMatches('a/#', 'a')).toBe(true)
    expect(topicMatches('#', '$SYS/x')).toBe(false)
    expect(filterCovers('a/+/c', 'a/b/c')).toBe(true)
    expect(filterCovers('a/+/c', 'a/#')).toBe(false)
    expect(filterCovers('a/#', 'a/+/c')).toBe(true)
  })
})
