import { runService } from '@homelab/service-kit'
import { runCli } from './cli.js'
import { gateway } from './module.js'

const [cmd, ...args] = process.argv.slice(2)

if (cmd === 'user' || cmd === 'token') process.exit(await runCli(cmd, args))
else await runService(gateway)
