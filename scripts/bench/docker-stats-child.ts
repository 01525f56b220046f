// A bench child: reads stats of the containers labelled homelab.bench=1 every 5 s, one of two ways, until killed.
//   oneshot — what the docker-collector does: `stream=false&one-shot=true` requests, at most 5 in flight;
//   stream  — the alternative: one long-lived streaming stats connection per container (the engine sends one
//             document per second each), the latest kept and turned into stats every 5 s.
import { forEachLimited } from '@homelab/service-kit'
import Docker from 'dockerode'
import {
  countersOf,
  type StatsCounters,
  type StatsJson,
  toStats,
} from '../../services/docker-collector/src/convert.js'
import { Engine } from '../../services/docker-collector/src/engine.js'

const mode = process.argv[2]
const INTERVAL = 5000
const engine = new Engine('unix:///var/run/docker.sock')
const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const ids = (await engine.list()).filter((c) => c.Labels?.['homelab.bench'] === '1').map((c) => c.Id)
const prev = new Map<string, StatsCounters>()
let computed = 0
let documents = 0

function compute(id: string, raw: StatsJson) {
  const cur = countersOf(raw, Date.now())
  toStats(raw, cur, prev.get(id) ?? null)
  prev.set(id, cur)
  computed++
}

if (mode === 'oneshot') {
  setInterval(() => {
    void forEachLimited(ids, 5, async (id) => {
      const raw = await engine.stats(id)
      documents++
      compute(id, raw)
    })
  }, INTERVAL)
} else if (mode === 'stream') {
  const latest = new Map<string, StatsJson>()
  for (const id of ids) {
    const s = (await docker.getContainer(id).stats({ stream: true })) as NodeJS.ReadableStream
    let buf = ''
    s.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8')
      let nl = buf.indexOf('\n')
      while (nl >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line.trim()) {
          latest.set(id, JSON.parse(line) as StatsJson)
          documents++
        }
        nl = buf.indexOf('\n')
      }
    })
  }
  setInterval(() => {
    for (const [id, raw] of latest) compute(id, raw)
  }, INTERVAL)
} else {
  throw new Error('usage: docker-stats-child.ts oneshot|stream')
}
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ computed, documents })}\n`)
  process.exit(0)
})
process.stdout.write(`ready ${ids.length}\n`)
