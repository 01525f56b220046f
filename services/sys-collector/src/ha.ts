import {
  type DisksReading,
  type HaComponent,
  haIds,
  haSlug,
  type SystemReading,
  type Topics,
  type UpsReading,
} from '@homelab/contracts'
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
  disks: DisksReading | null = null,
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
  // Disk health, from the retained `reading/disks`: a problem sensor (on when SMART does not say PASSED), the
  // temperature and, for ATA disks, reallocated sectors.
  const disksTopic = topics.reading(host, 'sys-collector', 'disks')
  for (const d of disks?.disks ?? []) {
    const pick = (expr: string) =>
      `{% for d in value_json.disks %}{% if d.name == ${lit(d.name)} %}{{ ${expr} }}{% endif %}{% endfor %}`
    const k = `smart_${haSlug(d.name)}`
    addAny(`${k}_problem`, 'binary_sensor', `Disk ${d.name} health`, {
      state_topic: disksTopic,
      value_template: pick("'ON' if d.health == 'failed' else 'OFF'"),
      device_class: 'problem',
    })
    if (d.temperatureC !== null)
      addAny(`${k}_temperature`, 'sensor', `Disk ${d.name} temperature`, {
        state_topic: disksTopic,
        value_template: pick("d.temperatureC if d.temperatureC is not none else 'unknown'"),
        device_class: 'temperature',
        unit_of_measurement: '°C',
        state_class: 'measurement',
      })
    if (d.reallocatedSectors !== null)
      addAny(`${k}_reallocated`, 'sensor', `Disk ${d.name} reallocated sectors`, {
        state_topic: disksTopic,
        value_template: pick('d.reallocatedSectors'),
        state_class: 'measurement',
        icon: 'mdi:harddisk-remove',
        entity_category: 'diagnostic',
      })
    if (d.usedPercent !== null)
      addAny(`${k}_wear`, 'sensor', `Disk ${d.name} wear`, {
        state_topic: disksTopic,
        value_template: pick('d.usedPercent'),
        unit_of_measurement: '%',
        state_class: 'measurement',
        icon: 'mdi:harddisk',
        entity_category: 'diagnostic',
      })
  }
  return { objectId: id, name: host, ...(model ? { model } : {}), components }
}

/** What makes the host device change (new mounts, interfaces, a sensor or disk appearing): rebuild only then. */
export function hostShape(r: SystemReading, model: string | null, disks: DisksReading | null = null): string {
  return [
    model,
    r.cpuTemperature === null,
    r.filesystems.map((f) => f.mount).join('\n'),
    r.network.map((n) => n.iface).join('\n'),
    (disks?.disks ?? [])
      .map(
        (d) =>
          `${d.name}:${d.temperatureC !== null}:${d.reallocatedSectors !== null}:${d.usedPercent !== null}`,
      )
      .join('\n'),
  ].join('|')
}

/**
 * A UPS as a Home Assistant sub-device (via the host), like HA's own NUT integration shows it: on battery, low
 * battery, charge, runtime, load, input voltage and the raw status — read from the retained `reading/ups/<name>`.
 */
export function upsDevice(host: string, topics: Topics, r: UpsReading): HaDeviceSpec {
  const id = haIds.entity(host, 'ups', r.ups.name)
  const state = topics.reading(host, 'sys-collector', 'ups', r.ups.name)
  const { components, add: addAny } = haComponents(id)
  const add = (key: string, platform: HaComponent['platform'], name: string, extra: Partial<HaComponent>) =>
    addAny(key, platform, name, { state_topic: state, ...extra })
  const value = (field: string) =>
    `{{ value_json.${field} if value_json.reachable and value_json.${field} is not none else 'unknown' }}`
  // While the server does not answer the document keeps the last known state (and says reachable: false).
  add('on_battery', 'binary_sensor', 'On battery', {
    value_template: "{{ 'ON' if value_json.onBattery else 'OFF' }}",
    icon: 'mdi:battery-alert-variant-outline',
  })
  add('low_battery', 'binary_sensor', 'Low battery', {
    value_template: "{{ 'ON' if value_json.lowBattery else 'OFF' }}",
    device_class: 'battery',
  })
  add('charge', 'sensor', 'Battery charge', {
    value_template: value('chargePercent'),
    device_class: 'battery',
    unit_of_measurement: '%',
    state_class: 'measurement',
  })
  add('runtime', 'sensor', 'Battery runtime', {
    value_template: value('runtimeSec'),
    device_class: 'duration',
    unit_of_measurement: 's',
    state_class: 'measurement',
  })
  add('load', 'sensor', 'Load', {
    value_template: value('loadPercent'),
    unit_of_measurement: '%',
    state_class: 'measurement',
    icon: 'mdi:gauge',
  })
  add('input_voltage', 'sensor', 'Input voltage', {
    value_template: value('inputVoltage'),
    device_class: 'voltage',
    unit_of_measurement: 'V',
    state_class: 'measurement',
  })
  add('status', 'sensor', 'Status', {
    value_template: "{{ value_json.status if value_json.reachable else 'unreachable' }}",
    icon: 'mdi:power-plug-battery',
    entity_category: 'diagnostic',
  })
  return {
    objectId: id,
    name: `${r.ups.name} (UPS)`,
    model: (r.ups.model ?? r.ups.description ?? `UPS on ${r.ups.server}`).slice(0, 200),
    manufacturer: 'homelab-observability',
    viaDevice: haIds.host(host),
    components,
  }
}
