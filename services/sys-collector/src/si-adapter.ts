import { readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import type { HostFacts } from '@homelab/contracts'
import { cpu as readCpu } from 'systeminformation/lib/cpu.js'
import { osInfo, time as readTime } from 'systeminformation/lib/osinfo.js'
import { system as readSystem } from 'systeminformation/lib/system.js'

/**
 * The only file that imports systeminformation (three of its modules, not its index, which loads all ~25). It is used for static facts, read once at start, where its
 * process spawns do not matter; the per-sample path reads /proc and /sys directly (see host-reader.ts).
 */
export async function readHostFacts(host: string, procDir: string): Promise<HostFacts> {
  const [os, system, cpu, time] = await Promise.all([
    osInfo(),
    readSystem(),
    readCpu(),
    Promise.resolve(readTime()),
  ])
  // On a Raspberry Pi the device tree names the board exactly ("Raspberry Pi 4 Model B Rev 1.4").
  const dtModel = (await readFile('/proc/device-tree/model', 'utf8').catch(() => ''))
    .replace(/\0/g, '')
    .trim()
  const model =
    dtModel ||
    [system.manufacturer, system.model]
      .filter((s) => s && s !== 'Default string')
      .join(' ')
      .trim()
  const uptime = Number((await readFile(`${procDir}/uptime`, 'utf8')).split(' ')[0])
  return {
    v: 1,
    ts: Date.now(),
    host,
    source: 'sys-collector',
    hostname: hostname(),
    os: os.distro ? `${os.distro} ${os.release}`.trim() : os.platform,
    kernel: os.kernel,
    arch: os.arch,
    model: model || 'unknown',
    cpuModel: `${cpu.manufacturer} ${cpu.brand}`.trim(),
    cpuCores: cpu.cores,
    bootTime: Number.isFinite(uptime)
      ? Math.round(Date.now() - uptime * 1000)
      : Math.round(time.current - time.uptime * 1000),
  }
}
