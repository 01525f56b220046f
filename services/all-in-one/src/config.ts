import { AlerterShape } from '@homelab/alerter'
import { BrokerConfig } from '@homelab/broker'
import { DockerCollectorShape } from '@homelab/docker-collector'
import { GatewayConfig } from '@homelab/gateway'
import { OllamaCollectorShape } from '@homelab/ollama-collector'
import { ProbeCollectorShape } from '@homelab/probe-collector'
import { RecorderConfig } from '@homelab/recorder'
import { haShape } from '@homelab/service-kit'
import { SysCollectorConfig } from '@homelab/sys-collector'
import { SystemdCollectorShape } from '@homelab/systemd-collector'
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
  ...ProbeCollectorShape,
  ...haShape,
  ...RecorderConfig.shape,
  ...GatewayConfig.shape,
  ...AlerterShape,
  HOMELAB_MQTT_URL: SysCollectorConfig.shape.HOMELAB_MQTT_URL.unwrap().optional(),
})
export type AllInOneConfig = z.infer<typeof AllInOneConfig>
