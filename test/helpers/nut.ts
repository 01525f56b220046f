import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './net.js'

/**
 * A real NUT server from Debian (`nut-server`): the `dummy-ups` driver reads a UPS's variables from a file and follows
 * its changes, and `upsd` serves them on a loopback port over NUT's network protocol. The test changes the UPS's state
 * by rewriting that file (online → on battery → low battery), as a real UPS would report it through its driver.
 */
export const NUT_DIR = '/lib/nut'
export const nutAvailable = (): boolean =>
  existsSync(join(NUT_DIR, 'upsd')) && existsSync(join(NUT_DIR, 'dummy-ups'))

export interface UpsState {
  status: string
  charge: number
  runtime: number
  load: number
  inputVoltage: number
}

export interface NutServer {
  port: number
  ups: string
  /** Rewrites the driver's file; upsd serves the new values within a few seconds. */
  set(s: UpsState): void
  close(): Promise<void>
}

function devFile(s: UpsState): string {
  return [
    'device.mfr: Example Power',
    'device.model: Tower 1500',
    'ups.mfr: Example Power',
    'ups.model: Tower 1500',
    `ups.status: ${s.status}`,
    `ups.load: ${s.load}`,
    `battery.charge: ${s.charge}`,
    `battery.runtime: ${s.runtime}`,
    'battery.voltage: 27.1',
    `input.voltage: ${s.inputVoltage}`,
    'output.voltage: 230.0',
    '',
  ].join('\n')
}

export const ONLINE: UpsState = {
  status: 'OL CHRG',
  charge: 100,
  runtime: 2400,
  load: 23,
  inputVoltage: 231.5,
}

export async function startNut(initial: UpsState = ONLINE, ups = 'fake'): Promise<NutServer> {
  const dir = mkdtempSync(join(tmpdir(), 'nut-'))
  const state = join(dir, 'state')
  mkdirSync(state, { mode: 0o700 })
  const port = await freePort()
  const dev = join(dir, `${ups}.dev`)
  writeFileSync(dev, devFile(initial))
  writeFileSync(
    join(dir, 'ups.conf'),
    `[${ups}]\n  driver = dummy-ups\n  port = ${dev}\n  desc = "Test UPS"\n`,
  )
  writeFileSync(join(dir, 'upsd.conf'), `LISTEN 127.0.0.1 ${port}\n`)
  writeFileSync(join(dir, 'upsd.users'), '', { mode: 0o600 })
  writeFileSync(join(dir, 'nut.conf'), 'MODE=standalone\n')
  const env = { ...process.env, NUT_CONFPATH: dir, NUT_STATEPATH: state }
  const procs: ChildProcess[] = []
  const run = (bin: string, args: string[]) => {
    // -F: stay in the foreground, so the test owns the process and stops it.
    const p = spawn(join(NUT_DIR, bin), ['-F', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout?.on('data', (d: Buffer) => (out += d.toString()))
    p.stderr?.on('data', (d: Buffer) => (out += d.toString()))
    procs.push(p)
    return () => out
  }
  const driverOut = run('dummy-ups', ['-a', ups, '-u', 'root'])
  await waitForDriver(state, 10_000, driverOut)
  const upsdOut = run('upsd', ['-u', 'root'])
  await waitForPort(port, 10_000, upsdOut)
  // dummy-ups re-reads its file when the file's modification time (in whole seconds) changes: each change gets a
  // later second, so two changes within one second are both seen.
  let mtime = Math.floor(Date.now() / 1000)
  return {
    port,
    ups,
    set: (s) => {
      writeFileSync(dev, devFile(s))
      mtime = Math.max(mtime + 1, Math.floor(Date.now() / 1000))
      utimesSync(dev, mtime, mtime)
    },
    async close() {
      for (const p of procs) p.kill('SIGTERM')
      await Promise.all(
        procs.map((p) => (p.exitCode !== null ? null : new Promise((r) => p.once('exit', r)))),
      )
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The driver's socket in the state directory: upsd can talk to it once it exists. */
async function waitForDriver(dir: string, ms: number, out: () => string): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (readdirSync(dir).some((f) => f.startsWith('dummy-ups-'))) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`dummy-ups did not start within ${ms} ms: ${out()}`)
}

async function waitForPort(port: number, ms: number, out: () => string): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port })
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`upsd did not listen on ${port} within ${ms} ms: ${out()}`)
}
