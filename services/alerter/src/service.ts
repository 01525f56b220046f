import { existsSync, readFileSync, renameSync, unwatchFile, watchFile, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  ALERTS_LISTED,
  type Alert,
  AlertAction,
  type AlertEventData,
  AlertNotification,
  AlertReading,
  AlertsReading,
  type Event,
  RulePatch,
  RulesReading,
  readingSamples,
  SilenceParams,
  type Topics,
} from '@homelab/contracts'
import {
  type CommandInput,
  type CommandOutcome,
  CommandServer,
  Counters,
  decode,
  type Logger,
  type MqttConnection,
  serviceConnection,
} from '@homelab/service-kit'
import { z } from 'zod'
import type { AlerterSettings } from './config.js'
import { Evaluator, type Instance, type Transition } from './evaluator.js'
import { describe, httpSender, Notifier } from './notifier.js'
import {
  DEFAULT_RULES,
  DEFAULTS_ADDED_LATER,
  formatDuration,
  parseRules,
  type RuleSet,
  RulesError,
} from './rules.js'
import { AlertStore } from './store.js'

export interface AlerterOptions {
  url: string
  username: string
  password: string | undefined
  host: string
  topics: Topics
  settings: AlerterSettings
  log: Logger
  counters?: Counters
  now?: () => number
}

const SILENCE_MAX_MS = 30 * 86_400_000
/** The alerter reads the same documents the recorder stores; larger ones are refused unread. */
const MAX_PAYLOAD_BYTES = 256 * 1024
/** Retained documents stay well below the broker's packet limit (384 KiB) and MqttConnection's 256 KiB. */
const DOC_BUDGET_BYTES = 200 * 1024
/** A per-alert document whose only change is its value or message is republished at most this often. */
const ALERT_REFRESH_MS = 10_000

/**
 * The alerter: evaluates the rules on the live MQTT stream, publishes `alert.firing`/`alert.resolved` events and
 * the retained state of every open alert, and notifies the channels each rule routes to. Its own SQLite file keeps
 * the open alerts and the delivery queue, so a restart neither forgets an alert nor announces it again.
 *
 * It is a service of its own rather than part of the recorder: a monitor must not go silent with the thing it
 * watches (a dead recorder is one of its alerts), and slow or failing notification endpoints must never hold up the
 * system of record.
 */
export class AlerterService {
  readonly conn: MqttConnection
  readonly counters: Counters
  readonly store: AlertStore
  private readonly evaluator: Evaluator
  private commands: CommandServer<AlertAction> | null = null
  private readonly notifier: Notifier
  private readonly now: () => number
  private rules: RuleSet
  private loadedAt = 0
  private rejected: { at: number; errors: string[] } | null = null
  private silences = new Map<string, { until: number; by: string }>()
  private readonly seenEvents = new Set<string>()
  private timers: NodeJS.Timeout[] = []
  private alertsDirty = true
  /** Per-alert documents published: what they said (state etc.), when, and their value and message then. */
  private readonly publishedAlerts = new Map<
    string,
    { key: string; at: number; value: number | null; message: string }
  >()
  private rulesDirty = true
  private lastFileText: string | null = null

  constructor(private readonly o: AlerterOptions) {
    this.counters = o.counters ?? new Counters()
    this.now = o.now ?? Date.now
    const s = o.settings
    this.store = new AlertStore(join(s.dataDir, 'alerter', 'alerter.db'))
    this.conn = serviceConnection(o, 'alerter', this.counters, {
      // Events published while the alerter was away are queued by the broker and evaluated when it is back.
      persistentSession: true,
    })
    this.evaluator = new Evaluator({
      now: this.now,
      noDataMs: s.noDataMs,
      self: { host: o.host, service: 'alerter' },
      onTransition: (t) => this.onTransition(t),
      onChange: (id, inst) => {
        this.store.saveInstance(id, inst)
        this.alertsDirty = true
      },
    })
    this.notifier = new Notifier({
      store: this.store,
      now: this.now,
      send: httpSender((topic, n) => this.publishNotification(topic, n), s.httpTimeoutMs),
      retryBaseMs: s.retryBaseMs,
      retryMaxMs: s.retryMaxMs,
      maxAttempts: s.maxAttempts,
      onGiveUp: (d, error) =>
        this.publishEvent(d.payload.alert.host, 'alert.delivery_failed', 'warning', d.payload.alert.subject, {
          message: `could not notify "${d.channel}" of "${d.payload.title}" after ${d.attempts} attempts: ${error}`,
          data: {
            alertId: d.alertId,
            rule: d.rule,
            episode: d.episode,
            state: d.state,
            channel: d.channel,
            attempts: d.attempts,
            error,
          },
        }),
      log: o.log,
      counters: this.counters,
    })
    this.rules = this.loadInitialRules()
  }

  /**
   * Default rules added in a later version reach a rules file written by an earlier one: each is appended once (a
   * rule the owner deletes afterwards stays deleted). A file that does not read as rules is left alone.
   */
  private offerNewDefaults(file: string): void {
    let offered: string[] = []
    try {
      offered = z.array(z.string()).parse(JSON.parse(this.store.getMeta('defaults-offered') ?? '[]'))
    } catch {
      offered = []
    }
    const missing = DEFAULTS_ADDED_LATER.filter((id) => !offered.includes(id))
    if (missing.length === 0) return
    // Only an upgrade gets them (this alerter ran with the file before); a file of one's own on a fresh install
    // is taken as it is.
    if (this.store.getMeta('good-rules') === null) {
      this.store.setMeta('defaults-offered', JSON.stringify(DEFAULTS_ADDED_LATER))
      return
    }
    try {
      const raw = z
        .object({ rules: z.array(z.looseObject({ id: z.unknown() })) })
        .loose()
        .parse(JSON.parse(readFileSync(file, 'utf8')))
      const have = new Set(raw.rules.map((r) => r.id))
      const add = DEFAULT_RULES.rules.filter((r) => missing.some((m) => m === r.id) && !have.has(r.id))
      if (add.length > 0) {
        raw.rules.push(...add)
        const tmp = `${file}.tmp`
        writeFileSync(tmp, `${JSON.stringify(raw, null, 2)}\n`, { mode: 0o600 })
        renameSync(tmp, file)
        this.o.log.info(`added the new default rules ${add.map((r) => r.id).join(', ')} to ${file}`)
      }
      this.store.setMeta('defaults-offered', JSON.stringify([...offered, ...missing]))
    } catch {
      // Not readable as rules: the file's own checks report it below.
    }
  }

  /** The rules at start: the file; if it is broken, the last rules that were good (else the defaults), loudly. */
  private loadInitialRules(): RuleSet {
    const { rulesFile, extraChannels } = this.o.settings
    if (!existsSync(rulesFile)) {
      const text = `${JSON.stringify(DEFAULT_RULES, null, 2)}\n`
      try {
        writeFileSync(rulesFile, text, { mode: 0o600 })
        this.store.setMeta('defaults-offered', JSON.stringify(DEFAULTS_ADDED_LATER))
        this.o.log.info(`wrote the default alert rules to ${rulesFile}; edit it to change them`)
      } catch (e) {
        this.o.log.warn(`could not write the default rules to ${rulesFile}:`, e)
      }
    } else this.offerNewDefaults(rulesFile)
    try {
      const text = readFileSync(rulesFile, 'utf8')
      const { set } = parseRules(text, extraChannels)
      this.lastFileText = text
      this.store.setMeta('good-rules', text)
      this.loadedAt = this.now()
      return set
    } catch (e) {
      const errors =
        e instanceof RulesError ? e.errors : [`cannot read ${rulesFile}: ${(e as Error).message}`]
      this.rejected = { at: this.now(), errors }
      this.counters.inc('rules.rejected')
      this.o.log.error(
        `the rules in ${rulesFile} are not valid; using the last good rules:\n  ${errors.join('\n  ')}`,
      )
      this.loadedAt = this.now()
      const good = this.store.getMeta('good-rules')
      try {
        if (good) return parseRules(good, extraChannels).set
      } catch {
        // The last good rules no longer read (a metric this version dropped): the defaults, then.
      }
      return parseRules(DEFAULT_RULES, extraChannels).set
    }
  }

  start(): void {
    const { topics, host, settings: s } = this.o
    const restored = this.store.loadInstances()
    if (restored.skipped) this.o.log.warn(`skipped ${restored.skipped} stored alerts that no longer read`)
    this.evaluator.restore(restored.instances, (id) =>
      this.rules.rules.some((r) => r.id === id && r.type === 'availability'),
    )
    this.evaluator.setRules(this.rules)
    this.notifier.setChannels(this.rules.channels)
    this.silences = this.store.silences(this.now())
    if (this.rejected) this.conn.setStatus('degraded', `alert rules rejected: ${this.rejected.errors[0]}`)

    this.conn.onMessage((topic, payload, packet) => {
      try {
        this.store.unitOfWork(() => this.onMessage(topic, payload, packet.retain))
      } catch (e) {
        this.counters.inc('handler.errors')
        this.o.log.once(`msg:${(e as Error).message}`, `could not evaluate a message on ${topic}:`, e)
      }
    })
    this.commands = new CommandServer<AlertAction>({
      conn: this.conn,
      topics,
      host,
      service: 'alerter',
      log: this.o.log,
      counters: this.counters,
      actions: AlertAction,
      execute: (c) => this.execute(c),
    })
    this.commands.start()
    this.conn.subscribe(topics.filter('availability'), 1)
    this.conn.subscribe(topics.filter('status'), 0)
    this.conn.subscribe(topics.filter('event'), 1)
    this.conn.subscribe(topics.filter('reading'), 0)
    this.conn.start()

    this.timers.push(
      setInterval(() => {
        try {
          this.store.unitOfWork(() => this.evaluator.tick())
          this.publishState()
        } catch (e) {
          this.counters.inc('tick.errors')
          this.o.log.once(`tick:${(e as Error).message}`, 'evaluation tick failed:', e)
        }
      }, s.tickMs),
      setInterval(() => {
        this.rulesDirty = true
        this.alertsDirty = true
      }, 10_000),
      setInterval(() => this.conn.publishStatus(), 30_000),
      setInterval(() => this.store.prune(this.now() - 30 * 86_400_000), 3_600_000),
    )
    for (const t of this.timers) t.unref()
    this.notifier.start()
    watchFile(s.rulesFile, { interval: 1000 }, () => this.reload('file'))
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    const r = decode({ topics: this.o.topics, maxPayloadBytes: MAX_PAYLOAD_BYTES }, topic, payload)
    if (!r.ok) {
      this.invalid(topic, r.reason)
      return
    }
    const m = r.message
    switch (m.kind) {
      case 'availability':
        this.evaluator.onAvailability(m.topic.host, m.topic.service, m.value)
        return
      case 'status':
        this.evaluator.onStatus(m.topic.host, m.topic.service, m.doc.state, m.doc.reason)
        return
      case 'event':
        if (m.topic.service === 'alerter') return
        if (this.seenEvents.has(m.doc.id)) return
        if (this.seenEvents.size >= 10_000) this.seenEvents.clear()
        this.seenEvents.add(m.doc.id)
        this.evaluator.onEvent(m.doc)
        return
      case 'cleared':
        if (m.topic.channel === 'reading' && m.topic.service === 'alerter' && m.topic.kind === 'alert')
          this.publishedAlerts.delete(m.topic.entity ?? '')
        return
      case 'reading': {
        const { host, service, kind, entity } = m.topic
        if (service === 'alerter') {
          // Its own per-alert documents, retained from before a restart: clear those no longer open.
          if (kind === 'alert' && entity && !this.evaluator.get(entity) && retained) this.clearAlert(entity)
          return
        }
        const { doc } = m.reading
        const samples = readingSamples(m.reading, entity)
        const at = retained ? doc.ts : this.now()
        const interval = 'intervalMs' in doc && typeof doc.intervalMs === 'number' ? doc.intervalMs : null
        this.evaluator.onReading(host, kind, entity, doc.ts, at, samples, interval)
        return
      }
      case 'command':
      case 'notification':
        return
    }
  }

  private invalid(topic: string, reason: string): void {
    this.counters.inc('messages.invalid')
    this.counters.inc(`invalid.${reason.split(':')[0]}`)
    this.o.log.once(`invalid:${reason.slice(0, 120)}`, `ignoring a message on ${topic}: ${reason}`)
  }

  /** Re-reads the rules file; a broken file is rejected, reported, and the rules in force stay. */
  reload(cause: 'file' | 'edit'): boolean {
    const { rulesFile, extraChannels } = this.o.settings
    let text: string
    try {
      text = readFileSync(rulesFile, 'utf8')
    } catch (e) {
      text = `\0${(e as Error).message}`
    }
    if (text === this.lastFileText) return true
    this.lastFileText = text
    try {
      if (text.startsWith('\0')) throw new RulesError([`cannot read ${rulesFile}: ${text.slice(1)}`])
      const { set } = parseRules(text, extraChannels)
      this.store.transaction(() => {
        this.store.setMeta('good-rules', text)
        this.rules = set
        this.evaluator.setRules(set)
      })
      this.notifier.setChannels(set.channels)
      this.rejected = null
      this.loadedAt = this.now()
      this.rulesDirty = true
      this.conn.setStatus('ok', null)
      this.counters.inc('rules.loaded')
      this.o.log.info(`loaded ${set.rules.length} alert rules from ${rulesFile}`)
      if (cause === 'file')
        this.publishEvent(this.o.host, 'alert.rules_loaded', 'info', 'rules', {
          message: `loaded ${set.rules.length} alert rules from ${rulesFile}`,
          data: { file: rulesFile, rules: set.rules.length },
        })
      return true
    } catch (e) {
      const errors = e instanceof RulesError ? e.errors : [(e as Error).message]
      this.rejected = { at: this.now(), errors }
      this.rulesDirty = true
      this.counters.inc('rules.rejected')
      this.conn.setStatus('degraded', `alert rules rejected: ${errors[0]}`)
      this.o.log.warn(
        `rejected the rules in ${rulesFile}; the previous rules stay in force:\n  ${errors.join('\n  ')}`,
      )
      this.publishEvent(this.o.host, 'alert.rules_rejected', 'warning', 'rules', {
        message: `rejected ${rulesFile}: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}; the previous rules stay in force`,
        data: { file: rulesFile, errors },
      })
      return false
    }
  }

  private onTransition(t: Transition): void {
    const a = this.withSilence(t.alert)
    const data: AlertEventData = { alert: a, state: t.state, reason: t.reason }
    this.publishEvent(a.host, `alert.${t.state}`, t.state === 'firing' ? a.severity : 'info', a.subject, {
      message: t.state === 'firing' ? `${a.name}: ${a.message}` : `resolved: ${a.name}: ${a.message}`,
      data,
    })
    this.counters.inc(`alerts.${t.state}`)
    const d = describe(a, t.state, t.reason)
    // Checked once: every channel's delivery carries this same message.
    const payload = AlertNotification.parse({
      v: 1,
      id: `${a.episode}:${t.state}`,
      state: t.state,
      alert: a,
      reason: t.reason,
      title: d.title.slice(0, 300),
      message: d.text.slice(0, 2000),
      ts: t.ts,
    })
    const now = this.now()
    const silenced = a.silencedUntil !== null && a.silencedUntil > now
    for (const channel of this.rules.routes.get(a.rule) ?? []) {
      if (!this.notifier.accepts(channel, a.severity)) continue
      let status: 'pending' | 'silenced' = silenced ? 'silenced' : 'pending'
      if (t.state === 'resolved') {
        // Announce the end only of what was announced (or is still on its way).
        const first = this.store.deliveryStatus(`${a.episode}:firing:${channel}`)
        if (first !== 'sent' && first !== 'pending' && first !== 'failed') status = 'silenced'
      }
      this.store.addDelivery({
        id: `${a.episode}:${t.state}:${channel}`,
        channel,
        alertId: a.id,
        rule: a.rule,
        episode: a.episode ?? '',
        state: t.state,
        payload,
        status,
        nextAt: now,
        now,
      })
    }
    this.alertsDirty = true
    setImmediate(() => this.notifier.pump())
  }

  private withSilence(a: Alert): Alert {
    const s = this.silences.get(a.id)
    return s && s.until > this.now()
      ? { ...a, silencedUntil: s.until, silencedBy: s.by }
      : { ...a, silencedUntil: null, silencedBy: null }
  }

  private publishEvent(
    host: string,
    type: string,
    severity: Event['severity'],
    subject: string,
    e: { message: string; data: Record<string, unknown> },
  ): void {
    this.conn.publishEvent({
      host,
      type,
      severity,
      subject,
      message: e.message,
      data: e.data,
      ts: this.now(),
    })
  }

  private publishNotification(topic: string, n: AlertNotification): void {
    if (!this.conn.connected) throw new Error('not connected to the broker')
    this.conn.publishJson(this.o.topics.notify(this.o.host, 'alerter', topic), AlertNotification, n, {
      qos: 1,
    })
  }

  /**
   * The retained state documents, when something changed (values refresh every 10 s): one `reading/alert/<id>` per
   * open alert (cleared when it resolves), the `reading/alerts` summary and `reading/rules`. Each stays a small
   * document however many alerts, rules and entities there are.
   */
  private publishState(): void {
    const { topics, host } = this.o
    if (this.alertsDirty) {
      this.alertsDirty = false
      const now = this.now()
      for (const [id, s] of this.silences) if (s.until <= now) this.silences.delete(id)
      const alerts = this.evaluator
        .list()
        .map((i) => this.withSilence(i.alert))
        .sort((a, b) => (a.state === b.state ? b.since - a.since : a.state === 'firing' ? -1 : 1))
      const open = new Set<string>()
      for (const a of alerts) {
        open.add(a.id)
        const { value: _v, message: _m, ...rest } = a
        const key = JSON.stringify(rest)
        const prev = this.publishedAlerts.get(a.id)
        const changed = prev?.key !== key
        if (
          !changed &&
          (prev.at > now - ALERT_REFRESH_MS || (prev.value === a.value && prev.message === a.message))
        )
          continue
        this.conn.publishJson(
          topics.reading(host, 'alerter', 'alert', a.id),
          AlertReading,
          { v: 1, ts: now, host, source: 'alerter', alert: a },
          { qos: 1, retain: true },
        )
        this.publishedAlerts.set(a.id, { key, at: now, value: a.value, message: a.message })
      }
      for (const id of [...this.publishedAlerts.keys()]) if (!open.has(id)) this.clearAlert(id)
      const firing = alerts.filter((a) => a.state === 'firing').length
      const listed = fitList(alerts.slice(0, ALERTS_LISTED), DOC_BUDGET_BYTES)
      this.conn.publishJson(
        topics.reading(host, 'alerter', 'alerts'),
        AlertsReading,
        {
          v: 1,
          ts: now,
          host,
          source: 'alerter',
          alerts: listed,
          firing,
          pending: alerts.length - firing,
          total: alerts.length,
        },
        { qos: 1, retain: true },
      )
    }
    if (this.rulesDirty) {
      this.rulesDirty = false
      // Fewer entities per rule until the document fits.
      for (const perRule of [50, 10, 3, 0]) {
        const doc: RulesReading = {
          v: 1,
          ts: this.now(),
          host,
          source: 'alerter',
          file: this.o.settings.rulesFile,
          loadedAt: this.loadedAt,
          rejected: this.rejected,
          rules: this.evaluator
            .views(this.rules.rules, this.rules.routes)
            .map((r) => ({ ...r, instances: r.instances.slice(0, perRule) })),
          channels: this.notifier.views(),
          instancesPerRule: perRule,
        }
        if (perRule > 0 && Buffer.byteLength(JSON.stringify(doc)) > DOC_BUDGET_BYTES) continue
        this.conn.publishJson(topics.reading(host, 'alerter', 'rules'), RulesReading, doc, {
          qos: 1,
          retain: true,
        })
        break
      }
    }
  }

  /** An alert that is no longer open: its retained document goes (an empty retained message). */
  private clearAlert(id: string): void {
    this.publishedAlerts.delete(id)
    this.conn.publish(this.o.topics.reading(this.o.host, 'alerter', 'alert', id), '', {
      qos: 1,
      retain: true,
    })
  }

  private async execute(c: CommandInput<AlertAction>): Promise<CommandOutcome> {
    const out = this.store.transaction(() => this.executeNow(c))
    this.alertsDirty = true
    this.publishState()
    return out
  }

  private executeNow(c: CommandInput<AlertAction>): CommandOutcome {
    const now = this.now()
    if (c.action === 'update_rule') return this.updateRule(c)
    const inst: Instance | undefined = this.evaluator.get(c.target)
    const known = inst ?? (this.silences.has(c.target) ? undefined : null)
    if (known === null) return { outcome: 'not_found', message: `no open alert "${c.target}"` }
    const subject = inst ? `${inst.alert.name} (${inst.alert.subject} on ${inst.alert.host})` : c.target
    switch (c.action) {
      case 'ack':
        if (inst?.alert.state !== 'firing')
          return { outcome: 'refused', message: 'only a firing alert can be acknowledged' }
        this.evaluator.patch(c.target, { ack: { by: c.requestedBy, at: now } })
        return { outcome: 'done', message: `acknowledged ${subject}`, subject: inst.alert.subject }
      case 'unack':
        this.evaluator.patch(c.target, { ack: null })
        return { outcome: 'done', message: `acknowledgement removed from ${subject}` }
      case 'silence': {
        const p = SilenceParams.safeParse(c.params)
        if (!p.success)
          return { outcome: 'refused', message: `params.until: ${p.error.issues[0]?.message ?? 'invalid'}` }
        if (p.data.until <= now || p.data.until > now + SILENCE_MAX_MS)
          return {
            outcome: 'refused',
            message: 'params.until must be in the future and at most 30 days away',
          }
        this.silences.set(c.target, { until: p.data.until, by: c.requestedBy })
        this.store.setSilence(c.target, p.data.until, c.requestedBy)
        return {
          outcome: 'done',
          message: `silenced ${subject} until ${new Date(p.data.until).toISOString()}`,
          ...(inst ? { subject: inst.alert.subject } : {}),
        }
      }
      case 'unsilence':
        this.silences.delete(c.target)
        this.store.setSilence(c.target, null, c.requestedBy)
        return { outcome: 'done', message: `silence of ${subject} ended` }
      default:
        return { outcome: 'refused', message: `unknown action "${c.action}"` }
    }
  }

  /** An operator's threshold change: applied to the rules file, validated as a whole, audited by its command event. */
  private updateRule(c: CommandInput<AlertAction>): CommandOutcome {
    const patch = RulePatch.safeParse(c.params)
    if (!patch.success) {
      const i = patch.error.issues[0]
      return { outcome: 'refused', message: `${i?.path.join('.') || 'params'}: ${i?.message}` }
    }
    if (this.rejected)
      return {
        outcome: 'refused',
        message: `the rules file is invalid (${this.rejected.errors[0]}); fix it before editing from the UI`,
      }
    const file = this.o.settings.rulesFile
    let raw: { rules?: Array<Record<string, unknown>> }
    try {
      raw = JSON.parse(readFileSync(file, 'utf8')) as typeof raw
    } catch (e) {
      return { outcome: 'failed', message: `cannot read ${file}: ${(e as Error).message}` }
    }
    const rule = raw.rules?.find((r) => r.id === c.target)
    if (!rule) return { outcome: 'not_found', message: `no rule "${c.target}"` }
    const p = patch.data
    const thresholdOnly =
      p.value !== undefined ||
      p.resolveValue !== undefined ||
      p.forMs !== undefined ||
      p.resolveForMs !== undefined
    if (thresholdOnly && rule.type !== 'threshold')
      return {
        outcome: 'refused',
        message: `rule "${c.target}" is not a threshold rule; only enabled and severity can change`,
      }
    const before = structuredClone(rule)
    const resolve = { ...((rule.resolve as Record<string, unknown> | undefined) ?? {}) }
    if (p.value !== undefined) rule.value = p.value
    if (p.forMs !== undefined) rule.for = formatDuration(p.forMs)
    if (p.resolveValue !== undefined) resolve.value = p.resolveValue
    if (p.resolveForMs !== undefined) resolve.for = formatDuration(p.resolveForMs)
    if (p.resolveValue !== undefined || p.resolveForMs !== undefined) rule.resolve = resolve
    if (p.enabled !== undefined) rule.enabled = p.enabled
    if (p.severity !== undefined) rule.severity = p.severity
    try {
      parseRules(raw, this.o.settings.extraChannels)
    } catch (e) {
      return { outcome: 'refused', message: (e as Error).message }
    }
    const changes = Object.keys(p)
      .map((k) => {
        const show = (r: Record<string, unknown>) =>
          k === 'resolveValue'
            ? (r.resolve as { value?: unknown } | undefined)?.value
            : k === 'resolveForMs'
              ? (r.resolve as { for?: unknown } | undefined)?.for
              : k === 'forMs'
                ? r.for
                : r[k]
        return `${k.replace(/Ms$/, '')} ${JSON.stringify(show(before) ?? null)} → ${JSON.stringify(show(rule))}`
      })
      .join(', ')
    const tmp = `${file}.tmp`
    writeFileSync(tmp, `${JSON.stringify(raw, null, 2)}\n`, { mode: 0o600 })
    renameSync(tmp, file)
    if (!this.reload('edit')) return { outcome: 'failed', message: 'the edited rules did not load' }
    return { outcome: 'done', message: `rule ${c.target}: ${changes}`, subject: c.target }
  }

  /** Waits until queued notifications are handed over (tests; a clean stop). */
  async stop(): Promise<void> {
    unwatchFile(this.o.settings.rulesFile)
    for (const t of this.timers) clearInterval(t)
    await this.commands?.stop()
    await this.notifier.stop()
    await this.conn.stop()
    this.store.close()
  }
}

/** The first items of a list that fit `maxBytes` as JSON (at least none). */
function fitList<T>(items: T[], maxBytes: number): T[] {
  let size = 2
  const out: T[] = []
  for (const i of items) {
    size += Buffer.byteLength(JSON.stringify(i)) + 1
    if (size > maxBytes) break
    out.push(i)
  }
  return out
}
