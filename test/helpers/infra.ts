import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { describe } from 'vitest'

/**
 * A suite that needs outside infrastructure (Mosquitto, Chromium, Docker, systemd). On a laptop without it, the suite
 * is skipped with a notice saying what to install; in CI (CI=true) a missing piece fails the run instead, since CI
 * must run everything.
 */
export function describeWith(what: string, available: boolean, howToGet: string) {
  if (available) return describe
  if (process.env.CI === 'true' || process.env.CI === '1') {
    return (name: string, _fn: () => void) =>
      describe(name, () => {
        throw new Error(`CI needs ${what} for "${name}", and it is missing: ${howToGet}`)
      })
  }
  process.stderr.write(`\n[skip] "${what}" is not available: skipping its suite. ${howToGet}\n`)
  return describe.skip
}

export function which(bin: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim() || null
  } catch {
    return null
  }
}

export const mosquittoPath = (): string | null =>
  which('mosquitto') ?? (existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : null)
export const chromiumPath = (): string | null =>
  process.env.CHROMIUM_PATH ?? which('chromium') ?? which('chromium-browser')
