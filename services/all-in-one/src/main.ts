import { resolve } from 'node:path'
import { AlerterService, alerterSettings } from '@homelab/alerter'
import type { RunningBroker } from '@homelab/broker'
import { ensureCredentials, startBrokerFromConfig, usersFilePath } from '@homelab/broker'
import { createTopics } from '@homelab/contracts'
import { DockerCollectorService } from '@homelab/docker-collector'
import { Gateway } from '@homelab/gateway'
import { OllamaCollectorService, ollamaOptions } from '@homelab/ollama-collector'
import { databasePath, Recorder } from '@homelab/recorder'
import {
  Counters,
  createLogger,
  haSettings,
  loadConfig,
  resolveHostId,
  resolvePassword,
  runUntilSignal,
  shareDecoding,
} from '@homelab/service-kit'
import { SysCollectorService } from '@homelab/sys-collector'
import { SystemdCollectorService } from '@homelab/systemd-collector'
import { AllInOneConfig } from './config.js'

const log = createLogger('homelab')

/**
 * `npm start`: broker (unless HOMELAB_MQTT_URL names another), recorder, gateway and every collector in one process,
 * each its own MQTT client with its own user, exactly as they run in separate containers.
 */
await runUntilSignal(log, async () => {
  // The recorder, gateway and alerter each receive every message: one decodes it, the others share the result.
  shareDecoding(2048)
  const c = loadConfig(AllInOneConfig)
  const host = resolveHostId(c)
  const topics = createTopics(c.HOMELAB_BASE_TOPIC)
  const ha = haSettings(c)
  const stops: Array<() => Promise<void>> = []
  let broker: RunningBroker | null = null
  let url = c.HOMELAB_MQTT_URL
  const credentials = c.HOMELAB_MQTT_URL
    ? {}
    : ensureCredentials(c.HOMELAB_DATA_DIR, c.HOMELAB_HA_MQTT_PASSWORD)
  const creds = (
    user:
      | 'sys-collector'
      | 'docker-collector'
      | 'systemd-collector'
      | 'ollama-collector'
      | 'recorder'
      | 'gateway'
      | 'alerter',
  ) => {
    if (c.HOMELAB_MQTT_URL)
      return {
        username: c.HOMELAB_MQTT_USERNAME,
        password: resolvePassword(c, c.HOMELAB_MQTT_USERNAME),
      }
    return { username: user, password: credentials[user] }
  }
  try {
    if (!url) {
      broker = await startBrokerFromConfig(c, credentials, createLogger('broker'))
      const b = broker
      stops.unshift(() => b.stop())
      url = `mqtt://127.0.0.1:${broker.port}`
    } else {
      log.info(`using the broker at ${url}`)
    }
    const withUrl = { ...c, HOMELAB_MQTT_URL: url }

    const rc = creds('recorder')
    const recorder = new Recorder({
      config: withUrl,
      topics,
      host,
      username: rc.username ?? 'recorder',
      password: rc.password,
      log: createLogger('recorder'),
      counters: new Counters(),
    })
    recorder.start()
    stops.unshift(() => recorder.stop())

    const gateway = new Gateway({
      config: withUrl,
      topics,
      host,
      username: creds('gateway').username ?? 'gateway',
      password: creds('gateway').password,
      databasePath: databasePath(c.HOMELAB_DATA_DIR),
      log: createLogger('gateway'),
      counters: new Counters(),
    })
    await gateway.start()
    stops.unshift(() => gateway.stop())

    const sc = creds('sys-collector')
    const sys = new SysCollectorService({
      url,
      username: sc.username ?? 'sys-collector',
      password: sc.password,
      host,
      topics,
      intervalMs: c.HOMELAB_SYS_INTERVAL_MS,
      paths: { proc: c.HOMELAB_PROC_DIR, sys: c.HOMELAB_SYS_DIR, rootfs: c.HOMELAB_ROOTFS },
      log: createLogger('sys-collector'),
      ha,
    })
    await sys.start()
    stops.unshift(() => sys.stop())

    const dc = creds('docker-collector')
    const docker = new DockerCollectorService({
      url,
      username: dc.username ?? 'docker-collector',
      password: dc.password,
      host,
      topics,
      dockerHost: c.DOCKER_HOST,
      intervalMs: c.HOMELAB_DOCKER_INTERVAL_MS,
      control: c.HOMELAB_DOCKER_CONTROL,
      statsConcurrency: c.HOMELAB_DOCKER_STATS_CONCURRENCY,
      stopTimeoutS: c.HOMELAB_DOCKER_STOP_TIMEOUT_S,
      log: createLogger('docker-collector'),
      ha,
    })
    docker.start()
    stops.unshift(() => docker.stop())

    const sd = creds('systemd-collector')
    const systemd = new SystemdCollectorService({
      url,
      username: sd.username ?? 'systemd-collector',
      password: sd.password,
      host,
      topics,
      busAddress: c.DBUS_SYSTEM_BUS_ADDRESS,
      units: c.HOMELAB_SYSTEMD_UNITS,
      control: c.HOMELAB_SYSTEMD_CONTROL,
      intervalMs: c.HOMELAB_SYSTEMD_INTERVAL_MS,
      resyncMs: c.HOMELAB_SYSTEMD_RESYNC_MS,
      jobTimeoutMs: c.HOMELAB_SYSTEMD_JOB_TIMEOUT_MS,
      log: createLogger('systemd-collector'),
      ha,
    })
    systemd.start()
    stops.unshift(() => systemd.stop())

    const oc = creds('ollama-collector')
    const ollama = new OllamaCollectorService({
      url,
      username: oc.username ?? 'ollama-collector',
      password: oc.password,
      host,
      topics,
      ...ollamaOptions(c),
      log: createLogger('ollama-collector'),
      ha,
    })
    await ollama.start()
    stops.unshift(() => ollama.stop())

    // Started last, so it is stopped first: it must not see its siblings go offline at a normal stop.
    const ac = creds('alerter')
    const alerter = new AlerterService({
      url,
      username: ac.username ?? 'alerter',
      password: ac.password,
      host,
      topics,
      settings: alerterSettings(c),
      log: createLogger('alerter'),
    })
    alerter.start()
    stops.unshift(() => alerter.stop())

    const dataDir = resolve(c.HOMELAB_DATA_DIR)
    log.info(`host id "${host}"; data in ${dataDir} (database ${databasePath(dataDir)})`)
    log.info(`alert rules: ${resolve(alerterSettings(c).rulesFile)} (reloaded when it changes)`)
    if (!c.HOMELAB_MQTT_URL)
      log.info(
        `MQTT broker on port ${broker?.port}; service passwords in ${usersFilePath(dataDir)} (mode 0600)`,
      )
    log.info(
      gateway.auth.generatedAdminTokenPath
        ? `admin login token: ${resolve(gateway.auth.generatedAdminTokenPath)} (mode 0600; or set HOMELAB_ADMIN_TOKEN)`
        : 'admin login token: the value of HOMELAB_ADMIN_TOKEN',
    )
    process.stdout.write(`\n  Dashboard: http://localhost:${gateway.port}/\n\n`)
  } catch (e) {
    for (const stop of stops) await stop().catch(() => undefined)
    throw e
  }
  return {
    async stop() {
      for (const stop of stops) {
        try {
          await stop()
        } catch (e) {
          log.warn('error while stopping:', e)
        }
      }
    },
  }
})
