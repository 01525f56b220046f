import { commonShape, port } from '@homelab/service-kit'
import { z } from 'zod'

export const BrokerConfig = z.object({
  HOMELAB_DATA_DIR: commonShape.HOMELAB_DATA_DIR,
  HOMELAB_BASE_TOPIC: commonShape.HOMELAB_BASE_TOPIC,
  HOMELAB_HOST_ID: commonShape.HOMELAB_HOST_ID,
  HOMELAB_HOSTNAME_FILE: commonShape.HOMELAB_HOSTNAME_FILE,
  HOMELAB_MQTT_PORT: port('HOMELAB_MQTT_PORT').default(1883),
  HOMELAB_MQTT_BIND: z.string().min(1).default('0.0.0.0'),
  HOMELAB_HA_MQTT_PASSWORD: z.string().min(8, 'must be at least 8 characters').max(512).optional(),
  HOMELAB_HA_DISCOVERY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be one topic level')
    .default('homeassistant'),
  /** Retained topics (readings, Home Assistant configs) one MQTT user may hold. */
  HOMELAB_MQTT_MAX_RETAINED_PER_USER: z.coerce.number().int().min(10).max(1_000_000).default(5000),
})
export type BrokerConfig = z.infer<typeof BrokerConfig>
