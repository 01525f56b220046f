import { type ContainerInfo, haIds, type Topics } from '@homelab/contracts'
import { type HaDeviceSpec, haComponents, haControls } from '@homelab/service-kit'

/**
 * A container as a Home Assistant sub-device (via the host): running, CPU and memory, read by templates from its
 * retained `reading/container/<name>`; a start/stop switch and a restart button only where control is allowed
 * (HA's commands go to `set/<name>` and the collector still checks the allowlist). Ids come from the host and the
 * container name, never the container id, so a recreated container keeps its entities.
 */
export function containerDevice(host: string, topics: Topics, c: ContainerInfo): HaDeviceSpec {
  const id = haIds.entity(host, 'container', c.name)
  const state = topics.reading(host, 'docker-collector', 'container', c.name)
  const { components, add } = haComponents(id)
  const running = "{{ 'ON' if value_json.container.state == 'running' else 'OFF' }}"
  add('running', 'binary_sensor', 'Running', {
    state_topic: state,
    value_template: running,
    device_class: 'running',
  })
  add('cpu', 'sensor', 'CPU', {
    state_topic: state,
    value_template: '{{ (value_json.stats.cpuPercent or 0) | round(1) if value_json.stats else 0 }}',
    unit_of_measurement: '%',
    state_class: 'measurement',
    suggested_display_precision: 1,
    icon: 'mdi:cpu-64-bit',
  })
  add('memory', 'sensor', 'Memory', {
    state_topic: state,
    value_template: '{{ value_json.stats.memoryUsed if value_json.stats else 0 }}',
    device_class: 'data_size',
    unit_of_measurement: 'B',
    state_class: 'measurement',
  })
  add('restarts', 'sensor', 'Restarts', {
    state_topic: state,
    value_template: '{{ value_json.container.restartCount }}',
    state_class: 'total_increasing',
    entity_category: 'diagnostic',
    icon: 'mdi:restart',
  })
  if (c.control.allowed) haControls(add, topics.set(host, 'docker-collector', c.name), state, running)
  return {
    objectId: id,
    name: c.name,
    model: c.image.slice(0, 100),
    manufacturer: c.composeProject ? `compose: ${c.composeProject}` : 'Docker',
    viaDevice: haIds.host(host),
    components,
  }
}

/** What changes a container's device: rebuild the set only when this does. */
export function containersShape(list: readonly ContainerInfo[]): string {
  return list
    .map((c) => `${c.name}|${c.image}|${c.composeProject}|${c.control.allowed}`)
    .sort()
    .join('\n')
}
