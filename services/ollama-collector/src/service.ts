import { haIds, type Topics } from '@homelab/contracts'
import {
  Counters,
  collectorDiscovery,
  type HaConfig,
  type HaDiscovery,
  type Logger,
  type MqttConnection,
  serviceConnection,
} from '@homelab/service-kit'
import { OllamaCollector } from './collector.js'
import { displayUrl } from './config.js'
import { GpuReader } from './gpu.js'
import { ollamaDevice } from './ha.js'
import { OllamaApi } from './ollama-api.js'
import { MeasuringProxy } from './proxy.js'

export interface OllamaCollectorServiceOptions {
  url: string
  username: string
  password: string | undefined
  host: string
  topics: Topics
  /** Normalized OLLAMA_HOST. */
  ollamaHost: string
  intervalMs: number
  timeoutMs: number
  /** null = no proxy. */
  proxy: { port: number; bind: string; idleTimeoutMs: number; maxBodyBytes: number } | null
  gpu: { enabled: boolean; program: string }
  log: Logger
  counters?: Counters
  /** Home Assistant discovery of the Ollama device (omit = off). */
  ha?: HaConfig
}

/** The ollama-collector as a service: its MQTT connection, the poller and the optional measuring proxy. */
export class OllamaCollectorService {
  readonly conn: MqttConnection
  readonly collector: OllamaCollector
  readonly proxy: MeasuringProxy | null
  readonly counters: Counters
  readonly ha: HaDiscovery | null

  constructor(private readonly o: OllamaCollectorServiceOptions) {
    this.counters = o.counters ?? new Counters()
    this.conn = serviceConnection(o, 'ollama-collector', this.counters)
    this.proxy = o.proxy
      ? new MeasuringProxy({
          upstream: o.ollamaHost,
          ...o.proxy,
          log: o.log.child('proxy'),
          counters: this.counters,
          onRecord: (r) => this.collector.recordInference(r),
        })
      : null
    this.collector = new OllamaCollector({
      conn: this.conn,
      topics: o.topics,
      host: o.host,
      api: new OllamaApi(o.ollamaHost, o.timeoutMs),
      url: displayUrl(o.ollamaHost),
      gpu: new GpuReader(o.gpu.program, o.gpu.enabled),
      proxy: this.proxy,
      intervalMs: o.intervalMs,
      log: o.log,
      counters: this.counters,
    })
    const deviceId = haIds.entity(o.host, 'ollama')
    this.ha = collectorDiscovery(
      o,
      this.conn,
      'ollama-collector',
      this.counters,
      (id) => id === deviceId,
      () => this.collector.republish(),
    )
    const ha = this.ha
    if (ha?.wants('ollama')) {
      // Offered once Ollama has been seen (no device for a machine without Ollama); the version is its model.
      this.collector.onPolled.add(() => {
        const v = this.collector.version
        if (v !== null) ha.updateWhenChanged(v, () => [ollamaDevice(o.host, o.topics, v)])
      })
    } else ha?.update([])
  }

  async start(): Promise<void> {
    this.ha?.start()
    if (this.proxy) {
      const port = await this.proxy.start()
      this.o.log.info(
        `measuring proxy for Ollama on http://${this.o.proxy?.bind}:${port} → ${displayUrl(this.o.ollamaHost)}`,
      )
    }
    this.conn.start()
    this.collector.start()
  }

  async stop(): Promise<void> {
    this.ha?.stop()
    await this.proxy?.stop()
    await this.collector.stop()
    await this.conn.stop()
  }
}
