import { z } from 'zod'

/**
 * Home Assistant MQTT discovery, device-based (`<prefix>/device/<object_id>/config`): one message per HA device with
 * its components. Keys are written in full (no abbreviations). The types below are what this project publishes;
 * the test tree checks every published payload against HA's documented schema.
 */
export const HA_ORIGIN = {
  name: 'homelab-observability',
  sw_version: '0.1.0',
  support_url: 'https://github.com/homelab-observability/homelab-observability',
} as const

export const HA_GROUPS = ['host', 'containers', 'units', 'ollama', 'probes', 'ups'] as const
export type HaGroup = (typeof HA_GROUPS)[number]

export const HaAvailability = z.object({
  topic: z.string(),
  payload_available: z.string().optional(),
  payload_not_available: z.string().optional(),
  value_template: z.string().optional(),
})

export const HaComponent = z
  .object({
    platform: z.enum(['sensor', 'binary_sensor', 'switch', 'button']),
    unique_id: z.string().min(1),
    default_entity_id: z.string(),
    name: z.string().nullable(),
    state_topic: z.string().optional(),
    value_template: z.string().optional(),
    command_topic: z.string().optional(),
    payload_on: z.string().optional(),
    payload_off: z.string().optional(),
    state_on: z.string().optional(),
    state_off: z.string().optional(),
    payload_press: z.string().optional(),
    device_class: z.string().optional(),
    unit_of_measurement: z.string().optional(),
    state_class: z.enum(['measurement', 'total', 'total_increasing']).optional(),
    suggested_display_precision: z.number().int().min(0).optional(),
    entity_category: z.enum(['config', 'diagnostic']).optional(),
    enabled_by_default: z.boolean().optional(),
    icon: z.string().optional(),
    availability: z.array(HaAvailability).optional(),
    availability_mode: z.enum(['all', 'any', 'latest']).optional(),
  })
  .strict()
export type HaComponent = z.infer<typeof HaComponent>

export const HaDeviceConfig = z
  .object({
    device: z
      .object({
        identifiers: z.array(z.string()).min(1),
        name: z.string(),
        manufacturer: z.string().optional(),
        model: z.string().optional(),
        sw_version: z.string().optional(),
        via_device: z.string().optional(),
      })
      .strict(),
    origin: z.object({ name: z.string(), sw_version: z.string(), support_url: z.string() }).strict(),
    availability: z.array(HaAvailability).min(1),
    qos: z.literal(1),
    components: z.record(z.string(), HaComponent),
  })
  .strict()
export type HaDeviceConfig = z.infer<typeof HaDeviceConfig>

/**
 * A name made safe for HA ids and discovery topics (`[a-z0-9_]`). When that changed the name, a short hash of the
 * original keeps two names that slug alike apart ("web.1" and "web_1"). Stable: the same name always gives the same
 * slug, so unique ids survive restarts of either side.
 */
export function haSlug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 60)
  if (s === name) return s
  return `${s || 'x'}_${fnv1a(name).toString(16).padStart(8, '0').slice(0, 6)}`
}

/** 32-bit FNV-1a of a string's UTF-16 units (no node:crypto: the contracts also run in the browser). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/**
 * Ids of the devices this project publishes for a host (`homelab_<host>`, `homelab_<host>-container-<name>`, …).
 * Slugs never contain "-", so the separator makes every id unambiguous: one host's ids never look like another's.
 */
export const haIds = {
  host: (host: string) => `homelab_${haSlug(host)}`,
  entity: (host: string, scope: 'container' | 'unit' | 'ollama' | 'probe' | 'ups', name?: string) =>
    `homelab_${haSlug(host)}-${scope}${name === undefined ? '' : `-${haSlug(name)}`}`,
  /** Prefix of every id of one scope on a host. */
  scope: (host: string, scope: 'container' | 'unit' | 'ollama' | 'probe' | 'ups') =>
    `homelab_${haSlug(host)}-${scope}`,
} as const

/** A component's default entity id: HA's object ids are `[a-z0-9_]`. */
export function haEntityId(platform: string, objectId: string, key: string): string {
  return `${platform}.${objectId.replace(/-/g, '_')}_${key}`
}
