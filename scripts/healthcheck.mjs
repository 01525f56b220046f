#!/usr/bin/env node
// Container healthcheck, from the service's own health signal:
//   healthcheck.mjs file <path> [maxAgeMs]  — the health file the service keeps fresh (HOMELAB_HEALTH_FILE)
//   healthcheck.mjs tcp <port>              — the broker accepts connections
//   healthcheck.mjs http <url>              — the gateway's /healthz answers 200
// Exits 0 when healthy, 1 with one line saying why not.
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'

const [mode, arg, extra] = process.argv.slice(2)
const fail = (why) => {
  process.stdout.write(`unhealthy: ${why}\n`)
  process.exit(1)
}
const timer = setTimeout(() => fail('no answer within 4 s'), 4000)

if (mode === 'file') {
  let h
  try {
    h = JSON.parse(readFileSync(arg, 'utf8'))
  } catch (e) {
    fail(`cannot read ${arg}: ${e.code ?? e.message}`)
  }
  const age = Date.now() - Number(h.ts)
  if (!(age <= Number(extra ?? 30_000))) fail(`${arg} is ${Math.round(age / 1000)} s old`)
  if (h.ok !== true) fail(h.detail ?? 'not ok')
  process.stdout.write(`healthy: ${h.detail ?? 'ok'}\n`)
  process.exit(0)
} else if (mode === 'tcp') {
  const s = connect(Number(arg), '127.0.0.1', () => {
    process.stdout.write(`healthy: port ${arg} accepts connections\n`)
    process.exit(0)
  })
  s.on('error', (e) => fail(`port ${arg}: ${e.code ?? e.message}`))
} else if (mode === 'http') {
  fetch(arg)
    .then((r) => {
      if (r.status !== 200) fail(`${arg} answered ${r.status}`)
      process.stdout.write(`healthy: ${arg} answered 200\n`)
      process.exit(0)
    })
    .catch((e) => fail(`${arg}: ${e.cause?.code ?? e.message}`))
} else {
  clearTimeout(timer)
  fail('usage: healthcheck.mjs file <path> [maxAgeMs] | tcp <port> | http <url>')
}
