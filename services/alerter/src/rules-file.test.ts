import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '@homelab/service-kit'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_RULES, REVISED_DEFAULTS } from './rules.js'
import { RulesFileStore } from './rules-file.js'
import { AlertStore } from './store.js'

describe('RulesFileStore', () => {
  let dir: string
  let store: AlertStore
  let lines: string[]
  const rulesFile = (file = join(dir, 'alert-rules.json')) =>
    new RulesFileStore({
      file,
      extraChannels: {},
      memory: store,
      log: createLogger('test', (l) => lines.push(l)),
      now: () => 1000,
    })
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rules-file-'))
    store = new AlertStore(join(dir, 'alerter.db'))
    lines = []
  })
  afterEach(() => {
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('writes the defaults on a fresh install and touches nothing before loadInitial', () => {
    const f = rulesFile()
    expect(existsSync(f.path)).toBe(false)
    expect(() => f.rules).toThrow(/not loaded/)
    const set = f.loadInitial()
    expect(set.rules.map((r) => r.id)).toEqual(DEFAULT_RULES.rules.map((r) => r.id))
    expect(JSON.parse(readFileSync(f.path, 'utf8'))).toEqual(DEFAULT_RULES)
    expect(f.rejected).toBeNull()
    expect(f.read()).toEqual({ kind: 'unchanged' })
  })

  it('starts on the last valid rules when the file was broken while it was down, and says why', () => {
    const first = rulesFile()
    writeFileSync(first.path, JSON.stringify({ ...DEFAULT_RULES, rules: DEFAULT_RULES.rules.slice(0, 2) }))
    expect(first.loadInitial().rules).toHaveLength(2)
    writeFileSync(first.path, '{"rules": [ {"id": "x", "type": "threshold"} ]}')
    const again = rulesFile()
    expect(again.loadInitial().rules).toHaveLength(2)
    expect(again.rejected?.errors[0]).toMatch(/rule "x"/)
    expect(lines.some((l) => l.includes('not valid; using the last good rules'))).toBe(true)
    // Editing from the UI is refused while the file is broken: the edit would be lost on the owner's fix.
    expect(again.edit('cpu-high', { value: 50 })).toMatchObject({ ok: false, outcome: 'refused' })
  })

  it('reads a changed file as valid (not in force until accepted) or invalid (remembered), once per change', () => {
    const f = rulesFile()
    f.loadInitial()
    writeFileSync(f.path, 'not json')
    const bad = f.read()
    expect(bad.kind).toBe('invalid')
    expect(f.rejected).not.toBeNull()
    expect(f.read()).toEqual({ kind: 'unchanged' })
    writeFileSync(f.path, JSON.stringify({ ...DEFAULT_RULES, rules: DEFAULT_RULES.rules.slice(0, 1) }))
    const good = f.read()
    if (good.kind !== 'valid') throw new Error(`expected valid rules, got ${good.kind}`)
    expect(f.rules.rules).toHaveLength(DEFAULT_RULES.rules.length)
    f.accept(good)
    expect(f.rules.rules).toHaveLength(1)
    expect(f.rejected).toBeNull()
  })

  it('edits one threshold rule in place, keeps the rest of the file, and refuses what does not apply', () => {
    const f = rulesFile()
    f.loadInitial()
    const r = f.edit('cpu-high', { value: 85, forMs: 180_000, enabled: false })
    expect(r).toEqual({ ok: true, changes: 'value 90 → 85, for "5m" → "3m", enabled null → false' })
    const onDisk = JSON.parse(readFileSync(f.path, 'utf8'))
    expect(onDisk.rules[0]).toMatchObject({ id: 'cpu-high', value: 85, for: '3m', enabled: false })
    expect(onDisk.rules.slice(1)).toEqual(DEFAULT_RULES.rules.slice(1))
    // The editor sends every field; the note names only what changed.
    expect(f.edit('cpu-high', { value: 85, forMs: 120_000, enabled: false })).toEqual({
      ok: true,
      changes: 'for "3m" → "2m"',
    })
    expect(f.edit('cpu-high', { value: 85 })).toEqual({ ok: true, changes: 'nothing changed' })
    expect(f.edit('unit-failed', { value: 3 })).toMatchObject({ ok: false, outcome: 'refused' })
    expect(f.edit('nope', { enabled: true })).toMatchObject({ ok: false, outcome: 'not_found' })
    // A change that leaves the rules invalid is refused and not written.
    const before = readFileSync(f.path, 'utf8')
    expect(f.edit('cpu-high', { resolveValue: 99 })).toMatchObject({ ok: false, outcome: 'refused' })
    expect(readFileSync(f.path, 'utf8')).toBe(before)
  })

  it('updates a revised default rule the owner never edited, once, and leaves an edited one as it is', () => {
    const old = REVISED_DEFAULTS.find((r) => r.id === 'container-crashed')?.was
    const edited = { ...(old as object), name: 'My own crash rule' }
    const file = (rule: unknown) =>
      JSON.stringify({
        ...DEFAULT_RULES,
        rules: DEFAULT_RULES.rules.map((r) => (r.id === 'container-crashed' ? rule : r)),
      })
    const crashRule = (path: string) =>
      (JSON.parse(readFileSync(path, 'utf8')) as { rules: Array<{ id: string }> }).rules.find(
        (r) => r.id === 'container-crashed',
      )
    const f = rulesFile()
    writeFileSync(f.path, file(old))
    f.loadInitial()
    expect(crashRule(f.path)).toEqual(DEFAULT_RULES.rules.find((r) => r.id === 'container-crashed'))
    expect(lines.some((l) => l.includes('updated the unedited default rules container-crashed'))).toBe(true)

    // Another machine's file with the rule edited: the owner's rule stays.
    const other = rulesFile(join(dir, 'other.json'))
    store.setMeta('defaults-revised', '')
    writeFileSync(other.path, file(edited))
    other.loadInitial()
    expect(crashRule(other.path)).toEqual(edited)
    // Once: going back to the old rule by hand afterwards is the owner's choice and stays.
    writeFileSync(f.path, file(old))
    rulesFile().loadInitial()
    expect(crashRule(f.path)).toEqual(old)
  })

  it('edits channels as a whole file: a typed channel given a URL drops its typed fields; a routed one stays', () => {
    const f = rulesFile()
    writeFileSync(
      f.path,
      JSON.stringify({
        channels: { hook: { type: 'webhook', url: 'https://h.example.org/x', headers: { 'x-key': 'k' } } },
        defaults: { notify: ['hook'] },
        rules: [{ ...DEFAULT_RULES.rules[0], notify: ['hook'] }],
      }),
    )
    f.loadInitial()
    const file = () => JSON.parse(readFileSync(f.path, 'utf8'))
    expect(
      f.editChannel('hook', {
        kind: 'set',
        input: { url: 'ntfy://ntfy.sh/alerts', minSeverity: 'critical' },
      }),
    ).toEqual({
      ok: true,
      changes: 'now sends to ntfy://ntfy.sh/…, minimum severity critical',
    })
    expect(file().channels.hook).toEqual({
      type: 'url',
      url: 'ntfy://ntfy.sh/alerts',
      minSeverity: 'critical',
    })
    expect(file().defaults.notify).toEqual(['hook'])
    // Without a URL the URL stays; quiet hours set and then taken off.
    const q = { from: '22:00', to: '07:00' }
    expect(f.editChannel('hook', { kind: 'set', input: { quietHours: q, default: false } })).toMatchObject({
      changes: 'quiet 22:00–07:00, no longer notified by default',
    })
    expect(file().channels.hook.url).toBe('ntfy://ntfy.sh/alerts')
    expect(file().defaults.notify).toEqual([])
    expect(f.editChannel('hook', { kind: 'set', input: { quietHours: null } })).toMatchObject({
      changes: 'no quiet hours',
    })
    expect(file().channels.hook.quietHours).toBeUndefined()
    // Bad input names the field; nothing is written.
    const before = readFileSync(f.path, 'utf8')
    expect(f.editChannel('new', { kind: 'set', input: {} })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^url: give/),
    })
    expect(f.editChannel('new', { kind: 'set', input: { url: 'telegram://x@telegram' } })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^url: the bot token/),
    })
    expect(f.editChannel('hook', { kind: 'remove' })).toEqual({
      ok: false,
      outcome: 'refused',
      message: `rules "${DEFAULT_RULES.rules[0]?.id}" notify "hook"; route them elsewhere first`,
    })
    expect(f.editChannel('nope', { kind: 'remove' })).toMatchObject({ outcome: 'not_found' })
    expect(readFileSync(f.path, 'utf8')).toBe(before)
  })

  it('leaves a channel from the environment to the environment', () => {
    const f = new RulesFileStore({
      file: join(dir, 'alert-rules.json'),
      extraChannels: {
        ntfy: {
          type: 'ntfy',
          url: 'https://ntfy.sh/x',
          minSeverity: 'info',
          rateLimit: { max: 1, per: 1000 },
        },
      },
      memory: store,
      log: createLogger('test', () => undefined),
      now: () => 1000,
    })
    f.loadInitial()
    expect(f.editChannel('ntfy', { kind: 'set', input: { minSeverity: 'critical' } })).toMatchObject({
      ok: false,
      message: 'channel "ntfy" is set by the environment (HOMELAB_ALERT_*); change it there',
    })
  })

  it("adds a rule from the form in the file's own form, refuses a second with its id, and removes one", () => {
    const f = rulesFile()
    f.loadInitial()
    const rule = {
      type: 'event' as const,
      id: 'oom-anywhere',
      severity: 'critical' as const,
      event: 'container.oom',
      count: 2,
      withinMs: 3_600_000,
      resolveAfterMs: 1_800_000,
    }
    expect(f.addRule(rule)).toEqual({ ok: true, changes: 'added (container.oom)' })
    const file = () => JSON.parse(readFileSync(f.path, 'utf8'))
    expect(file().rules.at(-1)).toEqual({
      id: 'oom-anywhere',
      severity: 'critical',
      type: 'event',
      match: { event: 'container.oom' },
      count: 2,
      within: '1h',
      resolve: { after: '30m' },
    })
    expect(f.addRule(rule)).toMatchObject({ ok: false, message: 'id: a rule "oom-anywhere" exists already' })
    expect(f.addRule({ ...rule, id: 'nope', event: 'container.exploded' })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^match\.event: unknown event type "container\.exploded"/),
    })
    expect(
      f.addRule({
        type: 'threshold',
        id: 'temp',
        severity: 'warning',
        metric: 'cpu.temperature',
        labels: { mount: '/' },
        op: '>',
        value: 70,
        forMs: 0,
        resolveForMs: 0,
      }),
    ).toMatchObject({ ok: false, message: 'labels.mount: cpu.temperature has no labels' })
    expect(f.removeRule('oom-anywhere')).toEqual({ ok: true, changes: 'removed' })
    expect(file().rules.some((r: { id: string }) => r.id === 'oom-anywhere')).toBe(false)
    expect(f.removeRule('oom-anywhere')).toMatchObject({ ok: false, outcome: 'not_found' })
  })
})
