#!/usr/bin/env node
// The container image's entry point: `run-service.mjs <service>` starts one service (its built bundle), or every
// service in one process with `all-in-one`. Any other name is refused with the list.
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const SERVICES = [
  'all-in-one',
  'broker',
  'sys-collector',
  'docker-collector',
  'docker-proxy',
  'systemd-collector',
  'ollama-collector',
  'recorder',
  'gateway',
  'alerter',
]
const name = process.argv[2] ?? 'all-in-one'
if (!SERVICES.includes(name)) {
  process.stderr.write(`unknown service "${name}"; one of: ${SERVICES.join(', ')}\n`)
  process.exit(2)
}
const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'services', name, 'dist', 'main.js')
if (!existsSync(main)) {
  process.stderr.write(`${main} is missing: build first (npm run build)\n`)
  process.exit(2)
}
process.argv.splice(2, 1)
await import(pathToFileURL(main).href)
