import { createRequire } from 'node:module'
import { Writable } from 'node:stream'
import packetModule from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { AckAfterStore } from './ack-after-store.js'

const require = createRequire(import.meta.url)
const tick = () => new Promise((r) => setImmediate(r))

describe('AckAfterStore', () => {
  it('holds a PUBACK that aedes writes through its own mqtt-packet until the message is stored', async () => {
    // One copy of mqtt-packet: the one aedes requires is the one imported here (and inlined in a bundle).
    const aedesPacket = createRequire(require.resolve('aedes'))('mqtt-packet')
    expect(aedesPacket).toBe(packetModule)

    const acks = new AckAfterStore()
    const written: Buffer[] = []
    const conn = new Writable({
      write(chunk: Buffer, _enc, cb) {
        written.push(chunk)
        cb()
      },
    })
    acks.track(conn)
    acks.expect(conn, 7)
    aedesPacket.writeToStream({ cmd: 'puback', messageId: 7 }, conn)
    await tick()
    expect(written).toHaveLength(0)
    expect(acks.pending).toBe(1)
    acks.stored(conn, 7)
    await tick()
    // PUBACK, remaining length 2, packet id 7.
    expect(Buffer.concat(written)).toEqual(Buffer.from([0x40, 0x02, 0x00, 0x07]))
    expect(acks.pending).toBe(0)
  })
})
