/**
 * What keeps a service from doing its job fully, by cause (`database`, `disk`, `limits`, …): each cause is set with
 * its reason while it lasts and cleared when it is gone. The service is `degraded` while any is set, with the reasons
 * joined; its status document says so, and the alerter raises an alert for it.
 */
export class Conditions {
  private readonly causes = new Map<string, string>()

  /** Sets (reason) or clears (null) one cause; true when that changed the service's state or reason. */
  set(cause: string, reason: string | null): boolean {
    const before = this.reason
    if (reason === null) this.causes.delete(cause)
    else this.causes.set(cause, reason.slice(0, 500))
    return this.reason !== before
  }

  has(cause: string): boolean {
    return this.causes.has(cause)
  }

  get state(): 'ok' | 'degraded' {
    return this.causes.size > 0 ? 'degraded' : 'ok'
  }

  /** The reasons, joined; null when there are none. */
  get reason(): string | null {
    return this.causes.size > 0 ? [...this.causes.values()].join('; ').slice(0, 1000) : null
  }
}
