import nunjucks from 'nunjucks'

/**
 * A checker for Home Assistant MQTT device-based discovery payloads, written from HA's documentation (MQTT
 * discovery, the sensor/binary_sensor/switch/button MQTT platforms, and the sensor device-class tables): keys may
 * be abbreviated and are expanded first; then required keys, known keys per platform, device classes, units per
 * device class, state classes per device class, entity categories, `default_entity_id` and the removed
 * `object_id`. Home Assistant itself cannot run here, so this stands in for its schema in tests.
 */

const ABBREVIATIONS: Record<string, string> = {
  act_t: 'action_topic',
  avty: 'availability',
  avty_mode: 'availability_mode',
  avty_t: 'availability_topic',
  avty_tpl: 'availability_template',
  cmd_t: 'command_topic',
  cmd_tpl: 'command_template',
  cmps: 'components',
  def_ent_id: 'default_entity_id',
  dev: 'device',
  dev_cla: 'device_class',
  e: 'encoding',
  en: 'enabled_by_default',
  ent_cat: 'entity_category',
  ent_pic: 'entity_picture',
  exp_aft: 'expire_after',
  frc_upd: 'force_update',
  ic: 'icon',
  json_attr_t: 'json_attributes_topic',
  json_attr_tpl: 'json_attributes_template',
  lrst_val_tpl: 'last_reset_value_template',
  o: 'origin',
  obj_id: 'object_id',
  off_dly: 'off_delay',
  opt: 'optimistic',
  ops: 'options',
  p: 'platform',
  pl_avail: 'payload_available',
  pl_not_avail: 'payload_not_available',
  pl_off: 'payload_off',
  pl_on: 'payload_on',
  pl_prs: 'payload_press',
  qos: 'qos',
  ret: 'retain',
  stat_cla: 'state_class',
  stat_off: 'state_off',
  stat_on: 'state_on',
  stat_t: 'state_topic',
  sug_dsp_prc: 'suggested_display_precision',
  t: 'topic',
  uniq_id: 'unique_id',
  unit_of_meas: 'unit_of_measurement',
  val_tpl: 'value_template',
}
const DEVICE_ABBREVIATIONS: Record<string, string> = {
  cns: 'connections',
  cu: 'configuration_url',
  hw: 'hw_version',
  ids: 'identifiers',
  mdl: 'model',
  mdl_id: 'model_id',
  mf: 'manufacturer',
  sa: 'suggested_area',
  sn: 'serial_number',
  sw: 'sw_version',
}
const ORIGIN_ABBREVIATIONS: Record<string, string> = { sw: 'sw_version', url: 'support_url' }

const DEVICE_KEYS = new Set([
  'connections',
  'configuration_url',
  'hw_version',
  'identifiers',
  'manufacturer',
  'model',
  'model_id',
  'name',
  'serial_number',
  'suggested_area',
  'sw_version',
  'via_device',
])
const ORIGIN_KEYS = new Set(['name', 'sw_version', 'support_url'])
/** Options a device config may share at its root with every component. */
const SHARED_ROOT_KEYS = new Set([
  'availability',
  'availability_mode',
  'availability_topic',
  'availability_template',
  'payload_available',
  'payload_not_available',
  'qos',
  'encoding',
  'state_topic',
  'command_topic',
  '~',
])
const COMMON_KEYS = [
  'platform',
  'unique_id',
  'name',
  'default_entity_id',
  'object_id',
  'availability',
  'availability_mode',
  'availability_topic',
  'availability_template',
  'payload_available',
  'payload_not_available',
  'device_class',
  'entity_category',
  'entity_picture',
  'enabled_by_default',
  'icon',
  'json_attributes_topic',
  'json_attributes_template',
  'qos',
  'encoding',
]
const PLATFORM_KEYS: Record<string, { keys: Set<string>; required: string[] }> = {
  sensor: {
    keys: new Set([
      ...COMMON_KEYS,
      'state_topic',
      'value_template',
      'unit_of_measurement',
      'state_class',
      'suggested_display_precision',
      'expire_after',
      'force_update',
      'last_reset_value_template',
      'options',
    ]),
    required: ['state_topic'],
  },
  binary_sensor: {
    keys: new Set([
      ...COMMON_KEYS,
      'state_topic',
      'value_template',
      'payload_on',
      'payload_off',
      'expire_after',
      'force_update',
      'off_delay',
    ]),
    required: ['state_topic'],
  },
  switch: {
    keys: new Set([
      ...COMMON_KEYS,
      'command_topic',
      'command_template',
      'state_topic',
      'value_template',
      'payload_on',
      'payload_off',
      'state_on',
      'state_off',
      'optimistic',
      'retain',
    ]),
    required: ['command_topic'],
  },
  button: {
    keys: new Set([...COMMON_KEYS, 'command_topic', 'command_template', 'payload_press', 'retain']),
    required: ['command_topic'],
  },
}

const DATA_SIZE = ['bit', 'kbit', 'Mbit', 'Gbit', 'B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB']
const DATA_SIZE_IEC = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB']
/** HA's sensor device classes this project might use → allowed units (null = no unit) and state classes. */
const SENSOR_CLASSES: Record<string, { units: Array<string | null>; stateClasses: string[] }> = {
  temperature: { units: ['°C', '°F', 'K'], stateClasses: ['measurement'] },
  data_size: {
    units: [...DATA_SIZE, ...DATA_SIZE_IEC],
    stateClasses: ['measurement', 'total', 'total_increasing'],
  },
  data_rate: {
    units: ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'B/s', 'kB/s', 'MB/s', 'GB/s', 'KiB/s', 'MiB/s', 'GiB/s'],
    stateClasses: ['measurement'],
  },
  duration: {
    units: ['d', 'h', 'min', 's', 'ms', 'µs'],
    stateClasses: ['measurement', 'total', 'total_increasing'],
  },
  battery: { units: ['%'], stateClasses: ['measurement'] },
  humidity: { units: ['%'], stateClasses: ['measurement'] },
  power_factor: { units: ['%', null], stateClasses: ['measurement'] },
  frequency: { units: ['Hz', 'kHz', 'MHz', 'GHz'], stateClasses: ['measurement'] },
  power: { units: ['mW', 'W', 'kW', 'MW', 'GW', 'TW', 'BTU/h'], stateClasses: ['measurement'] },
  voltage: { units: ['µV', 'mV', 'V', 'kV', 'MV'], stateClasses: ['measurement'] },
  timestamp: { units: [null], stateClasses: [] },
  date: { units: [null], stateClasses: [] },
  enum: { units: [null], stateClasses: [] },
}
const BINARY_CLASSES = new Set([
  'battery',
  'battery_charging',
  'carbon_monoxide',
  'cold',
  'connectivity',
  'door',
  'garage_door',
  'gas',
  'heat',
  'light',
  'lock',
  'moisture',
  'motion',
  'moving',
  'occupancy',
  'opening',
  'plug',
  'power',
  'presence',
  'problem',
  'running',
  'safety',
  'smoke',
  'sound',
  'tamper',
  'update',
  'vibration',
  'window',
])
const SWITCH_CLASSES = new Set(['outlet', 'switch'])
const BUTTON_CLASSES = new Set(['identify', 'restart', 'update'])
const STATE_CLASSES = new Set(['measurement', 'measurement_angle', 'total', 'total_increasing'])

export interface Component extends Record<string, unknown> {
  platform: string
  unique_id: string
}

export interface DeviceConfig {
  device: Record<string, unknown>
  origin: Record<string, unknown>
  components: Record<string, Component>
  shared: Record<string, unknown>
}

function expand(o: Record<string, unknown>, table: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) out[table[k] ?? k] = v
  return out
}

function expandAvailability(v: unknown): unknown {
  return Array.isArray(v)
    ? v.map((a) => (a && typeof a === 'object' ? expand(a as Record<string, unknown>, ABBREVIATIONS) : a))
    : v
}

/** Validates one device discovery payload; returns the expanded config and every problem found (none = valid). */
export function validateDeviceConfig(
  json: unknown,
  where: string,
): { config: DeviceConfig | null; errors: string[] } {
  const errors: string[] = []
  const err = (m: string) => errors.push(`${where}: ${m}`)
  if (!json || typeof json !== 'object' || Array.isArray(json))
    return { config: null, errors: [`${where}: not a JSON object`] }
  const root = expand(json as Record<string, unknown>, ABBREVIATIONS)
  const device =
    root.device && typeof root.device === 'object'
      ? expand(root.device as Record<string, unknown>, DEVICE_ABBREVIATIONS)
      : null
  const origin =
    root.origin && typeof root.origin === 'object'
      ? expand(root.origin as Record<string, unknown>, ORIGIN_ABBREVIATIONS)
      : null
  if (!device) err('"device" is required')
  else {
    for (const k of Object.keys(device)) if (!DEVICE_KEYS.has(k)) err(`device: unknown key "${k}"`)
    const ids = device.identifiers
    if (
      !(Array.isArray(ids) && ids.length > 0 && ids.every((i) => typeof i === 'string')) &&
      !device.connections
    )
      err('device: "identifiers" (non-empty list of strings) or "connections" is required')
  }
  if (!origin) err('"origin" is required for device discovery')
  else {
    for (const k of Object.keys(origin)) if (!ORIGIN_KEYS.has(k)) err(`origin: unknown key "${k}"`)
    if (typeof origin.name !== 'string' || !origin.name) err('origin: "name" is required')
  }
  const comps = root.components
  if (!comps || typeof comps !== 'object' || Object.keys(comps).length === 0)
    err('"components" must be a non-empty map')
  const shared: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(root)) {
    if (k === 'device' || k === 'origin' || k === 'components') continue
    if (k === 'object_id') err('"object_id" was removed from Home Assistant: use "default_entity_id"')
    else if (!SHARED_ROOT_KEYS.has(k)) err(`unknown root key "${k}"`)
    shared[k] = k === 'availability' ? expandAvailability(v) : v
  }
  const components: Record<string, Component> = {}
  for (const [key, raw] of Object.entries((comps as Record<string, unknown>) ?? {})) {
    const c = expand(raw as Record<string, unknown>, ABBREVIATIONS)
    if (c.availability) c.availability = expandAvailability(c.availability)
    const cw = (m: string) => err(`component "${key}": ${m}`)
    const platform = String(c.platform ?? '')
    const spec = PLATFORM_KEYS[platform]
    if (!spec) {
      cw(`unknown platform "${platform}"`)
      continue
    }
    if (typeof c.unique_id !== 'string' || !c.unique_id) cw('"unique_id" is required in device discovery')
    if ('object_id' in c) cw('"object_id" was removed from Home Assistant: use "default_entity_id"')
    for (const k of Object.keys(c)) if (!spec.keys.has(k)) cw(`unknown key "${k}" for ${platform}`)
    for (const r of spec.required)
      if (c[r] === undefined && shared[r] === undefined) cw(`"${r}" is required for ${platform}`)
    if (c.default_entity_id !== undefined) {
      const d = String(c.default_entity_id)
      if (!new RegExp(`^${platform}\\.[a-z0-9_]+$`).test(d))
        cw(`default_entity_id "${d}" must be "${platform}." followed by lower-case letters, digits and "_"`)
    }
    if (c.entity_category !== undefined) {
      if (!['config', 'diagnostic'].includes(String(c.entity_category)))
        cw(`entity_category "${c.entity_category}" is not config or diagnostic`)
      if (platform === 'sensor' || platform === 'binary_sensor')
        if (c.entity_category === 'config') cw(`a ${platform} cannot have entity_category "config"`)
    }
    const dc = c.device_class === undefined ? null : String(c.device_class)
    if (platform === 'sensor') {
      const unit = c.unit_of_measurement === undefined ? null : String(c.unit_of_measurement)
      const sc = c.state_class === undefined ? null : String(c.state_class)
      if (sc !== null && !STATE_CLASSES.has(sc)) cw(`unknown state_class "${sc}"`)
      if (dc !== null) {
        const cls = SENSOR_CLASSES[dc]
        if (!cls) cw(`unknown sensor device_class "${dc}"`)
        else {
          if (!cls.units.includes(unit))
            cw(`unit "${unit}" is not allowed for device_class ${dc} (allowed: ${cls.units.join(', ')})`)
          if (sc !== null && !cls.stateClasses.includes(sc))
            cw(
              `state_class "${sc}" is not allowed for device_class ${dc} (allowed: ${cls.stateClasses.join(', ') || 'none'})`,
            )
        }
      }
    } else if (platform === 'binary_sensor') {
      if (dc !== null && !BINARY_CLASSES.has(dc)) cw(`unknown binary_sensor device_class "${dc}"`)
    } else if (platform === 'switch') {
      if (dc !== null && !SWITCH_CLASSES.has(dc)) cw(`unknown switch device_class "${dc}"`)
    } else if (platform === 'button') {
      if (dc !== null && !BUTTON_CLASSES.has(dc)) cw(`unknown button device_class "${dc}"`)
    }
    components[key] = c as Component
  }
  return {
    config: device && origin ? { device, origin, components, shared } : null,
    errors,
  }
}

const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false })

/** Renders an HA value template against a payload as HA does (`value`, `value_json`). Throws when it cannot. */
export function renderTemplate(template: string, payload: string): string {
  let valueJson: unknown
  try {
    valueJson = JSON.parse(payload)
  } catch {
    valueJson = undefined
  }
  return env.renderString(template, { value: payload, value_json: valueJson }).trim()
}

/** The value HA would show for a component, given the latest payload on its state topic. */
export function componentState(
  c: Component,
  shared: Record<string, unknown>,
  payloads: ReadonlyMap<string, string>,
): { topic: string; value: string } | null {
  const topic = (c.state_topic ?? shared.state_topic) as string | undefined
  if (!topic) return null
  const payload = payloads.get(topic)
  if (payload === undefined) throw new Error(`no payload was published on ${topic}`)
  const tpl = c.value_template as string | undefined
  return { topic, value: tpl ? renderTemplate(tpl, payload) : payload }
}
