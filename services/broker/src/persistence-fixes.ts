type AsyncMethod = (...args: unknown[]) => unknown

/**
 * aedes drops, per subscriber, a message whose broker-wide counter is lower than one it already delivered — a guard
 * against duplicates between brokers of a cluster. In one broker it drops real messages: a message that waits for
 * the store (a retained one, or one queued for a persistent session) is overtaken by one that does not (the same
 * client's next message, with a higher counter), and then never delivered live (a collector's `online` vanished
 * for the gateway whenever its status came right after). This broker is never clustered, so each client gets a
 * record that never remembers a counter.
 */
export function deliverWithoutDedupe(client: object): void {
  Object.assign(client, {
    duplicates: new Proxy({} as Record<string, number>, {
      get: () => undefined,
      set: () => true,
      deleteProperty: () => true,
    }),
  })
}

/**
 * aedes 2 beta delivers a message to a new persistent subscription before that subscription is stored, so the message
 * was never queued for the client; the outgoing update before sending it then fails with "no such packet" and aedes
 * drops the connection. Such a message is sent as it is instead (as aedes does for retained messages): it is only
 * unrecorded until the client acknowledges it. `onMiss` counts them.
 */
export function tolerateUnqueued<P extends object>(persistence: P, onMiss: () => void): P {
  const target = persistence as unknown as Record<string, AsyncMethod>
  const original = target.outgoingUpdate
  if (typeof original === 'function') {
    const bound = original.bind(persistence)
    target.outgoingUpdate = async (...args: unknown[]) => {
      try {
        return await bound(...args)
      } catch (e) {
        if ((e as Error).message !== 'no such packet') throw e
        onMiss()
        return undefined
      }
    }
  }
  return persistence
}

interface Sub {
  rap?: boolean
}

/**
 * A message is queued for a persistent session as it was published, retain flag included, and aedes delivers the
 * queue with that flag when the client is back. MQTT says a message forwarded to an existing subscription has
 * RETAIN 0 unless that subscription asked for Retain As Published (MQTT-3.3.1-12): a client that drops retained
 * messages it has already seen newer ones of (they are older state) dropped every queued reading. This queues such
 * messages with RETAIN 0.
 */
export function queueAsForwarded<P extends object>(persistence: P): P {
  const target = persistence as unknown as Record<string, AsyncMethod>
  const original = target.outgoingEnqueueCombi
  if (typeof original === 'function') {
    const bound = original.bind(persistence)
    target.outgoingEnqueueCombi = (subs: unknown, packet: unknown) => {
      const p = packet as { retain?: boolean }
      const list = subs as Sub[] | null | undefined
      if (!p.retain || !list?.length) return bound(subs, packet)
      const forwarded = Object.assign(Object.create(Object.getPrototypeOf(p) as object) as object, p, {
        retain: false,
      })
      const asPublished = list.filter((s) => s.rap)
      if (asPublished.length === 0) return bound(list, forwarded)
      return Promise.all([
        bound(asPublished, packet),
        bound(
          list.filter((s) => !s.rap),
          forwarded,
        ),
      ])
    }
  }
  return persistence
}

/**
 * aedes numbers a client's outgoing QoS 1 messages from a counter that starts at random and never looks at the ids
 * still in flight. A persistent session that comes back is sent its unacknowledged messages again under their
 * original ids (as MQTT requires), and new messages then took ids that were still in use: the client's
 * acknowledgement of one cleared only the other from the queue, which stayed there unsent (hundreds of readings
 * after twenty recorder crashes). This makes the counter skip every id the client still has in flight.
 */
export function skipIdsInFlight(client: object, inFlight: (clientId: string, id: number) => boolean): void {
  const c = client as { id?: string | null }
  let next = Math.ceil(Math.random() * 65535)
  Object.defineProperty(client, '_nextId', {
    configurable: true,
    get() {
      let id = next
      for (let i = 0; i < 65535 && c.id && inFlight(c.id, id); i++) id = id >= 65535 ? 1 : id + 1
      return id
    },
    set(v: number) {
      next = v
    },
  })
}

type Deliver = (packet: { topic: string; retain?: boolean; brokerId?: string | null }, cb: () => void) => void

/**
 * aedes sends a new subscription's retained messages from the store while live messages already flow to it, so after
 * a broker restart a client could get a service's live `online` and then the replayed retained `offline` from before
 * the restart — and keep the stale one (our services drop it themselves; Home Assistant or a script would show the
 * service unavailable until it next reconnected). A replayed retained message (aedes builds those with `retain` set
 * and no `brokerId`) for a topic this connection has already received live is not sent: the client holds newer
 * state. `onDrop` counts them. Live topics are remembered per connection, at most 20,000.
 */
export function dropStaleRetainedReplays(client: object, onDrop: () => void): void {
  const c = client as { deliver0?: Deliver; deliverQoS?: Deliver }
  const live = new Set<string>()
  const wrap =
    (deliver: Deliver): Deliver =>
    (packet, cb) => {
      if (packet.retain && packet.brokerId === null) {
        if (live.has(packet.topic)) {
          onDrop()
          setImmediate(cb)
          return
        }
      } else if (live.size < 20_000) live.add(packet.topic)
      deliver(packet, cb)
    }
  if (typeof c.deliver0 === 'function') c.deliver0 = wrap(c.deliver0)
  if (typeof c.deliverQoS === 'function') c.deliverQoS = wrap(c.deliverQoS)
}
