import { type Alert, AlertNotification } from '@homelab/contracts'
import type { Transition } from './evaluator.js'
import { describe, type Notifier } from './notifier.js'
import type { AlertStore } from './store.js'

/**
 * A transition's notifications: one delivery per channel its rule routes to (and that takes its severity), queued in
 * the store in the caller's transaction so a restart neither loses nor repeats one; the notifier sends them. A
 * silenced alert's deliveries are kept as `silenced`, and an end is announced only where its start was.
 */
export function queueNotifications(
  t: Transition,
  a: Alert,
  d: {
    store: AlertStore
    notifier: Pick<Notifier, 'accepts' | 'holdMs'>
    channels: readonly string[]
    now: number
  },
): void {
  const { store, notifier, now } = d
  const text = describe(a, t.state, t.reason)
  // Checked once: every channel's delivery carries this same message.
  const payload = AlertNotification.parse({
    v: 1,
    id: `${a.episode}:${t.state}`,
    state: t.state,
    alert: a,
    reason: t.reason,
    title: text.title.slice(0, 300),
    message: text.text.slice(0, 2000),
    ts: t.ts,
  })
  const silenced = a.silencedUntil !== null && a.silencedUntil > now
  for (const channel of d.channels) {
    if (!notifier.accepts(channel, a.severity)) continue
    let status: 'pending' | 'silenced' = silenced ? 'silenced' : 'pending'
    if (t.state === 'resolved') {
      // Announce the end only of what was announced (or is still on its way).
      const first = store.deliveryStatus(`${a.episode}:firing:${channel}`)
      if (first !== 'sent' && first !== 'pending' && first !== 'failed') status = 'silenced'
    }
    store.addDelivery({
      id: `${a.episode}:${t.state}:${channel}`,
      channel,
      alertId: a.id,
      rule: a.rule,
      episode: a.episode ?? '',
      state: t.state,
      payload,
      status,
      // A channel that groups holds the first message briefly, for the alerts that fire with it.
      nextAt: now + notifier.holdMs(channel),
      now,
    })
  }
}
