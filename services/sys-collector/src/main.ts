import { createTopics } from '@homelab/contracts'
import {
  Counters,
  createLogger,
  loadConfig,
  MqttConnection,
  resolveHostId,
  resolvePassword,
  runUntilSignal,
} from '@homelab/service-kit'
import { SysCollector } from './collector.js'
import { SysCollectorConfig } from './config.js'

const log = createLogger('sys-collector')
await runUntilSignal(log, async () => {
  const c = loadConfig(SysCollectorConfig)
  const host = resolveHostId(c)
  const topics = createTopics(c.HOMELAB_BASE_TOPIC)
  const counters = new Counters()
  const conn = new MqttConnection({
    url: c.HOMELAB_MQTT_URL,
    username: c.HOMELAB_MQTT_USERNAME ?? 'sys-collector',
    password: resolvePassword(c),
    clientId: `sys-collector-${host}`,
    host,
    service: 'sys-collector',
    topics,
    log,
    counters,
    version: process.env.npm_package_version ?? '0.1.0',
  })
  conn.start()
  const collector = new SysCollector({
    conn,
    topics,
    host,
    intervalMs: c.HOMELAB_SYS_INTERVAL_MS,
    paths: { proc: c.HOMELAB_PROC_DIR, sys: c.HOMELAB_SYS_DIR, rootfs: c.HOMELAB_ROOTFS },
    log,
    counters,
  })
  await collector.start()
  return {
    async stop() {
      await collector.stop()
      await conn.stop()
    },
  }
})
