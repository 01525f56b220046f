import { type HaComponent, haIds, haSlug, type SystemReading, type Topics } from '@homelab/contracts'
import { type HaDeviceSpec, haComponents } from '@homelab/service-kit'

/** A Jinja string literal (single-quoted). */
const lit = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

/**
 * The host as one Home Assistant device: CPU, load, memory, temperature (when there is a sensor), each
 * filesystem's use, each interface's rates and uptime. Every value is read by a template from the retained
 * `reading/system` document, so HA needs nothing else. Secondary values (load 5/15, swap) are disabled by default;
 * uptime is diagnostic.
 */
export function hostDevice(
  host: string,
  topics: Topics,
  r: SystemReading,
  model: string | null,
): HaDeviceSpec {
  const id = haIds.host(host)
  const state = topics.reading(host, 'sys-collector', 'system')
  const { components, add: addAny } = haComponents(id)
  const add = (
    key: string,
    platform: HaComponent['platform'],
    name: string,
    value: string,
    extra: Partial<HaComponent> = {},
  ) => addAny(key, platform, name, { state_topic: state, value_template: value, ...extra })
  const pct = {
    unit_of_measurement: '%',
    state_class: 'measurement',
    suggested_display_precision: 1,
  } as const
  add('cpu', 'sensor', 'CPU', '{{ value_json.cpu.usage | round(1) }}', { ...pct, icon: 'mdi:cpu-64-bit' })
  add('load_1', 'sensor', 'Load (1 min)', '{{ value_json.load[0] }}', {
    state_class: 'measurement',
    suggested_display_precision: 2,
    icon: 'mdi:gauge',
  })
  for (const [i, m] of [
    [1, 5],
    [2, 15],
  ] as const)
    add(`load_${m}`, 'sensor', `Load (${m} min)`, `{{ value_json.load[${i}] }}`, {
      state_class: 'measurement',
      suggested_display_precision: 2,
      icon: 'mdi:gauge',
      enabled_by_default: false,
    })
  add('memory', 'sensor', 'Memory', '{{ value_json.memory.percent | round(1) }}', {
    ...pct,
    icon: 'mdi:memory',
  })
  add('memory_used', 'sensor', 'Memory used', '{{ value_json.memory.used }}', {
    device_class: 'data_size',
    unit_of_measurement: 'B',
    state_class: 'measurement',
  })
  add('swap_used', 'sensor', 'Swap used', '{{ value_json.memory.swapUsed }}', {
    device_class: 'data_size',
    unit_of_measurement: 'B',
    state_class: 'measurement',
    enabled_by_default: false,
  })
  if (r.cpuTemperature !== null)
    add('cpu_temperature', 'sensor', 'CPU temperature', '{{ value_json.cpuTemperature | round(1) }}', {
      device_class: 'temperature',
      unit_of_measurement: '°C',
      state_class: 'measurement',
      suggested_display_precision: 1,
    })
  for (const f of r.filesystems)
    add(
      `disk_${haSlug(f.mount)}`,
      'sensor',
      `Disk ${f.mount}`,
      `{% for f in value_json.filesystems %}{% if f.mount == ${lit(f.mount)} %}{{ f.percent | round(1) }}{% endif %}{% endfor %}`,
      { ...pct, icon: 'mdi:harddisk' },
    )
  for (const n of r.network)
    for (const dir of ['rx', 'tx'] as const)
      add(
        `net_${haSlug(n.iface)}_${dir}`,
        'sensor',
        `${n.iface} ${dir === 'rx' ? 'in' : 'out'}`,
        `{% for n in value_json.network %}{% if n.iface == ${lit(n.iface)} %}{{ n.${dir}BytesPerSec | round(0) }}{% endif %}{% endfor %}`,
        { device_class: 'data_rate', unit_of_measurement: 'B/s', state_class: 'measurement' },
      )
  add('uptime', 'sensor', 'Uptime', '{{ value_json.uptimeSec | int }}', {
    device_class: 'duration',
    unit_of_measurement: 's',
    state_class: 'total_increasing',
    entity_category: 'diagnostic',
  })
  return { objectId: id, name: host, ...(model ? { model } : {}), components }
}

/** What makes the host device change (new mounts, interfaces, a sensor appearing): rebuild only then. */
export function hostShape(r: SystemReading, model: string | null): string {
  return [
    model,
    r.cpuTemperature === null,
    r.filesystems.map((f) => f.mount).join('\n'),
    r.network.map((n) => n.iface).join('\n'),
  ].join('|')
}
