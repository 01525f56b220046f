import { type Alert, type AlertAction, SilenceParams } from '@homelab/contracts'
import type { CommandInput, CommandOutcome } from '@homelab/service-kit'
import type { Evaluator, Instance } from './evaluator.js'

const SILENCE_MAX_MS = 30 * 86_400_000

/** Where silences are kept across restarts (the alerter's store). */
export interface SilenceMemory {
  setSilence(id: string, until: number | null, by: string): void
  silences(now: number): Map<string, { until: number; by: string }>
}

/** The silences in force, by alert id: kept in memory, written through to the store. */
export class Silences {
  private map = new Map<string, { until: number; by: string }>()

  constructor(
    private readonly memory: SilenceMemory,
    private readonly now: () => number,
  ) {}

  /** Reads the silences still in force from the store (at start). */
  load(): void {
    this.map = this.memory.silences(this.now())
  }

  has(id: string): boolean {
    return this.map.has(id)
  }

  set(id: string, until: number, by: string): void {
    this.map.set(id, { until, by })
    this.memory.setSilence(id, until, by)
  }

  end(id: string, by: string): void {
    this.map.delete(id)
    this.memory.setSilence(id, null, by)
  }

  /** Forgets the silences that ran out. */
  expire(): void {
    const now = this.now()
    for (const [id, s] of this.map) if (s.until <= now) this.map.delete(id)
  }

  /** The alert as it is shown and announced: with its silence, if one is in force. */
  apply(a: Alert): Alert {
    const s = this.map.get(a.id)
    return s && s.until > this.now()
      ? { ...a, silencedUntil: s.until, silencedBy: s.by }
      : { ...a, silencedUntil: null, silencedBy: null }
  }
}

/** An operator's ack, unack, silence or unsilence of one alert (inside the caller's transaction). */
export function executeAlertAction(
  c: CommandInput<AlertAction>,
  d: { evaluator: Evaluator; silences: Silences; now: number },
): CommandOutcome {
  const { evaluator, silences, now } = d
  const inst: Instance | undefined = evaluator.get(c.target)
  // A silence outlives its alert (it may be set for one that keeps coming back): it can be ended without one.
  if (!inst && !silences.has(c.target))
    return { outcome: 'not_found', message: `no open alert "${c.target}"` }
  const subject = inst ? `${inst.alert.name} (${inst.alert.subject} on ${inst.alert.host})` : c.target
  switch (c.action) {
    case 'ack':
      if (inst?.alert.state !== 'firing')
        return { outcome: 'refused', message: 'only a firing alert can be acknowledged' }
      evaluator.patch(c.target, { ack: { by: c.requestedBy, at: now } })
      return { outcome: 'done', message: `acknowledged ${subject}`, subject: inst.alert.subject }
    case 'unack':
      evaluator.patch(c.target, { ack: null })
      return { outcome: 'done', message: `acknowledgement removed from ${subject}` }
    case 'silence': {
      const p = SilenceParams.safeParse(c.params)
      if (!p.success)
        return { outcome: 'refused', message: `params.until: ${p.error.issues[0]?.message ?? 'invalid'}` }
      if (p.data.until <= now || p.data.until > now + SILENCE_MAX_MS)
        return { outcome: 'refused', message: 'params.until must be in the future and at most 30 days away' }
      silences.set(c.target, p.data.until, c.requestedBy)
      return {
        outcome: 'done',
        message: `silenced ${subject} until ${new Date(p.data.until).toISOString()}`,
        ...(inst ? { subject: inst.alert.subject } : {}),
      }
    }
    case 'unsilence':
      silences.end(c.target, c.requestedBy)
      return { outcome: 'done', message: `silence of ${subject} ended` }
    default:
      return { outcome: 'refused', message: `unknown action "${c.action}"` }
  }
}
