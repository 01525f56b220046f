import { z } from 'zod'
import { EpochMs, envelopeShape, HostId } from './envelope.js'
import { Event } from './events.js'

/**
 * Alerts: the alerter's state documents, its events and its notifications. The rules file's format is in
 * alert-rules.ts (it needs every domain's metrics and events, which messages.ts gathers).
 */

export const Severity = z.enum(['info', 'warning', 'critical'])
export type Severity = z.infer<typeof Severity>

/** A rule id: what the rules file, the API, events and notifications call a rule. */
export const RuleId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'a rule id is lower-case letters, digits, "-" and "_"')

/** An alert's id: a short hash of its key (rule, host, entity), safe in topics and URLs. */
export const AlertId = z.string().regex(/^[a-z0-9]{12}$/, 'an alert id is 12 of a-z, 0-9')

/** One alert (a rule that holds for one entity of one host), as the alerter keeps and publishes it. */
export const Alert = z.object({
  id: AlertId,
  rule: RuleId,
  name: z.string().max(200),
  severity: Severity,
  host: HostId,
  /** The entity it concerns: "system", a mount, a container, a unit, a service, "ollama". */
  subject: z.string().min(1).max(256),
  /** The series' labels, or the event's subject (`mount`, `name`, `unit`, `service`, `model`). */
  labels: z.record(z.string().max(64), z.string().max(256)),
  /** The series it watches (thresholds), so charts of that series can mark it; null for other rules. */
  series: z.string().max(300).nullable(),
  /** pending: the condition holds but not yet for its duration; firing: notified. */
  state: z.enum(['pending', 'firing']),
  /** When the condition started to hold. */
  since: EpochMs,
  firingSince: EpochMs.nullable(),
  /** One firing episode (from firing to resolved); notifications of the episode carry it. */
  episode: z.string().max(64).nullable(),
  /** The latest value (thresholds), the match count (event patterns), the silent time in ms (silence rules). */
  value: z.number().nullable(),
  message: z.string().max(2000),
  ack: z.object({ by: z.string().max(128), at: EpochMs }).nullable(),
  /** Notifications are held back until then (the alert still fires and resolves in the log). */
  silencedUntil: EpochMs.nullable(),
  silencedBy: z.string().max(128).nullable(),
})
export type Alert = z.infer<typeof Alert>

/** Why an alert resolved. */
export const ResolveReason = z.enum(['condition', 'no_data', 'rule_removed', 'quiet'])
export type ResolveReason = z.infer<typeof ResolveReason>

/**
 * `data` of `alert.firing` and `alert.resolved` (published under `<base>/<alert's host>/alerter/event/…`, subject =
 * the alert's subject, severity = the rule's; `info` when resolved).
 */
export const AlertEventData = z.object({
  alert: Alert,
  state: z.enum(['firing', 'resolved']),
  reason: ResolveReason.nullable(),
})
export type AlertEventData = z.infer<typeof AlertEventData>

/** `data` of `alert.delivery_failed`: a notification given up after its last retry (the record of failures). */
export const DeliveryFailedData = z.object({
  alertId: AlertId,
  rule: RuleId,
  episode: z.string().max(64),
  state: z.enum(['firing', 'resolved']),
  channel: z.string().max(64),
  attempts: z.number().int().min(0),
  error: z.string().max(1000),
})

const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM (24 h)')

/** Whether this runtime knows an IANA time zone ("Europe/Berlin"). */
export function knownTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/**
 * Hours in which a channel holds its messages back (they are sent when the hours end, not dropped), e.g. 22:00 to
 * 07:00. `except`: alerts of at least this severity are sent anyway.
 */
export const QuietHours = z
  .object({
    from: ClockTime,
    to: ClockTime,
    /** An IANA time zone; default: the alerter's own (TZ). */
    timezone: z
      .string()
      .max(64)
      .refine(knownTimeZone, 'not a time zone this system knows (e.g. Europe/Berlin)')
      .optional(),
    except: Severity.optional(),
  })
  .strict()
  .refine((q) => q.from !== q.to, 'from and to must differ')
export type QuietHours = z.infer<typeof QuietHours>

/** The kinds of channel: the typed ones of the rules file, and the providers a notification URL names. */
export const ChannelType = z.enum([
  'webhook',
  'ntfy',
  'mqtt',
  'telegram',
  'discord',
  'slack',
  'gotify',
  'pushover',
  'matrix',
  'email',
])
export type ChannelType = z.infer<typeof ChannelType>

/** A notification channel as the alerter shows it (never its secrets). */
export const ChannelView = z.object({
  name: z.string().max(64),
  type: ChannelType,
  /** Where it sends, with every token, password and key cut out. */
  target: z.string().max(500),
  minSeverity: Severity,
  rateLimit: z.object({ max: z.number().int(), perMs: z.number().int() }),
  /** Deliveries waiting (retries, rate limit) and given up, since the alerter started. */
  pending: z.number().int().min(0),
  sent: z.number().int().min(0),
  failed: z.number().int().min(0),
  /** How its last delivery went: failing = the provider refused it for good (credentials, an unknown chat …). */
  health: z
    .object({
      state: z.enum(['unknown', 'ok', 'retrying', 'failing']),
      error: z.string().max(1000).nullable(),
      at: EpochMs.nullable(),
    })
    .default({ state: 'unknown', error: null, at: null }),
  quietHours: QuietHours.nullable().default(null),
  /** How long the first alert waits for others on the same host to send them as one message (0: off). */
  groupMs: z.number().int().min(0).default(0),
  /** In the defaults every rule without its own routing notifies. */
  isDefault: z.boolean().default(false),
  /** Where it is defined: the rules file (editable from the dashboard) or the environment (HOMELAB_ALERT_*). */
  origin: z.enum(['file', 'environment']).default('file'),
})
export type ChannelView = z.infer<typeof ChannelView>

/** A rule and its current evaluation, for the rules list and its editor. */
export const RuleView = z.object({
  id: RuleId,
  name: z.string().max(200),
  type: z.enum(['threshold', 'event', 'availability', 'status', 'stale']),
  severity: Severity,
  enabled: z.boolean(),
  notify: z.array(z.string().max(64)),
  /** `notify` is the rule's own routing (else it is the defaults). */
  ownRouting: z.boolean().default(false),
  /** The rule in a sentence ("cpu.usage > 90 for 5m; resolves below 85"). */
  summary: z.string().max(1000),
  /** The collector whose data it needs (docker-collector for container rules …); null for rules about the monitor. */
  source: z.string().max(64).nullable(),
  /** Fields an operator may change from the UI (thresholds); null where the rule has none. */
  threshold: z
    .object({
      op: z.enum(['>', '>=', '<', '<=']),
      value: z.number(),
      forMs: z.number().int().min(0),
      resolveValue: z.number(),
      resolveForMs: z.number().int().min(0),
      /** Shown after values ("%", "°C"); '' for none. */
      unit: z.string().max(16),
      /** The values the metric can take (0–100 for a percentage), where it is bounded. */
      min: z.number().nullable(),
      max: z.number().nullable(),
    })
    .nullable(),
  /** The entities it watches now: the latest value and the alert state (ok when none); firing first, at most 50. */
  instances: z
    .array(
      z.object({
        host: HostId,
        subject: z.string().max(256),
        value: z.number().nullable(),
        state: z.enum(['ok', 'pending', 'firing']),
      }),
    )
    .max(50),
})
export type RuleView = z.infer<typeof RuleView>

/**
 * `reading/alert/<alert id>` (retained, under the alerter's host): one open (pending or firing) alert; cleared (an
 * empty retained message) when it resolves. One document per alert keeps each small however many are open.
 */
export const AlertReading = z.object({
  ...envelopeShape,
  source: z.literal('alerter'),
  alert: Alert,
})
export type AlertReading = z.infer<typeof AlertReading>

/** How many alerts `reading/alerts` lists at most; `total` counts them all (each has its own `reading/alert/<id>`). */
export const ALERTS_LISTED = 50

/**
 * `reading/alerts` (retained, under the alerter's host): the counts of open alerts and the first of them (firing
 * first, then the newest), at most ALERTS_LISTED and never more than fits a small document.
 */
export const AlertsReading = z.object({
  ...envelopeShape,
  source: z.literal('alerter'),
  alerts: z.array(Alert).max(ALERTS_LISTED),
  firing: z.number().int().min(0),
  pending: z.number().int().min(0).default(0),
  /** Open alerts in all (firing + pending); more than `alerts.length` when the list was cut. */
  total: z.number().int().min(0).default(0),
})
export type AlertsReading = z.infer<typeof AlertsReading>

/** `reading/rules` (retained, under the alerter's host): the rules in force and their evaluation. */
export const RulesReading = z.object({
  ...envelopeShape,
  source: z.literal('alerter'),
  file: z.string().max(1000),
  loadedAt: EpochMs,
  /** The last rejected version of the file, and why (the previous rules stay in force). */
  rejected: z.object({ at: EpochMs, errors: z.array(z.string().max(1000)).max(50) }).nullable(),
  rules: z.array(RuleView).max(1000),
  channels: z.array(ChannelView).max(100),
  /** Entities listed per rule (50, fewer when that many would not fit a small document). */
  instancesPerRule: z.number().int().min(0).max(50).default(50),
})
export type RulesReading = z.infer<typeof RulesReading>

/**
 * What a webhook receives (POST, JSON) and what the MQTT channel publishes: one message per state change.
 * `id` is the same on every retry of one message (`<episode>:<state>`), also sent as the `Idempotency-Key` header.
 */
export const AlertNotification = z.object({
  v: z.literal(1),
  id: z.string().max(100),
  state: z.enum(['firing', 'resolved']),
  alert: Alert,
  reason: ResolveReason.nullable(),
  title: z.string().max(300),
  message: z.string().max(2000),
  /** When the state changed (not when this attempt was sent). */
  ts: EpochMs,
})
export type AlertNotification = z.infer<typeof AlertNotification>

/** The alerter's actions (`cmd` requests from the gateway; `ack` also as a plain `set/<alert id>` payload). */
export const AlertAction = z.enum([
  'ack',
  'unack',
  'silence',
  'unsilence',
  'update_rule',
  'set_channel',
  'remove_channel',
  'test_channel',
  'add_rule',
  'remove_rule',
])
export type AlertAction = z.infer<typeof AlertAction>

/** `params` of `silence`: until when (ms epoch). */
export const SilenceParams = z.object({ until: EpochMs }).strict()

/** A channel name: what rules route to. */
export const ChannelName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'a channel name is 1–64 of A-Z, a-z, 0-9, "_", "-"')

/**
 * `params` of `set_channel` (the target is its name): a notification URL channel added or changed from the dashboard.
 * Without `url` the channel's URL stays as it is (the dashboard never sees it whole). `default`: every rule without
 * its own routing notifies it.
 */
export const ChannelInput = z
  .object({
    url: z.string().min(1).max(2000).optional(),
    minSeverity: Severity.optional(),
    quietHours: QuietHours.nullable().optional(),
    default: z.boolean().optional(),
  })
  .strict()
export type ChannelInput = z.infer<typeof ChannelInput>

/** `params` of `test_channel`: a URL to try before it is saved; without it, the named channel is tried. */
export const ChannelTest = z.object({ url: z.string().min(1).max(2000).optional() }).strict()

const MAX_MS = 30 * 86_400_000
const ruleInputCommon = {
  id: RuleId,
  name: z.string().min(1).max(200).optional(),
  severity: Severity.default('warning'),
  /** Hosts it applies to (a glob; default every host). */
  hosts: z.string().min(1).max(256).optional(),
  /** The channels it notifies; without: the defaults. */
  notify: z
    .array(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/))
    .max(20)
    .optional(),
}

/**
 * `params` of `add_rule` (POST /api/alerts/rules): a rule made in the dashboard's form — a threshold on any metric,
 * or a pattern of events. The alerter writes it into the rules file in the file's own form and checks the whole
 * file (an unknown metric or event type, a label the metric has not, a percentage past 100 are refused there).
 */
export const RuleInput = z.discriminatedUnion('type', [
  z
    .object({
      ...ruleInputCommon,
      type: z.literal('threshold'),
      metric: z.string().min(1).max(128),
      /** Label globs of the metric's one label (`{"mount": "/mnt/*"}`). */
      labels: z.record(z.string().max(64), z.string().min(1).max(256)).optional(),
      op: z.enum(['>', '>=', '<', '<=']),
      value: z.number().finite(),
      forMs: z.number().int().min(0).max(MAX_MS).default(0),
      resolveValue: z.number().finite().optional(),
      resolveForMs: z.number().int().min(0).max(MAX_MS).default(0),
      unit: z.string().max(16).optional(),
    })
    .strict(),
  z
    .object({
      ...ruleInputCommon,
      type: z.literal('event'),
      /** An event type (`container.died`) or a prefix (`unit.*`). */
      event: z.string().min(1).max(64),
      /** A glob over the event's subject (a container, a unit …). */
      subject: z.string().min(1).max(256).optional(),
      /** Fire at this many events within `withinMs` (per host and subject). */
      count: z.number().int().min(1).max(1000).default(1),
      withinMs: z.number().int().min(1000).max(MAX_MS).optional(),
      /** Resolves this long after the last match. */
      resolveAfterMs: z
        .number()
        .int()
        .min(1000)
        .max(MAX_MS)
        .default(15 * 60_000),
    })
    .strict(),
])
export type RuleInput = z.infer<typeof RuleInput>

/** `params` of `update_rule`: the threshold fields an operator may change (at least one). */
export const RulePatch = z
  .object({
    value: z.number().finite().optional(),
    resolveValue: z.number().finite().optional(),
    forMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400_000)
      .optional(),
    resolveForMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400_000)
      .optional(),
    enabled: z.boolean().optional(),
    severity: Severity.optional(),
    /** The channels it notifies; null: the defaults. */
    notify: z.array(ChannelName).max(20).nullable().optional(),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'give at least one field to change')
export type RulePatch = z.infer<typeof RulePatch>

/** GET /api/alerts: firing alerts first (then pending), the recent history, and failed deliveries. */
export const AlertsResponse = z.object({
  alerter: z.enum(['online', 'offline', 'unknown']),
  /** True when the alerter is offline and these are its last published alerts. */
  stale: z.boolean(),
  alerts: z.array(Alert),
  firing: z.number().int().min(0),
  history: z.array(Event),
  failedDeliveries: z.array(Event),
})
export type AlertsResponse = z.infer<typeof AlertsResponse>

/** GET /api/alerts/rules. */
export const RulesResponse = z.object({
  alerter: z.enum(['online', 'offline', 'unknown']),
  file: z.string().nullable(),
  loadedAt: EpochMs.nullable(),
  rejected: RulesReading.shape.rejected,
  rules: z.array(RuleView),
  channels: z.array(ChannelView),
  /** Rule changes and reloads (who, what, when). */
  audit: z.array(Event),
})
export type RulesResponse = z.infer<typeof RulesResponse>
