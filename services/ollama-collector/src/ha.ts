import { type HaComponent, haIds, type Topics } from '@homelab/contracts'
import { type HaDeviceSpec, haComponents } from '@homelab/service-kit'

/**
 * Ollama as a Home Assistant sub-device (via the host): up, loaded model count, VRAM in use and the tokens/s of
 * the latest request measured by the proxy (unavailable until there is one), all read from `reading/ollama`.
 */
export function ollamaDevice(host: string, topics: Topics, version: string | null): HaDeviceSpec {
  const id = haIds.entity(host, 'ollama')
  const state = topics.reading(host, 'ollama-collector', 'ollama')
  const availability = topics.availability(host, 'ollama-collector')
  const { components, add: addAny } = haComponents(id)
  const add = (key: string, platform: HaComponent['platform'], name: string, extra: Partial<HaComponent>) =>
    addAny(key, platform, name, { state_topic: state, ...extra })
  add('up', 'binary_sensor', 'Up', {
    value_template: "{{ 'ON' if value_json.up else 'OFF' }}",
    device_class: 'running',
  })
  add('loaded_models', 'sensor', 'Loaded models', {
    value_template: '{{ value_json.loaded | length }}',
    state_class: 'measurement',
    icon: 'mdi:brain',
  })
  add('vram_used', 'sensor', 'Model memory in GPU', {
    value_template: "{{ value_json.loaded | sum('sizeVram') }}",
    device_class: 'data_size',
    unit_of_measurement: 'B',
    state_class: 'measurement',
    enabled_by_default: false,
  })
  add('tokens_per_second', 'sensor', 'Tokens per second', {
    value_template:
      '{{ (value_json.lastInference.tokensPerSecond or 0) | round(1) if value_json.lastInference else 0 }}',
    unit_of_measurement: 'tokens/s',
    state_class: 'measurement',
    suggested_display_precision: 1,
    icon: 'mdi:speedometer',
    // Unavailable until the proxy has measured a request with a rate.
    availability: [
      { topic: availability },
      {
        topic: state,
        value_template:
          "{{ 'online' if value_json.lastInference and value_json.lastInference.tokensPerSecond else 'offline' }}",
      },
    ],
    availability_mode: 'all',
  })
  return {
    objectId: id,
    name: `Ollama on ${host}`,
    model: version ? `Ollama ${version}` : 'Ollama',
    manufacturer: 'Ollama',
    viaDevice: haIds.host(host),
    components,
  }
}
