import { commonShape, duration, globList, haShape } from '@homelab/service-kit'
import { z } from 'zod'

export const DockerCollectorShape = {
  /** Docker's own variable: `unix:///var/run/docker.sock` (default) or `tcp://host:2375` (e.g. a socket proxy). */
  DOCKER_HOST: z
    .string()
    .regex(
      /^(unix:\/\/\/\S+|tcp:\/\/[^\s/]+:\d{1,5}\/?|http:\/\/[^\s/]+:\d{1,5}\/?)$/,
      'must be unix:///path/to/docker.sock or tcp://host:port (TLS and ssh:// are not supported)',
    )
    .default('unix:///var/run/docker.sock'),
  /** How often containers are listed and their stats read; 1 s to 1 h. */
  HOMELAB_DOCKER_INTERVAL_MS: duration(1000, 3_600_000).default(5000),
  /** Container names that may be started/stopped/restarted (glob patterns). Empty = none, unless labelled. */
  HOMELAB_DOCKER_CONTROL: globList,
  /** One-shot stats requests in flight at once. */
  HOMELAB_DOCKER_STATS_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(5),
  /** Seconds Docker waits after SIGTERM before SIGKILL on stop/restart. */
  HOMELAB_DOCKER_STOP_TIMEOUT_S: z.coerce.number().int().min(0).max(600).default(10),
}

export const DockerCollectorConfig = z.object({ ...commonShape, ...haShape, ...DockerCollectorShape })
export type DockerCollectorConfig = z.infer<typeof DockerCollectorConfig>

/** Where dockerode should connect, from DOCKER_HOST. */
export function dockerConnection(
  dockerHost: string,
): { socketPath: string } | { host: string; port: number } {
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) }
  const u = new URL(dockerHost.replace(/^tcp:/, 'http:'))
  return { host: u.hostname, port: Number(u.port) }
}
