import { createHash, randomUUID } from 'node:crypto'
import type { Alert, Event, ResolveReason, RuleView, Sample } from '@homelab/contracts'
import { PERCENT_METRICS, splitSeries } from '@homelab/contracts'
import { globToRegExp } from '@homelab/service-kit'
import {
  type AvailabilityRule,
  type Cond,
  type EventMatch,
  type EventRule,
  formatDuration,
  type Rule,
  type RuleSet,
  resolveValue,
  type StaleRule,
  type StatusRule,
  sourceOfRule,
  summarize,
  type ThresholdRule,
} from './rules.js'

/** An alert and what the engine needs to carry it on (persisted on every change of state, restored at start). */
export interface Instance {
  alert: Alert
  /** Thresholds: since when the resolve condition holds. Event rules: when it resolves if nothing new matches. */
  resolvingSince: number | null
  resolveAt: number | null
  resolvedBy: 'condition' | 'quiet' | null
  /** Event rules: times of the matches within the window. */
  hits: number[]
  /** Newest observation time applied (older ones, e.g. an offline buffer replayed late, are ignored). */
  lastTs: number
  /** Wall-clock time of the latest data (not persisted: a restart gives every alert a fresh grace period). */
  lastDataAt: number
}

export interface Transition {
  alert: Alert
  state: 'firing' | 'resolved'
  reason: ResolveReason | null
  ts: number
}

export interface EngineOptions {
  now: () => number
  /** A threshold alert whose series sends nothing for this long resolves (`no_data`). */
  noDataMs: number
  /** The alerter's own host and service: its own availability is not watched by itself. */
  self: { host: string; service: string }
  onTransition: (t: Transition) => void
  /** An instance changed state (persist it) or is gone (null). */
  onChange: (id: string, inst: Instance | null) => void
}

interface Watch {
  host: string
  subject: string
  value: number
  at: number
}

const MAX_WATCH = 20_000

export function alertId(rule: string, host: string, subject: string): string {
  return createHash('sha256').update(`${rule}\0${host}\0${subject}`).digest('hex').slice(0, 12)
}

function globs(patterns: Record<string, string> | undefined): Array<[string, RegExp]> {
  return Object.entries(patterns ?? {}).map(([k, g]) => [k, globToRegExp(g)])
}

function compare(op: ThresholdRule['op'], v: number, limit: number): boolean {
  switch (op) {
    case '>':
      return v > limit
    case '>=':
      return v >= limit
    case '<':
      return v < limit
    case '<=':
      return v <= limit
  }
}

function pathValue(data: Record<string, unknown>, path: string): unknown {
  let cur: unknown = data
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[p]
  }
  return cur
}

function holds(c: Cond, v: unknown): boolean {
  if ('eq' in c) return v === c.eq
  if ('ne' in c) return v !== c.ne
  if (c.in) return c.in.includes(v as string)
  if (c.notIn) return v !== undefined && !c.notIn.includes(v as string)
  if (c.gt !== undefined) return typeof v === 'number' && v > c.gt
  if (c.lt !== undefined) return typeof v === 'number' && v < c.lt
  return false
}

interface CompiledMatch {
  type: string
  prefix: boolean
  subject: RegExp | null
  where: Array<[string, Cond]>
}

function compileMatch(m: EventMatch): CompiledMatch {
  const prefix = m.event.endsWith('.*')
  return {
    type: prefix ? m.event.slice(0, -1) : m.event,
    prefix,
    subject: m.subject ? globToRegExp(m.subject) : null,
    where: Object.entries(m.where ?? {}),
  }
}

function matches(m: CompiledMatch, e: Event): boolean {
  if (m.prefix ? !e.type.startsWith(m.type) : e.type !== m.type) return false
  if (m.subject && !m.subject.test(e.subject)) return false
  return m.where.every(([path, c]) => holds(c, pathValue(e.data, path)))
}

interface Compiled {
  rule: Rule
  hosts: RegExp
  labels: Array<[string, RegExp]>
  match: CompiledMatch | null
  resolveOn: CompiledMatch[]
  services: RegExp | null
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)
}

/**
 * Evaluates rules on the live stream. Thresholds use the readings' own timestamps (so a replayed or driven stream
 * gives the same result as a live one); silence and quiet periods use the wall clock (`now`), checked by `tick`.
 * Pure apart from its callbacks: the service persists, publishes and notifies.
 */
export class Evaluator {
  private compiled: Compiled[] = []
  private byMetric = new Map<string, Compiled[]>()
  private eventRules: Compiled[] = []
  private availabilityRules: Compiled[] = []
  private staleRules: Compiled[] = []
  private statusRules: Compiled[] = []
  private readonly instances = new Map<string, Instance>()
  /** Threshold series seen per rule, for the rules view: rule → series key → latest. */
  private readonly watches = new Map<string, Map<string, Watch>>()
  /** Stale rules: (rule, host) → last reading time and its interval. */
  private readonly lastSeen = new Map<
    string,
    { rule: string; host: string; at: number; intervalMs: number | null }
  >()
  private readonly availability = new Map<string, 'online' | 'offline'>()
  /** Degraded services: (host, service) → the reason. */
  private readonly degraded = new Map<string, string>()

  constructor(private readonly o: EngineOptions) {}

  /**
   * Restores alerts persisted before a restart (they keep their state and episode: nothing is notified again). A
   * service that was only waiting out its offline time is not restored: its availability is read again from the
   * retained topics, and the wait must not count the time the alerter itself was away.
   */
  restore(list: Instance[], isAvailabilityRule: (rule: string) => boolean): void {
    const now = this.o.now()
    for (const i of list) {
      if (i.alert.state === 'pending' && isAvailabilityRule(i.alert.rule)) {
        this.o.onChange(i.alert.id, null)
        continue
      }
      this.instances.set(i.alert.id, { ...i, lastDataAt: now })
    }
  }

  /** Puts a rule set in force. Alerts of rules that are gone or disabled resolve (`rule_removed`). */
  setRules(set: RuleSet): void {
    this.compiled = set.rules
      .filter((r) => r.enabled)
      .map((rule) => ({
        rule,
        hosts: globToRegExp(rule.hosts),
        labels: rule.type === 'threshold' ? globs(rule.labels) : [],
        match: rule.type === 'event' ? compileMatch(rule.match) : null,
        resolveOn: rule.type === 'event' ? (rule.resolve.on ?? []).map(compileMatch) : [],
        services: rule.type === 'availability' || rule.type === 'status' ? globToRegExp(rule.services) : null,
      }))
    this.byMetric = new Map()
    for (const c of this.compiled) {
      if (c.rule.type !== 'threshold') continue
      const list = this.byMetric.get(c.rule.metric) ?? []
      list.push(c)
      this.byMetric.set(c.rule.metric, list)
    }
    this.eventRules = this.compiled.filter((c) => c.rule.type === 'event')
    this.availabilityRules = this.compiled.filter((c) => c.rule.type === 'availability')
    this.staleRules = this.compiled.filter((c) => c.rule.type === 'stale')
    this.statusRules = this.compiled.filter((c) => c.rule.type === 'status')
    this.rules = new Map(this.compiled.map((c) => [c.rule.id, c.rule]))
    const live = this.rules
    const now = this.o.now()
    for (const inst of [...this.instances.values()]) {
      const rule = live.get(inst.alert.rule)
      if (!rule) this.end(inst, now, 'rule_removed')
      else {
        // A renamed rule or a new severity shows at once; thresholds are compared at the next sample.
        inst.alert = { ...inst.alert, name: rule.name ?? rule.id, severity: rule.severity }
      }
    }
    for (const id of [...this.watches.keys()]) if (!live.has(id)) this.watches.delete(id)
    for (const [k, v] of [...this.lastSeen]) if (!live.has(v.rule)) this.lastSeen.delete(k)
    // Services already offline or degraded start their wait now under the new rules.
    for (const [k, state] of this.availability) {
      const [host, service] = k.split('\0') as [string, string]
      this.onAvailability(host, service, state)
    }
    for (const [k, reason] of this.degraded) {
      const [host, service] = k.split('\0') as [string, string]
      this.onStatus(host, service, 'degraded', reason)
    }
  }

  private rules = new Map<string, Rule>()
  private ruleOf(inst: Instance): Rule | undefined {
    return this.rules.get(inst.alert.rule)
  }

  list(): Instance[] {
    return [...this.instances.values()]
  }

  get(id: string): Instance | undefined {
    return this.instances.get(id)
  }

  /** Ack and silence are the service's; it updates the alert here so the next publication carries them. */
  patch(id: string, p: Partial<Pick<Alert, 'ack' | 'silencedUntil' | 'silencedBy'>>): Instance | undefined {
    const inst = this.instances.get(id)
    if (!inst) return undefined
    inst.alert = { ...inst.alert, ...p }
    this.o.onChange(id, inst)
    return inst
  }

  /**
   * A reading: its samples against the threshold rules, and its arrival for the stale rules. `at` is when it was
   * observed: the document's time for a retained message (it may be old), the arrival time for a live one.
   */
  onReading(
    host: string,
    kind: string,
    entity: string | null,
    ts: number,
    at: number,
    samples: Sample[],
    intervalMs: number | null,
  ): void {
    for (const c of this.staleRules) {
      const r = c.rule as StaleRule
      if (r.reading !== kind || !c.hosts.test(host)) continue
      const key = `${r.id}\0${host}`
      const prev = this.lastSeen.get(key)
      if (prev && prev.at >= at) continue
      this.lastSeen.set(key, { rule: r.id, host, at, intervalMs })
      const inst = this.instances.get(alertId(r.id, host, kind))
      if (inst && at > inst.alert.since) this.end(inst, ts, 'condition')
    }
    if (this.byMetric.size === 0) return
    const now = this.o.now()
    for (const [series, value] of samples) {
      const { metric, labels } = splitSeries(series)
      const rules = this.byMetric.get(metric)
      if (!rules) continue
      for (const c of rules) {
        if (!c.hosts.test(host)) continue
        if (!c.labels.every(([k, re]) => labels[k] !== undefined && re.test(labels[k]!))) continue
        const subject = Object.values(labels)[0] ?? entity ?? kind
        this.threshold(c.rule as ThresholdRule, host, subject, labels, series, value, ts, now)
      }
    }
  }

  private threshold(
    r: ThresholdRule,
    host: string,
    subject: string,
    labels: Record<string, string>,
    series: string,
    v: number,
    ts: number,
    now: number,
  ): void {
    const w = this.watches.get(r.id) ?? new Map<string, Watch>()
    this.watches.set(r.id, w)
    if (w.size < MAX_WATCH || w.has(`${host}\0${series}`))
      w.set(`${host}\0${series}`, { host, subject, value: v, at: now })
    const id = alertId(r.id, host, subject)
    const inst = this.instances.get(id)
    const trig = compare(r.op, v, r.value)
    if (!inst) {
      if (!trig) return
      const created = this.create(r, host, subject, labels, series, ts, v)
      this.message(created, r)
      if (r.for === 0) this.fire(created, ts)
      else this.o.onChange(id, created)
      return
    }
    if (ts < inst.lastTs) return
    inst.lastTs = ts
    inst.lastDataAt = now
    inst.alert.value = v
    this.message(inst, r)
    if (inst.alert.state === 'pending') {
      if (!trig) {
        this.drop(inst)
        return
      }
      if (ts - inst.alert.since >= r.for) this.fire(inst, ts)
      return
    }
    const above = r.op === '>' || r.op === '>='
    const rv = resolveValue(r)
    const resolving = above ? v < rv : v > rv
    if (resolving) {
      if (inst.resolvingSince === null) {
        inst.resolvingSince = ts
        this.o.onChange(id, inst)
      }
      if (ts - inst.resolvingSince >= r.resolve.for) this.end(inst, ts, 'condition')
    } else if (inst.resolvingSince !== null) {
      inst.resolvingSince = null
      this.o.onChange(id, inst)
    }
  }

  private message(inst: Instance, r: ThresholdRule): void {
    const v = inst.alert.value
    const cond = `${r.op} ${r.value}${r.unit}${r.for ? ` for ${formatDuration(r.for)}` : ''}`
    inst.alert.message = `${inst.alert.series} on ${inst.alert.host} is ${v === null ? '?' : fmt(v)}${r.unit} (${cond})`
  }

  onEvent(e: Event): void {
    for (const c of this.eventRules) {
      const r = c.rule as EventRule
      if (!c.hosts.test(e.host)) continue
      const id = alertId(r.id, e.host, e.subject)
      let inst = this.instances.get(id)
      if (c.match && matches(c.match, e)) {
        if (!inst) inst = this.create(r, e.host, e.subject, { subject: e.subject }, null, e.ts, 0)
        // A log.match event stands for its count of matching lines (the window keeps at most 1000 hits).
        const weight = e.type === 'log.match' && typeof e.data.count === 'number' ? e.data.count : 1
        for (let i = Math.min(1000, Math.max(1, Math.floor(weight))); i > 0; i--) inst.hits.push(e.ts)
        if (inst.hits.length > 1000) inst.hits.splice(0, inst.hits.length - 1000)
        if (r.within !== undefined) inst.hits = inst.hits.filter((t) => t > e.ts - r.within!)
        else inst.hits = inst.hits.slice(-1)
        inst.alert.value = inst.hits.length
        inst.alert.message = `${e.message || `${e.type} of ${e.subject}`}${r.count > 1 ? ` (${inst.hits.length} in ${formatDuration(r.within ?? 0)})` : ''}`
        inst.lastTs = Math.max(inst.lastTs, e.ts)
        inst.resolveAt = r.resolve.on ? null : e.ts + r.resolve.after
        inst.resolvedBy = r.resolve.on ? null : 'quiet'
        if (inst.alert.state === 'pending' && inst.hits.length >= r.count) this.fire(inst, e.ts)
        else this.o.onChange(id, inst)
        continue
      }
      if (inst?.alert.state === 'firing' && c.resolveOn.some((m) => matches(m, e))) {
        inst.resolveAt = e.ts + r.resolve.after
        inst.resolvedBy = 'condition'
        if (r.resolve.after === 0) this.end(inst, e.ts, 'condition')
        else this.o.onChange(id, inst)
      }
    }
  }

  onAvailability(host: string, service: string, state: 'online' | 'offline'): void {
    this.availability.set(`${host}\0${service}`, state)
    if (host === this.o.self.host && service === this.o.self.service) return
    for (const c of this.availabilityRules) {
      if (!c.hosts.test(host) || !c.services!.test(service)) continue
      const r = c.rule as AvailabilityRule
      const id = alertId(r.id, host, service)
      const inst = this.instances.get(id)
      if (state === 'offline') {
        if (inst) continue
        const now = this.o.now()
        const created = this.create(r, host, service, { service }, null, now, 0)
        created.alert.message = `${service} on ${host} is offline`
        if (r.for === 0) this.fire(created, now)
        else this.o.onChange(id, created)
      } else if (inst) {
        this.end(inst, this.o.now(), 'condition')
      }
    }
  }

  /** A service's status document: degraded (with its reason) or not. */
  onStatus(host: string, service: string, state: string, reason: string | null): void {
    const key = `${host}\0${service}`
    if (state === 'degraded') this.degraded.set(key, reason ?? 'degraded')
    else this.degraded.delete(key)
    for (const c of this.statusRules) {
      if (!c.hosts.test(host) || !c.services!.test(service)) continue
      const r = c.rule as StatusRule
      const id = alertId(r.id, host, service)
      const inst = this.instances.get(id)
      if (state === 'degraded') {
        const message = `${service} on ${host} is degraded: ${reason ?? 'no reason given'}`
        if (inst) {
          if (inst.alert.message !== message) {
            inst.alert.message = message.slice(0, 2000)
            this.o.onChange(id, inst)
          }
          continue
        }
        const now = this.o.now()
        const created = this.create(r, host, service, { service }, null, now, 0)
        created.alert.message = message.slice(0, 2000)
        if (r.for === 0) this.fire(created, now)
        else this.o.onChange(id, created)
      } else if (inst) {
        this.end(inst, this.o.now(), 'condition')
      }
    }
  }

  /** Time-based checks: offline services and silent hosts that waited long enough, quiet periods, lost series. */
  tick(): void {
    const now = this.o.now()
    for (const inst of [...this.instances.values()]) {
      const r = this.ruleOf(inst)
      if (!r) continue
      switch (r.type) {
        case 'availability': {
          inst.alert.value = now - inst.alert.since
          inst.alert.message = `${inst.alert.subject} on ${inst.alert.host} has been offline for ${formatDuration(Math.floor((now - inst.alert.since) / 1000) * 1000)}`
          if (inst.alert.state === 'pending' && now - inst.alert.since >= r.for) this.fire(inst, now)
          break
        }
        case 'event': {
          if (inst.alert.state === 'pending') {
            if (r.within !== undefined && inst.hits.every((t) => t <= now - r.within!)) this.drop(inst)
          } else if (inst.resolveAt !== null && now >= inst.resolveAt) {
            this.end(inst, now, inst.resolvedBy === 'condition' ? 'condition' : 'quiet')
          }
          break
        }
        case 'threshold': {
          if (now - inst.lastDataAt >= Math.max(this.o.noDataMs, r.for)) {
            if (inst.alert.state === 'pending') this.drop(inst)
            else this.end(inst, now, 'no_data')
          }
          break
        }
        case 'status': {
          if (inst.alert.state === 'pending' && now - inst.alert.since >= r.for) this.fire(inst, now)
          break
        }
        case 'stale':
          break
      }
    }
    for (const s of this.lastSeen.values()) {
      const c = this.staleRules.find((x) => x.rule.id === s.rule)
      if (!c) continue
      const r = c.rule as StaleRule
      const limit = Math.max(r.atLeast, r.intervals * (s.intervalMs ?? r.atLeast))
      const silent = now - s.at
      const id = alertId(r.id, s.host, r.reading)
      const inst = this.instances.get(id)
      if (inst) {
        inst.alert.value = silent
        inst.alert.message = `${s.host} has sent no ${r.reading} reading for ${formatDuration(Math.floor(silent / 1000) * 1000)}`
        continue
      }
      if (silent <= limit) continue
      const created = this.create(r, s.host, r.reading, { reading: r.reading }, null, s.at, silent)
      created.alert.message = `${s.host} has sent no ${r.reading} reading for ${formatDuration(Math.floor(silent / 1000) * 1000)}`
      this.fire(created, now)
    }
    for (const w of this.watches.values())
      for (const [k, x] of w) if (now - x.at > this.o.noDataMs) w.delete(k)
  }

  private create(
    r: Rule,
    host: string,
    subject: string,
    labels: Record<string, string>,
    series: string | null,
    since: number,
    value: number,
  ): Instance {
    const id = alertId(r.id, host, subject)
    const inst: Instance = {
      alert: {
        id,
        rule: r.id,
        name: r.name ?? r.id,
        severity: r.severity,
        host,
        subject: subject.slice(0, 256),
        labels,
        series,
        state: 'pending',
        since,
        firingSince: null,
        episode: null,
        value,
        message: '',
        ack: null,
        silencedUntil: null,
        silencedBy: null,
      },
      resolvingSince: null,
      resolveAt: null,
      resolvedBy: null,
      hits: [],
      lastTs: since,
      lastDataAt: this.o.now(),
    }
    this.instances.set(id, inst)
    return inst
  }

  private fire(inst: Instance, ts: number): void {
    inst.alert = { ...inst.alert, state: 'firing', firingSince: ts, episode: randomUUID() }
    this.o.onChange(inst.alert.id, inst)
    this.o.onTransition({ alert: { ...inst.alert }, state: 'firing', reason: null, ts })
  }

  /** A pending alert whose condition stopped holding: it never fired, so nothing is announced. */
  private drop(inst: Instance): void {
    this.instances.delete(inst.alert.id)
    this.o.onChange(inst.alert.id, null)
  }

  private end(inst: Instance, ts: number, reason: ResolveReason): void {
    this.instances.delete(inst.alert.id)
    this.o.onChange(inst.alert.id, null)
    if (inst.alert.state === 'firing')
      this.o.onTransition({ alert: { ...inst.alert }, state: 'resolved', reason, ts })
  }

  /** Every rule in force with what it watches now. */
  views(all: Rule[], routes: Map<string, string[]>): RuleView[] {
    const byRule = new Map<string, Instance[]>()
    for (const i of this.instances.values()) {
      const l = byRule.get(i.alert.rule) ?? []
      l.push(i)
      byRule.set(i.alert.rule, l)
    }
    return all.map((r) => {
      const active = byRule.get(r.id) ?? []
      const instances: RuleView['instances'] = []
      if (r.type === 'threshold') {
        for (const w of this.watches.get(r.id)?.values() ?? []) {
          const a = this.instances.get(alertId(r.id, w.host, w.subject))
          instances.push({ host: w.host, subject: w.subject, value: w.value, state: a?.alert.state ?? 'ok' })
          if (instances.length >= 1000) break
        }
      } else {
        for (const a of active)
          instances.push({
            host: a.alert.host,
            subject: a.alert.subject,
            value: a.alert.value,
            state: a.alert.state,
          })
      }
      // Firing first, then pending, then by name; at most 50 (the document stays small however big the homelab).
      const rank = { firing: 0, pending: 1, ok: 2 } as const
      instances.sort((a, b) => rank[a.state] - rank[b.state] || a.subject.localeCompare(b.subject))
      instances.splice(50)
      return {
        id: r.id,
        name: r.name ?? r.id,
        type: r.type,
        severity: r.severity,
        enabled: r.enabled,
        notify: routes.get(r.id) ?? [],
        ownRouting: r.notify !== undefined,
        summary: summarize(r),
        source: sourceOfRule(r),
        threshold:
          r.type === 'threshold'
            ? {
                op: r.op,
                value: r.value,
                forMs: r.for,
                resolveValue: resolveValue(r),
                resolveForMs: r.resolve.for,
                unit: r.unit,
                min: PERCENT_METRICS.has(r.metric) ? 0 : null,
                max: PERCENT_METRICS.has(r.metric) ? 100 : null,
              }
            : null,
        instances,
      }
    })
  }
}
