import { haIds } from '@homelab/contracts'
import { type CollectorLogin, CollectorService } from '@homelab/service-kit'
import { OllamaCollector } from './collector.js'
import { displayUrl } from './config.js'
import { GpuReader } from './gpu.js'
import { ollamaDevice } from './ha.js'
import { OllamaApi } from './ollama-api.js'
import { MeasuringProxy } from './proxy.js'

export interface OllamaCollectorServiceOptions extends CollectorLogin {
  /** Normalized OLLAMA_HOST. */
  ollamaHost: string
  intervalMs: number
  timeoutMs: number
  /** null = no proxy. */
  proxy: { port: number; bind: string; idleTimeoutMs: number; maxBodyBytes: number } | null
  gpu: { enabled: boolean; program: string }
}

/** The ollama-collector as a service: its MQTT connection, the poller and the optional measuring proxy. */
export class OllamaCollectorService extends CollectorService<OllamaCollector> {
  readonly proxy: MeasuringProxy | null

  constructor(private readonly o: OllamaCollectorServiceOptions) {
    let proxy: MeasuringProxy | null = null
    const deviceId = haIds.entity(o.host, 'ollama')
    super(o, {
      service: 'ollama-collector',
      collector: (conn, counters) => {
        proxy = o.proxy
          ? new MeasuringProxy({
              upstream: o.ollamaHost,
              ...o.proxy,
              log: o.log.child('proxy'),
              counters,
              onRecord: (r) => collector.recordInference(r),
            })
          : null
        const collector = new OllamaCollector({
          conn,
          topics: o.topics,
          host: o.host,
          api: new OllamaApi(o.ollamaHost, o.timeoutMs),
          url: displayUrl(o.ollamaHost),
          gpu: new GpuReader(o.gpu.program, o.gpu.enabled),
          proxy,
          intervalMs: o.intervalMs,
          log: o.log,
          counters,
        })
        return collector
      },
      owns: (id) => id === deviceId,
      devices: (ha, collector) => {
        if (!ha.wants('ollama')) return ha.update([])
        // Offered once Ollama has been seen (no device for a machine without Ollama); the version is its model.
        collector.onPolled.add(() => {
          const v = collector.version
          if (v !== null) ha.updateWhenChanged(v, () => [ollamaDevice(o.host, o.topics, v)])
        })
      },
    })
    this.proxy = proxy
  }

  /** The proxy first: requests measured from the start. */
  override async start(): Promise<void> {
    if (this.proxy) {
      const port = await this.proxy.start()
      this.o.log.info(
        `measuring proxy for Ollama on http://${this.o.proxy?.bind}:${port} → ${displayUrl(this.o.ollamaHost)}`,
      )
    }
    await super.start()
  }

  /** The proxy first: no request is measured after the collector stopped. */
  override async stop(): Promise<void> {
    await this.proxy?.stop()
    await super.stop()
  }
}
