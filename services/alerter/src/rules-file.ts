import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import type { ChannelInput, RuleInput, RulePatch } from '@homelab/contracts'
import { type Logger, watchForChanges } from '@homelab/service-kit'
import { z } from 'zod'
import {
  type Channel,
  DEFAULT_RULES,
  DEFAULTS_ADDED_LATER,
  formatDuration,
  NotifyUrl,
  parseRules,
  REVISED_DEFAULTS,
  type RuleSet,
  RulesError,
} from './rules.js'

/** What the rules file needs to remember between runs (the alerter's store). */
export interface RulesMemory {
  getMeta(key: string): string | null
  setMeta(key: string, value: string): void
}

export interface RulesFileDeps {
  file: string
  extraChannels: Record<string, Channel>
  memory: RulesMemory
  log: Logger
  now: () => number
}

/** What a re-read of the file found. */
export type RulesRead =
  | { kind: 'unchanged' }
  | { kind: 'valid'; set: RuleSet; text: string }
  | { kind: 'invalid'; errors: string[] }

/** A rule as the file holds it: what an edit may change is read from it, everything else is kept as it is. */
const FileRule = z
  .object({
    id: z.unknown(),
    type: z.unknown().optional(),
    notify: z.unknown().optional(),
    for: z.unknown().optional(),
    resolve: z.record(z.string(), z.unknown()).optional(),
  })
  .catchall(z.unknown())
const FileRules = z.object({ rules: z.array(FileRule) }).catchall(z.unknown())
const FileObject = z.record(z.string(), z.unknown())
const FileDefaults = z.object({ notify: z.array(z.string()).optional() }).catchall(z.unknown())

/**
 * The rules file on disk, and the rules in force from it: written with the defaults on a fresh install, topped up
 * with defaults added in later versions, re-read when it changes (a broken file is rejected and the rules in force
 * stay), edited in place by an operator's threshold change. The last rules that were valid are remembered, so a
 * file broken while the alerter was down does not start it without rules.
 */
export class RulesFileStore {
  private set: RuleSet | null = null
  private lastText: string | null = null
  /** When the rules in force were loaded. */
  loadedAt = 0
  /** Why the file was last rejected, while the rules in force are older than it. */
  rejected: { at: number; errors: string[] } | null = null

  constructor(private readonly d: RulesFileDeps) {}

  get path(): string {
    return this.d.file
  }

  /** The rules in force (after `loadInitial`). */
  get rules(): RuleSet {
    if (!this.set) throw new Error('the rules file was not loaded')
    return this.set
  }

  /** The rules at start: the file; if it is broken, the last rules that were valid (else the defaults), loudly. */
  loadInitial(): RuleSet {
    const { file, extraChannels, memory, log } = this.d
    if (!existsSync(file)) {
      try {
        writeFileSync(file, `${JSON.stringify(DEFAULT_RULES, null, 2)}\n`, { mode: 0o600 })
        memory.setMeta('defaults-offered', JSON.stringify(DEFAULTS_ADDED_LATER))
        log.info(`wrote the default alert rules to ${file}; edit it to change them`)
      } catch (e) {
        log.warn(`could not write the default rules to ${file}:`, e)
      }
    } else this.offerNewDefaults()
    this.loadedAt = this.d.now()
    try {
      const text = readFileSync(file, 'utf8')
      const { set } = parseRules(text, extraChannels)
      this.lastText = text
      memory.setMeta('good-rules', text)
      this.set = set
    } catch (e) {
      const errors = e instanceof RulesError ? e.errors : [`cannot read ${file}: ${(e as Error).message}`]
      this.rejected = { at: this.d.now(), errors }
      log.error(`the rules in ${file} are not valid; using the last good rules:\n  ${errors.join('\n  ')}`)
      this.set = this.lastGood()
    }
    return this.set
  }

  /** Re-reads the file: unchanged since the last read, valid (not yet in force: `accept`), or invalid (remembered). */
  read(): RulesRead {
    const { file, extraChannels } = this.d
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (e) {
      text = `\0${(e as Error).message}`
    }
    if (text === this.lastText) return { kind: 'unchanged' }
    this.lastText = text
    try {
      if (text.startsWith('\0')) throw new RulesError([`cannot read ${file}: ${text.slice(1)}`])
      return { kind: 'valid', set: parseRules(text, extraChannels).set, text }
    } catch (e) {
      const errors = e instanceof RulesError ? e.errors : [(e as Error).message]
      this.rejected = { at: this.d.now(), errors }
      return { kind: 'invalid', errors }
    }
  }

  /** Puts rules just read in force (inside the caller's transaction: the evaluator takes them in the same one). */
  accept(r: { set: RuleSet; text: string }): void {
    this.d.memory.setMeta('good-rules', r.text)
    this.set = r.set
    this.rejected = null
    this.loadedAt = this.d.now()
  }

  /**
   * Applies an operator's change to one rule in the file, after checking the whole file still reads as rules.
   * Returns what changed (for the audit), or why nothing was written.
   */
  edit(
    id: string,
    p: RulePatch,
  ):
    | { ok: true; changes: string }
    | { ok: false; outcome: 'refused' | 'failed' | 'not_found'; message: string } {
    const { extraChannels } = this.d
    const editable = this.editable()
    if (!editable.ok) return editable
    const raw = editable.rules
    const rule = raw.rules.find((r) => r.id === id)
    if (!rule) return { ok: false, outcome: 'not_found', message: `no rule "${id}"` }
    const thresholdOnly =
      p.value !== undefined ||
      p.resolveValue !== undefined ||
      p.forMs !== undefined ||
      p.resolveForMs !== undefined
    if (thresholdOnly && rule.type !== 'threshold')
      return {
        ok: false,
        outcome: 'refused',
        message: `rule "${id}" is not a threshold rule; only enabled and severity can change`,
      }
    const before = structuredClone(rule)
    const resolve = { ...(rule.resolve ?? {}) }
    if (p.value !== undefined) rule.value = p.value
    if (p.forMs !== undefined) rule.for = formatDuration(p.forMs)
    if (p.resolveValue !== undefined) resolve.value = p.resolveValue
    if (p.resolveForMs !== undefined) resolve.for = formatDuration(p.resolveForMs)
    if (p.resolveValue !== undefined || p.resolveForMs !== undefined) rule.resolve = resolve
    if (p.enabled !== undefined) rule.enabled = p.enabled
    if (p.severity !== undefined) rule.severity = p.severity
    if (p.notify === null) delete rule.notify
    else if (p.notify !== undefined) rule.notify = p.notify
    try {
      parseRules(raw, extraChannels)
    } catch (e) {
      return { ok: false, outcome: 'refused', message: (e as Error).message }
    }
    const show = (r: z.infer<typeof FileRule>, k: string): unknown =>
      k === 'resolveValue'
        ? r.resolve?.value
        : k === 'resolveForMs'
          ? r.resolve?.for
          : k === 'forMs'
            ? r.for
            : k === 'notify'
              ? (r.notify ?? 'the defaults')
              : r[k]
    // Only what changed (the editor sends every field; "value 90 → 90" is noise in the audit).
    const changes =
      Object.keys(p)
        .filter((k) => !isDeepStrictEqual(show(before, k) ?? null, show(rule, k) ?? null))
        .map(
          (k) =>
            `${k.replace(/Ms$/, '')} ${JSON.stringify(show(before, k) ?? null)} → ${JSON.stringify(show(rule, k))}`,
        )
        .join(', ') || 'nothing changed'
    this.write(raw)
    return { ok: true, changes }
  }

  /**
   * Adds, changes or removes one notification channel in the file, after checking the whole file still reads as
   * rules. A channel a rule routes to by name is not removed (its rule would send nowhere, or elsewhere): the error
   * names the rules. Returns what changed for the audit, never a URL whole.
   */
  editChannel(
    name: string,
    change: { kind: 'set'; input: ChannelInput } | { kind: 'remove' },
  ):
    | { ok: true; changes: string }
    | { ok: false; outcome: 'refused' | 'failed' | 'not_found'; message: string } {
    const { extraChannels } = this.d
    const editable = this.editable()
    if (!editable.ok) return editable
    const raw = editable.rules
    const channels = FileObject.safeParse(raw.channels ?? {})
    const defaults = FileDefaults.safeParse(raw.defaults ?? {})
    if (!channels.success || !defaults.success)
      return {
        ok: false,
        outcome: 'refused',
        message: 'channels and defaults must be objects in the rules file',
      }
    const chans = channels.data
    const notify = (defaults.data.notify ?? []).filter((n) => n !== name)
    const existing = FileObject.safeParse(chans[name])
    const had = existing.success ? existing.data : null
    if (!had && extraChannels[name])
      return {
        ok: false,
        outcome: 'refused',
        message: `channel "${name}" is set by the environment (HOMELAB_ALERT_*); change it there`,
      }
    const changes: string[] = []
    if (change.kind === 'remove') {
      if (!had) return { ok: false, outcome: 'not_found', message: `no channel "${name}" in the rules file` }
      const routed = raw.rules
        .filter((r) => Array.isArray(r.notify) && r.notify.includes(name))
        .map((r) => r.id)
      if (routed.length)
        return {
          ok: false,
          outcome: 'refused',
          message: `rules ${routed.map((id) => `"${String(id)}"`).join(', ')} notify "${name}"; route them elsewhere first`,
        }
      delete chans[name]
      changes.push('removed')
    } else {
      const { input } = change
      if (!had && input.url === undefined)
        return { ok: false, outcome: 'refused', message: "url: give the new channel's notification URL" }
      let next: Record<string, unknown> = had ? { ...had } : {}
      if (input.url !== undefined) {
        const parsed = NotifyUrl.safeParse(input.url)
        if (!parsed.success)
          return { ok: false, outcome: 'refused', message: `url: ${parsed.error.issues[0]?.message}` }
        // A typed channel given a URL becomes a URL channel: its typed fields (headers, token, topic) go.
        const { minSeverity, rateLimit, quietHours, group } = next
        next = { minSeverity, rateLimit, quietHours, group, type: 'url', url: input.url }
        changes.push(`${had ? 'now sends to' : 'added, sending to'} ${parsed.data.shown}`)
      }
      if (input.minSeverity !== undefined && input.minSeverity !== next.minSeverity) {
        next.minSeverity = input.minSeverity
        changes.push(`minimum severity ${input.minSeverity}`)
      }
      if (input.quietHours === null && next.quietHours !== undefined) {
        delete next.quietHours
        changes.push('no quiet hours')
      } else if (input.quietHours && !isDeepStrictEqual(input.quietHours, next.quietHours)) {
        next.quietHours = input.quietHours
        const q = input.quietHours
        changes.push(
          `quiet ${q.from}–${q.to}${q.timezone ? ` ${q.timezone}` : ''}${q.except ? ` (except ${q.except})` : ''}`,
        )
      }
      for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k]
      chans[name] = next
      const wasDefault = (defaults.data.notify ?? []).includes(name)
      const isDefault = input.default ?? (had ? wasDefault : true)
      if (isDefault) notify.push(name)
      if (isDefault !== wasDefault)
        changes.push(isDefault ? 'notified by default' : 'no longer notified by default')
    }
    raw.channels = chans
    raw.defaults = { ...defaults.data, notify }
    try {
      parseRules(raw, extraChannels)
    } catch (e) {
      return { ok: false, outcome: 'refused', message: (e as Error).message }
    }
    this.write(raw)
    return { ok: true, changes: changes.join(', ') || 'nothing changed' }
  }

  /**
   * Adds a rule made in the dashboard's form, written in the file's own form (durations as "5m"), after checking the
   * whole file with it. Its id must be new.
   */
  addRule(
    input: RuleInput,
  ): { ok: true; changes: string } | { ok: false; outcome: 'refused' | 'failed'; message: string } {
    const raw = this.editable()
    if (!raw.ok) return raw
    if (raw.rules.rules.some((r) => r.id === input.id))
      return { ok: false, outcome: 'refused', message: `id: a rule "${input.id}" exists already` }
    const common = {
      id: input.id,
      ...(input.name ? { name: input.name } : {}),
      severity: input.severity,
      ...(input.hosts ? { hosts: input.hosts } : {}),
      ...(input.notify ? { notify: input.notify } : {}),
    }
    const rule =
      input.type === 'threshold'
        ? {
            ...common,
            type: 'threshold',
            metric: input.metric,
            ...(input.labels && Object.keys(input.labels).length ? { labels: input.labels } : {}),
            op: input.op,
            value: input.value,
            for: formatDuration(input.forMs),
            resolve: {
              ...(input.resolveValue !== undefined ? { value: input.resolveValue } : {}),
              for: formatDuration(input.resolveForMs),
            },
            ...(input.unit ? { unit: input.unit } : {}),
          }
        : {
            ...common,
            type: 'event',
            match: { event: input.event, ...(input.subject ? { subject: input.subject } : {}) },
            count: input.count,
            ...(input.withinMs !== undefined ? { within: formatDuration(input.withinMs) } : {}),
            resolve: { after: formatDuration(input.resolveAfterMs) },
          }
    raw.rules.rules.push(rule)
    try {
      parseRules(raw.rules, this.d.extraChannels)
    } catch (e) {
      // The new rule is the last: name it by its id, not by an index the operator never saw.
      const n = raw.rules.rules.length - 1
      const message = (e as Error).message.replaceAll(`rule "${input.id}" (rules[${n}]): `, '')
      return { ok: false, outcome: 'refused', message }
    }
    this.write(raw.rules)
    return {
      ok: true,
      changes: `added (${input.type === 'threshold' ? `${input.metric} ${input.op} ${input.value}` : input.event})`,
    }
  }

  /** Removes a rule from the file (a default rule removed stays removed: defaults are offered once). */
  removeRule(
    id: string,
  ):
    | { ok: true; changes: string }
    | { ok: false; outcome: 'refused' | 'failed' | 'not_found'; message: string } {
    const raw = this.editable()
    if (!raw.ok) return raw
    const before = raw.rules.rules.length
    raw.rules.rules = raw.rules.rules.filter((r) => r.id !== id)
    if (raw.rules.rules.length === before)
      return { ok: false, outcome: 'not_found', message: `no rule "${id}"` }
    try {
      parseRules(raw.rules, this.d.extraChannels)
    } catch (e) {
      return { ok: false, outcome: 'refused', message: (e as Error).message }
    }
    this.write(raw.rules)
    return { ok: true, changes: 'removed' }
  }

  /** The file as raw JSON for an edit from the UI, unless it is invalid now (then the edit is refused). */
  private editable():
    | { ok: true; rules: z.infer<typeof FileRules> }
    | { ok: false; outcome: 'refused' | 'failed'; message: string } {
    if (this.rejected)
      return {
        ok: false,
        outcome: 'refused',
        message: `the rules file is invalid (${this.rejected.errors[0]}); fix it before editing from the UI`,
      }
    try {
      return { ok: true, rules: FileRules.parse(JSON.parse(readFileSync(this.d.file, 'utf8'))) }
    } catch (e) {
      return { ok: false, outcome: 'failed', message: `cannot read ${this.d.file}: ${(e as Error).message}` }
    }
  }

  private stopWatching: (() => void) | null = null

  /** Calls `onChange` when the file changes (inotify, which also sees writes to a bind-mounted file; see watchForChanges). */
  watch(onChange: () => void): void {
    this.stopWatching?.()
    this.stopWatching = watchForChanges(this.d.file, onChange)
  }

  unwatch(): void {
    this.stopWatching?.()
    this.stopWatching = null
  }

  private lastGood(): RuleSet {
    const good = this.d.memory.getMeta('good-rules')
    try {
      if (good) return parseRules(good, this.d.extraChannels).set
    } catch {
      // The last good rules no longer read (a metric this version dropped): the defaults, then.
    }
    return parseRules(DEFAULT_RULES, this.d.extraChannels).set
  }

  /**
   * Default rules added in a later version reach a rules file written by an earlier one: each is appended once (a
   * rule the owner deletes afterwards stays deleted). A file that does not read as rules is left alone.
   */
  private offerNewDefaults(): void {
    this.reviseDefaults()
    const { file, memory, log } = this.d
    let offered: string[] = []
    try {
      offered = z.array(z.string()).parse(JSON.parse(memory.getMeta('defaults-offered') ?? '[]'))
    } catch {
      offered = []
    }
    const missing = DEFAULTS_ADDED_LATER.filter((id) => !offered.includes(id))
    if (missing.length === 0) return
    // Only an upgrade gets them (this alerter ran with the file before); a file of one's own on a fresh install
    // is taken as it is.
    if (memory.getMeta('good-rules') === null) {
      memory.setMeta('defaults-offered', JSON.stringify(DEFAULTS_ADDED_LATER))
      return
    }
    try {
      const raw = FileRules.parse(JSON.parse(readFileSync(file, 'utf8')))
      const have = new Set(raw.rules.map((r) => r.id))
      const add = DEFAULT_RULES.rules.filter((r) => missing.some((m) => m === r.id) && !have.has(r.id))
      if (add.length > 0) {
        raw.rules.push(...add)
        this.write(raw)
        log.info(`added the new default rules ${add.map((r) => r.id).join(', ')} to ${file}`)
      }
      memory.setMeta('defaults-offered', JSON.stringify([...offered, ...missing]))
    } catch {
      // Not readable as rules: the file's own checks report it at load.
    }
  }

  /** A default rule the owner never edited follows its revision (REVISED_DEFAULTS), once. */
  private reviseDefaults(): void {
    const { file, memory, log } = this.d
    const done = new Set((memory.getMeta('defaults-revised') ?? '').split(',').filter(Boolean))
    const pending = REVISED_DEFAULTS.filter((r) => !done.has(r.id))
    if (pending.length === 0) return
    try {
      const raw = FileRules.parse(JSON.parse(readFileSync(file, 'utf8')))
      const revised: string[] = []
      raw.rules = raw.rules.map((rule) => {
        const r = pending.find((p) => p.id === rule.id)
        const now = DEFAULT_RULES.rules.find((d) => d.id === rule.id)
        if (!r || !now || !isDeepStrictEqual(rule, r.was)) return rule
        revised.push(r.id)
        return now
      })
      if (revised.length > 0) {
        this.write(raw)
        log.info(`updated the unedited default rules ${revised.join(', ')} in ${file} to this version's`)
      }
      memory.setMeta('defaults-revised', [...done, ...pending.map((p) => p.id)].join(','))
    } catch {
      // Not readable as rules: the file's own checks report it at load.
    }
  }

  /** Replaces the file atomically (a reader never sees half of it). */
  private write(raw: unknown): void {
    const tmp = `${this.d.file}.tmp`
    writeFileSync(tmp, `${JSON.stringify(raw, null, 2)}\n`, { mode: 0o600 })
    renameSync(tmp, this.d.file)
  }
}
