import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import Docker from 'dockerode'
import { ROOT } from './process.js'
import { waitFor } from './stack.js'

/** The tiny image the Docker tests run: the static busybox binary and its applets, imported (nothing is pulled). */
export const TEST_IMAGE = 'homelab-test/busybox:1'
/** Label on every container a test creates; its value is this test process, so runs side by side never touch each other's. */
export const TEST_LABEL = 'homelab.test'
const RUN = String(process.pid)

export const docker = new Docker({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' })

/** Is a Docker engine answering on the local socket? */
export async function dockerAvailable(): Promise<boolean> {
  try {
    await docker.ping()
    return true
  } catch {
    return false
  }
}

/** Builds TEST_IMAGE (scripts/build-test-image.sh) unless it exists. */
export async function ensureTestImage(): Promise<void> {
  const images = await docker.listImages({ filters: { reference: [TEST_IMAGE] } })
  if (images.length > 0) return
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'build-test-image.sh')], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`could not build ${TEST_IMAGE}: ${r.stderr}`)
}

export interface RunOptions {
  name: string
  cmd: string[]
  labels?: Record<string, string>
  memory?: number
  restart?: 'no' | 'always' | 'on-failure'
  stopTimeout?: number
}

/** Creates and starts a container from TEST_IMAGE (on the machine's engine, or `engine`); returns its id. */
export async function runContainer(o: RunOptions, engine: Docker = docker): Promise<string> {
  const c = await engine.createContainer({
    name: o.name,
    Image: TEST_IMAGE,
    Cmd: o.cmd,
    Labels: { [TEST_LABEL]: RUN, ...(o.labels ?? {}) },
    StopTimeout: o.stopTimeout ?? 1,
    HostConfig: {
      ...(o.memory ? { Memory: o.memory, MemorySwap: o.memory } : {}),
      RestartPolicy: { Name: o.restart ?? 'no' },
    },
  })
  await c.start()
  return c.id
}

/** Removes every container this test process created (by label). */
export async function removeTestContainers(): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${RUN}`] } })
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  )
}

export const testLabels = (): Record<string, string> => ({ [TEST_LABEL]: RUN })

export async function startedAt(id: string): Promise<string> {
  return (await docker.getContainer(id).inspect()).State.StartedAt
}

/**
 * A Docker engine of the test's own: its own socket, data-root, exec-root, pidfile and bridge (created for it, removed
 * after), no iptables rules, so a test may stop and restart it while the machine's engine and its containers stay
 * untouched. (Not `--bridge none`: a dockerd without a bridge deletes the host's docker0, the machine engine's own.)
 * TEST_IMAGE is copied into it from the machine's engine.
 */
export async function startPrivateEngine(dir: string) {
  mkdirSync(dir, { recursive: true })
  const socket = join(dir, 'docker.sock')
  const bridge = `hle${process.pid % 1_000_000}`
  const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' })
  ip('link', 'del', bridge)
  for (const cmd of [
    ['link', 'add', bridge, 'type', 'bridge'],
    ['addr', 'add', `10.254.${process.pid % 250}.1/24`, 'dev', bridge],
    ['link', 'set', bridge, 'up'],
  ]) {
    const r = ip(...cmd)
    if (r.status !== 0) throw new Error(`ip ${cmd.join(' ')}: ${r.stderr}`)
  }
  const args = [
    '--host',
    `unix://${socket}`,
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'docker.pid'),
    '--bridge',
    bridge,
    '--iptables=false',
    '--ip6tables=false',
    '--ip-masq=false',
    '--ip-forward=false',
    '--log-level',
    'warn',
  ]
  const engine = new Docker({ socketPath: socket })
  const log = openSync(join(dir, 'dockerd.log'), 'a')
  let proc: ChildProcess | null = null
  const up = async () => {
    const p = spawn('dockerd', args, { stdio: ['ignore', log, log] })
    proc = p
    await waitFor(
      async () => {
        if (p.exitCode !== null)
          throw new Error(
            `the private dockerd exited with ${p.exitCode}: ${readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-2000)}`,
          )
        return engine.ping().then(
          () => true,
          () => false,
        )
      },
      60_000,
      'the private dockerd',
    )
  }
  const down = async () => {
    const p = proc
    proc = null
    if (!p || p.exitCode !== null) return
    const done = new Promise<void>((r) => p.once('exit', () => r()))
    p.kill('SIGTERM')
    await done
  }
  await up()
  const load = spawnSync('sh', ['-c', `docker save ${TEST_IMAGE} | docker -H unix://${socket} load`], {
    encoding: 'utf8',
  })
  if (load.status !== 0)
    throw new Error(`could not copy ${TEST_IMAGE} into the private engine: ${load.stderr}`)
  return {
    socket,
    docker: engine,
    pid: () => proc?.pid ?? null,
    stop: down,
    start: up,
    /** Stops it and removes its containers' state (its folder goes with the test's). */
    remove: async () => {
      const list = await engine.listContainers({ all: true }).catch(() => [])
      await Promise.all(
        list.map((c) =>
          engine
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined),
        ),
      )
      await down()
      ip('link', 'del', bridge)
    },
  }
}

/** The pid of the machine's own dockerd (its pidfile), or null. */
export function machineDockerdPid(): number | null {
  try {
    const pid = Number(readFileSync('/var/run/docker.pid', 'utf8').trim())
    process.kill(pid, 0)
    return pid
  } catch {
    return null
  }
}
