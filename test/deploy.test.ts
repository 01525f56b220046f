import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, readFileSync, statfsSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  type ContainerView,
  HistoryResponse,
  type HostSummary,
  SystemMetrics,
  sanitizeHostId,
  type UnitView,
} from '@homelab/contracts'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { dockerAvailable, removeTestContainers } from './helpers/docker.js'
import { describeWith, which } from './helpers/infra.js'
import { freePort } from './helpers/net.js'
import { ROOT, sh } from './helpers/process.js'
import { tempDir, waitFor } from './helpers/stack.js'
import { ensureSystemdImage, startSystemd } from './helpers/systemd.js'

const IMAGE = 'homelab-observability:e2e'
const PROJECT = `hle2e${process.pid}`
const AGENT = `${PROJECT}agent`
const SERVICES = [
  'broker',
  'recorder',
  'gateway',
  'sys-collector',
  'docker-proxy',
  'docker-collector',
  'systemd-collector',
  'ollama-collector',
  'probe-collector',
  'alerter',
]

/** The host's network interfaces as the sys-collector reports them (it skips loopback and veth pairs). */
function hostInterfaces(): string[] {
  return readFileSync('/proc/1/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]?.trim() ?? '')
    .filter((i) => i && i !== 'lo' && !i.startsWith('veth'))
    .sort()
}

describeWith(
  'a Docker engine and docker-compose',
  (await dockerAvailable()) && which('docker-compose') !== null,
  'apt-get install -y docker.io docker-compose debootstrap and start dockerd; .ci/run also builds the local base image',
)('compose.yaml on a real Docker engine', () => {
  const dir = tempDir('hl-deploy-')
  let env: NodeJS.ProcessEnv
  let agentEnv: NodeJS.ProcessEnv
  let sd: Awaited<ReturnType<typeof startSystemd>>
  let base = ''
  let cookie = ''
  const compose = (...args: string[]) =>
    sh('docker-compose', ['-p', PROJECT, '-f', 'compose.yaml', ...args], env)
  const api = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${base}${path}`, { headers: { cookie } })
    expect(r.status, path).toBe(200)
    return (await r.json()) as T
  }
  const containerOf = (service: string) => compose('ps', '-q', service).trim()
  const waitHealthy = () =>
    waitFor(
      () => {
        const states = SERVICES.map((s) => {
          const id = containerOf(s)
          return id ? sh('docker', ['inspect', '-f', '{{.State.Health.Status}}', id]).trim() : 'missing'
        })
        return states.every((s) => s === 'healthy') ? states : null
      },
      120_000,
      'every service healthy',
    )
  // The first admin, as the README says for compose: `npm run user` inside the gateway's container (the password piped
  // in); created once, then each login is with it.
  const OWNER_PASSWORD = 'the compose owner password'
  const login = async () => {
    const users = compose(
      'exec',
      '-T',
      'gateway',
      'node',
      '/app/scripts/run-service.mjs',
      'gateway',
      'user',
      'list',
    )
    if (!users.includes('owner')) {
      const r = spawnSync(
        'docker-compose',
        [
          '-p',
          PROJECT,
          '-f',
          'compose.yaml',
          'exec',
          '-T',
          'gateway',
          'node',
          '/app/scripts/run-service.mjs',
          'gateway',
          'user',
          'add',
          'owner',
          'admin',
        ],
        { cwd: ROOT, env: { ...process.env, ...env }, input: `${OWNER_PASSWORD}\n`, encoding: 'utf8' },
      )
      expect(r.status, r.stderr).toBe(0)
    }
    const r = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'owner', password: OWNER_PASSWORD }),
    })
    expect(r.status).toBe(200)
    cookie = r.headers.get('set-cookie')!.split(';')[0]!
  }
  const hostId = sanitizeHostId(readFileSync('/etc/hostname', 'utf8').trim())

  beforeAll(async () => {
    // The image, built from the repository as a user would (the base image is a local stand-in in CI).
    sh('bash', ['scripts/build-node-base-image.sh'])
    sh('docker', ['build', '-q', '-t', IMAGE, '.'], {}, 900_000)
    await ensureSystemdImage()
    sd = await startSystemd(`${PROJECT}-systemd`)
    const busDir = sd.address.replace(/^unix:path=/, '').replace(/\/system_bus_socket$/, '')
    // A temp folder is 0700; the host's /run/dbus is 0755 (the collector runs as nobody, like on a real host).
    chmodSync(busDir, 0o755)
    const port = await freePort()
    // A probe of the broker from inside the stack's network (compose mounts ./config at /config).
    const probesDir = join(dir.path, 'config')
    mkdirSync(probesDir, { recursive: true })
    writeFileSync(
      join(probesDir, 'probes.json'),
      JSON.stringify({
        probes: [
          { id: 'broker', type: 'tcp', host: 'broker', port: 1883, interval: '5s' },
          { id: 'broker-ping', type: 'icmp', host: 'broker', count: 2, interval: '5s' },
        ],
      }),
    )
    chmodSync(probesDir, 0o755)
    env = {
      HOMELAB_IMAGE: IMAGE,
      HOMELAB_PORT: String(port),
      HOMELAB_MQTT_PUBLISH_PORT: String(await freePort()),
      DOCKER_GID: String(statSync('/var/run/docker.sock').gid),
      HOMELAB_DBUS_DIR: busDir,
      HOMELAB_PROBES_DIR: probesDir,
      HOMELAB_HOST_ID: '',
    }
    base = `http://127.0.0.1:${port}`
    compose('up', '-d', '--no-build')
    await waitHealthy()
    await login()
  }, 1_200_000)

  afterAll(async () => {
    const quietly = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        process.stderr.write(`cleanup: ${(e as Error).message}\n`)
      }
    }
    if (agentEnv)
      quietly(() => sh('docker-compose', ['-p', AGENT, '-f', 'compose.agent.yaml', 'down', '-v'], agentEnv))
    quietly(() => compose('down', '-v'))
    await sd?.remove()
    await removeTestContainers()
    dir.remove()
  }, 120_000)

  it('runs every service as its own non-root container on a read-only root filesystem, all healthy and online', async () => {
    for (const s of SERVICES) {
      const id = containerOf(s)
      const [user, ro] = sh('docker', [
        'inspect',
        '-f',
        '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}',
        id,
      ])
        .trim()
        .split(' ')
      // The systemd-collector runs as `nobody` (the host's D-Bus refuses unknown user ids) in the image's group.
      const expected = s === 'systemd-collector' ? ['65534:10001', '65534'] : ['homelab', '10001']
      expect(user, s).toBe(expected[0])
      expect(ro, s).toBe('true')
      expect(compose('exec', '-T', s, 'id', '-u').trim(), s).toBe(expected[1])
    }
    const hosts = await waitFor(
      async () => {
        const r = await api<{ self: string; hosts: HostSummary[] }>('/api/hosts')
        const h = r.hosts.find((x) => x.host === hostId)
        const online = h?.services.filter((s) => s.availability === 'online').map((s) => s.service) ?? []
        return SERVICES.filter((s) => s !== 'broker' && s !== 'docker-proxy').every((s) => online.includes(s))
          ? r
          : null
      },
      60_000,
      'every service online on the host',
    )
    expect(hosts.self).toBe(hostId)
  })

  it('probes from its own container: TCP to the broker, and ping with the image’s iputils as a non-root user', async () => {
    const probes = await waitFor(
      async () => {
        const r = await api<{
          probes: Array<{ reading: { probe: { id: string }; up: boolean; reason: string | null } }>
        }>('/api/probes')
        return r.probes.length === 2 ? r.probes : null
      },
      60_000,
      'the two probes',
    )
    for (const p of probes) expect(p.reading, p.reading.probe.id).toMatchObject({ up: true, reason: null })
  })

  it('reports the host’s own memory, root filesystem and network interfaces, not its container’s', async () => {
    const kb = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1])
    const m = await waitFor(
      async () => {
        const r = await fetch(`${base}/api/metrics/system?detail=true`, { headers: { cookie } })
        return r.status === 200
          ? ((await r.json()) as SystemMetrics & { detail: { network: Array<{ iface: string }> } })
          : null
      },
      30_000,
      'system metrics',
    )
    expect(SystemMetrics.parse(m).memoryTotal).toBe(kb * 1024)
    await waitFor(
      async () => {
        const r = (
          await api<{ detail: { network: Array<{ iface: string }> } }>('/api/metrics/system?detail=true')
        ).detail.network
          .map((n) => n.iface)
          .sort()
        return JSON.stringify(r) === JSON.stringify(hostInterfaces())
      },
      30_000,
      `the host's interfaces ${hostInterfaces().join(', ')}`,
    )
    expect(hostInterfaces()).toContain('docker0')
    // The host's root filesystem, as the host itself sees it (a container's own root is an overlay of another size).
    const st = statfsSync('/')
    const fs = (
      await api<{ detail: { filesystems: Array<{ mount: string; total: number }> } }>(
        '/api/metrics/system?detail=true',
      )
    ).detail.filesystems
    expect(fs.find((f) => f.mount === '/')?.total).toBe(st.blocks * st.bsize)
  })

  it('lists the engine’s containers and the units of the systemd it reaches over the mounted bus', async () => {
    const containers = await waitFor(
      async () => {
        const l = await api<ContainerView[]>('/api/docker/containers')
        return l.some((c) => c.containerName === `${PROJECT}_gateway_1`) ? l : null
      },
      30_000,
      'the compose containers listed',
    )
    expect(containers.map((c) => c.containerName)).toEqual(expect.arrayContaining([`${PROJECT}-systemd`]))
    const gw = containers.find((c) => c.containerName === `${PROJECT}_gateway_1`)!
    expect(gw.composeProject).toBe(PROJECT)
    expect(gw.composeService).toBe('gateway')
    const units = await waitFor(
      async () => {
        const l = await api<UnitView[]>('/api/services')
        return l.some((u) => u.name === 'dbus.service') ? l : null
      },
      30_000,
      'units listed',
    )
    expect(units.find((u) => u.name === 'dbus.service')?.activeState).toBe('active')
  })

  it('gives the docker-collector only the Docker API calls it needs, through the proxy that alone holds the socket', async () => {
    const call = (method: string, path: string) =>
      compose(
        'exec',
        '-T',
        'docker-collector',
        'node',
        '-e',
        `fetch('http://docker-proxy:2375${path}', { method: '${method}' }).then((r) => console.log(r.status))`,
      ).trim()
    expect(call('GET', '/v1.41/containers/json')).toBe('200')
    expect(call('GET', `/v1.41/containers/${PROJECT}_gateway_1/json`)).toBe('200')
    expect(call('POST', '/v1.41/containers/create')).toBe('403')
    expect(call('GET', '/v1.41/images/json')).toBe('403')
    expect(call('POST', `/v1.41/containers/${PROJECT}_gateway_1/exec`)).toBe('403')
    // Control is off by default: even a restart is refused at the proxy.
    expect(call('POST', `/v1.41/containers/${PROJECT}_gateway_1/restart`)).toBe('403')
    // And the collector itself has no socket.
    expect(
      compose(
        'exec',
        '-T',
        'docker-collector',
        'sh',
        '-c',
        'test -e /var/run/docker.sock && echo yes || echo no',
      ).trim(),
    ).toBe('no')
  })

  it('keeps the data across down and up', async () => {
    const to = Date.now()
    const before = await waitFor(
      async () => {
        const h = HistoryResponse.parse(
          await api(`/api/history?series=mem.total&from=${to - 600_000}&to=${to}&points=1000`),
        )
        return h.columns[1].filter((v) => v !== null).length >= 2 ? h : null
      },
      30_000,
      'some history',
    )
    const points = before.columns[1].filter((v) => v !== null).length
    compose('down')
    compose('up', '-d', '--no-build')
    await waitHealthy()
    await login()
    const after = HistoryResponse.parse(
      await api(`/api/history?series=mem.total&from=${to - 600_000}&to=${to}&points=1000`),
    )
    expect(after.columns[1].filter((v) => v !== null).length).toBe(points)
  })

  it('shows an enrolled second machine running compose.agent.yaml as a second host, and as offline once it stops', {
    timeout: 150_000,
  }, async () => {
    const secrets = join(dir.path, 'secrets')
    mkdirSync(secrets, { recursive: true })
    // As the README says: enrol the machine on the central broker, copy its users file there.
    sh('docker', [
      'exec',
      containerOf('broker'),
      'node',
      '/app/scripts/run-service.mjs',
      'broker',
      'enrol',
      'add',
      'second-host',
    ])
    sh('docker', [
      'cp',
      `${containerOf('broker')}:/data/secrets/agents/second-host.json`,
      join(secrets, 'mqtt-users.json'),
    ])
    chmodSync(dir.path, 0o755)
    chmodSync(secrets, 0o755)
    chownSync(join(secrets, 'mqtt-users.json'), 10001, 10001)
    agentEnv = {
      HOMELAB_IMAGE: IMAGE,
      HOMELAB_HOST_ID: 'second-host',
      HOMELAB_MQTT_URL: `mqtt://host.docker.internal:${env.HOMELAB_MQTT_PUBLISH_PORT}`,
      HOMELAB_SECRETS_DIR: secrets,
      DOCKER_GID: env.DOCKER_GID,
    }
    sh(
      'docker-compose',
      ['-p', AGENT, '-f', 'compose.agent.yaml', 'up', '-d', '--no-build', 'sys-collector'],
      agentEnv,
    )
    const second = await waitFor(
      async () => {
        const r = await api<{ hosts: HostSummary[] }>('/api/hosts')
        const h = r.hosts.find((x) => x.host === 'second-host')
        return h?.services.find((s) => s.service === 'sys-collector' && s.availability === 'online')
          ? r
          : null
      },
      60_000,
      'the second host online',
    ).catch((e: Error) => {
      // Say why: what the agent and the central broker printed.
      const logs = (args: string[], env: NodeJS.ProcessEnv, service: string) => {
        try {
          return sh('docker-compose', [...args, 'logs', '--no-color', '--tail', '40', service], env).slice(
            -4000,
          )
        } catch (x) {
          return (x as Error).message
        }
      }
      throw new Error(
        `${e.message}\nagent:\n${logs(['-p', AGENT, '-f', 'compose.agent.yaml'], agentEnv, 'sys-collector')}\nbroker:\n${logs(['-p', PROJECT, '-f', 'compose.yaml'], env, 'broker')}`,
      )
    })
    expect(second.hosts.map((h) => h.host)).toEqual(expect.arrayContaining([hostId, 'second-host']))
    const m = await waitFor(
      async () => {
        const r = await fetch(`${base}/api/metrics/system?host=second-host`, { headers: { cookie } })
        return r.status === 200 ? SystemMetrics.parse(await r.json()) : null
      },
      30_000,
      'the second host’s first reading',
    )
    expect(m.host).toBe('second-host')
    sh('docker-compose', ['-p', AGENT, '-f', 'compose.agent.yaml', 'down'], agentEnv)
    await waitFor(
      async () => {
        const r = await api<{ hosts: HostSummary[] }>('/api/hosts')
        const h = r.hosts.find((x) => x.host === 'second-host')
        return h?.services.find((s) => s.service === 'sys-collector')?.availability === 'offline'
      },
      30_000,
      'the second host offline',
    )
  })
})
