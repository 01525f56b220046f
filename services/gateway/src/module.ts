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
    const dashboard = (port: number) =>
      c.HOMELAB_PUBLIC_URL
        ? `${c.HOMELAB_PUBLIC_URL.replace(/\/+$/, '')}/`
        : `http://localhost:${port}${c.HOMELAB_BASE_PATH}/`
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
      started: () => {
        const code = gw.auth.pendingSetupCode()
        return [
          code
            ? `no account yet: create the first admin at ${dashboard(gw.port)}setup#${code} (this link works once), or with \`npm run user -- add NAME admin\``
            : null,
          gw.auth.generatedAdminTokenPath
            ? `break-glass admin token: ${resolve(gw.auth.generatedAdminTokenPath)} (mode 0600; or set HOMELAB_ADMIN_TOKEN)`
            : 'break-glass admin token: the value of HOMELAB_ADMIN_TOKEN',
        ].filter((l): l is string => l !== null)
      },
      banner: () => `Dashboard: ${dashboard(gw.port)}`,
    }
  },
}
