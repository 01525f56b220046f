// A bench child, so the stand-in Ollama, the proxy and the measuring client each have their own event loop:
//   fake <tokens> <tokenDelayMs> — the stand-in Ollama from the test tree, one model "bench:1b";
//   proxy <upstream>             — the ollama-collector's measuring proxy alone (records are counted, not published).
// Prints the port it listens on, then runs until killed.
import { Counters, createLogger } from '@homelab/service-kit'
import { MeasuringProxy } from '../../services/ollama-collector/src/proxy.js'
import { FakeOllama, fakeModel } from '../../test/helpers/fake-ollama.js'

const [mode, a, b] = process.argv.slice(2)
if (mode === 'fake') {
  const fake = new FakeOllama()
  fake.models = [fakeModel('bench:1b', 1_000_000_000)]
  fake.tokens = Number(a)
  fake.tokenDelayMs = Number(b)
  await fake.start()
  // Keep no per-request record: a long bench would otherwise hold every response in memory.
  setInterval(() => fake.exchanges.splice(0), 1000)
  process.stdout.write(`${new URL(fake.url).port}\n`)
} else if (mode === 'proxy') {
  let records = 0
  const proxy = new MeasuringProxy({
    upstream: a ?? '',
    port: 0,
    bind: '127.0.0.1',
    idleTimeoutMs: 60_000,
    maxBodyBytes: 1024 * 1024,
    log: createLogger('proxy', () => undefined),
    counters: new Counters(),
    onRecord: (r) => {
      if (r.outcome !== 'ok') process.stderr.write(`proxy: ${r.outcome} ${r.error}\n`)
      records++
    },
  })
  const port = await proxy.start()
  process.on('SIGTERM', () => {
    process.stderr.write(`proxy measured ${records} requests\n`)
    process.exit(0)
  })
  process.stdout.write(`${port}\n`)
}
