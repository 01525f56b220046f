/**
 * Namespaced logging. info/warn/error always print; debug prints when DEBUG matches (e.g. DEBUG=homelab:* or
 * DEBUG=homelab:recorder). `once` prints a cause only the first time it is seen, so a flood of bad input logs
 * one line per cause while counters keep the totals. Never pass secrets to a logger.
 */
export interface Logger {
  debug(msg: string, ...args: unknown[]): void
  info(msg: string, ...args: unknown[]): void
  warn(msg: string, ...args: unknown[]): void
  error(msg: string, ...args: unknown[]): void
  /** Warn once per distinct cause. */
  once(cause: string, msg: string, ...args: unknown[]): void
  child(name: string): Logger
}

function debugEnabled(ns: string): boolean {
  const spec = process.env.DEBUG ?? ''
  return spec.split(/[\s,]+/).some((p) => {
    if (p === '') return false
    const re = new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`)
    return re.test(ns)
  })
}

export function createLogger(
  name: string,
  sink: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Logger {
  const ns = `homelab:${name}`
  const debugOn = debugEnabled(ns)
  const seen = new Set<string>()
  const fmt = (level: string, msg: string, args: unknown[]) => {
    const extra = args.map((a) =>
      a instanceof Error ? (a.stack ?? a.message) : typeof a === 'string' ? a : JSON.stringify(a),
    )
    return `${new Date().toISOString()} ${level} ${name}: ${msg}${extra.length ? ` ${extra.join(' ')}` : ''}`
  }
  const log: Logger = {
    debug: (m, ...a) => {
      if (debugOn) sink(fmt('DEBUG', m, a))
    },
    info: (m, ...a) => sink(fmt('INFO ', m, a)),
    warn: (m, ...a) => sink(fmt('WARN ', m, a)),
    error: (m, ...a) => sink(fmt('ERROR', m, a)),
    once: (cause, m, ...a) => {
      if (seen.has(cause)) return
      if (seen.size > 10_000) seen.clear()
      seen.add(cause)
      sink(fmt('WARN ', m, a))
    },
    child: (n) => createLogger(`${name}:${n}`, sink),
  }
  return log
}

/** Named counters a service reports in its status document. */
export class Counters {
  private readonly values = new Map<string, number>()
  inc(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by)
  }
  get(name: string): number {
    return this.values.get(name) ?? 0
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.values)
  }
}
