/** Milliseconds until the next multiple of `intervalMs` (ticks aligned to the interval, so hosts' samples line up). */
export function delayToNextTick(intervalMs: number, now = Date.now()): number {
  return Math.ceil((now + 1) / intervalMs) * intervalMs - now
}

/**
 * Exponential backoff between reconnect attempts to a source (Docker, the system bus): `wait()` sleeps the current
 * delay then doubles it up to `maxMs`; `reset()` after a success; `cancel()` ends a wait at once (on stop).
 */
export class RetryDelay {
  private delay: number
  private pending: { timer: NodeJS.Timeout; resolve: () => void } | null = null

  constructor(
    private readonly firstMs = 1000,
    private readonly maxMs = 30_000,
  ) {
    this.delay = firstMs
  }

  reset(): void {
    this.delay = this.firstMs
  }

  async wait(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.pending = { timer: setTimeout(resolve, this.delay), resolve }
    })
    this.pending = null
    this.delay = Math.min(this.delay * 2, this.maxMs)
  }

  cancel(): void {
    if (!this.pending) return
    clearTimeout(this.pending.timer)
    this.pending.resolve()
  }
}
