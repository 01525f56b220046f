import { resolve } from 'node:path'
import { alerter } from '@homelab/alerter'
import type { RunningBroker } from '@homelab/broker'
import { ensureCredentials, startBrokerFromConfig, usersFilePath } from '@homelab/broker'
import { dockerCollector } from '@homelab/docker-collector'
import { gateway } from '@homelab/gateway'
import { ollamaCollector } from '@homelab/ollama-collector'
import { probeCollector } from '@homelab/probe-collector'
import { databasePath, recorder } from '@homelab/recorder'
import {
  createLogger,
  entry,
  loadConfig,
  type ModuleEntry,
  resolveHostId,
  runUntilSignal,
  type ServiceInstance,
  shareDecoding,
  startInOrder,
} from '@homelab/service-kit'
import { sysCollector } from '@homelab/sys-collector'
import { systemdCollector } from '@homelab/systemd-collector'
import { AllInOneConfig } from './config.js'

const log = createLogger('homelab')

/**
 * What `npm start` runs, in this order (stopped in reverse): the recorder first, so it is there for the first
 * reading; the alerter last, so at a normal stop it is stopped first and never sees its siblings go offline.
 */
const MODULES: readonly ModuleEntry[] = [
  entry(recorder),
  entry(gateway),
  entry(sysCollector),
  entry(dockerCollector),
  entry(systemdCollector),
  entry(ollamaCollector),
  entry(probeCollector),
  entry(alerter),
]

/**
 * `npm start`: the broker (unless HOMELAB_MQTT_URL names another) and every service in one process, each with its
 * own MQTT client and its own user, exactly as they run in separate containers.
 */
await runUntilSignal(log, async () => {
  // The recorder, gateway and alerter each receive every message: one decodes it, the others share the result.
  shareDecoding(2048)
  // Every setting of every service is checked before anything starts.
  const c = loadConfig(AllInOneConfig)
  const host = resolveHostId(c)
  // Our own broker: each service logs in as its own user (passwords generated once, kept in the data folder).
  const credentials = c.HOMELAB_MQTT_URL
    ? null
    : ensureCredentials(c.HOMELAB_DATA_DIR, c.HOMELAB_HA_MQTT_PASSWORD)
  let broker: RunningBroker | null = null
  let url = c.HOMELAB_MQTT_URL
  if (!url) {
    broker = await startBrokerFromConfig(c, credentials ?? {}, createLogger('broker'))
    url = `mqtt://127.0.0.1:${broker.port}`
  } else log.info(`using the broker at ${url}`)
  // Each service reads its own settings and login as it does in its own container: with our broker, its own user's
  // password from the users file; with another, the one login this machine was given.
  const env: NodeJS.ProcessEnv = { ...process.env, HOMELAB_MQTT_URL: url }
  if (credentials) {
    env.HOMELAB_MQTT_USERS_FILE = usersFilePath(resolve(c.HOMELAB_DATA_DIR))
    delete env.HOMELAB_MQTT_USERNAME
    delete env.HOMELAB_MQTT_PASSWORD
    delete env.HOMELAB_MQTT_PASSWORD_FILE
  }
  const build = (m: ModuleEntry): { name: string; instance: ServiceInstance } => ({
    name: m.name,
    instance: m.build(env),
  })
  let services: Array<{ name: string; instance: ServiceInstance }>
  let stopServices: () => Promise<void>
  try {
    services = MODULES.map(build)
    stopServices = await startInOrder(services, log)
  } catch (e) {
    await broker?.stop().catch(() => undefined)
    throw e
  }
  for (const s of services) for (const line of s.instance.started?.() ?? []) createLogger(s.name).info(line)
  const dataDir = resolve(c.HOMELAB_DATA_DIR)
  log.info(`host id "${host}"; data in ${dataDir} (database ${databasePath(dataDir)})`)
  if (broker)
    log.info(
      `MQTT broker on port ${broker.port}; service passwords in ${usersFilePath(dataDir)} (mode 0640: its owner and group only)`,
    )
  for (const s of services) {
    const banner = s.instance.banner?.()
    if (banner) process.stdout.write(`\n  ${banner}\n\n`)
  }
  return {
    async stop() {
      await stopServices()
      await broker?.stop()
    },
  }
})
