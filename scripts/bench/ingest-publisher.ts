// A bench child: the collectors of 10 machines, publishing system readings as fast as the broker acknowledges them
// (QoS 1, at most 200 in flight), from their own process as real collectors are. Prints one JSON line when done.
//   ingest-publisher.ts <broker url> <samples>   (credentials as JSON on stdin: user → password)
import { systemSamples } from '@homelab/contracts'
import mqtt from 'mqtt'
import { noisyReading, rng } from './noisy-reading.js'

const [url, target] = process.argv.slice(2)
const credentials = JSON.parse(
  await new Promise<string>((resolve) => {
    let s = ''
    process.stdin.on('data', (d: Buffer) => (s += d.toString()))
    process.stdin.on('end', () => resolve(s))
  }),
) as Record<string, string>
const hostIds = Array.from({ length: 10 }, (_, i) => `pi-${i}`)

// Payloads built before the clock starts, so the publisher's own work is not what is measured: 10 hosts, 1 s apart.
const r = rng(42)
const hosts = hostIds.map((host) => ({ host, state: { mem: 2e9, rx: 0 } }))
const messages: Array<[number, string, string]> = []
let samples = 0
const t0 = Date.UTC(2026, 0, 1)
for (let k = 0; samples < Number(target); k++) {
  hosts.forEach((h, i) => {
    const reading = noisyReading(h.host, t0 + k * 1000, h.state, r)
    samples += systemSamples(reading).length
    messages.push([i, `homelab/${h.host}/sys-collector/reading/system`, JSON.stringify(reading)])
  })
}
const pubs = await Promise.all(
  hostIds.map(async (h) => {
    const c = mqtt.connect(url!, {
      protocolVersion: 5,
      clientId: `sys-collector-${h}`,
      username: `sys-collector@${h}`,
      password: credentials[`sys-collector@${h}`],
      writeCache: false,
    })
    await new Promise<void>((res) => c.once('connect', () => res()))
    return c
  }),
)
process.stdout.write(`${JSON.stringify({ ready: true, messages: messages.length, samples })}\n`)
// The parent starts its clock at "ready".
let inflight = 0
let next = 0
await new Promise<void>((done) => {
  const pump = () => {
    while (inflight < 200 && next < messages.length) {
      const [i, t, p] = messages[next++]!
      inflight++
      pubs[i]!.publish(t, p, { qos: 1 }, () => {
        inflight--
        pump()
      })
    }
    if (next >= messages.length && inflight === 0) done()
  }
  pump()
})
process.stdout.write(`${JSON.stringify({ acknowledged: messages.length })}\n`)
for (const p of pubs) p.end(true)
process.exit(0)
