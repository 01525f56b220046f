import { createLogger, loadConfig, runUntilSignal } from '@homelab/service-kit'
import { BrokerConfig } from './config.js'
import { enrolHost, enrolledHosts, ensureCredentials, revokeHost, usersFilePath } from './credentials.js'
import { startBrokerFromConfig } from './from-config.js'

const log = createLogger('broker')
const [command, verb, host] = process.argv.slice(2)

if (command === 'enrol') {
  // `broker enrol add|remove|list [host]`: the credentials of an agent machine (run beside the broker's data).
  const c = loadConfig(BrokerConfig)
  try {
    if (verb === 'add' && host) {
      const r = enrolHost(c.HOMELAB_DATA_DIR, host)
      process.stdout.write(
        `enrolled "${host}": users ${r.users.join(', ')}\n` +
          `copy ${r.path} to that machine as its users file (compose.agent.yaml: ./secrets/mqtt-users.json);\n` +
          `it is bound to the host id "${host}" (HOMELAB_HOST_ID there). A running broker takes it within seconds.\n`,
      )
    } else if (verb === 'remove' && host) {
      const gone = revokeHost(c.HOMELAB_DATA_DIR, host)
      process.stdout.write(
        gone.length
          ? `revoked "${host}" (${gone.join(', ')}); a running broker disconnects it within seconds\n`
          : `"${host}" was not enrolled\n`,
      )
    } else if (verb === 'list') {
      const hosts = enrolledHosts(c.HOMELAB_DATA_DIR)
      process.stdout.write(hosts.length ? `${hosts.join('\n')}\n` : 'no machine is enrolled\n')
    } else {
      process.stderr.write('usage: enrol add <host id> | enrol remove <host id> | enrol list\n')
      process.exit(2)
    }
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`)
    process.exit(2)
  }
} else {
  await runUntilSignal(log, async () => {
    const c = loadConfig(BrokerConfig)
    const credentials = ensureCredentials(c.HOMELAB_DATA_DIR, c.HOMELAB_HA_MQTT_PASSWORD)
    log.info(`MQTT users and passwords: ${usersFilePath(c.HOMELAB_DATA_DIR)} (mode 0640)`)
    return startBrokerFromConfig(c, credentials, log)
  })
}
