import { haIds, type Topics, type UnitInfo } from '@homelab/contracts'
import { type HaDeviceSpec, haComponents, haControls } from '@homelab/service-kit'

/**
 * A systemd unit as a Home Assistant sub-device (via the host): active as a binary sensor, its state text, and —
 * only where HOMELAB_SYSTEMD_CONTROL allows it — a start/stop switch and a restart button whose commands go to
 * `set/<unit>`, where the collector checks the allowlist again.
 */
export function unitDevice(host: string, topics: Topics, u: UnitInfo): HaDeviceSpec {
  const id = haIds.entity(host, 'unit', u.name)
  const state = topics.reading(host, 'systemd-collector', 'unit', u.name)
  const { components, add } = haComponents(id)
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
  if (u.control.allowed) haControls(add, topics.set(host, 'systemd-collector', u.name), state, active)
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
