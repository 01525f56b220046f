import { describe, expect, it } from 'vitest'
import { delayToNextTick, RetryDelay } from './timing.js'

describe('timing', () => {
  it('aligns ticks to multiples of the interval, never zero', () => {
    expect(delayToNextTick(5000, 12_000)).toBe(3000)
    expect(delayToNextTick(5000, 15_000)).toBe(5000)
    expect(delayToNextTick(1000, 1_999)).toBe(1)
  })

  it('doubles the retry delay up to the cap, resets, and ends a wait at once when cancelled', async () => {
    const r = new RetryDelay(5, 12)
    let t = performance.now()
    await r.wait() // 5
    await r.wait() // 10
    await r.wait() // 12 (capped)
    expect(performance.now() - t).toBeGreaterThanOrEqual(25)
    r.reset()
    const slow = new RetryDelay(60_000)
    t = performance.now()
    const waiting = slow.wait()
    slow.cancel()
    await waiting
    expect(performance.now() - t).toBeLessThan(1000)
  })
})
