#!/usr/bin/env node
// The map the build enforces (npm run lint): every import of a part (packages/*, services/*, web) is checked against
// scripts/import-map.json and the part's package.json. A part imports another only through its entry point, only if
// the map allows it and its package.json declares it; an npm package only if declared; relative imports stay inside
// the part; the web imports nothing of Node. Tests (*.test.ts) may use what the part declares plus anything relative —
// they exercise internals on purpose. Exit 1 with one line per violation.
//
//   node scripts/check-imports.mjs [--root <dir>]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const args = process.argv.slice(2)
const rootArg = args.indexOf('--root')
const root =
  rootArg >= 0 ? resolve(args[rootArg + 1] ?? '.') : join(dirname(fileURLToPath(import.meta.url)), '..')

/** @typedef {{ name: string, dir: string, declared: Set<string> }} Part */

/** @returns {Part[]} */
function parts() {
  /** @type {Part[]} */
  const out = []
  for (const group of ['packages', 'services']) {
    const g = join(root, group)
    if (!existsSync(g)) continue
    for (const d of readdirSync(g)) out.push(part(join(g, d)))
  }
  if (existsSync(join(root, 'web', 'package.json'))) out.push(part(join(root, 'web')))
  return out.filter((p) => p.name !== '')
}

/** @param {string} dir @returns {Part} */
function part(dir) {
  const file = join(dir, 'package.json')
  if (!existsSync(file)) return { name: '', dir, declared: new Set() }
  const pkg = JSON.parse(readFileSync(file, 'utf8'))
  return {
    name: String(pkg.name),
    dir,
    declared: new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]),
  }
}

/** @param {string} dir @returns {string[]} */
function sources(dir) {
  const src = join(dir, 'src')
  if (!existsSync(src)) return []
  /** @type {string[]} */
  const out = []
  const walk = (/** @type {string} */ d) => {
    for (const e of readdirSync(d)) {
      const f = join(d, e)
      if (statSync(f).isDirectory()) walk(f)
      else if (/\.(ts|tsx|mts)$/.test(e) && !e.endsWith('.d.ts')) out.push(f)
    }
  }
  walk(src)
  return out
}

// Static imports and re-exports (type-only ones too: they are still a dependency of the source), dynamic imports.
const IMPORT =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g
const NODE = new Set(builtinModules)

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`, `name/sub` → `name`). */
const packageOf = (/** @type {string} */ spec) =>
  spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec)

const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
/** Test tooling (vitest, playwright…) comes from the root's devDependencies. */
const testTools = new Set(Object.keys(rootPkg.devDependencies ?? {}))

/** @param {Record<string, string[]>} map @param {Part[]} all */
function check(map, all) {
  /** @type {string[]} */
  const problems = []
  const names = new Set(all.map((p) => p.name))
  for (const p of all) {
    const allowed = map[p.name]
    if (!allowed) {
      problems.push(`${p.name}: not in scripts/import-map.json (add it with the parts it may import)`)
      continue
    }
    for (const file of sources(p.dir)) {
      const isTest = /\.test\.tsx?$/.test(file)
      const text = readFileSync(file, 'utf8')
      const at = relative(root, file)
      for (const m of text.matchAll(IMPORT)) {
        const spec = m[1] ?? m[2]
        if (!spec) continue
        const where = `${at}: import '${spec}'`
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec)
          if (!isTest && !(target === p.dir || target.startsWith(p.dir + sep)))
            problems.push(`${where} reaches outside ${p.name} (import the part by its name)`)
          continue
        }
        if (spec.startsWith('node:') || NODE.has(spec)) {
          if (p.name === '@homelab/web') problems.push(`${where}: the web runs in a browser, not Node`)
          continue
        }
        const pkg = packageOf(spec)
        if (names.has(pkg)) {
          if (pkg === p.name) problems.push(`${where}: a part imports itself relatively, not by its name`)
          else if (!allowed.includes(pkg))
            problems.push(`${where}: ${p.name} may not import ${pkg} (scripts/import-map.json)`)
          else if (spec !== pkg) problems.push(`${where}: import ${pkg} through its entry point, not ${spec}`)
        }
        if (!p.declared.has(pkg) && !(isTest && testTools.has(pkg)))
          problems.push(`${where}: ${pkg} is not declared in ${relative(root, p.dir)}/package.json`)
      }
    }
  }
  return problems
}

const mapFile = join(root, 'scripts', 'import-map.json')
const map = JSON.parse(readFileSync(mapFile, 'utf8')).parts
const all = parts()
const problems = check(map, all)
if (problems.length > 0) {
  for (const p of problems) console.error(p)
  console.error(`check-imports: ${problems.length} forbidden or undeclared import(s)`)
  process.exit(1)
}
console.log(
  `check-imports: ${all.length} parts, every import allowed by scripts/import-map.json and declared`,
)
