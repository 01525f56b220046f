import { AlerterShape } from '@homelab/alerter/config'
import { BrokerConfig } from '@homelab/broker/config'
import { DockerCollectorShape } from '@homelab/docker-collector/config'
import { GatewayConfig } from '@homelab/gateway/config'
import { OllamaCollectorShape } from '@homelab/ollama-collector/config'
import { RecorderConfig } from '@homelab/recorder/config'
import { haShape } from '@homelab/service-kit'
import { SysCollectorConfig } from '@homelab/sys-collector/config'
import { SystemdCollectorShape } from '@homelab/systemd-collector/config'
import { z } from 'zod'

/**
 * Everything in one process: the union of every service's settings. HOMELAB_MQTT_URL is optional here: unset, the
 * embedded broker starts on HOMELAB_MQTT_PORT and each service logs in as its own user.
 */
export const AllInOneConfig = z.object({
  ...BrokerConfig.shape,
  ...SysCollectorConfig.shape,
  ...DockerCollectorShape,
  ...SystemdCollectorShape,
  ...OllamaCollectorShape,
  ...haShape,
  ...RecorderConfig.shape,
  ...GatewayConfig.shape,
  ...AlerterShape,
  HOMELAB_MQTT_URL: SysCollectorConfig.shape.HOMELAB_MQTT_URL.unwrap().optional(),
})
export type AllInOneConfig = z.infer<typeof AllInOneConfig>
