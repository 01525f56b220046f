import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'

export const ROOT = join(import.meta.dirname, '..', '..')

/** Runs a command in the repository and returns its output; a non-zero exit throws with what it printed. */
export function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 600_000): string {
  const r = spawnSync(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  })
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`)
  return r.stdout
}

/** Runs a service's main.ts from source in its own process (no build step), as it runs in its own container. */
export function spawnService(
  service: string,
  env: Record<string, string>,
  args: string[] = [],
): ChildProcess & { output: () => string } {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', join(ROOT, 'services', service, 'src', 'main.ts'), ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  return Object.assign(child, { output: () => out })
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((r) => child.once('exit', (code) => r(code)))
}

/** Resolves once the child's output streams are drained too ('exit' can come before its last output), or after `ms`. */
export function outputDrained(child: ChildProcess, ms = 2000): Promise<void> {
  if (child.stdout?.closed !== false && child.stderr?.closed !== false) return Promise.resolve()
  return new Promise((r) => {
    const timer = setTimeout(r, ms)
    child.once('close', () => {
      clearTimeout(timer)
      r()
    })
  })
}
