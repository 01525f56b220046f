import { randomUUID } from 'node:crypto'
import {
  type Event,
  type GpuState,
  type InferenceRecord,
  type OllamaEventData,
  type OllamaEventType,
  type OllamaLoadedModel,
  type OllamaModel,
  OllamaReading,
  type Topics,
} from '@homelab/contracts'
import {
  Callbacks,
  type Counters,
  delayToNextTick,
  type Logger,
  type MqttConnection,
} from '@homelab/service-kit'
import type { GpuReader } from './gpu.js'
import { describeOllamaError, type OllamaApi, toInstalled, toLoaded } from './ollama-api.js'
import type { MeasuringProxy } from './proxy.js'

export interface OllamaCollectorDeps {
  conn: MqttConnection
  topics: Topics
  host: string
  api: OllamaApi
  /** OLLAMA_HOST without credentials, for documents and messages. */
  url: string
  gpu: GpuReader
  proxy: MeasuringProxy | null
  intervalMs: number
  log: Logger
  counters: Counters
}

const SERVICE = 'ollama-collector'

/**
 * Watches one Ollama server. Every interval it reads /api/version, then /api/tags and /api/ps (in parallel, each with a
 * timeout), publishes the whole state as one retained document, and turns what changed since the last read into
 * events: the server coming and going, models loaded and unloaded (keep-alive expiry or eviction), installed and
 * removed. Requests measured by the proxy become `ollama.inference` events as they end.
 */
export class OllamaCollector {
  /** null until the first read: nothing is known, so nothing "changed". */
  private up: boolean | null = null
  private serverVersion: string | null = null
  private reason: string | null = null
  private installed = new Map<string, OllamaModel>()
  private loaded = new Map<string, OllamaLoadedModel>()
  private gpuState: GpuState = { present: false, reason: 'not read yet', devices: [] }
  private running = false
  private busy = false
  private timer: NodeJS.Timeout | null = null
  private current: Promise<void> = Promise.resolve()
  /** Last inference event time per model, so two requests ending in the same ms stay two samples. */
  private readonly lastInferenceTs = new Map<string, number>()
  private lastInference: OllamaReading['lastInference'] = null
  /** Called after each read of Ollama (HA discovery). */
  readonly onPolled: Callbacks
  /** Test hooks. */
  onEvent: ((e: Event) => void) | null = null
  onPoll: (() => void) | null = null

  constructor(private readonly d: OllamaCollectorDeps) {
    this.onPolled = new Callbacks(d.counters, d.log)
  }

  get isUp(): boolean {
    return this.up === true
  }

  /** Ollama's version, once it has been seen (kept while it is down). */
  get version(): string | null {
    return this.serverVersion
  }

  start(): void {
    this.running = true
    this.d.conn.setStatus('unavailable', `looking for Ollama at ${this.d.url}`)
    this.current = this.poll()
    this.schedule()
  }

  async stop(): Promise<void> {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.current
  }

  private schedule(): void {
    if (!this.running) return
    this.timer = setTimeout(() => {
      this.schedule()
      if (this.busy) {
        this.d.counters.inc('polls.skipped')
        return
      }
      this.current = this.poll()
    }, delayToNextTick(this.d.intervalMs))
  }

  /** One read of Ollama (and the GPU); publishes the document and the events for what changed. */
  async poll(): Promise<void> {
    this.busy = true
    const { api, counters } = this.d
    try {
      const gpu = this.d.gpu.read()
      try {
        // While Ollama is away, one request per interval finds out whether it is back; the lists follow.
        const v = await api.version()
        const [tags, ps] = await Promise.all([api.tags(), api.ps()])
        const inst = toInstalled(tags)
        const load = toLoaded(ps)
        if (inst.invalid + load.invalid > 0) {
          counters.inc('models.invalid', inst.invalid + load.invalid)
          this.d.log.once(
            'models:invalid',
            'Ollama listed models whose names are not valid model names; skipped',
          )
        }
        this.apply(v.version.slice(0, 64), inst.models, load.models)
      } catch (e) {
        counters.inc('polls.failed')
        this.fail(describeOllamaError(e, this.d.url))
      }
      this.gpuState = await gpu
      this.publishReading()
      counters.inc('polls')
      this.onPoll?.()
      this.onPolled.call()
    } catch (e) {
      counters.inc('poll.errors')
      this.d.log.once(`poll:${(e as Error).message}`, 'reading Ollama failed:', (e as Error).message)
    } finally {
      this.busy = false
    }
  }

  private apply(version: string, installed: OllamaModel[], loaded: OllamaLoadedModel[]): void {
    const was = this.up
    const newInstalled = new Map(installed.map((m) => [m.name, m]))
    const newLoaded = new Map(loaded.map((m) => [m.name, m]))
    if (was !== true) {
      this.up = true
      this.serverVersion = version
      this.reason = null
      this.installed = newInstalled
      this.loaded = newLoaded
      this.d.conn.setStatus('ok', null)
      const data: OllamaEventData = { version, installed, loaded }
      if (was === false)
        this.publishEvent('ollama.up', 'ollama', 'info', `Ollama ${version} is up at ${this.d.url}`, data)
      else
        this.publishEvent(
          'ollama.sync',
          'ollama',
          'info',
          `Ollama ${version} at ${this.d.url}: ${installed.length} models installed, ${loaded.length} loaded`,
          data,
        )
      this.d.log.info(
        `Ollama ${version} at ${this.d.url}: ${installed.length} models, ${loaded.length} loaded`,
      )
      return
    }
    if (version !== this.serverVersion) {
      this.serverVersion = version
      // A new version means Ollama restarted: report it as the server coming back with its inventory.
      this.publishEvent('ollama.up', 'ollama', 'info', `Ollama is now version ${version}`, {
        version,
        installed,
        loaded,
      })
      this.installed = newInstalled
      this.loaded = newLoaded
      return
    }
    const now = Date.now()
    for (const [name, m] of newInstalled) {
      const before = this.installed.get(name)
      if (!before || before.digest !== m.digest)
        this.publishEvent(
          'ollama.model_installed',
          name,
          'info',
          `${name} ${before ? 'was updated' : 'was installed'} (${fmtBytes(m.size)})`,
          { model: m },
        )
    }
    for (const [name, m] of this.installed)
      if (!newInstalled.has(name))
        this.publishEvent('ollama.model_removed', name, 'info', `${name} was removed`, { model: m })
    for (const [name, m] of newLoaded) {
      const before = this.loaded.get(name)
      if (!before || before.digest !== m.digest)
        this.publishEvent(
          'ollama.model_loaded',
          name,
          'info',
          `${name} was loaded (${fmtBytes(m.size)}, ${m.gpuPercent}% in GPU memory)`,
          { model: m },
        )
    }
    for (const [name, m] of this.loaded) {
      if (newLoaded.has(name)) continue
      const expired = m.expiresAt !== null && now >= m.expiresAt - this.d.intervalMs
      this.publishEvent(
        'ollama.model_unloaded',
        name,
        'info',
        expired
          ? `${name} was unloaded (keep-alive ended)`
          : `${name} was unloaded before its keep-alive ended`,
        { model: m, reason: expired ? 'expired' : 'evicted' },
      )
    }
    this.installed = newInstalled
    this.loaded = newLoaded
  }

  private fail(reason: string): void {
    const was = this.up
    this.up = false
    this.reason = reason
    this.loaded = new Map()
    this.d.conn.setStatus('unavailable', reason)
    this.d.log.once(`down:${reason}`, reason)
    if (was === true)
      this.publishEvent('ollama.down', 'ollama', 'warning', `Ollama at ${this.d.url} is down: ${reason}`, {
        version: this.serverVersion,
        reason,
      })
  }

  /** Publishes the document again (Home Assistant restarted). */
  republish(): void {
    this.publishReading()
  }

  private publishReading(): void {
    const up = this.up === true
    const r: OllamaReading = {
      v: 1,
      ts: Date.now(),
      host: this.d.host,
      source: SERVICE,
      url: this.d.url,
      up,
      version: up ? this.serverVersion : null,
      reason: up ? null : this.reason,
      installed: up ? [...this.installed.values()] : [],
      loaded: up ? [...this.loaded.values()] : [],
      gpu: this.gpuState,
      proxy: this.d.proxy?.state() ?? null,
      lastInference: this.lastInference,
    }
    this.d.conn.publishJson(this.d.topics.reading(this.d.host, SERVICE, 'ollama'), OllamaReading, r, {
      retain: true,
    })
  }

  /** A request the proxy measured: one event (and, through the recorder, samples of its rates). */
  recordInference(r: InferenceRecord): void {
    const subject = r.model ?? 'ollama'
    let ts = Date.now()
    const last = this.lastInferenceTs.get(subject) ?? 0
    if (ts <= last) ts = last + 1
    this.lastInferenceTs.set(subject, ts)
    if (this.lastInferenceTs.size > 10_000) this.lastInferenceTs.clear()
    if (r.outcome === 'ok')
      this.lastInference = { ts, model: r.model, tokensPerSecond: r.tokensPerSecond, ttftMs: r.ttftMs }
    const what = r.model ?? `${r.endpoint} (no model named)`
    const message =
      r.outcome === 'ok'
        ? `${what}: ${r.completionTokens ?? '?'} tokens${r.tokensPerSecond !== null ? ` at ${r.tokensPerSecond} tokens/s` : ''}${r.ttftMs !== null ? `, first token after ${Math.round(r.ttftMs)} ms` : ''}`
        : `${what}: ${r.outcome}${r.status ? ` (HTTP ${r.status})` : ''}${r.error ? `: ${r.error}` : ''}`
    this.publishEvent(
      'ollama.inference',
      subject,
      r.outcome === 'ok' || r.outcome === 'aborted' ? 'info' : 'warning',
      message,
      r,
      r.requestId,
      ts,
    )
  }

  private publishEvent(
    type: OllamaEventType,
    subject: string,
    severity: Event['severity'],
    message: string,
    data: OllamaEventData | InferenceRecord,
    id: string = randomUUID(),
    ts: number = Date.now(),
  ): void {
    const e = this.d.conn.publishEvent({ type, subject, severity, message, data, id, ts })
    if (e) this.onEvent?.(e)
  }
}

function fmtBytes(n: number): string {
  const gb = n / 1e9
  return gb >= 1 ? `${gb.toFixed(1)} GB` : `${Math.round(n / 1e6)} MB`
}
