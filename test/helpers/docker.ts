import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import Docker from 'dockerode'
import { ROOT } from './process.js'

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

/** Creates and starts a container from TEST_IMAGE; returns its id. */
export async function runContainer(o: RunOptions): Promise<string> {
  const c = await docker.createContainer({
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
