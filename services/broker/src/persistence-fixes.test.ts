import { describe, expect, it } from 'vitest'
import { dropStaleRetainedReplays, queueAsForwarded, skipIdsInFlight } from './persistence-fixes.js'

/** How aedes' QoSPacket takes an id from a client (lib/qos-packet.js). */
function takeId(client: { _nextId: number }): number {
  const id = client._nextId
  if (client._nextId >= 65535) client._nextId = 1
  else client._nextId++
  return id
}

describe('persistence fixes', () => {
  it('never gives a new message an id the client still has in flight, wrapping at 65535', () => {
    const inFlight = new Set([65534, 65535, 1, 3])
    const client = { id: 'recorder-pi', _nextId: 0 }
    skipIdsInFlight(client, (cid, id) => cid === 'recorder-pi' && inFlight.has(id))
    client._nextId = 65533
    const ids = Array.from({ length: 4 }, () => {
      const id = takeId(client)
      inFlight.add(id)
      return id
    })
    expect(ids).toStrictEqual([65533, 2, 4, 5])
  })

  it('queues a retained message with RETAIN 0 for subscriptions that did not ask for Retain As Published', async () => {
    const queued: Array<{ subs: unknown[]; retain: boolean }> = []
    const store = {
      outgoingEnqueueCombi: async (subs: unknown[], p: { retain: boolean }) => {
        queued.push({ subs, retain: p.retain })
      },
    }
    queueAsForwarded(store)
    await store.outgoingEnqueueCombi(
      [
        { clientId: 'a', rap: false },
        { clientId: 'b', rap: true },
      ],
      { retain: true },
    )
    await store.outgoingEnqueueCombi([{ clientId: 'a' }], { retain: false })
    expect(queued).toStrictEqual([
      { subs: [{ clientId: 'b', rap: true }], retain: true },
      { subs: [{ clientId: 'a', rap: false }], retain: false },
      { subs: [{ clientId: 'a' }], retain: false },
    ])
  })

  it('does not replay a retained message over the live one a client already got on that topic', async () => {
    const sent: string[] = []
    type P = { topic: string; payload: string; retain?: boolean; brokerId?: string | null }
    const client = {
      deliver0: (p: P, cb: () => void) => {
        sent.push(`${p.topic}=${p.payload}${p.retain ? ' (retained)' : ''}`)
        cb()
      },
      deliverQoS: (p: P, cb: () => void) => client.deliver0(p, cb),
    }
    let dropped = 0
    dropStaleRetainedReplays(client, () => dropped++)
    const deliver = (p: P) => new Promise<void>((r) => client.deliverQoS(p, r))
    const avail = 'homelab/pi/recorder/availability'
    // Live "online" (published by the restarted recorder) overtakes the replay of the old retained "offline".
    await deliver({ topic: avail, payload: 'online', retain: false, brokerId: 'b1' })
    await deliver({ topic: avail, payload: 'offline', retain: true, brokerId: null })
    // A replay for a topic not yet seen live goes through, and so does a live message with Retain As Published.
    await deliver({
      topic: 'homelab/pi/gateway/availability',
      payload: 'online',
      retain: true,
      brokerId: null,
    })
    await deliver({ topic: avail, payload: 'offline', retain: true, brokerId: 'b1' })
    expect(sent).toStrictEqual([
      `${avail}=online`,
      'homelab/pi/gateway/availability=online (retained)',
      `${avail}=offline (retained)`,
    ])
    expect(dropped).toBe(1)
  })
})
