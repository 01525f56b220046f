import { Role } from '@homelab/contracts'
import { createLogger, loadConfig, runService } from '@homelab/service-kit'
import { Auth } from './auth.js'
import { GatewayConfig, sessionOptions } from './config.js'
import { gateway } from './module.js'

const _log = createLogger('gateway')
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
  await runService(gateway)
}
