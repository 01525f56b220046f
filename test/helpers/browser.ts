import { join } from 'node:path'
import { type Browser, chromium } from 'playwright-core'
import { build } from 'vite'
import { chromiumPath } from './infra.js'
import { ROOT } from './process.js'

/** Builds the web app as shipped into `outDir`. */
export async function buildWeb(outDir: string): Promise<void> {
  await build({ root: join(ROOT, 'web'), logLevel: 'error', build: { outDir, emptyOutDir: true } })
}

/** Headless Chromium with the flags this machine needs (no sandbox as root, no network side traffic). */
export function launchChromium(): Promise<Browser> {
  const exe = chromiumPath()
  if (!exe) throw new Error('no Chromium: apt-get install -y chromium (or set CHROMIUM_PATH)')
  return chromium.launch({
    executablePath: exe,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
