import { ConfigError } from './config.js'
import type { Logger } from './log.js'

export interface Service {
  stop(): Promise<void>
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
  const stop = async (signal: string) => {
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
      process.exit(0)
    } catch (e) {
      log.error('error while stopping:', e)
      process.exit(1)
    }
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}

/** An error at start that the user can fix; printed as one line without a stack. */
export class StartError extends Error {
  override name = 'StartError'
}
