import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { brokerKills, recorderKills, recorderOutage, type Tally } from '../../test/helpers/fault-scenarios.js'
import { FaultStack } from '../../test/helpers/fault-stack.js'
import { header, line } from './util.js'

const show = (t: Tally) =>
  `${t.stored}/${t.expected} readings stored, ${t.lost} lost, ${t.duplicated} duplicated; events ${t.eventsLost} lost, ${t.eventsDuplicated} duplicated; ${t.kills} faults; integrity ${t.integrity}`

/**
 * The fault suite's long variants, each in separate processes with readings published as the collectors publish
 * them (QoS 1, retained): FAULT_READINGS readings (10,000) and FAULT_KILLS faults (20) per run.
 */
export async function benchFaults(dir: string): Promise<void> {
  const readings = Number(process.env.FAULT_READINGS ?? 10_000)
  const kills = Number(process.env.FAULT_KILLS ?? 20)
  const only = (process.env.FAULT_ONLY ?? 'recorder-kill,broker-kill,broker-term,outage').split(',')
  header(`faults (${readings} readings, ${kills} faults each; QoS 1, retained, as the collectors publish)`)
  const run = async (name: string, f: (s: FaultStack) => Promise<Tally>) => {
    if (!only.includes(name)) return
    const d = mkdtempSync(join(dir, `faults-${name}-`))
    const stack = new FaultStack(d)
    try {
      line(name, show(await f(stack)))
    } catch (e) {
      line(name, `failed: ${(e as Error).message.slice(0, 500)}`)
    } finally {
      await stack.close()
      rmSync(d, { recursive: true, force: true })
    }
  }
  // ~1.5 s between faults: the rate spreads the readings over all of them.
  const rate = Math.max(50, Math.round(readings / (kills * 1.6)))
  await run('recorder-kill', (s) => recorderKills(s, { kills, count: readings, rate }))
  await run('broker-kill', (s) =>
    brokerKills(s, { kills, count: readings, rate: Math.round(rate / 1.6), signal: 'SIGKILL' }),
  )
  await run('broker-term', (s) =>
    brokerKills(s, { kills, count: readings, rate: Math.round(rate / 1.6), signal: 'SIGTERM' }),
  )
  await run('outage', (s) =>
    recorderOutage(s, { downMs: Number(process.env.FAULT_OUTAGE_MS ?? 60_000), entities: 50, rate: 1 }),
  )
}
