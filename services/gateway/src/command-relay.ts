import { CommandRequest, type CommandResult, type ServiceName } from '@homelab/contracts'
import type { GatewayDeps } from './context.js'
import { ApiFailure, parseInput } from './errors.js'

const STATUS = { done: 200, refused: 403, not_found: 404, failed: 502, timeout: 504 } as const

/**
 * Sends a command to the service that executes it and waits for its result: 503 when that service is not online,
 * 504 when it does not answer within HOMELAB_COMMAND_TIMEOUT_MS; otherwise the result with the HTTP status of its
 * outcome. Every command endpoint goes through here.
 */
export async function relayCommand(
  deps: GatewayDeps,
  host: string,
  service: ServiceName,
  command: { action: string; target: string; requestedBy: string; params?: Record<string, unknown> },
): Promise<{ result: CommandResult; status: (typeof STATUS)[CommandResult['outcome']] }> {
  if (deps.hub.latestOn(deps.topics.availability(host, service))?.payload !== 'online')
    throw new ApiFailure(503, 'unavailable', `the ${service} on ${host} is not online`)
  const req = parseInput(CommandRequest, { v: 1, ...command }, 'command')
  const result = await deps.hub.command(host, service, req, deps.commandTimeoutMs)
  if (!result)
    throw new ApiFailure(
      504,
      'timeout',
      `the ${service} on ${host} did not answer within ${deps.commandTimeoutMs} ms`,
    )
  return { result, status: STATUS[result.outcome] }
}
