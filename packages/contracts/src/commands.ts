import { z } from 'zod'
import { boundedRecord } from './json.js'

/** What the collectors execute on a container or unit. */
export const CommandAction = z.enum(['start', 'stop', 'restart'])
export type CommandAction = z.infer<typeof CommandAction>

/** Any executor's action name (each executor declares the ones it takes: collectors CommandAction, the alerter its own). */
export const ActionName = z
  .string()
  .max(32)
  .regex(/^[a-z][a-z_]*$/, 'an action is a lower-case word such as "start" or "ack"')

/** Parameters of an action that needs more than a target (a silence's end, a rule's new threshold). */
export const CommandParams = boundedRecord(4, 200)

/**
 * What a command acts on: a container's name or id, a systemd unit (its escapes such as `\x2d` included), an alert
 * or a rule id. Letters, digits and `_ . : @ \ -`, starting with a letter or digit: never a shell word, a path or
 * a topic wildcard. Each executor checks its own stricter form too.
 */
export const CommandTarget = z
  .string()
  .min(1)
  .max(256)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.:@\\-]*$/,
    'a target is a name of letters, digits and "_ . : @ \\ -", starting with a letter or digit',
  )

/** Request body on `<base>/<host>/<service>/cmd`, sent with MQTT 5 responseTopic + correlationData + message expiry. */
export const CommandRequest = z.object({
  v: z.literal(1),
  action: ActionName,
  target: CommandTarget,
  requestedBy: z.string().min(1).max(128),
  params: CommandParams.optional(),
})
export type CommandRequest = z.infer<typeof CommandRequest>

/** Reply published to the request's responseTopic with the same correlationData. */
export const CommandResult = z.object({
  v: z.literal(1),
  ts: z.number().int(),
  action: ActionName,
  target: z.string(),
  outcome: z.enum(['done', 'refused', 'not_found', 'failed', 'timeout']),
  message: z.string().max(2000),
})
export type CommandResult = z.infer<typeof CommandResult>

/** How a command reached the executor: MQTT 5 request/response (`cmd`) or a plain payload on `set/<target>`. */
export const CommandVia = z.enum(['request', 'set'])

/**
 * `data` of the `command.result` event every executor publishes after each command: the audit trail (who, what,
 * when — the event's `ts` is when the command arrived — and the outcome). Subject: the target.
 */
export const CommandAudit = z.object({
  action: ActionName,
  target: z.string().max(256),
  requestedBy: z.string().max(128),
  via: CommandVia,
  outcome: CommandResult.shape.outcome,
  message: z.string().max(2000),
  durationMs: z.number().min(0),
})
export type CommandAudit = z.infer<typeof CommandAudit>
