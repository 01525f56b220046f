import { mqttProbe, type ServiceModule } from '@homelab/service-kit'
import { RecorderConfig } from './config.js'
import { databasePath, Recorder } from './recorder.js'

/** The recorder: the event log, the time-series tiers and the projections, in SQLite. */
export const recorder: ServiceModule<RecorderConfig> = {
  name: 'recorder',
  config: RecorderConfig,
  create(c, ctx) {
    const r = new Recorder({
      config: { ...c, HOMELAB_MQTT_URL: ctx.mqtt.url },
      topics: ctx.topics,
      host: ctx.host,
      username: ctx.mqtt.username,
      password: ctx.mqtt.password,
      log: ctx.log,
      counters: ctx.counters,
    })
    const connected = mqttProbe(r.conn)
    return {
      start: async () => r.start(),
      stop: () => r.stop(),
      health: () =>
        r.conn.hasCondition('database')
          ? { ok: false, detail: r.conn.currentStatus.reason ?? 'cannot write the database' }
          : connected(),
      started: () => [`recording to ${databasePath(c.HOMELAB_DATA_DIR)}`],
    }
  },
}
