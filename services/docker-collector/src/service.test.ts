import { createTopics } from '@homelab/contracts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  connectClient,
  HOST,
  startGateway,
  startTestBroker,
  tempDir,
  testLog,
  waitFor,
} from '../../../test/helpers/stack.js'
import { DockerCollectorService } from './service.js'

const topics = createTopics('homelab')

/** Without Docker: what a laptop without it, or a container without the socket mounted, sees. */
describe('docker-collector without a Docker engine', () => {
  const dir = tempDir('hl-nodocker-')
  let stack: Awaited<ReturnType<typeof startTestBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let svc: DockerCollectorService
  let base: string
  const admin = 'admin-token-nodocker-0123456789'
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${admin}`, ...init.headers } })

  beforeAll(async () => {
    stack = await startTestBroker(dir.path)
    gw = await startGateway(dir.path, stack.url, 'gateway', stack.credentials.gateway, admin, undefined, 5000)
    await gw.start()
    base = `http://127.0.0.1:${gw.port}`
    // A retained command left on the broker must never run when the collector (re)connects.
    const c = await connectClient(stack.url, 'gateway', stack.credentials.gateway)
    await c.publishAsync(topics.set(HOST, 'docker-collector', 'web'), 'restart', { qos: 1, retain: true })
    await c.endAsync()
    svc = new DockerCollectorService({
      url: stack.url,
      username: 'docker-collector',
      password: stack.credentials['docker-collector'],
      host: HOST,
      topics,
      dockerHost: `unix://${dir.path}/no/docker.sock`,
      intervalMs: 1000,
      control: ['*'],
      statsConcurrency: 5,
      stopTimeoutS: 1,
      log: testLog('docker-collector'),
    })
    svc.start()
  })

  afterAll(async () => {
    await svc?.stop()
    await gw?.stop()
    await stack?.broker.stop()
    dir.remove()
  })

  it('reports itself unavailable with the reason, and the rest keeps working', async () => {
    const s = await waitFor(async () => {
      const r = await (await api('/api/hosts')).json()
      const svcs = r.hosts.find((h: { host: string }) => h.host === HOST)?.services ?? []
      const d = svcs.find((x: { service: string }) => x.service === 'docker-collector')
      return d?.availability === 'online' && d.state === 'unavailable' ? d : null
    })
    expect(s.reason).toContain(`no Docker socket at ${dir.path}/no/docker.sock`)
    expect(s.reason).toContain('DOCKER_HOST')
    const list = await api('/api/docker/containers')
    expect(list.status).toBe(200)
    expect(await list.json()).toStrictEqual([])
    expect(svc.counters.get('commands.invalid')).toBe(1) // the retained command, ignored
  })

  it('answers a command with the reason instead of running it', async () => {
    const r = await api(`/api/hosts/${HOST}/services/docker-collector/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'restart', target: 'web' }),
    })
    expect(r.status).toBe(502)
    const b = await r.json()
    expect(b).toMatchObject({ outcome: 'failed', target: 'web' })
    expect(b.message).toContain('no Docker socket')
    expect(svc.counters.get('commands.failed')).toBe(1)
  })
})
