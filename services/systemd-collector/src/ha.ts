import { type HaComponent, haEntityId, haIds, type Topics, type UnitInfo } from '@homelab/contracts'
import type { HaDeviceSpec } from '@homelab/service-kit'

/**
 * A systemd unit as a Home Assistant sub-device (via the host): active as a binary sensor, its state text, and —
 * only where HOMELAB_SYSTEMD_CONTROL allows it — a start/stop switch and a restart button whose commands go to
 * `set/<unit>`, where the collector checks the allowlist again.
 */
export function unitDevice(host: string, topics: Topics, u: UnitInfo): HaDeviceSpec {
  const id = haIds.entity(host, 'unit', u.name)
  const state = topics.reading(host, 'systemd-collector', 'unit', u.name)
  const components: Record<string, HaComponent> = {}
  const add = (
    key: string,
    platform: HaComponent['platform'],
    name: string | null,
    extra: Partial<HaComponent>,
  ) => {
    components[key] = {
      platform,
      unique_id: `${id}_${key}`,
      default_entity_id: haEntityId(platform, id, key),
      name,
      ...extra,
    }
  }
  const active = "{{ 'ON' if value_json.unit.activeState == 'active' else 'OFF' }}"
  add('active', 'binary_sensor', 'Active', {
    state_topic: state,
    value_template: active,
    device_class: 'running',
  })
  add('failed', 'binary_sensor', 'Failed', {
    state_topic: state,
    value_template: "{{ 'ON' if value_json.unit.activeState == 'failed' else 'OFF' }}",
    device_class: 'problem',
  })
  add('state', 'sensor', 'State', {
    state_topic: state,
    value_template: '{{ value_json.unit.activeState }} ({{ value_json.unit.subState }})',
    entity_category: 'diagnostic',
    icon: 'mdi:cog-outline',
  })
  if (u.control.allowed) {
    const command = topics.set(host, 'systemd-collector', u.name)
    add('power', 'switch', null, {
      state_topic: state,
      value_template: active,
      command_topic: command,
      payload_on: 'start',
      payload_off: 'stop',
      state_on: 'ON',
      state_off: 'OFF',
      device_class: 'switch',
    })
    add('restart', 'button', 'Restart', {
      command_topic: command,
      payload_press: 'restart',
      device_class: 'restart',
    })
  }
  return {
    objectId: id,
    name: u.name,
    model: (u.description || 'systemd unit').slice(0, 100),
    manufacturer: 'systemd',
    viaDevice: haIds.host(host),
    components,
  }
}

export function unitsShape(list: readonly UnitInfo[]): string {
  return list
    .map((u) => `${u.name}|${u.description}|${u.control.allowed}`)
    .sort()
    .join('\n')
}
