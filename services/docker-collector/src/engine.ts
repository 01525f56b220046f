import Docker from 'dockerode'
import { dockerConnection } from './config.js'
import type { InspectJson, ListJson, StatsJson } from './convert.js'

export interface EngineVersion {
  version: string
  apiVersion: string
}

/**
 * The Docker Engine API calls the collector makes, typed to the few fields it reads. Short calls share a client
 * with a timeout; the event stream and lifecycle commands (a stop may wait for the container's grace period) use
 * one without.
 */
export class Engine {
  private readonly quick: Docker
  private readonly slow: Docker
  /** DOCKER_HOST as configured, for messages. */
  readonly where: string

  constructor(dockerHost: string, requestTimeoutMs = 15_000) {
    const conn = dockerConnection(dockerHost)
    this.where = dockerHost.replace(/^unix:\/\//, '')
    this.quick = new Docker({ ...conn, timeout: requestTimeoutMs })
    this.slow = new Docker(conn)
  }

  async version(): Promise<EngineVersion> {
    const v = await this.quick.version()
    return { version: v.Version, apiVersion: v.ApiVersion }
  }

  async list(): Promise<ListJson[]> {
    return (await this.quick.listContainers({ all: true })) as ListJson[]
  }

  async inspect(idOrName: string): Promise<InspectJson> {
    return (await this.quick.getContainer(idOrName).inspect()) as InspectJson
  }

  /** One stats read without the 1 s wait for a second sample (`one-shot`, engine API ≥ 1.41). */
  async stats(id: string): Promise<StatsJson> {
    const opts = { stream: false as const, 'one-shot': true }
    return (await this.quick.getContainer(id).stats(opts)) as StatsJson
  }

  /** The engine's event stream, filtered to containers; newline-delimited JSON. */
  async events(): Promise<NodeJS.ReadableStream> {
    return this.slow.getEvents({ filters: { type: ['container'] } })
  }

  /**
   * A container's log stream (multiplexed stdout/stderr frames unless it has a TTY), with Docker's timestamps;
   * `since`/`until` are epoch ms. Always asked for as a stream (follow with an `until` ends at that time), so a
   * large log is read line by line and never held whole, as a non-following read would be.
   */
  async logs(
    id: string,
    o: {
      stdout: boolean
      stderr: boolean
      tail: number | 'all'
      since?: number
      until?: number
      signal: AbortSignal
    },
  ): Promise<NodeJS.ReadableStream> {
    const sec = (ms: number) => (ms / 1000).toFixed(3)
    return this.slow.getContainer(id).logs({
      follow: true,
      stdout: o.stdout,
      stderr: o.stderr,
      timestamps: true,
      ...(o.tail === 'all' ? {} : { tail: o.tail }),
      abortSignal: o.signal,
      ...(o.since === undefined ? {} : { since: sec(o.since) }),
      ...(o.until === undefined ? {} : { until: sec(o.until) }),
    })
  }

  async act(id: string, action: 'start' | 'stop' | 'restart', stopTimeoutS: number): Promise<void> {
    const c = this.slow.getContainer(id)
    if (action === 'start') await c.start()
    else if (action === 'stop') await c.stop({ t: stopTimeoutS })
    else await c.restart({ t: stopTimeoutS })
  }
}

/** HTTP status of a failed engine call, if it got that far. */
export function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown }).statusCode
  return typeof s === 'number' ? s : undefined
}
