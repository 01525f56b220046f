import { resolve } from 'node:path'
import { mqttProbe, type ServiceModule } from '@homelab/service-kit'
import { databasePath } from '@homelab/storage'
import { GatewayConfig } from './config.js'
import { Gateway } from './gateway.js'

/** The gateway: the HTTP API, the live stream, the dashboard, the command relay. */
export const gateway: ServiceModule<GatewayConfig> = {
  name: 'gateway',
  config: GatewayConfig,
  create(c, ctx) {
    const gw = new Gateway({
      config: { ...c, HOMELAB_MQTT_URL: ctx.mqtt.url },
      topics: ctx.topics,
      host: ctx.host,
      username: ctx.mqtt.username,
      password: ctx.mqtt.password,
      databasePath: databasePath(c.HOMELAB_DATA_DIR),
      log: ctx.log,
      counters: ctx.counters,
    })
    return {
      start: () => gw.start(),
      stop: () => gw.stop(),
      health: mqttProbe(gw.conn),
      started: () => [
        gw.auth.generatedAdminTokenPath
          ? `admin login token: ${resolve(gw.auth.generatedAdminTokenPath)} (mode 0600; or set HOMELAB_ADMIN_TOKEN)`
          : 'admin login token: the value of HOMELAB_ADMIN_TOKEN',
      ],
      banner: () => `Dashboard: http://localhost:${gw.port}/`,
    }
  },
}
