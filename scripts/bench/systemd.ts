import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { join } from 'node:path'
import { ensureCredentials, startBroker } from '@homelab/broker'
import { createTopics, type Event } from '@homelab/contracts'
import { Counters, createLogger } from '@homelab/service-kit'
import mqtt from 'mqtt'
import { dockerAvailable } from '../../test/helpers/docker.js'
import { ROOT } from '../../test/helpers/process.js'
import { startSystemd } from '../../test/helpers/systemd.js'
import { shippedFlags } from './footprint.js'
import { cpuSeconds, fmt, freePort, header, line, percentile, rssMb } from './util.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const UNITS = 300

/**
 * systemd: 300 monitored units (all running: systemd unloads units that never ran, so only loaded ones are watched) in a real systemd booted in a container; the systemd-collector
 * process's CPU and RSS at rest (default 10 s interval), then the delay from a unit's state change (systemd's own
 * StateChangeTimestamp) to its `unit.state` event arriving at an MQTT subscriber, over 50 stops.
 */
export async function benchSystemd(dir: string, seconds: number) {
  header(`systemd: ${UNITS} monitored units, all running, ${seconds} s at rest`)
  if (!(await dockerAvailable())) {
    line('Docker', 'not reachable: skipped (a real systemd is booted in a container)')
    return
  }
  execFileSync('bash', [join(ROOT, 'scripts', 'build-systemd-image.sh')], { stdio: 'inherit' })
  const sd = await startSystemd(`hl-bench-sd-${process.pid}`)
  const running: ChildProcess[] = []
  const credentials = ensureCredentials(join(dir, 'systemd-bench'))
  const broker = await startBroker({
    host: 'bench',
    port: await freePort(),
    bind: '127.0.0.1',
    persistenceDir: join(dir, 'systemd-bench', 'broker'),
    credentials,
    baseTopic: 'homelab',
    log: createLogger('bench', () => undefined),
    counters: new Counters(),
  })
  try {
    sd.exec(
      `for i in $(seq 0 ${UNITS - 1}); do printf '[Service]\\nExecStart=/bin/sleep infinity\\n' > /etc/systemd/system/hl-bench-$i.service; done; systemctl daemon-reload; systemctl start $(seq -f 'hl-bench-%g.service' 0 $((${UNITS} - 1)))`,
    )
    const url = `mqtt://127.0.0.1:${broker.port}`
    /** The collector at rest; `cgroupRoot` 'off' reads every unit's stats over D-Bus (the way before cgroup files). */
    const atRest = async (label: string, cgroupRoot: string | undefined): Promise<ChildProcess> => {
      const c = spawn(
        process.execPath,
        [...shippedFlags(), join(ROOT, 'services/systemd-collector/dist/main.js')],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            ...process.env,
            HOMELAB_MQTT_URL: url,
            HOMELAB_MQTT_PASSWORD: credentials['systemd-collector'],
            HOMELAB_HOST_ID: 'bench',
            DBUS_SYSTEM_BUS_ADDRESS: sd.address,
            HOMELAB_SYSTEMD_UNITS: 'hl-bench-*.service',
            ...(cgroupRoot === undefined ? {} : { HOMELAB_CGROUP_ROOT: cgroupRoot }),
          },
        },
      )
      running.push(c)
      let watching = ''
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('the systemd-collector did not start')), 60_000)
        const on = (d: Buffer) => {
          const m = /watching \d+ units.*/.exec(d.toString())
          if (m) {
            watching = m[0]
            clearTimeout(t)
            resolve()
          }
        }
        c.stdout?.on('data', on)
        c.stderr?.on('data', on)
      })
      await sleep(11_000) // one interval of stats reads first
      const c0 = cpuSeconds(c.pid!)
      const t0 = performance.now()
      await sleep(seconds * 1000)
      const cpu = ((cpuSeconds(c.pid!) - c0) / ((performance.now() - t0) / 1000)) * 100
      const m = rssMb(c.pid!)
      line(`${label}: the collector says`, watching)
      line(`${label}: CPU % of one core at rest`, fmt(cpu, 2))
      line(`${label}: RSS now / peak (budget ≤ 60 MB)`, `${fmt(m.rss, 1)} / ${fmt(m.peak, 1)} MB`)
      return c
    }
    // The baseline first, in the same run: every unit's stats over D-Bus.
    const baseline = await atRest('baseline, stats over D-Bus (HOMELAB_CGROUP_ROOT=off)', 'off')
    baseline.kill('SIGTERM')
    await new Promise((r) => baseline.once('exit', r))
    await atRest('shipped, stats from cgroup files', undefined)

    const topics = createTopics('homelab')
    const sub = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      username: 'recorder',
      password: credentials.recorder,
      clientId: 'recorder-bench',
    })
    const delays: number[] = []
    sub.on('message', (_t, payload) => {
      const e = JSON.parse(payload.toString()) as Event
      const since = (e.data.unit as { since: number | null } | undefined)?.since
      if (e.data.to === 'inactive' && since) delays.push(Date.now() - since)
    })
    await sub.subscribeAsync(topics.event('bench', 'systemd-collector', 'unit.state'), { qos: 1 })
    for (let i = 0; i < 50; i++) {
      sd.systemctl(`stop hl-bench-${i}.service`)
      await sleep(20)
    }
    await sleep(1000)
    await sub.endAsync()
    line(
      `state change → unit.state at a subscriber (${delays.length} stops): p50 ms`,
      fmt(percentile(delays, 50), 1),
    )
    line('  p99 / max ms', `${fmt(percentile(delays, 99), 1)} / ${fmt(Math.max(...delays), 1)}`)
  } finally {
    await Promise.all(
      running.map((p) =>
        p.exitCode === null ? new Promise((r) => p.once('exit', r).kill('SIGTERM')) : undefined,
      ),
    )
    await broker.stop()
    await sd.remove()
  }
}
