import { join } from 'node:path'
import {
  AlertAction,
  type AlertEventData,
  AlertNotification,
  ChannelInput,
  ChannelTest,
  type Event,
  RuleInput,
  RulePatch,
  readingSamples,
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
import { executeAlertAction, Silences } from './actions.js'
import type { Endpoints } from './channels/providers.js'
import type { AlerterSettings } from './config.js'
import { Evaluator, type Transition } from './evaluator.js'
import { queueNotifications } from './fan-out.js'
import { channelSender, Notifier } from './notifier.js'
import { Channel } from './rules.js'
import { RulesFileStore } from './rules-file.js'
import { StatePublisher } from './state-publisher.js'
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
  /** Where the hosted notification providers answer (tests); default: the providers' own addresses. */
  endpoints?: Endpoints
}

/** The alerter reads the same documents the recorder stores; larger ones are refused unread. */
const MAX_PAYLOAD_BYTES = 256 * 1024

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
  private readonly rulesFile: RulesFileStore
  private readonly silences: Silences
  private readonly state: StatePublisher
  private readonly seenEvents = new Set<string>()
  private timers: NodeJS.Timeout[] = []

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
        this.state.alertsChanged()
      },
    })
    this.notifier = new Notifier({
      store: this.store,
      now: this.now,
      send: channelSender({
        publishMqtt: (topic, n) => this.publishNotification(topic, n),
        timeoutMs: s.httpTimeoutMs,
        publicUrl: s.publicUrl,
        ...(o.endpoints ? { endpoints: o.endpoints } : {}),
      }),
      host: o.host,
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
    this.rulesFile = new RulesFileStore({
      file: s.rulesFile,
      extraChannels: s.extraChannels,
      memory: this.store,
      log: o.log,
      now: this.now,
    })
    this.silences = new Silences(this.store, this.now)
    this.state = new StatePublisher({
      conn: this.conn,
      topics: o.topics,
      host: o.host,
      evaluator: this.evaluator,
      notifier: this.notifier,
      rules: this.rulesFile,
      show: (a) => this.silences.apply(a),
      now: this.now,
    })
  }

  start(): void {
    const { topics, host, settings: s } = this.o
    const rules = this.rulesFile.loadInitial()
    const rejected = this.rulesFile.rejected
    if (rejected) {
      this.counters.inc('rules.rejected')
      this.conn.setStatus('degraded', `alert rules rejected: ${rejected.errors[0]}`)
    }
    const restored = this.store.loadInstances()
    if (restored.skipped) this.o.log.warn(`skipped ${restored.skipped} stored alerts that no longer read`)
    this.evaluator.restore(restored.instances, (id) =>
      rules.rules.some((r) => r.id === id && r.type === 'availability'),
    )
    this.evaluator.setRules(rules)
    this.notifier.setChannels(rules.channels, rules)
    this.silences.load()

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
        this.state.rulesChanged()
        this.state.alertsChanged()
      }, 10_000),
      setInterval(() => this.conn.publishStatus(), 30_000),
      setInterval(() => this.store.prune(this.now() - 30 * 86_400_000), 3_600_000),
    )
    for (const t of this.timers) t.unref()
    this.notifier.start()
    this.rulesFile.watch(() => this.reload('file'))
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    const t = this.o.topics.parse(topic)
    if (t?.channel === 'reading' && t.service === 'alerter') {
      // Its own documents come back on its subscription: the rules document (up to 200 KB, every 10 s) and the
      // alerts are not read again. Per-alert documents retained from before a restart are cleared when no longer
      // open, which needs only the topic and whether the payload is empty.
      if (t.kind === 'alert' && t.entity) {
        if (payload.length === 0) this.state.onOwnAlertDocument(t.entity, 'cleared')
        else if (retained) this.state.onOwnAlertDocument(t.entity, 'retained')
      }
      return
    }
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
        return
      case 'reading': {
        const { host, kind, entity } = m.topic
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
    const file = this.rulesFile.path
    const r = this.rulesFile.read()
    if (r.kind === 'unchanged') return true
    this.state.rulesChanged()
    if (r.kind === 'valid') {
      this.store.transaction(() => {
        this.rulesFile.accept(r)
        this.evaluator.setRules(r.set)
      })
      this.notifier.setChannels(r.set.channels, r.set)
      this.conn.setStatus('ok', null)
      this.counters.inc('rules.loaded')
      this.o.log.info(`loaded ${r.set.rules.length} alert rules from ${file}`)
      if (cause === 'file')
        this.publishEvent(this.o.host, 'alert.rules_loaded', 'info', 'rules', {
          message: `loaded ${r.set.rules.length} alert rules from ${file}`,
          data: { file, rules: r.set.rules.length },
        })
      return true
    }
    const { errors } = r
    this.counters.inc('rules.rejected')
    this.conn.setStatus('degraded', `alert rules rejected: ${errors[0]}`)
    this.o.log.warn(
      `rejected the rules in ${file}; the previous rules stay in force:\n  ${errors.join('\n  ')}`,
    )
    this.publishEvent(this.o.host, 'alert.rules_rejected', 'warning', 'rules', {
      message: `rejected ${file}: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}; the previous rules stay in force`,
      data: { file, errors },
    })
    return false
  }

  private onTransition(t: Transition): void {
    const a = this.silences.apply(t.alert)
    const data: AlertEventData = { alert: a, state: t.state, reason: t.reason }
    this.publishEvent(a.host, `alert.${t.state}`, t.state === 'firing' ? a.severity : 'info', a.subject, {
      message: t.state === 'firing' ? `${a.name}: ${a.message}` : `resolved: ${a.name}: ${a.message}`,
      data,
    })
    this.counters.inc(`alerts.${t.state}`)
    queueNotifications(t, a, {
      store: this.store,
      notifier: this.notifier,
      channels: this.rulesFile.rules.routes.get(a.rule) ?? [],
      now: this.now(),
    })
    this.state.alertsChanged()
    setImmediate(() => this.notifier.pump())
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

  private publishState(): void {
    this.silences.expire()
    this.state.publish()
  }

  private async execute(c: CommandInput<AlertAction>): Promise<CommandOutcome> {
    if (c.action === 'test_channel') return this.testChannel(c)
    const out = this.store.transaction(() => {
      switch (c.action) {
        case 'update_rule':
          return this.updateRule(c)
        case 'set_channel':
        case 'remove_channel':
          return this.editChannel(c)
        case 'add_rule':
        case 'remove_rule':
          return this.editRules(c)
        default:
          return executeAlertAction(c, {
            evaluator: this.evaluator,
            silences: this.silences,
            now: this.now(),
          })
      }
    })
    this.state.alertsChanged()
    this.publishState()
    return out
  }

  /** An admin's channel added, changed or removed: applied to the rules file, validated as a whole, audited. */
  private editChannel(c: CommandInput<AlertAction>): CommandOutcome {
    let change: Parameters<RulesFileStore['editChannel']>[1] = { kind: 'remove' }
    if (c.action === 'set_channel') {
      const input = ChannelInput.safeParse(c.params ?? {})
      if (!input.success) {
        const i = input.error.issues[0]
        return { outcome: 'refused', message: `${i?.path.join('.') || 'params'}: ${i?.message}` }
      }
      change = { kind: 'set', input: input.data }
    }
    const r = this.rulesFile.editChannel(c.target, change)
    if (!r.ok) return { outcome: r.outcome, message: r.message }
    if (!this.reload('edit')) return { outcome: 'failed', message: 'the edited rules did not load' }
    return { outcome: 'done', message: `channel ${c.target}: ${r.changes}`, subject: c.target }
  }

  /** An operator's rule added from the form, or removed: applied to the rules file, validated as a whole, audited. */
  private editRules(c: CommandInput<AlertAction>): CommandOutcome {
    let r: ReturnType<RulesFileStore['removeRule']>
    if (c.action === 'add_rule') {
      const input = RuleInput.safeParse(c.params ?? {})
      if (!input.success) {
        const i = input.error.issues[0]
        return { outcome: 'refused', message: `${i?.path.join('.') || 'params'}: ${i?.message}` }
      }
      if (input.data.id !== c.target) return { outcome: 'refused', message: 'id: must be the target' }
      r = this.rulesFile.addRule(input.data)
    } else r = this.rulesFile.removeRule(c.target)
    if (!r.ok) return { outcome: r.outcome, message: r.message }
    if (!this.reload('edit')) return { outcome: 'failed', message: 'the edited rules did not load' }
    return { outcome: 'done', message: `rule ${c.target}: ${r.changes}`, subject: c.target }
  }

  /** Sends a test notification to a channel (or to a URL not yet saved) and answers with what the provider said. */
  private async testChannel(c: CommandInput<AlertAction>): Promise<CommandOutcome> {
    const p = ChannelTest.safeParse(c.params ?? {})
    if (!p.success) {
      const i = p.error.issues[0]
      return { outcome: 'refused', message: `${i?.path.join('.') || 'params'}: ${i?.message}` }
    }
    let channel = this.rulesFile.rules.channels.get(c.target)
    if (p.data.url !== undefined) {
      const parsed = Channel.safeParse({ type: 'url', url: p.data.url })
      if (!parsed.success) return { outcome: 'refused', message: `url: ${parsed.error.issues[0]?.message}` }
      channel = parsed.data
    }
    if (!channel) return { outcome: 'not_found', message: `no channel "${c.target}"` }
    const r = await this.notifier.test(c.target, channel, c.requestedBy)
    this.state.rulesChanged()
    return r.ok
      ? { outcome: 'done', message: `test sent to ${c.target}: ${r.message}`, subject: c.target }
      : { outcome: 'failed', message: `test to ${c.target} failed: ${r.message}`, subject: c.target }
  }

  /** An operator's threshold change: applied to the rules file, validated as a whole, audited by its command event. */
  private updateRule(c: CommandInput<AlertAction>): CommandOutcome {
    const patch = RulePatch.safeParse(c.params)
    if (!patch.success) {
      const i = patch.error.issues[0]
      return { outcome: 'refused', message: `${i?.path.join('.') || 'params'}: ${i?.message}` }
    }
    const r = this.rulesFile.edit(c.target, patch.data)
    if (!r.ok) return { outcome: r.outcome, message: r.message }
    if (!this.reload('edit')) return { outcome: 'failed', message: 'the edited rules did not load' }
    return { outcome: 'done', message: `rule ${c.target}: ${r.changes}`, subject: c.target }
  }

  /** Waits until queued notifications are handed over (tests; a clean stop). */
  async stop(): Promise<void> {
    this.rulesFile.unwatch()
    for (const t of this.timers) clearInterval(t)
    await this.commands?.stop()
    await this.notifier.stop()
    await this.conn.stop()
    this.store.close()
  }
}
