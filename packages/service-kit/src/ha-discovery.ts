import {
  HA_ORIGIN,
  type HaComponent,
  HaDeviceConfig,
  type HaGroup,
  haEntityId,
  type Topics,
} from '@homelab/contracts'
import type { HaConfig } from './config.js'
import type { Counters, Logger } from './log.js'
import type { MqttConnection } from './mqtt-connection.js'

/**
 * The components of one device, each with its unique id and default entity id made from the device id and its
 * key, so every collector names its entities the same way.
 */
export function haComponents(objectId: string) {
  const components: Record<string, HaComponent> = {}
  const add = (
    key: string,
    platform: HaComponent['platform'],
    name: string | null,
    extra: Partial<HaComponent>,
  ) => {
    components[key] = {
      platform,
      unique_id: `${objectId}_${key}`,
      default_entity_id: haEntityId(platform, objectId, key),
      name,
      ...extra,
    }
  }
  return { components, add }
}

/**
 * A start/stop switch and a restart button on a collector's plain command topic, for an entity whose control is
 * allowed; the switch shows `ON` when `runningTemplate` renders it from `stateTopic`.
 */
export function haControls(
  add: ReturnType<typeof haComponents>['add'],
  commandTopic: string,
  stateTopic: string,
  runningTemplate: string,
): void {
  add('power', 'switch', null, {
    state_topic: stateTopic,
    value_template: runningTemplate,
    command_topic: commandTopic,
    payload_on: 'start',
    payload_off: 'stop',
    state_on: 'ON',
    state_off: 'OFF',
    device_class: 'switch',
  })
  add('restart', 'button', 'Restart', {
    command_topic: commandTopic,
    payload_press: 'restart',
    device_class: 'restart',
  })
}

/** One HA device as a collector describes it; `objectId` is its discovery topic's id (and its device id). */
export interface HaDeviceSpec {
  objectId: string
  name: string
  model?: string
  manufacturer?: string
  viaDevice?: string
  components: Record<string, HaComponent>
}

export interface HaDiscoveryOptions {
  conn: MqttConnection
  topics: Topics
  host: string
  /** The collector that owns these devices: its availability is theirs. */
  service: Parameters<Topics['availability']>[1]
  /** Whether an object id is one of this publisher's (to find its own retained configs after a restart). */
  owns: (objectId: string) => boolean
  settings: HaConfig
  log: Logger
  counters: Counters
  /** Publish current state again (HA just came up). */
  onBirth?: () => void
}

/**
 * Publishes a collector's Home Assistant devices (device-based discovery, retained, QoS 1) and keeps them right:
 * a config is sent when it changes; a device that disappears is kept for `HOMELAB_HA_GONE_TTL_MS` (a container
 * recreated under the same name keeps its entities) and then removed with an empty retained config; when HA
 * announces `online` on `<prefix>/status` (its birth message is not retained), everything is sent again after a
 * random delay so a restarted HA does not get a burst from every collector at once. Configs this collector left
 * retained before a restart are read back, so a device that vanished while it was down is still removed.
 */
export class HaDiscovery {
  private readonly current = new Map<string, string>()
  /** What the broker holds (published by us, or found retained at start). */
  private readonly published = new Map<string, string>()
  private readonly goneSince = new Map<string, number>()
  private birthTimer: NodeJS.Timeout | null = null
  /** What `stop` undoes of `start`: its subscriptions and its message handler. */
  private readonly undo: Array<() => void> = []
  private sweepTimer: NodeJS.Timeout | null = null
  private readonly prefix: string
  private lastShape: string | null = null

  constructor(private readonly o: HaDiscoveryOptions) {
    this.prefix = o.settings.HOMELAB_HA_DISCOVERY_PREFIX
  }

  get enabled(): boolean {
    return this.o.settings.HOMELAB_HA_DISCOVERY === 'on'
  }

  wants(group: HaGroup): boolean {
    return this.enabled && this.o.settings.HOMELAB_HA_ENTITIES.includes(group)
  }

  configTopic(objectId: string): string {
    return `${this.prefix}/device/${objectId}/config`
  }

  start(): void {
    if (!this.enabled) return
    const { conn } = this.o
    const status = `${this.prefix}/status`
    const configs = `${this.prefix}/device/+/config`
    this.undo.push(conn.subscribe(status, 1), conn.subscribe(configs, 1))
    const off = conn.onMessage((topic, payload) => {
      if (topic === status) {
        if (payload.toString('utf8').trim() === 'online') this.scheduleBirth()
        return
      }
      const m = /^[^/]+\/device\/([^/]+)\/config$/.exec(topic)
      if (!m?.[1] || !topic.startsWith(`${this.prefix}/`) || !this.o.owns(m[1])) return
      const id = m[1]
      if (payload.length === 0) {
        this.published.delete(id)
        return
      }
      // Ours, retained from before a restart: note it; if it is not current, it is gone as of now.
      if (!this.published.has(id)) this.published.set(id, payload.toString('utf8'))
      if (!this.current.has(id) && !this.goneSince.has(id)) this.goneSince.set(id, Date.now())
    })
    this.undo.push(off)
    this.sweepTimer = setInterval(
      () => this.sweep(),
      Math.min(60_000, Math.max(250, this.o.settings.HOMELAB_HA_GONE_TTL_MS / 4)),
    )
    this.sweepTimer.unref?.()
  }

  stop(): void {
    for (const u of this.undo.splice(0)) u()
    if (this.birthTimer) clearTimeout(this.birthTimer)
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    this.birthTimer = null
    this.sweepTimer = null
  }

  /**
   * `update(build())`, only when `shape` — what the devices depend on (names, control policies, mounts…) — differs
   * from the last call: the collectors call this after every interval, and building configs is wasted work when
   * nothing changed.
   */
  updateWhenChanged(shape: string, build: () => HaDeviceSpec[]): void {
    if (shape === this.lastShape) return
    this.lastShape = shape
    this.update(build())
  }

  /** The full set of devices this collector has now: changed ones are published, missing ones start their TTL. */
  update(devices: HaDeviceSpec[]): void {
    if (!this.enabled) return
    const now = Date.now()
    const next = new Map<string, string>()
    for (const d of devices) {
      const payload = this.payload(d)
      if (payload) next.set(d.objectId, payload)
    }
    for (const id of this.current.keys())
      if (!next.has(id) && !this.goneSince.has(id)) this.goneSince.set(id, now)
    for (const id of this.published.keys())
      if (!next.has(id) && !this.goneSince.has(id)) this.goneSince.set(id, now)
    this.current.clear()
    for (const [id, p] of next) {
      this.current.set(id, p)
      this.goneSince.delete(id)
      if (this.published.get(id) !== p) this.send(id, p)
    }
    this.sweep()
  }

  private payload(d: HaDeviceSpec): string | null {
    const config: HaDeviceConfig = {
      device: {
        identifiers: [d.objectId],
        name: d.name,
        manufacturer: d.manufacturer ?? HA_ORIGIN.name,
        ...(d.model ? { model: d.model } : {}),
        sw_version: HA_ORIGIN.sw_version,
        ...(d.viaDevice ? { via_device: d.viaDevice } : {}),
      },
      origin: { ...HA_ORIGIN },
      availability: [{ topic: this.o.topics.availability(this.o.host, this.o.service) }],
      qos: 1,
      components: d.components,
    }
    const r = HaDeviceConfig.safeParse(config)
    if (!r.success) {
      this.o.counters.inc('ha.invalid')
      this.o.log.once(
        `ha-invalid:${d.objectId}`,
        `not publishing an invalid HA config for ${d.objectId}: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`,
      )
      return null
    }
    return JSON.stringify(r.data)
  }

  private send(id: string, payload: string): void {
    this.published.set(id, payload)
    this.o.conn.publish(this.configTopic(id), payload, { qos: 1, retain: true })
    this.o.counters.inc('ha.configs')
  }

  /** Removes devices gone for longer than the TTL. */
  private sweep(): void {
    const ttl = this.o.settings.HOMELAB_HA_GONE_TTL_MS
    const now = Date.now()
    for (const [id, since] of this.goneSince) {
      if (this.current.has(id)) {
        this.goneSince.delete(id)
        continue
      }
      if (now - since < ttl) continue
      this.goneSince.delete(id)
      this.published.delete(id)
      this.o.conn.publish(this.configTopic(id), '', { qos: 1, retain: true })
      this.o.counters.inc('ha.removed')
      this.o.log.info(`removed Home Assistant device ${id} (gone for ${Math.round((now - since) / 1000)} s)`)
    }
  }

  private scheduleBirth(): void {
    if (this.birthTimer) return
    const delay = Math.floor(Math.random() * this.o.settings.HOMELAB_HA_BIRTH_DELAY_MS)
    this.birthTimer = setTimeout(() => {
      this.birthTimer = null
      this.republish()
    }, delay)
  }

  /** Sends every current config again, then the state (HA restarted). */
  republish(): void {
    for (const [id, p] of this.current) this.send(id, p)
    this.o.counters.inc('ha.births')
    this.o.onBirth?.()
  }
}
