import { createTopics, type Event, haIds } from '@homelab/contracts'
import { DockerCollectorService } from '@homelab/docker-collector'
import { OllamaCollectorService } from '@homelab/ollama-collector'
import { HaConfig } from '@homelab/service-kit'
import { SysCollectorService } from '@homelab/sys-collector'
import { SystemdCollectorService } from '@homelab/systemd-collector'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  docker,
  dockerAvailable,
  ensureTestImage,
  removeTestContainers,
  runContainer,
} from './helpers/docker.js'
import { FakeOllama, fakeModel } from './helpers/fake-ollama.js'
import {
  componentState,
  type DeviceConfig,
  renderTemplate,
  validateDeviceConfig,
} from './helpers/ha-validator.js'
import { describeWith, mosquittoPath } from './helpers/infra.js'
import { MOSQUITTO_USERS, startMosquitto } from './helpers/mosquitto.js'
import { connectClient, HOST, startTestBroker, tempDir, testLog, waitFor } from './helpers/stack.js'
import { ensureSystemdImage, startSystemd } from './helpers/systemd.js'

const topics = createTopics('homelab')
const TTL = 2000
const ha = HaConfig.parse({ HOMELAB_HA_GONE_TTL_MS: String(TTL), HOMELAB_HA_BIRTH_DELAY_MS: '300' })
const P = `hl-ha-${process.pid}`
const ALLOWED = `${P}-allowed`
const DENIED = `${P}-denied`
const GONE = `${P}-gone`
const hostId = haIds.host(HOST)

type Creds = Record<string, string | undefined>

/** Home Assistant's side of the broker: every discovery config and every state payload, as HA would see them. */
class HaView {
  readonly configs = new Map<string, string>()
  readonly payloads = new Map<string, string>()
  configMessages = 0
  readonly events: Event[] = []
  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      const text = payload.toString('utf8')
      const m = /^homeassistant\/device\/([^/]+)\/config$/.exec(topic)
      if (m?.[1]) {
        if (!m[1].startsWith(hostId)) return
        this.configMessages++
        if (text === '') this.configs.delete(m[1])
        else this.configs.set(m[1], text)
        return
      }
      if (text === '') this.payloads.delete(topic)
      else this.payloads.set(topic, text)
      if (topics.parse(topic)?.channel === 'event') this.events.push(JSON.parse(text) as Event)
    })
  }
  async subscribe() {
    await this.client.subscribeAsync(['homeassistant/device/+/config', 'homelab/#'], { qos: 1 })
  }
  devices(): Map<string, DeviceConfig> {
    const out = new Map<string, DeviceConfig>()
    for (const [id, text] of this.configs) {
      const r = validateDeviceConfig(JSON.parse(text), id)
      expect(r.errors).toEqual([])
      if (r.config) out.set(id, r.config)
    }
    return out
  }
  uniqueIds(): string[] {
    return [...this.devices().values()].flatMap((d) => Object.values(d.components).map((c) => c.unique_id))
  }
}

function startCollectors(url: string, creds: Creds, busAddress: string | null, ollamaUrl: string | null) {
  const common = { url, host: HOST, topics, ha }
  const sys = new SysCollectorService({
    ...common,
    username: 'sys-collector',
    password: creds['sys-collector'],
    intervalMs: 1000,
    paths: { proc: '/proc', sys: '/sys', rootfs: '' },
    log: testLog('sys-collector'),
  })
  const dk = new DockerCollectorService({
    ...common,
    username: 'docker-collector',
    password: creds['docker-collector'],
    dockerHost: 'unix:///var/run/docker.sock',
    intervalMs: 1000,
    control: [`${P}-allowed*`, `${P}-gone*`],
    statsConcurrency: 5,
    stopTimeoutS: 1,
    log: testLog('docker-collector'),
  })
  const sd = busAddress
    ? new SystemdCollectorService({
        ...common,
        username: 'systemd-collector',
        password: creds['systemd-collector'],
        busAddress,
        units: ['hl-ha-*.service', 'dbus.service'],
        control: ['hl-ha-web.service'],
        intervalMs: 1000,
        resyncMs: 60_000,
        jobTimeoutMs: 8000,
        log: testLog('systemd-collector'),
      })
    : null
  const ol = ollamaUrl
    ? new OllamaCollectorService({
        ...common,
        username: 'ollama-collector',
        password: creds['ollama-collector'],
        ollamaHost: ollamaUrl,
        intervalMs: 500,
        timeoutMs: 1000,
        proxy: { port: 0, bind: '127.0.0.1', idleTimeoutMs: 5000, maxBodyBytes: 1024 * 1024 },
        gpu: { enabled: false, program: 'nvidia-smi' },
        log: testLog('ollama-collector'),
      })
    : null
  return {
    ollama: ol,
    async start() {
      await sys.start()
      dk.start()
      sd?.start()
      await ol?.start()
    },
    async stop() {
      await ol?.stop()
      await sd?.stop()
      await dk.stop()
      await sys.stop()
    },
  }
}

/** Every component's state topic resolves through its template to a value HA accepts. */
function checkStates(view: HaView, unavailable: string[] = []) {
  let checked = 0
  for (const [id, d] of view.devices()) {
    for (const [key, c] of Object.entries(d.components)) {
      const s = componentState(c, d.shared, view.payloads)
      if (!s) {
        expect(c.platform, `${id}/${key} has no state topic`).toBe('button')
        continue
      }
      const where = `${id}/${key} (${c.value_template}) on ${s.topic}`
      // An entity its own availability template marks offline shows "unavailable" in HA: no value to check.
      const avail = (c.availability as Array<{ topic: string; value_template?: string }> | undefined) ?? []
      const offline = avail.some((a) => {
        if (!a.value_template) return false
        const p = view.payloads.get(a.topic)
        expect(p, `${where}: availability topic ${a.topic}`).toBeDefined()
        return renderTemplate(a.value_template, p ?? '') !== 'online'
      })
      if (offline) {
        unavailable.push(`${id}/${key}`)
        continue
      }
      expect(s.value, where).not.toBe('')
      if (c.platform === 'sensor' && (c.state_class || c.unit_of_measurement))
        expect(Number.isFinite(Number(s.value)), `${where} → "${s.value}" is not a number`).toBe(true)
      if (c.platform === 'binary_sensor')
        expect([c.payload_on ?? 'ON', c.payload_off ?? 'OFF'], where).toContain(s.value)
      if (c.platform === 'switch')
        expect([c.state_on ?? 'ON', c.state_off ?? 'OFF'], where).toContain(s.value)
      for (const a of (c.availability as Array<{ topic: string; value_template?: string }> | undefined) ??
        []) {
        if (!a.value_template) continue
        const p = view.payloads.get(a.topic)
        expect(p, `${where}: availability topic ${a.topic}`).toBeDefined()
      }
      checked++
    }
  }
  return checked
}

describeWith(
  'a Docker engine (real containers, and a real systemd booted in one)',
  await dockerAvailable(),
  'install Docker and debootstrap and start dockerd (apt-get install -y docker.io debootstrap; dockerd &), as .ci/run does',
)('Home Assistant discovery', () => {
  const dir = tempDir('hl-ha-')
  const fake = new FakeOllama()
  let stack: Awaited<ReturnType<typeof startTestBroker>>
  let sd: Awaited<ReturnType<typeof startSystemd>>
  let view: HaView
  let collectors: ReturnType<typeof startCollectors>

  beforeAll(async () => {
    await ensureTestImage()
    await ensureSystemdImage()
    sd = await startSystemd(`${P}-systemd`)
    sd.writeUnit('hl-ha-web.service', '[Service]\nExecStart=/bin/sleep infinity\n')
    sd.writeUnit('hl-ha-other.service', '[Service]\nExecStart=/bin/sleep infinity\n')
    sd.systemctl('start hl-ha-web.service hl-ha-other.service')
    fake.models = [fakeModel('llama3.2:3b', 2_019_393_189)]
    await fake.start()
    await runContainer({ name: ALLOWED, cmd: ['sleep', '300'] })
    await runContainer({ name: DENIED, cmd: ['sleep', '300'] })
    await runContainer({ name: GONE, cmd: ['sleep', '300'] })
    await docker.getContainer(ALLOWED).stop({ t: 0 })
    stack = await startTestBroker(dir.path)
    view = new HaView(await connectClient(stack.url, 'homeassistant', 'ha-password-123'))
    await view.subscribe()
    collectors = startCollectors(stack.url, stack.credentials, sd.address, fake.url)
    await collectors.start()
    await waitFor(
      () =>
        view.configs.has(hostId) &&
        view.configs.has(haIds.entity(HOST, 'container', ALLOWED)) &&
        view.configs.has(haIds.entity(HOST, 'unit', 'hl-ha-web.service')) &&
        view.configs.has(haIds.entity(HOST, 'ollama')),
      30_000,
      'discovery of host, containers, units and Ollama',
    )
  }, 240_000)

  afterAll(async () => {
    await collectors?.stop()
    await view?.client.endAsync()
    await stack?.broker.stop()
    await fake.stop()
    await sd?.remove()
    await removeTestContainers()
    dir.remove()
  })

  it('publishes device configs that pass Home Assistant’s schema, with unique ids and controls only where allowed', () => {
    const devices = view.devices()
    const ids = view.uniqueIds()
    expect(new Set(ids).size).toBe(ids.length)
    const host = devices.get(hostId)!
    expect(host.device.identifiers).toEqual([hostId])
    expect(host.shared.availability).toEqual([{ topic: `homelab/${HOST}/sys-collector/availability` }])
    expect(Object.keys(host.components)).toEqual(
      expect.arrayContaining(['cpu', 'load_1', 'load_5', 'memory', 'memory_used', 'uptime']),
    )
    expect(Object.keys(host.components).some((k) => k.startsWith('disk_'))).toBe(true)
    expect(host.components.load_5?.enabled_by_default).toBe(false)
    expect(host.components.uptime?.entity_category).toBe('diagnostic')
    const allowed = devices.get(haIds.entity(HOST, 'container', ALLOWED))!
    expect(allowed.device.via_device).toBe(hostId)
    expect(Object.keys(allowed.components).sort()).toEqual([
      'cpu',
      'memory',
      'power',
      'restart',
      'restarts',
      'running',
    ])
    expect(allowed.components.power?.command_topic).toBe(`homelab/${HOST}/docker-collector/set/${ALLOWED}`)
    const denied = devices.get(haIds.entity(HOST, 'container', DENIED))!
    expect(Object.keys(denied.components).sort()).toEqual(['cpu', 'memory', 'restarts', 'running'])
    const web = devices.get(haIds.entity(HOST, 'unit', 'hl-ha-web.service'))!
    expect(Object.keys(web.components).sort()).toEqual(['active', 'failed', 'power', 'restart', 'state'])
    const other = devices.get(haIds.entity(HOST, 'unit', 'hl-ha-other.service'))!
    expect(Object.keys(other.components).sort()).toEqual(['active', 'failed', 'state'])
    const ollama = devices.get(haIds.entity(HOST, 'ollama'))!
    expect(Object.keys(ollama.components).sort()).toEqual([
      'loaded_models',
      'tokens_per_second',
      'up',
      'vram_used',
    ])
    for (const d of devices.values())
      for (const c of Object.values(d.components)) expect(c.unique_id.startsWith(hostId)).toBe(true)
  })

  it('every state topic and value template resolves to a value from the payloads actually published', async () => {
    await waitFor(
      () =>
        view.payloads.has(`homelab/${HOST}/sys-collector/reading/system`) &&
        view.payloads.has(`homelab/${HOST}/ollama-collector/reading/ollama`),
      10_000,
      'state payloads',
    )
    // Before any measured request, tokens/s is unavailable (its availability template says so), not 0 or NaN.
    const unavailable: string[] = []
    checkStates(view, unavailable)
    expect(unavailable).toEqual([`${haIds.entity(HOST, 'ollama')}/tokens_per_second`])
    const proxy = `http://127.0.0.1:${collectors.ollama?.proxy?.port}`
    await (
      await fetch(`${proxy}/api/generate`, {
        method: 'POST',
        body: JSON.stringify({ model: 'llama3.2:3b', prompt: 'hi' }),
      })
    ).arrayBuffer()
    await waitFor(
      () =>
        JSON.parse(view.payloads.get(`homelab/${HOST}/ollama-collector/reading/ollama`) ?? '{}')
          .lastInference,
      10_000,
      'the measured request in the Ollama document',
    )
    const after: string[] = []
    expect(checkStates(view, after)).toBeGreaterThan(30)
    expect(after).toEqual([])
    // The values are the right ones, not just numbers.
    const devices = view.devices()
    const state = (id: string, key: string) => {
      const d = devices.get(id)!
      return componentState(d.components[key]!, d.shared, view.payloads)?.value
    }
    expect(state(haIds.entity(HOST, 'container', DENIED), 'running')).toBe('ON')
    expect(state(haIds.entity(HOST, 'container', ALLOWED), 'running')).toBe('OFF')
    expect(state(haIds.entity(HOST, 'container', ALLOWED), 'power')).toBe('OFF')
    expect(state(haIds.entity(HOST, 'unit', 'hl-ha-web.service'), 'active')).toBe('ON')
    expect(state(haIds.entity(HOST, 'unit', 'hl-ha-web.service'), 'state')).toBe('active (running)')
    expect(state(haIds.entity(HOST, 'ollama'), 'up')).toBe('ON')
    expect(state(haIds.entity(HOST, 'ollama'), 'tokens_per_second')).toBe('80')
    expect(state(haIds.entity(HOST, 'ollama'), 'loaded_models')).toBe('1')
    const sys = JSON.parse(view.payloads.get(`homelab/${HOST}/sys-collector/reading/system`)!)
    expect(Number(state(hostId, 'memory_used'))).toBe(sys.memory.used)
  })

  it('a switch command sent as Home Assistant sends it starts an allowed stopped container, and is refused for another', async () => {
    const haClient = view.client
    const allowedState = () =>
      componentState(
        view.devices().get(haIds.entity(HOST, 'container', ALLOWED))!.components.power!,
        {},
        view.payloads,
      )?.value
    expect(allowedState()).toBe('OFF')
    await haClient.publishAsync(`homelab/${HOST}/docker-collector/set/${ALLOWED}`, 'start', { qos: 1 })
    await waitFor(
      async () => (await docker.getContainer(ALLOWED).inspect()).State.Running,
      10_000,
      'container started',
    )
    // The result shows in the state HA reads.
    await waitFor(() => allowedState() === 'ON', 10_000, 'switch state ON')
    await docker.getContainer(DENIED).stop({ t: 0 })
    await haClient.publishAsync(`homelab/${HOST}/docker-collector/set/${DENIED}`, 'start', { qos: 1 })
    const refused = await waitFor(
      () => view.events.find((e) => e.type === 'command.result' && e.subject === DENIED),
      10_000,
      'the refusal in the audit trail',
    )
    expect(refused.data).toMatchObject({ outcome: 'refused', via: 'set', requestedBy: 'mqtt:set' })
    expect((await docker.getContainer(DENIED).inspect()).State.Running).toBe(false)
    // The HA user may publish commands and its status, nothing else.
    await expect(
      haClient.publishAsync(`homelab/${HOST}/docker-collector/reading/container/x`, '{}', { qos: 1 }),
    ).rejects.toThrow(/authorized/i)
  })

  it('republishes every config after Home Assistant announces itself online', async () => {
    const before = view.configMessages
    const devices = view.configs.size
    await view.client.publishAsync('homeassistant/status', 'online', { qos: 1 })
    await waitFor(() => view.configMessages - before >= devices, 10_000, `${devices} configs again`)
    expect(view.configs.size).toBe(devices)
  })

  it('removes the device of a container gone for longer than the TTL, and not before', async () => {
    const id = haIds.entity(HOST, 'container', GONE)
    expect(view.configs.has(id)).toBe(true)
    const removedAt = Date.now()
    await docker.getContainer(GONE).remove({ force: true })
    await waitFor(() => !view.configs.has(id), TTL + 5000, 'the gone container’s config to be emptied')
    expect(Date.now() - removedAt).toBeGreaterThanOrEqual(TTL - 100)
  })

  it('restarting the collectors produces no new unique ids, and restarting them after a removal still removes it', async () => {
    const before = new Set(view.uniqueIds())
    const configsBefore = new Map(view.configs)
    await collectors.stop()
    // A container removed while nobody watches: its config is only in the broker now.
    const lateName = `${P}-late`
    await runContainer({ name: lateName, cmd: ['sleep', '300'] })
    collectors = startCollectors(stack.url, stack.credentials, sd.address, fake.url)
    await collectors.start()
    const lateId = haIds.entity(HOST, 'container', lateName)
    await waitFor(() => view.configs.has(lateId), 20_000, 'the new container')
    await collectors.stop()
    await docker.getContainer(lateName).remove({ force: true })
    collectors = startCollectors(stack.url, stack.credentials, sd.address, fake.url)
    await collectors.start()
    await waitFor(
      () => !view.configs.has(lateId),
      TTL + 15_000,
      'the config of the container removed while stopped',
    )
    await waitFor(() => view.configs.get(hostId) === configsBefore.get(hostId), 20_000, 'host config back')
    const after = new Set(view.uniqueIds())
    expect([...after].filter((u) => !before.has(u))).toEqual([])
    expect([...before].filter((u) => !after.has(u))).toEqual([])
  })
})

describeWith(
  'Mosquitto and a Docker engine',
  mosquittoPath() !== null && (await dockerAvailable()),
  'apt-get install -y mosquitto mosquitto-clients docker.io and start dockerd, as .ci/run does',
)('Home Assistant discovery through Mosquitto 2 (MQTT 5)', () => {
  const dir = tempDir('hl-ha-mq-')
  let mq: Awaited<ReturnType<typeof startMosquitto>>
  let view: HaView
  let collectors: ReturnType<typeof startCollectors>
  const name = `${P}-allowed-mq`

  beforeAll(async () => {
    await ensureTestImage()
    await runContainer({ name, cmd: ['sleep', '300'] })
    await docker.getContainer(name).stop({ t: 0 })
    mq = await startMosquitto(mosquittoPath()!, dir.path)
    view = new HaView(await connectClient(mq.url, 'homeassistant', MOSQUITTO_USERS.homeassistant))
    await view.subscribe()
    collectors = startCollectors(mq.url, MOSQUITTO_USERS, null, null)
    await collectors.start()
    await waitFor(
      () => view.configs.has(hostId) && view.configs.has(haIds.entity(HOST, 'container', name)),
      20_000,
      'discovery through Mosquitto',
    )
  }, 120_000)

  afterAll(async () => {
    await collectors?.stop()
    await view?.client.endAsync()
    await mq?.stop()
    await removeTestContainers()
    dir.remove()
  })

  it('publishes valid configs whose templates resolve, and Home Assistant’s switch starts the container', async () => {
    await waitFor(
      () => view.payloads.has(`homelab/${HOST}/sys-collector/reading/system`),
      10_000,
      'system reading',
    )
    expect(checkStates(view)).toBeGreaterThan(10)
    const ids = view.uniqueIds()
    expect(new Set(ids).size).toBe(ids.length)
    await view.client.publishAsync(`homelab/${HOST}/docker-collector/set/${name}`, 'start', { qos: 1 })
    await waitFor(async () => (await docker.getContainer(name).inspect()).State.Running, 10_000, 'started')
    const before = view.configMessages
    await view.client.publishAsync('homeassistant/status', 'online', { qos: 1 })
    await waitFor(() => view.configMessages - before >= 2, 10_000, 'republished through Mosquitto')
  })
})
