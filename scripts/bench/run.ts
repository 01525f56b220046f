import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchAlerts } from './alerts.js'
import { benchApi } from './api.js'
import { benchCompose } from './compose.js'
import { benchDocker } from './docker.js'
import { benchFaults } from './faults.js'
import { benchFootprint } from './footprint.js'
import { benchFuzz } from './fuzz.js'
import { benchHistory } from './history.js'
import { benchIngest } from './ingest.js'
import { benchLogs } from './logs.js'
import { benchOllama } from './ollama.js'
import { benchProbes } from './probes.js'
import { benchProcesses } from './processes.js'
import { benchSoak } from './soak.js'
import { benchSysSample } from './sys-sample.js'
import { benchSystemd } from './systemd.js'
import { benchUi } from './ui.js'

// `npm run bench` runs them all; `npm run bench -- ingest history` runs some. BENCH_SECONDS sets the footprint window.
const all = [
  'sys',
  'processes',
  'ingest',
  'history',
  'api',
  'aio',
  'compose',
  'docker',
  'logs',
  'systemd',
  'ollama',
  'probes',
  'alerts',
  'faults',
  'fuzz',
  'soak',
  'ui',
]
/**
 * `footprint` is every row of the footprint budget in one run (docs: README "On a small box"): recorder ingest, REST
 * under load, the all-in-one and each service beside node_exporter and bare Node, the systemd-collector with 300
 * units. The compose stack is `compose` (it builds the image and needs docker-compose).
 */
const groups: Record<string, readonly string[]> = { footprint: ['ingest', 'api', 'aio', 'systemd'] }
const wanted = process.argv.slice(2).filter((a) => all.includes(a) || a in groups)
const run = new Set(wanted.length ? wanted.flatMap((w) => groups[w] ?? [w]) : all)
const dir = mkdtempSync(join(tmpdir(), 'homelab-bench-'))
process.stdout.write(
  `node ${process.version}, ${(await import('node:os')).cpus().length} cores, ${new Date().toISOString()}\n`,
)
try {
  if (run.has('sys')) await benchSysSample()
  if (run.has('processes')) await benchProcesses()
  if (run.has('ui')) await benchUi(join(dir, 'ui'))
  if (run.has('ingest')) await benchIngest(join(dir, 'ingest'))
  if (run.has('history')) benchHistory(dir)
  if (run.has('api')) await benchApi(join(dir, 'api'))
  // The all-in-one and each service alone, beside node_exporter and bare Node (FOOTPRINT_SPLIT=0: the all-in-one only).
  if (run.has('aio')) {
    execFileSync(process.execPath, [join(import.meta.dirname, '..', 'build.mjs'), '--if-stale'], {
      stdio: 'inherit',
    })
    await benchFootprint(dir, Number(process.env.BENCH_SECONDS ?? 60))
  }
  if (run.has('compose')) {
    const engine = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0
    const composeBin = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0
    if (engine && composeBin) await benchCompose(Number(process.env.BENCH_SECONDS ?? 60))
    else process.stdout.write('\n== compose: skipped (needs a running Docker engine and docker-compose) ==\n')
  }
  if (run.has('docker')) {
    execFileSync(process.execPath, [join(import.meta.dirname, '..', 'build.mjs'), '--if-stale'], {
      stdio: 'inherit',
    })
    await benchDocker(dir, Number(process.env.BENCH_SECONDS ?? 60))
  }
  if (run.has('logs')) {
    execFileSync(process.execPath, [join(import.meta.dirname, '..', 'build.mjs'), '--if-stale'], {
      stdio: 'inherit',
    })
    await benchLogs(dir, Number(process.env.BENCH_SECONDS ?? 30))
  }
  if (run.has('ollama')) await benchOllama()
  if (run.has('probes')) {
    execFileSync(process.execPath, [join(import.meta.dirname, '..', 'build.mjs'), '--if-stale'], {
      stdio: 'inherit',
    })
    await benchProbes(dir, Number(process.env.BENCH_SECONDS ?? 60))
  }
  if (run.has('alerts')) await benchAlerts(dir)
  if (run.has('soak')) {
    execFileSync(process.execPath, [join(import.meta.dirname, '..', 'build.mjs'), '--if-stale'], {
      stdio: 'inherit',
    })
    await benchSoak(dir, Number(process.env.SOAK_MINUTES ?? 60))
  }
  if (run.has('faults')) await benchFaults(dir)
  if (run.has('fuzz')) await benchFuzz(dir)
  if (run.has('systemd')) {
    execFileSync(process.execPath, [join(import.meta.dirname, '..', 'build.mjs'), '--if-stale'], {
      stdio: 'inherit',
    })
    await benchSystemd(dir, Number(process.env.BENCH_SECONDS ?? 60))
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
process.exit(0)
