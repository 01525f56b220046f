// Load generator for the REST benchmark, run in its own process so it does not share the gateway's CPU:
// node http-load.mjs <baseUrl> <token> <requestsPerSecond> <seconds> <path> [<path> ...]
// Sends requests at a fixed rate (open loop, not waiting for answers) and prints latencies as JSON.
const [base, token, rateArg, secondsArg, ...paths] = process.argv.slice(2)
const rate = Number(rateArg)
const seconds = Number(secondsArg)
const total = rate * seconds
const latencies = []
let errors = 0
let sent = 0
const start = performance.now()
await new Promise((done) => {
  const tick = () => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate))
    while (sent < due) {
      const path = paths[sent % paths.length]
      const t0 = performance.now()
      sent++
      fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })
        .then(async (r) => {
          await r.arrayBuffer()
          if (r.status !== 200) errors++
          latencies.push(performance.now() - t0)
        })
        .catch(() => errors++)
        .finally(() => {
          if (latencies.length + errors >= total) done()
        })
    }
    if (sent < total) setTimeout(tick, 1)
  }
  tick()
})
latencies.sort((a, b) => a - b)
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]
process.stdout.write(
  JSON.stringify({
    requests: total,
    errors,
    seconds: (performance.now() - start) / 1000,
    p50: pct(50),
    p99: pct(99),
    max: latencies.at(-1),
  }),
)
