import {
  Counters,
  createLogger,
  loadConfig,
  port,
  runUntilSignal,
  startHealthFile,
} from '@homelab/service-kit'
import { z } from 'zod'
import { DockerProxy } from './proxy.js'

export const DockerProxyConfig = z.object({
  /** The engine's socket (unix only: this is what holds it). */
  DOCKER_HOST: z
    .string()
    .regex(/^unix:\/\/\/\S+$/, 'must be the engine socket, e.g. unix:///var/run/docker.sock')
    .default('unix:///var/run/docker.sock'),
  HOMELAB_DOCKER_PROXY_PORT: port('HOMELAB_DOCKER_PROXY_PORT').default(2375),
  HOMELAB_DOCKER_PROXY_BIND: z.string().min(1).default('0.0.0.0'),
  /** `on` lets start/stop/restart through (the collector's allowlist still decides which containers). */
  HOMELAB_DOCKER_PROXY_CONTROL: z.enum(['on', 'off']).default('off'),
  HOMELAB_HEALTH_FILE: z.string().min(1).optional(),
})

const log = createLogger('docker-proxy')
await runUntilSignal(log, async () => {
  const c = loadConfig(DockerProxyConfig)
  const proxy = new DockerProxy({
    socketPath: c.DOCKER_HOST.slice('unix://'.length),
    port: c.HOMELAB_DOCKER_PROXY_PORT,
    bind: c.HOMELAB_DOCKER_PROXY_BIND,
    control: c.HOMELAB_DOCKER_PROXY_CONTROL === 'on',
    log,
    counters: new Counters(),
  })
  await proxy.start()
  startHealthFile(c.HOMELAB_HEALTH_FILE, () => ({ ok: true, detail: 'listening' }))
  return proxy
})
