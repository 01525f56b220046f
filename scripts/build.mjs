// Builds every service into services/<name>/dist/main.js (one esbuild bundle each: workspace packages from source
// and npm dependencies inlined, native addons external) and the web app into web/dist (vite).
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
  console.error(
    outputs.some((o) => existsSync(o))
      ? 'building (sources changed since the last build)…'
      : 'building (the first time: about a minute)…',
  )
}

// npm dependencies are bundled with the code: one file per service holds only the modules it uses, parsed once,
// instead of hundreds of files each resolved, read and wrapped by Node's loader (each service alone was 20–30 MB
// above bare Node, most of it module code it never ran). Native addons and what they load stay in node_modules.
const EXTERNAL = [
  'better-sqlite3',
  'classic-level',
  'level',
  'aedes-persistence-level',
  // optional native speed-ups their packages try to require and do without
  'bufferutil',
  'utf-8-validate',
  'usocket',
  'cpu-features',
  'supports-color',
  'x11',
  // OIDC single sign-on's client (with jose): loaded by the gateway only when HOMELAB_OIDC_ISSUER is set, so it stays
  // out of the bundle every gateway and all-in-one parses at start
  'openid-client',
]
// Code paths the product refuses by configuration, replaced by a stub that says so if it is ever reached:
// dockerode's image-build sessions (gRPC and protobuf, ~10 MB) and docker-modem's ssh:// transport (ssh2).
const STUBS = [
  { filter: /^ssh2$/, importer: /docker-modem/, what: 'ssh:// Docker hosts' },
  { filter: /^\.\/session$/, importer: /dockerode/, what: 'image builds through dockerode' },
]
const stubs = {
  name: 'stubs',
  setup(b) {
    for (const s of STUBS)
      b.onResolve({ filter: s.filter }, (args) =>
        s.importer.test(args.importer) ? { path: s.what, namespace: 'stub' } : undefined,
      )
    b.onLoad({ filter: /.*/, namespace: 'stub' }, (args) => ({
      contents: `const no = () => { throw new Error(${JSON.stringify(`${args.path} are not supported by this build`)}) }
module.exports = new Proxy(no, { get: (_, k) => (k === '__esModule' ? false : no) })`,
      loader: 'js',
    }))
  },
}
// Bundled CommonJS code calls require() for Node's built-ins and the externals; an ES module has none of its own.
const banner = [
  "import { createRequire as __createRequire } from 'node:module'",
  "import { dirname as __pathDirname } from 'node:path'",
  "import { fileURLToPath as __fileURLToPath } from 'node:url'",
  'const require = __createRequire(import.meta.url)',
  'const __filename = __fileURLToPath(import.meta.url)',
  'const __dirname = __pathDirname(__filename)',
].join('; ')

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
      external: EXTERNAL,
      plugins: [stubs],
      banner: { js: banner },
      minifyWhitespace: true,
      minifySyntax: true,
      legalComments: 'linked',
      sourcemap: true,
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
console.error('built services/*/dist and web/dist')
