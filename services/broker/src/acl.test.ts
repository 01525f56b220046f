import { describe, expect, it } from 'vitest'
import {
  aclFor,
  canPublish,
  canSubscribe,
  clientIdAllowed,
  filterCovers,
  type Identity,
  identityOf,
  mosquittoAcl,
  topicMatches,
} from './acl.js'

const id = (user: string): Identity => {
  const i = identityOf(user, 'pi')
  if (!i) throw new Error(`no identity for ${user}`)
  return i
}

describe('ACL', () => {
  const sys = aclFor(id('sys-collector'), 'homelab')
  const gw = aclFor(id('gateway'), 'homelab')
  const ha = aclFor(id('homeassistant'), 'homelab')

  it('lets a collector publish only its own readings, status, events and replies, on its own host', () => {
    expect(canPublish(sys, 'homelab/pi/sys-collector/reading/system')).toBe(true)
    expect(canPublish(sys, 'homelab/pi/sys-collector/availability')).toBe(true)
    expect(canPublish(sys, 'homelab/pi/sys-collector/event/host.boot')).toBe(true)
    expect(canPublish(sys, 'homelab/pi2/sys-collector/reading/system')).toBe(false)
    expect(canPublish(sys, 'homelab/pi2/sys-collector/availability')).toBe(false)
    expect(canPublish(sys, 'homelab/pi/docker-collector/reading/container/x')).toBe(false)
    expect(canPublish(sys, 'homelab/pi/sys-collector/cmd')).toBe(false)
    expect(canPublish(sys, 'homelab/pi/sys-collector/set/x')).toBe(false)
    expect(canPublish(sys, 'homelab/pi/docker-collector/cmd')).toBe(false)
    expect(canPublish(sys, 'elsewhere')).toBe(false)
    expect(canPublish(sys, 'homelab/pi/sys-collector/reading/#')).toBe(false)
  })

  it('binds an enrolled machine’s collectors to that machine', () => {
    const agent = aclFor(id('docker-collector@pi2'), 'homelab')
    expect(canPublish(agent, 'homelab/pi2/docker-collector/reading/container/web')).toBe(true)
    expect(canPublish(agent, 'homelab/pi/docker-collector/reading/container/web')).toBe(false)
    expect(canPublish(agent, 'homelab/pi2/sys-collector/reading/system')).toBe(false)
    expect(canSubscribe(agent, 'homelab/pi2/docker-collector/cmd')).toBe(true)
    expect(canSubscribe(agent, 'homelab/pi/docker-collector/cmd')).toBe(false)
    expect(identityOf('docker-collector@Not_A_Host', 'pi')).toBeNull()
    expect(identityOf('recorder@pi2', 'pi')).toBeNull()
    expect(identityOf('nobody', 'pi')).toBeNull()
  })

  it('lets a collector write only its own host’s Home Assistant devices of its kind', () => {
    const docker = aclFor(id('docker-collector'), 'homelab')
    expect(canPublish(sys, 'homeassistant/device/homelab_pi/config')).toBe(true)
    expect(canPublish(sys, 'homeassistant/device/homelab_pi-container-web/config')).toBe(false)
    expect(canPublish(sys, 'homeassistant/device/homelab_pi-ups-eaton/config')).toBe(true)
    expect(canPublish(sys, 'homeassistant/device/homelab_pi2-ups-eaton/config')).toBe(false)
    expect(canPublish(docker, 'homeassistant/device/homelab_pi-ups-eaton/config')).toBe(false)
    expect(canPublish(sys, 'homeassistant/device/homelab_pi2/config')).toBe(false)
    expect(canPublish(docker, 'homeassistant/device/homelab_pi-container-web/config')).toBe(true)
    expect(canPublish(docker, 'homeassistant/device/homelab_pi/config')).toBe(false)
    expect(canPublish(docker, 'homeassistant/device/homelab_pi-unit-ssh_service_1a2b3c/config')).toBe(false)
    expect(canPublish(docker, 'homeassistant/device/homelab_pi2-container-web/config')).toBe(false)
  })

  it('lets a collector subscribe only to its own command topics', () => {
    expect(canSubscribe(sys, 'homelab/pi/sys-collector/cmd')).toBe(true)
    expect(canSubscribe(sys, 'homelab/pi/sys-collector/set/+')).toBe(true)
    expect(canSubscribe(sys, 'homelab/+/sys-collector/cmd')).toBe(false)
    expect(canSubscribe(sys, 'homelab/#')).toBe(false)
    expect(canSubscribe(sys, 'homelab/+/+/cmd')).toBe(false)
    expect(canSubscribe(sys, '#')).toBe(false)
  })

  it('lets only the gateway and Home Assistant publish commands', () => {
    expect(canPublish(gw, 'homelab/pi/docker-collector/cmd')).toBe(true)
    expect(canPublish(ha, 'homelab/pi/docker-collector/set/web')).toBe(true)
    expect(canPublish(ha, 'homeassistant/status')).toBe(true)
    expect(canPublish(ha, 'homelab/pi/sys-collector/reading/system')).toBe(false)
    expect(canPublish(aclFor(id('recorder'), 'homelab'), 'homelab/pi/docker-collector/cmd')).toBe(false)
  })

  it('lets the alerter watch everything and publish only its alerts and notifications, never commands', () => {
    const al = aclFor(id('alerter'), 'homelab')
    expect(canSubscribe(al, 'homelab/+/+/event/+')).toBe(true)
    expect(canPublish(al, 'homelab/pi/alerter/event/alert.firing')).toBe(true)
    expect(canPublish(al, 'homelab/pi2/alerter/event/alert.firing')).toBe(true)
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

  it('binds client ids to users, so no user can take over another’s session', () => {
    expect(clientIdAllowed(id('sys-collector'), 'sys-collector-pi')).toBe(true)
    expect(clientIdAllowed(id('sys-collector'), 'sys-collector-pi.bench')).toBe(true)
    expect(clientIdAllowed(id('sys-collector'), 'sys-collector-pi2')).toBe(false)
    expect(clientIdAllowed(id('sys-collector'), 'sys-collector-pi-2')).toBe(false)
    expect(clientIdAllowed(id('sys-collector'), 'alerter-pi')).toBe(false)
    expect(clientIdAllowed(id('sys-collector'), 'recorder-pi')).toBe(false)
    expect(clientIdAllowed(id('sys-collector@pi2'), 'sys-collector-pi2')).toBe(true)
    expect(clientIdAllowed(id('sys-collector@pi2'), 'sys-collector-pi')).toBe(false)
    expect(clientIdAllowed(id('recorder'), 'recorder-pi')).toBe(true)
    expect(clientIdAllowed(id('recorder'), 'alerter-pi')).toBe(false)
    expect(clientIdAllowed(id('gateway'), 'gateway-pi.4242')).toBe(true)
    expect(clientIdAllowed(id('gateway'), 'recorder-pi')).toBe(false)
    expect(clientIdAllowed(id('homeassistant'), 'homeassistant-abc123')).toBe(true)
    expect(clientIdAllowed(id('homeassistant'), 'mqttjs_1234')).toBe(true)
    expect(clientIdAllowed(id('homeassistant'), 'alerter-pi')).toBe(false)
    expect(clientIdAllowed(id('homeassistant'), 'recorder-pi')).toBe(false)
    expect(clientIdAllowed(id('homeassistant'), '')).toBe(false)
  })

  it('matches MQTT filters as the spec says, and a level ending in * by prefix', () => {
    expect(topicMatches('a/+/c', 'a/b/c')).toBe(true)
    expect(topicMatches('a/#', 'a')).toBe(true)
    expect(topicMatches('#', '$SYS/x')).toBe(false)
    expect(topicMatches('a/b-*/c', 'a/b-x/c')).toBe(true)
    expect(topicMatches('a/b-*/c', 'a/b/c')).toBe(false)
    expect(topicMatches('a/b-*/c', 'a/b-x/y/c')).toBe(false)
    expect(filterCovers('a/+/c', 'a/b/c')).toBe(true)
    expect(filterCovers('a/+/c', 'a/#')).toBe(false)
    expect(filterCovers('a/#', 'a/+/c')).toBe(true)
  })

  it('prints the same rules for Mosquitto, with users bound to their hosts', () => {
    const acl = mosquittoAcl('homelab', ['sys-collector', 'docker-collector@pi2', 'recorder'], 'pi')
    expect(acl).toContain('user sys-collector\ntopic write homelab/pi/sys-collector/availability')
    expect(acl).toContain('user docker-collector@pi2\ntopic write homelab/pi2/docker-collector/availability')
    expect(acl).toContain('topic write homeassistant/device/+/config')
    expect(acl).not.toContain('*')
  })
})
