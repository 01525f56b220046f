import { type HaComponent, haIds, type ProbeReading, type Topics } from '@homelab/contracts'
import { type HaDeviceSpec, haComponents } from '@homelab/service-kit'

/**
 * A probe as a Home Assistant sub-device (via the host): connectivity, latency and, for HTTPS and TLS probes, the
 * days its certificate has left — all read from the probe's retained `reading/probe/<id>`.
 */
export function probeDevice(host: string, topics: Topics, p: ProbeReading['probe']): HaDeviceSpec {
  const id = haIds.entity(host, 'probe', p.id)
  const state = topics.reading(host, 'probe-collector', 'probe', p.id)
  const { components, add: addAny } = haComponents(id)
  const add = (key: string, platform: HaComponent['platform'], name: string, extra: Partial<HaComponent>) =>
    addAny(key, platform, name, { state_topic: state, ...extra })
  add('up', 'binary_sensor', 'Reachable', {
    value_template: "{{ 'ON' if value_json.up else 'OFF' }}",
    device_class: 'connectivity',
  })
  add('latency', 'sensor', 'Latency', {
    value_template:
      "{{ value_json.latencyMs | round(1) if value_json.latencyMs is not none else 'unknown' }}",
    unit_of_measurement: 'ms',
    device_class: 'duration',
    state_class: 'measurement',
    suggested_display_precision: 0,
  })
  if (p.type === 'http' || p.type === 'tls')
    add('cert_days', 'sensor', 'Certificate days left', {
      value_template: "{{ value_json.cert.daysLeft if value_json.cert else 'unknown' }}",
      unit_of_measurement: 'd',
      state_class: 'measurement',
      icon: 'mdi:certificate',
    })
  return {
    objectId: id,
    name: `${p.name} (probe)`,
    model: `${p.type.toUpperCase()} probe of ${p.target}`.slice(0, 200),
    manufacturer: 'homelab-observability',
    viaDevice: haIds.host(host),
    components,
  }
}
