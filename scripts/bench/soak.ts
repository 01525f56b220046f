import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { shippedFlags } from './footprint.js'
import { cpuSeconds, fmt, freePort, header, line, rssMb } from './util.js'

const ROOT = join(import.meta.dirname, '..', '..')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * The all-in-one at default settings for `minutes` (SOAK_MINUTES, default 60), its RSS and CPU read at 5, 30 and
 * 60 minutes (and at the end): a monitor that grows over an hour would show here, not in a 60 s footprint window.
 */
export async function benchSoak(dir: string, minutes: number) {
  const flags = shippedFlags()
  header(
    `Soak: the all-in-one for ${minutes} min at default settings, node ${flags.join(' ') || '(no flags)'}`,
  )
  const port = await freePort()
  const p: ChildProcess = spawn(
    process.execPath,
    [...flags, join(ROOT, 'services/all-in-one/dist/main.js')],
    {
      env: {
        ...process.env,
        HOMELAB_DATA_DIR: join(dir, 'soak'),
        HOMELAB_PORT: String(port),
        HOMELAB_MQTT_PORT: String(await freePort()),
      },
      stdio: 'ignore',
    },
  )
  try {
    const t0 = Date.now()
    let c0 = 0
    const marks = [...new Set([5, 30, 60, minutes].filter((m) => m <= minutes))].sort((a, b) => a - b)
    let last = { at: 0, cpu: 0 }
    for (const m of marks) {
      await sleep(t0 + m * 60_000 - Date.now())
      if (p.exitCode !== null) throw new Error(`the all-in-one exited (${p.exitCode}) before ${m} min`)
      const cpu = cpuSeconds(p.pid!)
      if (m === marks[0]) c0 = cpu
      const mem = rssMb(p.pid!)
      const window = last.at
        ? `, CPU since ${last.at} min ${fmt(((cpu - last.cpu) / ((m - last.at) * 60)) * 100, 3)} %`
        : ''
      line(`at ${m} min: RSS now / peak`, `${fmt(mem.rss, 1)} / ${fmt(mem.peak, 1)} MB${window}`)
      last = { at: m, cpu }
    }
    const total = marks.at(-1)!
    if (total > marks[0]!)
      line(
        `CPU % of one core from ${marks[0]} to ${total} min`,
        fmt(((last.cpu - c0) / ((total - marks[0]!) * 60)) * 100, 3),
      )
  } finally {
    p.kill('SIGTERM')
    await sleep(1000)
  }
}
