import {
  ChannelName,
  EVENT_TYPES,
  isReadingKind,
  type LogWatch,
  METRICS,
  PERCENT_METRICS,
  QuietHours,
  READING_KINDS,
  RuleId,
  Severity,
  TopicLevel,
} from '@homelab/contracts'
import { LogError, searchPredicate } from '@homelab/service-kit'
import { z } from 'zod'
import { NotifyUrlError, type ParsedUrl, parseNotifyUrl } from './channels/url.js'

/**
 * The rules file: notification channels, defaults and rules, as JSON. Every field is checked here; an error names
 * the rule and the field, and a rejected file leaves the rules in force unchanged.
 */

/**
 * The names to suggest for an unknown one: those of its domain (`cpu.usgae` → the `cpu.` metrics), else the domains —
 * the full list grew past what an error line (and a status document) holds.
 */
function suggestions(name: string, all: string[]): string {
  const domain = name.split('.')[0] ?? ''
  const same = all.filter((n) => n.startsWith(`${domain}.`))
  if (same.length > 0) return `known ${domain}.*: ${same.join(', ')}`
  return `known domains: ${[...new Set(all.map((n) => n.split('.')[0]))].join(', ')}`
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const DURATION_MSG =
  'must be a duration of at least 0 such as "30s", "5m", "2h", "1d" (or a number of milliseconds)'

/** A duration: "30s", "5m", "1h30m", "2d", or milliseconds as a number; never negative. */
export const Duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  let ms: number | null = null
  if (typeof v === 'number') ms = Number.isInteger(v) && v >= 0 ? v : null
  else if (/^(?:\d+(?:ms|s|m|h|d))+$/.test(v.trim())) {
    ms = 0
    for (const [, n, u] of v.trim().matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(n) * UNITS[u!]!
  }
  if (ms === null || ms > 365 * 86_400_000) {
    ctx.addIssue({ code: 'custom', message: DURATION_MSG })
    return z.NEVER
  }
  return ms
})

/** Glob over one name (`*` any run, `?` one character). */
const Glob = z.string().min(1).max(256)

const Op = z.enum(['>', '>=', '<', '<='])
export type Op = z.infer<typeof Op>

const Cond = z
  .object({
    eq: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
    ne: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
    in: z
      .array(z.union([z.string(), z.number(), z.boolean()]))
      .max(100)
      .optional(),
    notIn: z
      .array(z.union([z.string(), z.number(), z.boolean()]))
      .max(100)
      .optional(),
    gt: z.number().optional(),
    lt: z.number().optional(),
  })
  .strict()
  .refine((c) => Object.keys(c).length === 1, 'give exactly one of eq, ne, in, notIn, gt, lt')
export type Cond = z.infer<typeof Cond>

/** Which events a rule counts: a known type (or `domain.*`), optionally a subject glob and conditions on `data`. */
const EventMatch = z
  .object({
    event: z.string().min(1).max(64),
    subject: Glob.optional(),
    /** Dotted paths into the event's `data` ("exitCode", "unit.activeState") → condition. */
    where: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/), Cond).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    const known = m.event.endsWith('.*')
      ? [...EVENT_TYPES].some((t) => t.startsWith(m.event.slice(0, -1)))
      : EVENT_TYPES.has(m.event)
    if (!known)
      ctx.addIssue({
        code: 'custom',
        path: ['event'],
        message: `unknown event type "${m.event}" (${suggestions(m.event, [...EVENT_TYPES])})`,
      })
  })
export type EventMatch = z.infer<typeof EventMatch>

const common = {
  id: RuleId,
  name: z.string().min(1).max(200).optional(),
  severity: Severity.default('warning'),
  enabled: z.boolean().default(true),
  /** Channel names; default: the file's `defaults.notify`. */
  notify: z.array(z.string().min(1).max(64)).max(20).optional(),
  /** Hosts it applies to (glob; default every host). */
  hosts: Glob.default('*'),
}

const ThresholdRule = z
  .object({
    ...common,
    type: z.literal('threshold'),
    metric: z.string().min(1).max(128),
    /** Label globs (`{ "mount": "/mnt/*" }`); a series must match all of them. */
    labels: z.record(z.string().max(64), Glob).optional(),
    op: Op,
    value: z.number().finite(),
    for: Duration.default(0),
    /** The resolve condition (hysteresis): the value must be past `value` on the other side, for `for`. */
    resolve: z
      .object({ value: z.number().finite().optional(), for: Duration.default(0) })
      .strict()
      .default({ for: 0 }),
    /** Shown after values in messages ("%", "°C"). */
    unit: z.string().max(16).default(''),
  })
  .strict()
  .superRefine((r, ctx) => {
    const m = METRICS.get(r.metric)
    if (!m) {
      ctx.addIssue({
        code: 'custom',
        path: ['metric'],
        message: `unknown metric "${r.metric}" (${suggestions(r.metric, [...METRICS.keys()])})`,
      })
      return
    }
    for (const l of Object.keys(r.labels ?? {}))
      if (l !== m.label)
        ctx.addIssue({
          code: 'custom',
          path: ['labels', l],
          message: m.label
            ? `${r.metric} has no label "${l}" (its label is "${m.label}")`
            : `${r.metric} has no labels`,
        })
    // A share of a whole cannot pass 100 % (CPU > 150 % would never fire) nor go below 0.
    if (PERCENT_METRICS.has(r.metric))
      for (const [path, v] of [
        [['value'], r.value],
        [['resolve', 'value'], r.resolve.value],
      ] as const)
        if (v !== undefined && (v < 0 || v > 100))
          ctx.addIssue({
            code: 'custom',
            path: [...path],
            message: `${r.metric} is a percentage: ${v} is outside 0–100`,
          })
    const rv = r.resolve.value
    if (rv !== undefined) {
      const above = r.op === '>' || r.op === '>='
      if (above ? rv > r.value : rv < r.value)
        ctx.addIssue({
          code: 'custom',
          path: ['resolve', 'value'],
          message: `must be ${above ? 'at most' : 'at least'} value (${r.value}) for a "${r.op}" rule, or it would resolve while still firing`,
        })
    }
  })

const EventRule = z
  .object({
    ...common,
    type: z.literal('event'),
    match: EventMatch,
    /** Fire at this many matching events (per host and subject) within `within`. */
    count: z.number().int().min(1).max(1000).default(1),
    within: Duration.optional(),
    /**
     * Resolve `after` this long: after one of the `on` events (same host and subject) with no new match meanwhile,
     * or, without `on`, after the last match.
     */
    resolve: z
      .object({ on: z.array(EventMatch).max(10).optional(), after: Duration.default(15 * 60_000) })
      .strict()
      .default({ after: 15 * 60_000 }),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.count > 1 && r.within === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['within'],
        message: `a count of ${r.count} needs a window, e.g. "within": "10m"`,
      })
  })

const AvailabilityRule = z
  .object({
    ...common,
    type: z.literal('availability'),
    /** Services (glob over service names). */
    services: Glob.default('*'),
    for: Duration.default(2 * 60_000),
  })
  .strict()

/** A service of the monitor that says it is degraded (a full disk, a damaged database, a limit reached). */
const StatusRule = z
  .object({
    ...common,
    type: z.literal('status'),
    /** Services (glob over service names). */
    services: Glob.default('*'),
    for: Duration.default(60_000),
  })
  .strict()

const StaleRule = z
  .object({
    ...common,
    type: z.literal('stale'),
    /** The reading kind whose silence means trouble ("system": the host stopped reporting). */
    reading: z.string().min(1).max(64),
    /** Fire after this many of the reading's own intervals without one. */
    intervals: z.number().int().min(1).max(1000).default(6),
    /** ...and never sooner than this (also the interval for readings that carry none). */
    atLeast: Duration.default(60_000),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (!isReadingKind(r.reading))
      ctx.addIssue({
        code: 'custom',
        path: ['reading'],
        message: `unknown reading kind "${r.reading}" (known: ${Object.keys(READING_KINDS).join(', ')})`,
      })
  })

/**
 * A log pattern: the lines of chosen containers or units that match a pattern, counted per container or unit. The
 * collector that owns the log follows it (only while a rule names it) and publishes `log.match` events; the rule
 * fires at `count` matching lines within `within`, and resolves after `quiet` without one. Evaluated as an event
 * rule on `log.match`.
 */
const LogRule = z
  .object({
    ...common,
    type: z.literal('log'),
    /** Whose logs: containers (docker-collector) or units (systemd-collector). */
    of: z.enum(['containers', 'units']),
    /** Glob over container or unit names. */
    targets: Glob.default('*'),
    /** A literal (ignoring case), or with `regex` a regular expression — refused when it could take exponential time. */
    pattern: z.string().min(1).max(200),
    regex: z.boolean().default(false),
    count: z.number().int().min(1).max(100_000).default(1),
    within: Duration.optional(),
    /** Resolves this long after the last matching line. */
    quiet: Duration.default(10 * 60_000),
  })
  .strict()
  .superRefine((r, ctx) => {
    try {
      searchPredicate({ q: r.pattern, regex: r.regex })
    } catch (e) {
      ctx.addIssue({
        code: 'custom',
        path: ['pattern'],
        message: e instanceof LogError ? e.message : String(e),
      })
    }
    if (r.count > 1 && r.within === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['within'],
        message: `a count of ${r.count} needs a window, e.g. "within": "5m"`,
      })
  })
export type LogRule = z.infer<typeof LogRule>

/** A log rule as the event rule the evaluator runs: its `log.match` events, counted, resolved after quiet. */
export function logAsEventRule(r: LogRule): EventRule {
  return {
    id: r.id,
    name:
      r.name ??
      `${r.of === 'containers' ? 'Container' : 'Unit'} log matches ${r.regex ? `/${r.pattern}/` : `"${r.pattern}"`}`,
    severity: r.severity,
    enabled: r.enabled,
    ...(r.notify ? { notify: r.notify } : {}),
    hosts: r.hosts,
    type: 'event',
    match: { event: 'log.match', subject: r.targets, where: { rule: { eq: r.id } } },
    count: r.count,
    ...(r.within === undefined ? {} : { within: r.within }),
    resolve: { after: r.quiet },
  }
}

/** What the collectors must follow for a log rule. */
export function logWatchOf(r: LogRule): LogWatch {
  return {
    rule: r.id,
    service: r.of === 'containers' ? 'docker-collector' : 'systemd-collector',
    hosts: r.hosts,
    targets: r.targets,
    search: { q: r.pattern, regex: r.regex },
  }
}

export const Rule = z.discriminatedUnion('type', [
  ThresholdRule,
  EventRule,
  AvailabilityRule,
  StatusRule,
  StaleRule,
])
export type Rule = z.infer<typeof Rule>

/** A rule as the file may state it: the evaluator's rules, and log rules (run as event rules). */
const FileRule = z.discriminatedUnion('type', [
  ThresholdRule,
  EventRule,
  AvailabilityRule,
  StatusRule,
  StaleRule,
  LogRule,
])

/** The collector whose data a rule needs (its metric's or event's domain); null for rules about the monitor itself. */
export function sourceOfRule(r: Rule): string | null {
  const name =
    r.type === 'threshold'
      ? r.metric
      : r.type === 'event'
        ? r.match.event
        : r.type === 'stale'
          ? r.reading
          : null
  if (name === null) return null
  const domain = name.split('.')[0] ?? ''
  if (domain === 'container' || domain === 'engine') return 'docker-collector'
  if (domain === 'unit') return 'systemd-collector'
  if (domain === 'ollama') return 'ollama-collector'
  if (domain === 'probe' || domain === 'cert') return 'probe-collector'
  // Log rules: their events come from whichever collector owns the log.
  if (domain === 'alerts' || domain === 'command' || domain === 'service' || domain === 'log') return null
  return 'sys-collector'
}
export type ThresholdRule = z.infer<typeof ThresholdRule>
export type EventRule = z.infer<typeof EventRule>
export type AvailabilityRule = z.infer<typeof AvailabilityRule>
export type StaleRule = z.infer<typeof StaleRule>
export type StatusRule = z.infer<typeof StatusRule>

const channelCommon = {
  /** Only alerts of at least this severity go to the channel. */
  minSeverity: Severity.default('info'),
  /** At most `max` messages per `per`; more wait their turn (they are delayed, not dropped). */
  rateLimit: z
    .object({ max: z.number().int().min(1).max(10_000), per: Duration })
    .strict()
    .default({ max: 30, per: 3_600_000 }),
  /** Hours in which messages wait (they are sent when the hours end). */
  quietHours: QuietHours.optional(),
  /**
   * How long the first alert waits for others on the same host to go out as one message; "0s" turns it off. Default:
   * 5 s for a notification URL to people, off for a webhook, ntfy and MQTT channel (programs read those).
   */
  group: Duration.optional(),
}

const HttpUrl = z
  .string()
  .max(1000)
  .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')

/** A notification URL (`telegram://…`, `smtp://…`), parsed once here; its text is kept for writing the file back. */
export const NotifyUrl = z
  .string()
  .max(2000)
  .transform((text, ctx): ParsedUrl & { text: string } => {
    try {
      return { text, ...parseNotifyUrl(text) }
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof NotifyUrlError ? e.message : String(e) })
      return z.NEVER
    }
  })

export const Channel = z.discriminatedUnion('type', [
  z
    .object({
      ...channelCommon,
      /** Telegram, Discord, Slack, Gotify, Pushover, Matrix, ntfy, e-mail or a webhook, named by its URL. */
      type: z.literal('url'),
      url: NotifyUrl,
    })
    .strict(),
  z
    .object({
      ...channelCommon,
      type: z.literal('webhook'),
      url: HttpUrl,
      headers: z.record(z.string().max(128), z.string().max(2000)).default({}),
    })
    .strict(),
  z
    .object({
      ...channelCommon,
      type: z.literal('ntfy'),
      /** The server and topic, e.g. https://ntfy.sh/my-homelab-alerts. */
      url: HttpUrl,
      token: z.string().max(500).optional(),
    })
    .strict(),
  z
    .object({
      ...channelCommon,
      type: z.literal('mqtt'),
      /** Published under `<base>/<host>/alerter/notify/<topic>`. */
      topic: TopicLevel,
    })
    .strict(),
])
export type Channel = z.infer<typeof Channel>

/** How long a channel's first message waits for others to group with (its `group`, else its kind's default). */
export function groupMs(c: Channel): number {
  if (c.group !== undefined) return c.group
  return c.type === 'url' && c.url.target.kind !== 'webhook' ? 5000 : 0
}

export const RulesFile = z
  .object({
    $schema: z.string().optional(),
    channels: z.record(ChannelName, Channel).default({}),
    defaults: z
      .object({ notify: z.array(z.string().min(1).max(64)).max(20).default([]) })
      .strict()
      .default({ notify: [] }),
    rules: z.array(FileRule).max(1000),
  })
  .strict()
export type RulesFile = z.infer<typeof RulesFile>

export interface RuleSet {
  channels: Map<string, Channel>
  rules: Rule[]
  /** What the log rules need followed (published for the collectors that own logs). */
  logWatches: LogWatch[]
  /** Channel names per rule id (its own `notify`, else the defaults). */
  routes: Map<string, string[]>
  /** The channels of rules without their own `notify`. */
  defaults: string[]
  /** Channels defined by the environment (HOMELAB_ALERT_*), not by the file. */
  fromEnvironment: string[]
}

/** Describes where an issue is: `rule "cpu-high" (rules[0]): for` or `channels.phone: url`. */
function where(input: unknown, path: PropertyKey[]): string {
  const [top, index, ...rest] = path
  if (top === 'rules' && typeof index === 'number') {
    const raw = (input as { rules?: unknown[] })?.rules?.[index] as { id?: unknown } | undefined
    const id = typeof raw?.id === 'string' ? `rule "${raw.id}"` : 'rule'
    return `${id} (rules[${index}])${rest.length ? `: ${rest.join('.')}` : ''}`
  }
  return path.length ? path.join('.') : '(file)'
}

export class RulesError extends Error {
  override name = 'RulesError'
  constructor(readonly errors: string[]) {
    super(errors.join('; '))
  }
}

/**
 * Checks a rules file's text (or already parsed JSON) and builds the rule set. Throws a RulesError listing every
 * problem, each naming its rule and field.
 */
export function parseRules(
  source: string | unknown,
  extraChannels: Record<string, Channel> = {},
): { file: RulesFile; set: RuleSet } {
  let json: unknown = source
  if (typeof source === 'string') {
    try {
      json = JSON.parse(source)
    } catch (e) {
      throw new RulesError([`the file is not valid JSON: ${(e as Error).message}`])
    }
  }
  const r = RulesFile.safeParse(json)
  if (!r.success)
    throw new RulesError(r.error.issues.slice(0, 20).map((i) => `${where(json, i.path)}: ${i.message}`))
  const file = r.data
  const errors: string[] = []
  const channels = new Map<string, Channel>([
    ...Object.entries(extraChannels),
    ...Object.entries(file.channels),
  ])
  const seen = new Set<string>()
  const routes = new Map<string, string[]>()
  const defaults = [...file.defaults.notify, ...Object.keys(extraChannels).filter((n) => !file.channels[n])]
  for (const n of file.defaults.notify)
    if (!channels.has(n)) errors.push(`defaults.notify: no channel named "${n}"`)
  file.rules.forEach((rule, i) => {
    if (seen.has(rule.id)) errors.push(`rule "${rule.id}" (rules[${i}]): id: used by an earlier rule too`)
    seen.add(rule.id)
    for (const n of rule.notify ?? [])
      if (!channels.has(n)) errors.push(`rule "${rule.id}" (rules[${i}]): notify: no channel named "${n}"`)
    routes.set(rule.id, rule.notify ?? [...new Set(defaults)])
  })
  if (errors.length) throw new RulesError(errors)
  const rules = file.rules.map((r) => (r.type === 'log' ? logAsEventRule(r) : r))
  const logWatches = file.rules.flatMap((r) => (r.type === 'log' && r.enabled ? [logWatchOf(r)] : []))
  const fromEnvironment = Object.keys(extraChannels).filter((n) => !file.channels[n])
  return {
    file,
    set: { channels, rules, routes, logWatches, defaults: [...new Set(defaults)], fromEnvironment },
  }
}

/** The rules that work out of the box (written to the rules file on first start, for editing). */
export const DEFAULT_RULES = {
  channels: { mqtt: { type: 'mqtt', topic: 'alerts' } },
  defaults: { notify: ['mqtt'] },
  rules: [
    {
      id: 'cpu-high',
      name: 'CPU busy',
      type: 'threshold',
      metric: 'cpu.usage',
      op: '>',
      value: 90,
      for: '5m',
      resolve: { value: 80, for: '1m' },
      unit: '%',
    },
    {
      id: 'cpu-temperature',
      name: 'CPU hot',
      type: 'threshold',
      metric: 'cpu.temperature',
      op: '>',
      value: 80,
      for: '1m',
      resolve: { value: 75, for: '1m' },
      severity: 'critical',
      unit: '°C',
    },
    {
      id: 'memory-high',
      name: 'Memory almost full',
      type: 'threshold',
      metric: 'mem.percent',
      op: '>',
      value: 90,
      for: '5m',
      resolve: { value: 85, for: '1m' },
      unit: '%',
    },
    {
      id: 'disk-full',
      name: 'Filesystem almost full',
      type: 'threshold',
      metric: 'fs.percent',
      op: '>',
      value: 90,
      for: '1m',
      resolve: { value: 85 },
      unit: '%',
    },
    {
      id: 'container-memory-limit',
      name: 'Container near its memory limit',
      type: 'threshold',
      metric: 'container.mem_limit_percent',
      op: '>',
      value: 90,
      for: '1m',
      resolve: { value: 80, for: '1m' },
      unit: '%',
    },
    {
      id: 'probe-down',
      name: 'Probe down',
      type: 'threshold',
      // probe.up is 1 or 0: down is "≤ 0", and it resolves as soon as it is above (up again).
      metric: 'probe.up',
      op: '<=',
      value: 0,
      for: '2m',
      severity: 'critical',
    },
    {
      id: 'cert-expiring',
      name: 'Certificate expiring',
      type: 'threshold',
      metric: 'probe.cert_days',
      op: '<',
      value: 14,
      resolve: { value: 14 },
      unit: ' days',
    },
    {
      id: 'disk-unhealthy',
      name: 'Disk health not PASSED',
      type: 'threshold',
      // disk.healthy is 1 while smartctl says PASSED, 0 when FAILED (no sample while a disk sleeps or is unknown).
      metric: 'disk.healthy',
      op: '<=',
      value: 0,
      severity: 'critical',
    },
    {
      id: 'disk-sectors-rising',
      name: 'Disk sectors failing',
      type: 'event',
      // Reallocated, pending or uncorrectable sectors (ATA), or media errors (NVMe), grew since the last read.
      match: { event: 'disk.sectors_rising' },
      severity: 'warning',
      resolve: { after: '24h' },
    },
    {
      id: 'ups-on-battery',
      name: 'UPS on battery',
      type: 'threshold',
      metric: 'ups.on_battery',
      op: '>=',
      value: 1,
      severity: 'warning',
    },
    {
      id: 'ups-low-battery',
      name: 'UPS battery low',
      type: 'threshold',
      metric: 'ups.low_battery',
      op: '>=',
      value: 1,
      severity: 'critical',
    },
    {
      id: 'container-crashed',
      name: 'Container exited with an error',
      type: 'event',
      // Not a crash: exit 143 (SIGTERM, a normal stop) and an exit right after someone sent the container a signal
      // (`docker kill`, `docker stop` past its timeout, `docker rm -f`: exit 137 on purpose).
      match: { event: 'container.die', where: { exitCode: { notIn: [0, 143] }, killed: { ne: true } } },
      resolve: { on: [{ event: 'container.start' }, { event: 'container.destroy' }], after: '2m' },
    },
    {
      id: 'container-oom',
      name: 'Container killed: out of memory',
      type: 'event',
      match: { event: 'container.oom' },
      severity: 'critical',
      resolve: { after: '30m' },
    },
    {
      id: 'container-restart-loop',
      name: 'Container keeps restarting',
      type: 'event',
      match: { event: 'container.restart' },
      count: 3,
      within: '10m',
      severity: 'critical',
      resolve: { after: '10m' },
    },
    {
      id: 'unit-failed',
      name: 'Unit failed',
      type: 'event',
      match: { event: 'unit.failed' },
      severity: 'critical',
      resolve: {
        on: [{ event: 'unit.state', where: { to: { eq: 'active' } } }, { event: 'unit.gone' }],
        after: '1m',
      },
    },
    {
      id: 'unit-flapping',
      name: 'Unit flapping',
      type: 'event',
      match: { event: 'unit.restart' },
      count: 3,
      within: '10m',
      resolve: { after: '10m' },
    },
    {
      id: 'ollama-down',
      name: 'Ollama down',
      type: 'event',
      match: { event: 'ollama.down' },
      resolve: { on: [{ event: 'ollama.up' }], after: 0 },
    },
    {
      id: 'service-offline',
      name: 'Monitoring service offline',
      type: 'availability',
      services: '*',
      for: '2m',
      severity: 'critical',
    },
    {
      id: 'service-degraded',
      name: 'Monitoring service degraded',
      type: 'status',
      services: '*',
      for: '1m',
      severity: 'warning',
    },
    {
      id: 'host-silent',
      name: 'Host stopped reporting',
      type: 'stale',
      reading: 'system',
      intervals: 6,
      atLeast: '1m',
      severity: 'critical',
    },
  ],
} as const

/**
 * Default rules that existing rules files did not have when they were written (added in this version): the alerter
 * appends each once to a rules file that lacks it, and remembers that it did (a rule the owner then deletes stays
 * deleted).
 */
export const DEFAULTS_ADDED_LATER = [
  'service-degraded',
  'probe-down',
  'cert-expiring',
  'disk-unhealthy',
  'disk-sectors-rising',
  'ups-on-battery',
  'ups-low-battery',
] as const

/**
 * Default rules a later version changed, with what they were: a rules file whose rule still is exactly the old
 * default (the owner never edited it) gets the new one; an edited rule is the owner's and stays.
 */
export const REVISED_DEFAULTS: ReadonlyArray<{ id: string; was: unknown }> = [
  {
    id: 'container-crashed',
    was: {
      id: 'container-crashed',
      name: 'Container exited with an error',
      type: 'event',
      match: { event: 'container.die', where: { exitCode: { notIn: [0, 143] } } },
      resolve: { on: [{ event: 'container.start' }, { event: 'container.destroy' }], after: '2m' },
    },
  },
]

/** "5m", "1h30m", "45s", "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  const parts: string[] = []
  let rest = ms
  for (const [u, n] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (rest >= n) {
      parts.push(`${Math.floor(rest / n)}${u}`)
      rest %= n
    }
  }
  if (rest > 0) parts.push(`${rest}ms`)
  return parts.join('')
}

/** The other side of a threshold's op (where its resolve condition holds). */
export function resolveValue(r: ThresholdRule): number {
  return r.resolve.value ?? r.value
}

/** The rule in a sentence, for the rules list. */
export function summarize(r: Rule): string {
  switch (r.type) {
    case 'threshold': {
      const above = r.op === '>' || r.op === '>='
      const labels = Object.entries(r.labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
      const hold = (ms: number) => (ms > 0 ? ` for ${formatDuration(ms)}` : '')
      return `${r.metric}${labels ? `{${labels}}` : ''} ${r.op} ${r.value}${r.unit}${hold(r.for)}; resolves ${above ? 'below' : 'above'} ${resolveValue(r)}${r.unit}${hold(r.resolve.for)}`
    }
    case 'event': {
      const where = Object.entries(r.match.where ?? {})
        .map(([k, c]) => `${k} ${Object.keys(c)[0]} ${JSON.stringify(Object.values(c)[0])}`)
        .join(', ')
      const head = `${r.count > 1 ? `${r.count}× ` : ''}${r.match.event}${r.match.subject ? ` of ${r.match.subject}` : ''}${where ? ` where ${where}` : ''}${r.within !== undefined ? ` within ${formatDuration(r.within)}` : ''}`
      const on = r.resolve.on?.map((m) => m.event).join(' or ')
      const after = formatDuration(r.resolve.after)
      const resolves = on
        ? r.resolve.after > 0
          ? `${after} after ${on}`
          : `at ${on}`
        : `after ${after} without another`
      return `${head}; resolves ${resolves}`
    }
    case 'availability':
      return `service ${r.services} offline for ${formatDuration(r.for)}`
    case 'status':
      return `service ${r.services} degraded for ${formatDuration(r.for)}`
    case 'stale':
      return `no ${r.reading} reading for ${r.intervals} intervals (at least ${formatDuration(r.atLeast)})`
  }
}
