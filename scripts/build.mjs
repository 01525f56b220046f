// Builds every service into services/<name>/dist/main.js (one esbuild bundle each: workspace packages are inlined
// from source, npm dependencies stay external) and the web app into web/dist (vite).
// `--if-stale` skips the build when every output is newer than every source file (used by `npm start`).

import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
// Every folder under services/ with a src/main.ts is a service (one list: the Dockerfile and run-service.mjs read
// the folders too).
const services = readdirSync(join(root, 'services'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(root, 'services', d.name, 'src', 'main.ts')))
  .map((d) => d.name)
const outputs = [
  ...services.map((s) => join(root, 'services', s, 'dist', 'main.js')),
  join(root, 'web', 'dist', 'index.html'),
]

function newest(dir) {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist') continue
    const p = join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return t
}

if (process.argv.includes('--if-stale')) {
  const src = Math.max(
    ...['packages', 'services', 'web'].map((d) => newest(join(root, d))),
    statSync(join(root, 'package-lock.json')).mtimeMs,
  )
  const oldestOut = Math.min(...outputs.map((o) => (existsSync(o) ? statSync(o).mtimeMs : 0)))
  if (oldestOut > src) process.exit(0)
  console.log('building (sources changed since the last build)…')
}

const workspace = {
  name: 'externalize-npm',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@homelab/') ? undefined : { path: args.path, external: true },
    )
  },
}

await Promise.all(
  services.map((s) =>
    build({
      entryPoints: [join(root, 'services', s, 'src', 'main.ts')],
      outfile: join(root, 'services', s, 'dist', 'main.js'),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      conditions: ['source'],
      sourcemap: true,
      plugins: [workspace],
      logLevel: 'warning',
    }),
  ),
)
execFileSync(
  process.execPath,
  [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'],
  {
    cwd: join(root, 'web'),
    stdio: 'inherit',
  },
)
console.log('built services/*/dist and web/dist')
