import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const script = join(import.meta.dirname, '..', 'scripts', 'check-imports.mjs')
const run = (root?: string) =>
  spawnSync(process.execPath, [script, ...(root ? ['--root', root] : [])], { encoding: 'utf8' })

describe('the import map (npm run lint)', () => {
  const root = mkdtempSync(join(tmpdir(), 'import-map-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  const pkg = (dir: string, name: string, deps: string[]) =>
    write(
      `${dir}/package.json`,
      JSON.stringify({ name, dependencies: Object.fromEntries(deps.map((d) => [d, '*'])) }),
    )

  it('passes on this repository', () => {
    const r = run()
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/every import allowed/)
  })

  it('fails on each kind of forbidden import, naming the file and the rule', () => {
    write('package.json', JSON.stringify({ devDependencies: { vitest: '*' } }))
    write(
      'scripts/import-map.json',
      JSON.stringify({
        parts: {
          '@homelab/contracts': [],
          '@homelab/storage': ['@homelab/contracts'],
          '@homelab/recorder': ['@homelab/contracts', '@homelab/storage'],
          '@homelab/sys-collector': ['@homelab/contracts'],
          '@homelab/web': ['@homelab/contracts'],
        },
      }),
    )
    pkg('packages/contracts', '@homelab/contracts', ['zod', '@homelab/recorder'])
    write(
      'packages/contracts/src/index.ts',
      "import { z } from 'zod'\nimport { Recorder } from '@homelab/recorder'\n",
    )
    pkg('packages/storage', '@homelab/storage', [])
    write('packages/storage/src/index.ts', 'export const x = 1\n')
    pkg('services/recorder', '@homelab/recorder', ['@homelab/storage'])
    write(
      'services/recorder/src/index.ts',
      "import { x } from '@homelab/storage'\nexport const Recorder = x\n",
    )
    pkg('services/sys-collector', '@homelab/sys-collector', ['@homelab/storage', '@homelab/contracts'])
    write(
      'services/sys-collector/src/main.ts',
      [
        "import { x } from '@homelab/storage'",
        "import type { T } from '@homelab/contracts/topics'",
        "import { y } from '../../recorder/src/index.js'",
        "import mqtt from 'mqtt'",
        'export { x, y, mqtt }',
      ].join('\n'),
    )
    write(
      'services/sys-collector/src/main.test.ts',
      "import { it } from 'vitest'\nimport '../../recorder/src/index.js'\n",
    )
    pkg('web', '@homelab/web', ['@homelab/contracts'])
    write('web/src/main.tsx', "import { readFileSync } from 'node:fs'\nexport const f = readFileSync\n")
    const r = run(root)
    expect(r.status).toBe(1)
    const lines = r.stderr.trim().split('\n')
    expect(lines).toStrictEqual([
      "packages/contracts/src/index.ts: import '@homelab/recorder': @homelab/contracts may not import @homelab/recorder (scripts/import-map.json)",
      "services/sys-collector/src/main.ts: import '@homelab/storage': @homelab/sys-collector may not import @homelab/storage (scripts/import-map.json)",
      "services/sys-collector/src/main.ts: import '@homelab/contracts/topics': import @homelab/contracts through its entry point, not @homelab/contracts/topics",
      "services/sys-collector/src/main.ts: import '../../recorder/src/index.js' reaches outside @homelab/sys-collector (import the part by its name)",
      "services/sys-collector/src/main.ts: import 'mqtt': mqtt is not declared in services/sys-collector/package.json",
      "web/src/main.tsx: import 'node:fs': the web runs in a browser, not Node",
      'check-imports: 6 forbidden or undeclared import(s)',
    ])
  })
})
