import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '@homelab/service-kit'
import { afterEach, describe, expect, it } from 'vitest'
import { keepSecrets, ProbesFileStore, redact } from './probes-file.js'

const quiet: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  once() {},
  child: () => quiet,
}

describe('editing the probes file', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })
  const store = (text: string | null) => {
    const dir = mkdtempSync(join(tmpdir(), 'probes-file-'))
    dirs.push(dir)
    const file = join(dir, 'probes.json')
    if (text !== null) writeFileSync(file, text)
    const s = new ProbesFileStore({ file, log: quiet, now: () => 1 })
    s.read()
    return { s, file, dir }
  }

  it('hides header values, a URL password and a body, and keeps them when "…" comes back', () => {
    const stored = {
      id: 'api',
      type: 'http',
      url: 'https://bot:hunter2@api.lan/health',
      headers: { Authorization: 'Bearer t0ken', Accept: 'application/json' },
      body: '{"secret":1}',
    }
    const shown = redact(stored)
    expect(shown).toEqual({
      id: 'api',
      type: 'http',
      url: 'https://bot:%E2%80%A6@api.lan/health',
      headers: { Authorization: '…', Accept: '…' },
      body: '…',
    })
    expect(JSON.stringify(shown)).not.toMatch(/hunter2|t0ken|secret/)
    // Back with a new header and one removed: the kept one keeps its value, the new one is taken as given.
    const back = keepSecrets({ ...shown, headers: { Authorization: '…', 'X-New': 'v' } }, stored)
    expect(back).toEqual({
      id: 'api',
      type: 'http',
      url: 'https://bot:hunter2@api.lan/health',
      headers: { Authorization: 'Bearer t0ken', 'X-New': 'v' },
      body: '{"secret":1}',
    })
    // A "…" with nothing stored behind it is dropped, never written as a value.
    expect(keepSecrets({ id: 'n', type: 'http', headers: { A: '…' }, body: '…' }, null)).toEqual({
      id: 'n',
      type: 'http',
      headers: {},
    })
  })

  it('adds, changes and removes probes, keeping the rest of the file as written', () => {
    const { s, file } = store(
      JSON.stringify({
        $schema: './probes.schema.json',
        probes: [{ id: 'a', type: 'tcp', host: 'h', port: 1, interval: '30s' }],
      }),
    )
    expect(s.edit('b', { type: 'icmp', host: '127.0.0.1' })).toEqual({ ok: true, changes: 'added' })
    expect(s.edit('a', { type: 'tcp', host: 'h', port: 2, interval: '30s' })).toEqual({
      ok: true,
      changes: 'changed',
    })
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      $schema: './probes.schema.json',
      probes: [
        { type: 'tcp', host: 'h', port: 2, interval: '30s', id: 'a' },
        { type: 'icmp', host: '127.0.0.1', id: 'b' },
      ],
    })
    expect(s.probes.map((p) => p.id)).toEqual(['a', 'b'])
    expect(s.edit('a', null)).toEqual({ ok: true, changes: 'removed' })
    expect(s.edit('a', null)).toMatchObject({ ok: false, outcome: 'not_found' })
  })

  it('refuses an edit that would make the file invalid, and any edit while the file on disk is rejected', () => {
    const { s, file } = store('{"probes": []}')
    expect(s.edit('x', { type: 'tcp', host: 'h' })).toEqual({
      ok: false,
      outcome: 'refused',
      message: expect.stringMatching(/^probe "x" \(probes\[0\]\): port:/),
    })
    expect(readFileSync(file, 'utf8')).toBe('{"probes": []}')
    writeFileSync(file, '{"probes": [')
    s.read()
    expect(s.edit('x', { type: 'tcp', host: 'h', port: 1 })).toMatchObject({
      ok: false,
      outcome: 'refused',
      message: expect.stringMatching(/rejected.*fix it by hand first/),
    })
  })

  it('reports a write that fails, keeps the probes in force and leaves no temporary file behind', () => {
    const { s, file, dir } = store('{"probes": [{"id": "a", "type": "tcp", "host": "h", "port": 1}]}')
    // The file's place taken by a folder: the rename over it fails, for root too.
    rmSync(file)
    mkdirSync(file)
    writeFileSync(join(file, 'x'), '')
    expect(s.edit('b', { type: 'tcp', host: 'h', port: 2 })).toMatchObject({
      ok: false,
      outcome: 'failed',
      message: expect.stringMatching(/^cannot write .*probes\.json/),
    })
    expect(s.probes.map((p) => p.id)).toEqual(['a'])
    expect(readdirSync(dir)).toEqual(['probes.json'])
  })
})
