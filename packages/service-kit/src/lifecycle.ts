import { ConfigError } from './config.js'
import type { Logger } from './log.js'

export interface Service {
  stop(): Promise<void>
}

let fatalHandler: ((reason: string) => void) | null = null

/**
 * Something the service cannot recover from by itself (the broker refused its login): under runUntilSignal the
 * service stops and the process exits with code 1 after printing `reason`, so a supervisor sees a failure, not a
 * clean exit. Elsewhere (tests, embedding) it only reports.
 */
export function fatal(reason: string): boolean {
  if (!fatalHandler) return false
  fatalHandler(reason)
  return true
}

/**
 * Runs a service until SIGINT/SIGTERM, then stops it once. A ConfigError prints its one-line message and exits
 * with code 2; other start failures exit with code 1.
 */
export async function runUntilSignal(log: Logger, start: () => Promise<Service>): Promise<void> {
  let service: Service
  try {
    service = await start()
  } catch (e) {
    if (e instanceof ConfigError || (e as Error).name === 'StartError') {
      process.stderr.write(`${(e as Error).message}\n`)
      process.exit(2)
    }
    log.error('failed to start:', e)
    process.exit(1)
  }
  let stopping = false
  const stop = async (signal: string, code = 0) => {
    if (stopping) {
      log.warn(`${signal} again: exiting now`)
      process.exit(1)
    }
    stopping = true
    log.info(`${signal}: stopping`)
    const timer = setTimeout(() => {
      log.error('stop took longer than 10 s: exiting')
      process.exit(1)
    }, 10_000)
    timer.unref()
    try {
      await service.stop()
      process.exit(code)
    } catch (e) {
      log.error('error while stopping:', e)
      process.exit(1)
    }
  }
  fatalHandler = (reason) => {
    process.stderr.write(`${reason}\n`)
    void stop('fatal error', 1)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}

/** An error at start that the user can fix; printed as one line without a stack. */
export class StartError extends Error {
  override name = 'StartError'
}
