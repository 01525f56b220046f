import { type FleetHost, isVirtualInterface } from '@homelab/contracts'
import { Hono } from 'hono'
import type { Env, GatewayDeps } from '../context.js'
import { alerterState } from './alerts.js'
import { containerViews } from './docker.js'
import { hostSummaries } from './hosts.js'
import { latestSystemReading } from './metrics.js'

/** GET /api/fleet: every host as one row (status, CPU, memory, disk, temperature, load, network, containers, alerts). */
export function fleetRoutes(deps: GatewayDeps) {
  const app = new Hono<Env>()
  app.get('/', (c) => {
    const now = Date.now()
    const firing = new Map<string, number>()
    for (const a of alerterState(deps).alerts)
      if (a.state === 'firing') firing.set(a.host, (firing.get(a.host) ?? 0) + 1)
    const hosts: FleetHost[] = hostSummaries(deps).map((h) => {
      const r = latestSystemReading(deps, h.host)
      const views = containerViews(deps, h.host)
      const fullest = r ? [...r.filesystems].sort((a, b) => b.percent - a.percent)[0] : undefined
      const nics = r?.network.filter((n) => !isVirtualInterface(n.iface)) ?? []
      const sum = (k: 'rxBytesPerSec' | 'txBytesPerSec') => (r ? nics.reduce((t, n) => t + n[k], 0) : null)
      return {
        host: h.host,
        lastSeen: h.lastSeen,
        silent: r === null || now - r.ts > Math.max(60_000, 6 * r.intervalMs),
        cpu: r?.cpu.usage ?? null,
        cores: r ? r.cpu.cores.length : null,
        memoryPercent: r?.memory.percent ?? null,
        memoryUsed: r?.memory.used ?? null,
        memoryTotal: r?.memory.total ?? null,
        disk: fullest
          ? { mount: fullest.mount, percent: fullest.percent, used: fullest.used, total: fullest.total }
          : null,
        // The CPU's; without a CPU sensor, the hottest other one.
        temperature:
          r?.cpuTemperature ??
          (r?.temperatures.length ? Math.max(...r.temperatures.map((t) => t.celsius)) : null),
        load1: r?.load[0] ?? null,
        netRxPerSec: sum('rxBytesPerSec'),
        netTxPerSec: sum('txBytesPerSec'),
        uptimeSec: r?.uptimeSec ?? null,
        containers:
          views.length > 0
            ? {
                running: views.filter((v) => v.state === 'running').length,
                total: views.length,
                unhealthy: views.filter((v) => v.health === 'unhealthy').length,
              }
            : null,
        alerts: firing.get(h.host) ?? 0,
        services: {
          online: h.services.filter((s) => s.availability === 'online').length,
          problems: h.services
            .filter((s) => s.availability === 'offline' || s.state === 'degraded')
            .map((s) => s.service),
        },
      }
    })
    return c.json({ self: deps.host, hosts })
  })
  return app
}
