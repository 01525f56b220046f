import {
  ALERTS_LISTED,
  type Alert,
  AlertReading,
  AlertsReading,
  LogWatchesReading,
  type RulesReading,
  RulesReading as RulesReadingSchema,
  type Topics,
} from '@homelab/contracts'
import type { MqttConnection } from '@homelab/service-kit'
import type { Evaluator } from './evaluator.js'
import type { Notifier } from './notifier.js'
import type { RulesFileStore } from './rules-file.js'

/** Retained documents stay well below the broker's packet limit (384 KiB) and MqttConnection's 256 KiB. */
const DOC_BUDGET_BYTES = 200 * 1024
/** A per-alert document whose only change is its value or message is republished at most this often. */
const ALERT_REFRESH_MS = 10_000

export interface StatePublisherDeps {
  conn: MqttConnection
  topics: Topics
  host: string
  evaluator: Evaluator
  notifier: Pick<Notifier, 'views'>
  rules: RulesFileStore
  /** The alert as shown (with its silence). */
  show: (a: Alert) => Alert
  now: () => number
}

/**
 * The alerter's retained state, published when something changed (values refresh every 10 s): one
 * `reading/alert/<id>` per open alert (cleared when it resolves), the `reading/alerts` summary and `reading/rules`.
 * Each stays a small document however many alerts, rules and entities there are.
 */
export class StatePublisher {
  private alertsDirty = true
  private rulesDirty = true
  /** Per-alert documents published: what they said (state etc.), when, and their value and message then. */
  private readonly published = new Map<
    string,
    { key: string; at: number; value: number | null; message: string }
  >()

  constructor(private readonly d: StatePublisherDeps) {}

  /** The alerts (or an alert's silence or ack) changed. */
  alertsChanged(): void {
    this.alertsDirty = true
  }

  /** The rules, their channels or their instances changed. */
  rulesChanged(): void {
    this.rulesDirty = true
  }

  /**
   * A retained per-alert document seen on the bus: one from before a restart whose alert is no longer open is
   * cleared; an empty one (cleared) is forgotten.
   */
  onOwnAlertDocument(id: string, state: 'retained' | 'cleared'): void {
    if (state === 'cleared') this.published.delete(id)
    else if (!this.d.evaluator.get(id)) this.clear(id)
  }

  publish(): void {
    if (this.alertsDirty) {
      this.alertsDirty = false
      this.publishAlerts()
    }
    if (this.rulesDirty) {
      this.rulesDirty = false
      this.publishRules()
    }
  }

  private publishAlerts(): void {
    const { conn, topics, host, evaluator, now } = this.d
    const t = now()
    const alerts = evaluator
      .list()
      .map((i) => this.d.show(i.alert))
      .sort((a, b) => (a.state === b.state ? b.since - a.since : a.state === 'firing' ? -1 : 1))
    const open = new Set<string>()
    for (const a of alerts) {
      open.add(a.id)
      const { value: _v, message: _m, ...rest } = a
      const key = JSON.stringify(rest)
      const prev = this.published.get(a.id)
      if (
        prev?.key === key &&
        (prev.at > t - ALERT_REFRESH_MS || (prev.value === a.value && prev.message === a.message))
      )
        continue
      conn.publishJson(
        topics.reading(host, 'alerter', 'alert', a.id),
        AlertReading,
        { v: 1, ts: t, host, source: 'alerter', alert: a },
        { qos: 1, retain: true },
      )
      this.published.set(a.id, { key, at: t, value: a.value, message: a.message })
    }
    for (const id of [...this.published.keys()]) if (!open.has(id)) this.clear(id)
    const firing = alerts.filter((a) => a.state === 'firing').length
    conn.publishJson(
      topics.reading(host, 'alerter', 'alerts'),
      AlertsReading,
      {
        v: 1,
        ts: t,
        host,
        source: 'alerter',
        alerts: fitList(alerts.slice(0, ALERTS_LISTED), DOC_BUDGET_BYTES),
        firing,
        pending: alerts.length - firing,
        total: alerts.length,
      },
      { qos: 1, retain: true },
    )
  }

  /** What the log rules need followed, for the collectors that own logs (only changes are published). */
  private lastWatches = ''
  private publishLogWatches(): void {
    const { conn, topics, host, rules, now } = this.d
    const watches = rules.rules.logWatches
    const key = JSON.stringify(watches)
    if (key === this.lastWatches) return
    this.lastWatches = key
    conn.publishJson(
      topics.reading(host, 'alerter', 'log-watches'),
      LogWatchesReading,
      { v: 1, ts: now(), host, source: 'alerter', watches },
      { qos: 1, retain: true },
    )
  }

  private publishRules(): void {
    const { conn, topics, host, evaluator, rules, notifier, now } = this.d
    const set = rules.rules
    this.publishLogWatches()
    // Fewer entities per rule until the document fits.
    for (const perRule of [50, 10, 3, 0]) {
      const doc: RulesReading = {
        v: 1,
        ts: now(),
        host,
        source: 'alerter',
        file: rules.path,
        loadedAt: rules.loadedAt,
        rejected: rules.rejected,
        rules: evaluator
          .views(set.rules, set.routes)
          .map((r) => ({ ...r, instances: r.instances.slice(0, perRule) })),
        channels: notifier.views(),
        instancesPerRule: perRule,
      }
      if (perRule > 0 && Buffer.byteLength(JSON.stringify(doc)) > DOC_BUDGET_BYTES) continue
      conn.publishJson(topics.reading(host, 'alerter', 'rules'), RulesReadingSchema, doc, {
        qos: 1,
        retain: true,
      })
      return
    }
  }

  /** An alert that is no longer open: its retained document goes (an empty retained message). */
  private clear(id: string): void {
    this.published.delete(id)
    this.d.conn.publish(this.d.topics.reading(this.d.host, 'alerter', 'alert', id), '', {
      qos: 1,
      retain: true,
    })
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
