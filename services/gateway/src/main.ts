import { join } from 'node:path'
import { Role } from '@homelab/contracts'
import {
  brokerIdentity,
  Counters,
  createLogger,
  loadConfig,
  mqttProbe,
  runUntilSignal,
  startHealthFile,
} from '@homelab/service-kit'
import { Auth } from './auth.js'
import { GatewayConfig, sessionOptions } from './config.js'
import { Gateway } from './gateway.js'

const log = createLogger('gateway')
const [cmd, ...args] = process.argv.slice(2)

if (cmd === 'token') {
  // `gateway token create <name> <viewer|operator|admin>` | `gateway token list` | `gateway token delete <id>`
  const c = loadConfig(GatewayConfig)
  const auth = new Auth(c.HOMELAB_DATA_DIR, c.HOMELAB_ADMIN_TOKEN, sessionOptions(c))
  const [sub, a, b] = args
  if (sub === 'create' && a && Role.safeParse(b).success) {
    const t = auth.createToken(a, Role.parse(b))
    process.stdout.write(`${t.token}\n`)
  } else if (sub === 'list') {
    for (const t of auth.listTokens()) process.stdout.write(`${t.id}  ${t.role.padEnd(8)}  ${t.name}\n`)
  } else if (sub === 'delete' && a) {
    process.exit(auth.deleteToken(a) ? 0 : 1)
  } else {
    process.stderr.write(
      'usage: token create <name> <viewer|operator|admin> | token list | token delete <id>\n',
    )
    process.exit(2)
  }
} else {
  await runUntilSignal(log, async () => {
    const c = loadConfig(GatewayConfig)
    const { topics, host, username, password } = brokerIdentity(c, 'gateway')
    const gw = new Gateway({
      config: c,
      topics,
      host,
      username,
      password,
      databasePath: join(c.HOMELAB_DATA_DIR, 'homelab.db'),
      log,
      counters: new Counters(),
    })
    await gw.start()
    startHealthFile(c.HOMELAB_HEALTH_FILE, mqttProbe(gw.conn))
    log.info(`dashboard on http://localhost:${gw.port}/`)
    return gw
  })
}
