import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { join } from 'node:path'
import { ensureCredentials, startBroker } from '@homelab/broker'
import { createTopics, type Event } from '@homelab/contracts'
import { Counters, createLogger } from '@homelab/service-kit'
import Docker from 'dockerode'
import mqtt from 'mqtt'
import { ROOT } from '../../test/helpers/process.js'
import { cpuSeconds, fmt, freePort, header, line, percentile, rssMb } from './util.js'

const docker = new Docker({ socketPath: '/var/run/docker.sock' })
const IMAGE = 'homelab-test/busybox:1'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const quiet = createLogger('bench', () => undefined)

function pidOf(name: string): number | null {
  try {
    return Number(execFileSync('pidof', [name], { encoding: 'utf8' }).trim().split(/\s+/)[0]) || null
  } catch {
    return null
  }
}

/** Removes the containers a bench made (by their `homelab.bench` label). */
export async function removeBenchContainers(label = '1') {
  const list = await docker.listContainers({ all: true, filters: { label: [`homelab.bench=${label}`] } })
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  )
}

function waitReady(p: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not start`)), 60_000)
    const onData = (d: Buffer) => {
      if (/ready|watching Docker/.test(d.toString())) {
        clearTimeout(t)
        resolve()
      }
    }
    p.stdout?.on('data', onData)
    p.stderr?.on('data', onData)
    p.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)))
  })
}

/** CPU % of one core and RSS of `p` (and of the engine: dockerd + containerd) over `seconds`. */
async function measure(p: ChildProcess, seconds: number) {
  const engine = [pidOf('dockerd'), pidOf('containerd')].filter((x): x is number => x !== null)
  const c0 = cpuSeconds(p.pid!)
  const e0 = engine.reduce((s, pid) => s + cpuSeconds(pid), 0)
  const t0 = performance.now()
  await sleep(seconds * 1000)
  const wall = (performance.now() - t0) / 1000
  const cpu = ((cpuSeconds(p.pid!) - c0) / wall) * 100
  const engineCpu = ((engine.reduce((s, pid) => s + cpuSeconds(pid), 0) - e0) / wall) * 100
  return { cpu, engineCpu, rss: rssMb(p.pid!).rss }
}

/**
 * Docker: 50 running containers, stats every 5 s — the collector's one-shot requests against the streaming
 * alternative (both as bare stats loops, so they compare like for like), then the whole docker-collector process;
 * and the delay from `docker stop` returning to the event arriving at an MQTT subscriber.
 */
export async function benchDocker(dir: string, seconds: number) {
  header(`Docker: 50 running containers, stats every 5 s, ${seconds} s windows`)
  try {
    await docker.ping()
  } catch {
    line('Docker', 'not reachable on /var/run/docker.sock: skipped (start dockerd)')
    return
  }
  execFileSync('bash', [join(ROOT, 'scripts', 'build-test-image.sh')], { stdio: 'inherit' })
  await removeBenchContainers()
  const procs: ChildProcess[] = []
  try {
    for (let i = 0; i < 50; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, j) => {
          const c = await docker.createContainer({
            name: `hl-bench-${i + j}`,
            Image: IMAGE,
            Cmd: ['sleep', '3600'],
            Labels: { 'homelab.bench': '1' },
            StopTimeout: 0,
          })
          await c.start()
        }),
      )
    }
    const results: Record<string, { cpu: number; engineCpu: number; rss: number }> = {}
    for (const mode of ['oneshot', 'stream']) {
      const p = spawn(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', join(import.meta.dirname, 'docker-stats-child.ts'), mode],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      procs.push(p)
      await waitReady(p, mode)
      await sleep(6000) // first round and connection setup
      results[mode] = await measure(p, seconds)
      p.kill('SIGTERM')
    }
    const o = results.oneshot!
    const s = results.stream!
    line('one-shot, 5 in flight (chosen): CPU % of one core', fmt(o.cpu, 2))
    line('one-shot: RSS', `${fmt(o.rss, 1)} MB`)
    line('one-shot: engine (dockerd + containerd) CPU %', fmt(o.engineCpu, 2))
    line('streaming, 50 connections (rejected): CPU % of one core', fmt(s.cpu, 2))
    line('streaming: RSS', `${fmt(s.rss, 1)} MB`)
    line('streaming: engine (dockerd + containerd) CPU %', fmt(s.engineCpu, 2))
    line('ratio streaming / one-shot, collector CPU', fmt(s.cpu / o.cpu, 2))
    line('ratio streaming / one-shot, engine CPU', fmt(s.engineCpu / o.engineCpu, 2))

    // The whole docker-collector (list, stats, MQTT documents), as it runs in its own container.
    const credentials = ensureCredentials(join(dir, 'docker-bench'))
    const broker = await startBroker({
      host: 'bench',
      port: await freePort(),
      bind: '127.0.0.1',
      persistenceDir: join(dir, 'docker-bench', 'broker'),
      credentials,
      baseTopic: 'homelab',
      log: quiet,
      counters: new Counters(),
    })
    const url = `mqtt://127.0.0.1:${broker.port}`
    const collector = spawn(process.execPath, [join(ROOT, 'services/docker-collector/dist/main.js')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        HOMELAB_MQTT_URL: url,
        HOMELAB_MQTT_PASSWORD: credentials['docker-collector'],
        HOMELAB_HOST_ID: 'bench',
      },
    })
    procs.push(collector)
    try {
      await waitReady(collector, 'docker-collector')
      await sleep(6000)
      const m = await measure(collector, seconds)
      line('docker-collector process (5 s, MQTT on): CPU % of one core', fmt(m.cpu, 2))
      line('docker-collector process: RSS', `${fmt(m.rss, 1)} MB`)

      // docker stop returning → container.stop / container.die arriving at a subscriber.
      const topics = createTopics('homelab')
      const sub = await mqtt.connectAsync(url, {
        protocolVersion: 5,
        username: 'recorder',
        password: credentials.recorder,
        clientId: 'bench-sub',
      })
      const arrivals = new Map<string, number>()
      sub.on('message', (_t, payload) => {
        const e = JSON.parse(payload.toString()) as Event
        arrivals.set(`${e.type}:${e.subject}`, performance.now())
      })
      await sub.subscribeAsync(`${topics.subtree('bench', 'docker-collector')}/event/+`, { qos: 1 })
      const stopDelays: number[] = []
      const dieDelays: number[] = []
      for (let i = 0; i < 20; i++) {
        const name = `hl-bench-${i}`
        await docker.getContainer(name).stop({ t: 0 })
        const returned = performance.now()
        const deadline = returned + 5000
        while (!arrivals.has(`container.stop:${name}`) && performance.now() < deadline) await sleep(1)
        stopDelays.push((arrivals.get(`container.stop:${name}`) ?? Number.NaN) - returned)
        dieDelays.push((arrivals.get(`container.die:${name}`) ?? Number.NaN) - returned)
      }
      await sub.endAsync()
      line('docker stop returned → container.stop published: p50 ms', fmt(percentile(stopDelays, 50), 1))
      line('  p95 / max ms', `${fmt(percentile(stopDelays, 95), 1)} / ${fmt(Math.max(...stopDelays), 1)}`)
      line('docker stop returned → container.die published: p50 ms', fmt(percentile(dieDelays, 50), 1))
      line('  (negative: the event was out before the stop call returned)', '')
    } finally {
      collector.kill('SIGTERM')
      await broker.stop()
    }
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL')
    await removeBenchContainers()
  }
}
