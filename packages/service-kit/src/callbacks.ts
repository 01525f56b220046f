import type { Counters, Logger } from './log.js'

/**
 * Callbacks a collector runs after something changed (the services hang Home Assistant discovery on them). One
 * that throws is counted and logged once per cause; it never stops the collector or the other callbacks.
 */
export class Callbacks<A = void> {
  private readonly list: Array<(arg: A) => void> = []

  constructor(
    private readonly counters: Counters,
    private readonly log: Logger,
  ) {}

  add(fn: (arg: A) => void): void {
    this.list.push(fn)
  }

  call(arg: A): void {
    for (const h of this.list) {
      try {
        h(arg)
      } catch (e) {
        this.counters.inc('hooks.errors')
        this.log.once(`hook:${(e as Error).message}`, 'a change hook failed:', e)
      }
    }
  }
}
