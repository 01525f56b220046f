import {
  type CommandAction,
  type CommandAudit,
  CommandRequest,
  CommandResult,
  CommandTarget,
  type ServiceName,
  type Topics,
} from '@homelab/contracts'
import type { IPublishPacket } from 'mqtt'
import type { z } from 'zod'
import type { Counters, Logger } from './log.js'
import type { MqttConnection } from './mqtt-connection.js'

export interface CommandInput<A extends string = CommandAction> {
  action: A
  target: string
  requestedBy: string
  via: 'request' | 'set'
  /** The request's parameters (`{}` for a plain `set` payload). */
  params: Record<string, unknown>
}

export interface CommandOutcome {
  outcome: CommandResult['outcome']
  message: string
  /** The entity the command concerned, as the executor names it (a container's name for an id prefix). */
  subject?: string
}

/** Runs one command. Must check the allowlist itself; a throw is reported as `failed`. */
export type CommandExecutor<A extends string = CommandAction> = (
  c: CommandInput<A>,
) => Promise<CommandOutcome>

export interface CommandServerOptions<A extends string = CommandAction> {
  conn: MqttConnection
  topics: Topics
  host: string
  service: ServiceName
  log: Logger
  counters: Counters
  execute: CommandExecutor<A>
  /** The actions this executor takes (CommandAction: start, stop, restart); anything else is refused before it runs. */
  actions: z.ZodType<A>
}

/** Whether a requester's response topic is under the executor's own `reply/` subtree (the only place it may answer). */
export function isOwnReplyTopic(topics: Topics, host: string, service: ServiceName, topic: string): boolean {
  const t = topics.parse(topic)
  return t?.channel === 'reply' && t.host === host && t.service === service
}

const SEVERITY = {
  done: 'info',
  not_found: 'info',
  refused: 'warning',
  failed: 'warning',
  timeout: 'warning',
} as const

/**
 * The executor's side of the command contract: takes MQTT 5 requests on `<service>/cmd` (reply to their
 * responseTopic with their correlationData) and plain `start|stop|restart` payloads on `<service>/set/<target>`,
 * runs commands for one target one at a time, and publishes a `command.result` audit event for every command.
 * Invalid requests are counted and logged; they never reach the executor.
 */
export class CommandServer<A extends string = CommandAction> {
  private readonly queues = new Map<string, Promise<void>>()
  private inFlight = 0
  private readonly idle = new Set<() => void>()

  private readonly actions: z.ZodType<A>

  constructor(private readonly o: CommandServerOptions<A>) {
    this.actions = o.actions
  }

  /** What `stop` undoes of `start`. */
  private readonly undo: Array<() => void> = []

  /** Subscribes to the service's command topics and starts answering (before the connection starts). */
  start(): void {
    const { conn, topics, host, service } = this.o
    this.undo.push(
      conn.subscribe(topics.cmd(host, service), 1),
      conn.subscribe(topics.filter('set', { host, service }), 1),
      conn.onMessage((topic, payload, packet) => this.onMessage(topic, payload, packet)),
    )
  }

  /** Stops taking commands and waits for those running to finish. */
  async stop(): Promise<void> {
    for (const u of this.undo.splice(0)) u()
    await this.whenIdle()
  }

  private invalid(cause: string, message: string): void {
    this.o.counters.inc('commands.invalid')
    this.o.log.once(`cmd-invalid:${cause}`, message)
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const { topics, host, service } = this.o
    const t = topics.parse(topic)
    if (!t || t.host !== host || t.service !== service) return
    // The service's own other topics may reach this handler too (the alerter reads every availability topic).
    if (t.channel !== 'cmd' && t.channel !== 'set') return
    if (packet.retain) {
      // A retained command would run again on every reconnect: never execute one.
      if (payload.length > 0) this.invalid('retained', `ignoring a retained command on ${topic}`)
      return
    }
    if (t.channel === 'set') {
      const action = this.actions.safeParse(payload.toString('utf8').trim().toLowerCase())
      if (!action.success) {
        this.invalid(
          `set:${topic}`,
          `ignoring "${payload.toString('utf8').slice(0, 40)}" on ${topic}: ${action.error.issues[0]?.message ?? 'unknown action'}`,
        )
        return
      }
      const by = packet.properties?.userProperties?.requestedBy
      this.enqueue(
        {
          action: action.data,
          target: t.target,
          requestedBy: typeof by === 'string' ? by.slice(0, 128) : 'mqtt:set',
          via: 'set',
          params: {},
        },
        null,
      )
      return
    }
    if (t.channel !== 'cmd') return
    let req: CommandRequest
    let action: A
    try {
      const r = CommandRequest.safeParse(JSON.parse(payload.toString('utf8')))
      if (!r.success) {
        this.invalid(
          `cmd-schema:${r.error.issues[0]?.path.join('.')}`,
          `ignoring an invalid command on ${topic}: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`,
        )
        return
      }
      req = r.data
      const a = this.actions.safeParse(req.action)
      if (!a.success) {
        this.invalid(
          `cmd-action:${req.action}`,
          `ignoring a command on ${topic}: unknown action "${req.action}"`,
        )
        return
      }
      action = a.data
    } catch {
      this.invalid('cmd-json', `ignoring a command on ${topic}: not valid JSON`)
      return
    }
    const responseTopic = packet.properties?.responseTopic
    const correlation = packet.properties?.correlationData
    let reply: { topic: string; correlation: Buffer | undefined } | null = null
    if (responseTopic) {
      if (isOwnReplyTopic(topics, host, service, responseTopic)) {
        reply = { topic: responseTopic, correlation }
      } else {
        this.invalid(
          'reply-topic',
          `a command asked for a reply on ${responseTopic}, which is not under ${topics.subtree(host, service)}/reply/: running it without a reply`,
        )
      }
    }
    this.enqueue(
      { action, target: req.target, requestedBy: req.requestedBy, via: 'request', params: req.params ?? {} },
      reply,
    )
  }

  /** Commands for one target run in arrival order; different targets run concurrently. */
  private enqueue(
    c: CommandInput<A>,
    reply: { topic: string; correlation: Buffer | undefined } | null,
  ): void {
    const arrived = Date.now()
    this.inFlight++
    const prev = this.queues.get(c.target) ?? Promise.resolve()
    const next = prev.then(() => this.run(c, arrived, reply))
    this.queues.set(c.target, next)
    void next.finally(() => {
      if (this.queues.get(c.target) === next) this.queues.delete(c.target)
      if (--this.inFlight === 0) for (const r of this.idle) r()
    })
  }

  private async run(
    c: CommandInput<A>,
    arrived: number,
    reply: { topic: string; correlation: Buffer | undefined } | null,
  ): Promise<void> {
    const { conn, log, counters } = this.o
    let out: CommandOutcome
    // A target that is not a name (a shell word, a path) is refused before the executor sees it, and audited.
    const target = CommandTarget.safeParse(c.target)
    if (!target.success)
      out = { outcome: 'refused', message: `not a valid target: ${target.error.issues[0]?.message}` }
    else {
      try {
        out = await this.o.execute(c)
      } catch (e) {
        out = { outcome: 'failed', message: (e as Error).message || String(e) }
      }
    }
    const message = out.message.slice(0, 2000)
    counters.inc(`commands.${out.outcome}`)
    log.info(`${c.action} ${c.target} (by ${c.requestedBy} via ${c.via}): ${out.outcome} — ${message}`)
    const result: CommandResult = {
      v: 1,
      ts: Date.now(),
      action: c.action,
      target: c.target,
      outcome: out.outcome,
      message,
    }
    if (reply) {
      conn.publishJson(reply.topic, CommandResult, result, {
        qos: 1,
        properties: reply.correlation ? { correlationData: reply.correlation } : {},
      })
    }
    const data: CommandAudit = {
      action: c.action,
      target: c.target,
      requestedBy: c.requestedBy,
      via: c.via,
      outcome: out.outcome,
      message,
      durationMs: Date.now() - arrived,
    }
    conn.publishEvent({
      type: 'command.result',
      ts: arrived,
      severity: SEVERITY[out.outcome],
      subject: out.subject ?? c.target,
      message: `${c.action} ${out.subject ?? c.target} by ${c.requestedBy}: ${out.outcome}${message ? ` — ${message}` : ''}`,
      data,
    })
  }

  /** Resolves when no command is running (for a clean stop). */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve()
    return new Promise((r) => {
      const done = () => {
        this.idle.delete(done)
        r()
      }
      this.idle.add(done)
    })
  }
}
