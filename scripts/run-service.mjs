#!/usr/bin/env node
// The container image's entry point: `run-service.mjs <service>` starts one service (its built bundle), or every
// service in one process with `all-in-one`. Any other name is refused with the list.
import { existsSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

// The services are the folders under services/ (in the image, each holds its bundle in dist/).
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const SERVICES = readdirSync(join(root, 'services'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()
const name = process.argv[2] ?? 'all-in-one'
if (!SERVICES.includes(name)) {
  process.stderr.write(`unknown service "${name}"; one of: ${SERVICES.join(', ')}\n`)
  process.exit(2)
}
const main = join(root, 'services', name, 'dist', 'main.js')
if (!existsSync(main)) {
  process.stderr.write(`${main} is missing: build first (npm run build)\n`)
  process.exit(2)
}
process.argv.splice(2, 1)
await import(pathToFileURL(main).href)
