import type { ServiceName, Topics } from '@homelab/contracts'
import {
  brokerIdentity,
  type CommonConfig,
  type ConfigSchema,
  type HaConfig,
  loadConfig,
  type Source,
} from './config.js'
import { HaDiscovery } from './ha-discovery.js'
import { startHealthFile } from './health.js'
import { runUntilSignal } from './lifecycle.js'
import { Counters, createLogger, type Logger } from './log.js'
import { MqttConnection, type MqttConnectionOptions } from './mqtt-connection.js'

/** What a service is given to run: where it is, the bus and its login, its logger and counters. */
export interface ServiceContext {
  host: string
  topics: Topics
  mqtt: { url: string; username: string; password: string | undefined }
  log: Logger
  counters: Counters
}

/** A service built by its module; `stop` undoes exactly what `start` did. */
export interface ServiceInstance {
  start(): Promise<void>
  stop(): Promise<void>
  /** For the container healthcheck file (HOMELAB_HEALTH_FILE) when the service runs alone. */
  health(): { ok: boolean; detail: string }
  /** Lines worth telling the operator once it has started (where its data is, its login). */
  started?(): string[]
  /** One line to show on its own once everything has started (the dashboard's address). */
  banner?(): string
}

/**
 * One shape for every service: its name, its settings (a zod object read from the environment), and a `create`
 * that builds it from them; `start` connects it and begins its work. (Two still open a file of their own in
 * `create`: the alerter its SQLite store, the gateway its token file.) A service's `main.ts` is
 * `runService(module)`; the all-in-one starts a list of modules in order and stops them in reverse.
 */
export interface ServiceModule<C extends CommonConfig = CommonConfig> {
  name: ServiceName
  config: ConfigSchema<C>
  create(config: C, ctx: ServiceContext): ServiceInstance
}

/** A module with its settings' type hidden, so modules of different settings can sit in one list. */
export interface ModuleEntry {
  name: ServiceName
  /** Reads the module's settings from `env` and builds the service in its context (not started). */
  build(env: Source): ServiceInstance
}

export function entry<C extends CommonConfig>(m: ServiceModule<C>): ModuleEntry {
  return {
    name: m.name,
    build: (env) => {
      const config = loadConfig(m.config, env)
      return m.create(config, serviceContext(config, m.name))
    },
  }
}

/**
 * The context a service runs in, from its settings alone: its host id, its topics, its login to the broker
 * (HOMELAB_MQTT_USERNAME/PASSWORD, or its own user's password from HOMELAB_MQTT_USERS_FILE), its log and counters.
 * The same whether it runs alone or in the all-in-one.
 */
export function serviceContext(config: CommonConfig, name: ServiceName): ServiceContext {
  const { url, username, password, host, topics } = brokerIdentity(config, name)
  return {
    host,
    topics,
    mqtt: { url, username, password },
    log: createLogger(name),
    counters: new Counters(),
  }
}

/** A service's `main.ts`: reads its settings, runs it until SIGINT/SIGTERM, keeps its health file fresh. */
export async function runService<C extends CommonConfig>(m: ServiceModule<C>): Promise<void> {
  const log = createLogger(m.name)
  await runUntilSignal(log, async () => {
    const config = loadConfig(m.config)
    const service = m.create(config, serviceContext(config, m.name))
    await service.start()
    const stopHealth = startHealthFile(config.HOMELAB_HEALTH_FILE, () => service.health())
    for (const line of service.started?.() ?? []) log.info(line)
    const banner = service.banner?.()
    if (banner) log.info(banner)
    return {
      async stop() {
        stopHealth()
        await service.stop()
      },
    }
  })
}

/**
 * Starts services in order (each once the one before has started) and returns what stops them in reverse. If one
 * fails to start, those already started are stopped before the error is thrown.
 */
export async function startInOrder(
  services: ReadonlyArray<{ name: string; instance: ServiceInstance }>,
  log: Logger,
): Promise<() => Promise<void>> {
  const started: Array<{ name: string; instance: ServiceInstance }> = []
  const stopAll = async () => {
    for (const s of [...started].reverse()) {
      try {
        await s.instance.stop()
      } catch (e) {
        log.warn(`error while stopping the ${s.name}:`, e)
      }
    }
  }
  try {
    for (const s of services) {
      await s.instance.start()
      started.push(s)
    }
  } catch (e) {
    await stopAll()
    throw e
  }
  return stopAll
}

/** A service's login to the bus, as its options carry it. */
export interface BusLogin {
  url: string
  username: string | undefined
  password: string | undefined
  host: string
  topics: Topics
  log: Logger
}

/** The version every service reports in its status. */
export const SERVICE_VERSION = '0.1.0'

/**
 * A service's connection to the bus: client id `<service>-<host>` (`.<suffix>` for a second one, as the broker's
 * client-id rule allows), its status and availability under its own subtree.
 */
export function serviceConnection(
  login: BusLogin,
  service: ServiceName,
  counters: Counters,
  extra: Partial<Omit<MqttConnectionOptions, keyof BusLogin | 'service' | 'counters' | 'version'>> = {},
): MqttConnection {
  return new MqttConnection({
    url: login.url,
    username: login.username,
    password: login.password,
    clientId: `${service}-${login.host}`,
    host: login.host,
    service,
    topics: login.topics,
    log: login.log,
    counters,
    version: SERVICE_VERSION,
    ...extra,
  })
}

/**
 * A collector's Home Assistant discovery, or null when it is off: the devices whose object ids `owns` matches are
 * this collector's, and `republish` sends its current state again when Home Assistant comes up.
 */
export function collectorDiscovery(
  o: BusLogin & { ha?: HaConfig | undefined },
  conn: MqttConnection,
  service: ServiceName,
  counters: Counters,
  owns: (objectId: string) => boolean,
  republish: () => void,
): HaDiscovery | null {
  if (!o.ha) return null
  return new HaDiscovery({
    conn,
    topics: o.topics,
    host: o.host,
    service,
    owns,
    settings: o.ha,
    log: o.log,
    counters,
    onBirth: republish,
  })
}
