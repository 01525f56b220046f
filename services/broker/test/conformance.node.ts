// aedes-persistence's own abstract test suite (node:test), run against the SQLite store: every behaviour aedes
// expects of a persistence, as its maintainers specify it. Run by sqlite-persistence.test.ts in its own process.
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { SqlitePersistence } from '../src/sqlite-persistence.js'

const require = createRequire(import.meta.url)
const abstract = require('aedes-persistence/abstract.js') as (o: object) => void
const dir = mkdtempSync(join(tmpdir(), 'hl-persistence-'))
let n = 0
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))

abstract({
  test,
  testAsync: true,
  persistence: () => new SqlitePersistence(join(dir, `store-${n++}.db`)),
})
