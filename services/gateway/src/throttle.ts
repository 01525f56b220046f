/**
 * Failed-login limits that one client cannot turn against another:
 * - per client address: at most `perAddress` failures in `windowMs`; then that address waits (the others do not);
 * - per account and address: after `freeTries` failures, each further attempt from that address waits twice as long
 *   as the last (1 s, 2 s, 4 s … up to `maxDelayMs`); a success resets it. Keyed by the pair, so an attacker guessing
 *   an owner's password from one address never delays the owner logging in from another.
 * Both maps are bounded: past `maxEntries` the oldest entries go (an attacker cannot grow memory, and flooding with
 * new addresses only ages out other flooding addresses first).
 */
export interface ThrottleOptions {
  perAddress: number
  windowMs: number
  freeTries: number
  maxDelayMs: number
  maxEntries: number
}

const DEFAULTS: ThrottleOptions = {
  perAddress: 20,
  windowMs: 10 * 60_000,
  freeTries: 3,
  maxDelayMs: 15 * 60_000,
  maxEntries: 10_000,
}

interface Backoff {
  fails: number
  until: number
}

export class LoginThrottle {
  private readonly o: ThrottleOptions
  private readonly byAddress = new Map<string, number[]>()
  private readonly byAccount = new Map<string, Backoff>()

  constructor(o: Partial<ThrottleOptions> = {}) {
    this.o = { ...DEFAULTS, ...o }
  }

  /** Milliseconds until this address may try this account again; 0 when it may now. */
  waitMs(address: string, account: string, now = Date.now()): number {
    const recent = (this.byAddress.get(address) ?? []).filter((t) => now - t < this.o.windowMs)
    let wait = 0
    if (recent.length >= this.o.perAddress) wait = recent[0]! + this.o.windowMs - now
    const b = this.byAccount.get(key(account, address))
    if (b && b.until > now) wait = Math.max(wait, b.until - now)
    return Math.max(0, Math.ceil(wait))
  }

  fail(address: string, account: string, now = Date.now()): void {
    const list = (this.byAddress.get(address) ?? []).filter((t) => now - t < this.o.windowMs)
    list.push(now)
    bump(this.byAddress, address, list, this.o.maxEntries)
    const k = key(account, address)
    const fails = (this.byAccount.get(k)?.fails ?? 0) + 1
    const over = fails - this.o.freeTries
    const delay = over > 0 ? Math.min(this.o.maxDelayMs, 1000 * 2 ** (over - 1)) : 0
    bump(this.byAccount, k, { fails, until: now + delay }, this.o.maxEntries)
  }

  succeed(address: string, account: string): void {
    this.byAccount.delete(key(account, address))
  }
}

const key = (account: string, address: string) => `${account.toLowerCase()}\u0000${address}`

/** Sets a key as the newest entry, dropping the oldest ones past the bound. */
function bump<V>(m: Map<string, V>, k: string, v: V, max: number): void {
  m.delete(k)
  m.set(k, v)
  while (m.size > max) {
    const oldest = m.keys().next().value
    if (oldest === undefined) break
    m.delete(oldest)
  }
}
