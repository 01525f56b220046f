import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { mosquittoAcl } from '@homelab/broker'
import { freePort } from './net.js'
import { HOST, waitFor } from './stack.js'

export const MOSQUITTO_USERS = {
  'sys-collector': 'sys-secret-123456',
  recorder: 'rec-secret-123456',
  gateway: 'gw-secret-1234567',
  'docker-collector': 'dk-secret-123456',
  homeassistant: 'ha-secret-1234567',
} as const

/** Starts a real Mosquitto on a loopback port with a password file and the project's ACL (generated from acl.ts). */
export async function startMosquitto(
  bin: string,
  dir: string,
): Promise<{ url: string; stop: () => Promise<void>; proc: ChildProcess }> {
  const port = await freePort()
  const passwd = join(dir, 'passwd')
  writeFileSync(passwd, '')
  for (const [u, p] of Object.entries(MOSQUITTO_USERS)) execFileSync('mosquitto_passwd', ['-b', passwd, u, p])
  writeFileSync(join(dir, 'acl'), mosquittoAcl('homelab', Object.keys(MOSQUITTO_USERS), HOST))
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      // As root, Mosquitto would switch to its own user, which cannot read this private temp folder.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'allow_anonymous false',
      `password_file ${passwd}`,
      `acl_file ${join(dir, 'acl')}`,
      'persistence false',
      'log_dest stderr',
      '',
    ].join('\n'),
  )
  const proc = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()))
  // Its stderr is block-buffered in a pipe: wait for the port to accept connections instead of a log line.
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited with ${proc.exitCode}: ${log}`)
      return new Promise<boolean>((r) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy()
          r(true)
        })
        s.on('error', () => r(false))
      })
    },
    10_000,
    'mosquitto to listen',
  )
  return {
    url: `mqtt://127.0.0.1:${port}`,
    proc,
    stop: () =>
      new Promise<void>((r) => {
        if (proc.exitCode !== null) return r()
        proc.once('exit', () => r())
        proc.kill('SIGTERM')
      }),
  }
}
