import { z } from 'zod'
import { EpochMs, envelopeShape } from './envelope.js'
import type { Event } from './events.js'
import type { Sample } from './series.js'

/**
 * A model name as Ollama writes it: `[registry/][namespace/]model[:tag]` ("llama3.2:3b",
 * "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"). It may contain "/" and ":", so it is never a topic level:
 * models live inside the one `reading/ollama` document, are the `subject` of their events, and a label value in
 * series names (`{model=…}`).
 */
export const ModelName = z
  .string()
  .min(1)
  .max(256)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/,
    'a model name is letters, digits and "._:/@+-", starting with a letter or digit',
  )
export type ModelName = z.infer<typeof ModelName>

/** An installed model (`/api/tags`). Sizes in bytes; `modifiedAt` in ms. */
export const OllamaModel = z.object({
  name: ModelName,
  digest: z.string().max(128),
  size: z.number().min(0),
  modifiedAt: EpochMs.nullable(),
  format: z.string().max(64).nullable(),
  family: z.string().max(64).nullable(),
  parameterSize: z.string().max(32).nullable(),
  quantization: z.string().max(32).nullable(),
})
export type OllamaModel = z.infer<typeof OllamaModel>

/**
 * A model loaded in memory (`/api/ps`). `gpuPercent` = sizeVram / size (100 = wholly in GPU memory, 0 = on the
 * CPU); `expiresAt` = when keep-alive unloads it (null when it never does).
 */
export const OllamaLoadedModel = z.object({
  name: ModelName,
  digest: z.string().max(128),
  size: z.number().min(0),
  sizeVram: z.number().min(0),
  gpuPercent: z.number().min(0).max(100),
  contextLength: z.number().int().min(0).nullable(),
  expiresAt: EpochMs.nullable(),
  parameterSize: z.string().max(32).nullable(),
  quantization: z.string().max(32).nullable(),
})
export type OllamaLoadedModel = z.infer<typeof OllamaLoadedModel>

/** One NVIDIA GPU as `nvidia-smi` reports it. Percentages 0–100, bytes, °C; null where the driver says N/A. */
export const GpuDevice = z.object({
  index: z.number().int().min(0),
  name: z.string().max(128),
  utilization: z.number().min(0).max(100).nullable(),
  memoryUsed: z.number().min(0).nullable(),
  memoryTotal: z.number().min(0).nullable(),
  temperature: z.number().nullable(),
})
export type GpuDevice = z.infer<typeof GpuDevice>

/** `present: false` with the reason when the machine has no NVIDIA GPU (or GPU reading is off). */
export const GpuState = z.object({
  present: z.boolean(),
  reason: z.string().max(500).nullable(),
  devices: z.array(GpuDevice).max(16),
})
export type GpuState = z.infer<typeof GpuState>

/** The measuring proxy, when it is enabled. */
export const ProxyState = z.object({
  listen: z.string().max(128),
  /** Requests in flight through the proxy now (all paths). */
  active: z.number().int().min(0),
  /** Inference requests (generate, chat, OpenAI chat) in flight now. */
  activeInferences: z.number().int().min(0),
  /** Since the collector started. */
  requests: z.number().int().min(0),
  errors: z.number().int().min(0),
})
export type ProxyState = z.infer<typeof ProxyState>

/**
 * `reading/ollama`, retained, once per interval: the server, its installed and loaded models, the GPU and the
 * proxy. `up: false` carries the reason (not installed, not reachable) and empty model lists.
 */
export const OllamaReading = z.object({
  ...envelopeShape,
  /** OLLAMA_HOST as the collector uses it (credentials never included). */
  url: z.string().max(512),
  up: z.boolean(),
  version: z.string().max(64).nullable(),
  reason: z.string().max(1000).nullable(),
  installed: z.array(OllamaModel).max(2000),
  loaded: z.array(OllamaLoadedModel).max(256),
  gpu: GpuState,
  proxy: ProxyState.nullable(),
  /** The latest request the proxy measured successfully (null before the first, or without the proxy). */
  lastInference: z
    .object({
      ts: EpochMs,
      model: ModelName.nullable(),
      tokensPerSecond: z.number().min(0).nullable(),
      ttftMs: z.number().min(0).nullable(),
    })
    .nullable()
    .default(null),
})
export type OllamaReading = z.infer<typeof OllamaReading>

/** Public series of the Ollama reading and of inference events (label `model`, `gpu` = device index). */
export const ollamaSeries = {
  up: 'ollama.up',
  loadedModels: 'ollama.loaded_models',
  vramUsed: 'ollama.vram_used',
  activeInferences: 'ollama.active_inferences',
  tokensPerSecond: (m: string) => `ollama.tokens_per_s{model=${m}}`,
  promptTokensPerSecond: (m: string) => `ollama.prompt_tokens_per_s{model=${m}}`,
  ttft: (m: string) => `ollama.ttft_ms{model=${m}}`,
  duration: (m: string) => `ollama.duration_ms{model=${m}}`,
  completionTokens: (m: string) => `ollama.completion_tokens{model=${m}}`,
  gpuUtilization: (i: number) => `gpu.utilization{gpu=${i}}`,
  gpuMemUsed: (i: number) => `gpu.mem_used{gpu=${i}}`,
  gpuTemperature: (i: number) => `gpu.temperature{gpu=${i}}`,
} as const

export function ollamaSamples(r: OllamaReading): Sample[] {
  const s = ollamaSeries
  const out: Sample[] = [
    [s.up, r.up ? 1 : 0],
    [s.loadedModels, r.loaded.length],
    [s.vramUsed, r.loaded.reduce((a, m) => a + m.sizeVram, 0)],
  ]
  if (r.proxy) out.push([s.activeInferences, r.proxy.activeInferences])
  for (const g of r.gpu.devices) {
    if (g.utilization !== null) out.push([s.gpuUtilization(g.index), g.utilization])
    if (g.memoryUsed !== null) out.push([s.gpuMemUsed(g.index), g.memoryUsed])
    if (g.temperature !== null) out.push([s.gpuTemperature(g.index), g.temperature])
  }
  return out
}

/** The inference endpoints the proxy measures. */
export const INFERENCE_ENDPOINTS = ['generate', 'chat', 'openai.chat'] as const
export const InferenceEndpoint = z.enum(INFERENCE_ENDPOINTS)
export type InferenceEndpoint = z.infer<typeof InferenceEndpoint>

/**
 * One inference request through the proxy (`data` of `ollama.inference`). Never any prompt or response content.
 * - `outcome`: `ok` (upstream answered 2xx and the response ended), `error` (upstream answered ≥ 400),
 *   `aborted` (the client went away first), `timeout` (upstream sent nothing for the idle timeout),
 *   `unreachable` (no connection to Ollama), `invalid` (a 2xx whose body could not be read as Ollama's format).
 * - `ttftMs`: request received → first response byte of a stream (Ollama sends nothing before the first token);
 *   for a non-streamed answer, Ollama's own load + prompt-eval time.
 * - `tokensPerSecond`: Ollama's `eval_count / eval_duration`; for the OpenAI endpoint, completion tokens over the
 *   time from first to last chunk (null when not streamed or without a `usage` block).
 */
export const InferenceRecord = z.object({
  requestId: z.string().max(64),
  endpoint: InferenceEndpoint,
  model: ModelName.nullable(),
  stream: z.boolean(),
  status: z.number().int().min(0).max(999),
  outcome: z.enum(['ok', 'error', 'aborted', 'timeout', 'unreachable', 'invalid']),
  startedAt: EpochMs,
  ttftMs: z.number().min(0).nullable(),
  totalMs: z.number().min(0),
  loadMs: z.number().min(0).nullable(),
  promptTokens: z.number().int().min(0).nullable(),
  completionTokens: z.number().int().min(0).nullable(),
  promptTokensPerSecond: z.number().min(0).nullable(),
  tokensPerSecond: z.number().min(0).nullable(),
  doneReason: z.string().max(32).nullable(),
  /** Bytes sent to the client. */
  bytes: z.number().int().min(0),
  /** Upstream's `error` text (≤ 300 characters) or the proxy's own reason; never request content. */
  error: z.string().max(300).nullable(),
})
export type InferenceRecord = z.infer<typeof InferenceRecord>

/**
 * Ollama event types (`event/<type>`; subject = the model name, or "ollama" for the server):
 * `ollama.up` / `ollama.down` when the server becomes reachable or stops being reachable (`version`, `reason`);
 * `ollama.sync` the full inventory after the collector (re)starts; `ollama.model_loaded` / `ollama.model_unloaded`
 * when /api/ps changes (`model`, `reason` for unloads: "expired" or "evicted"); `ollama.model_installed` /
 * `ollama.model_removed` when /api/tags changes; `ollama.inference` one per measured request (`InferenceRecord`).
 */
export const OLLAMA_EVENT_TYPES = [
  'ollama.up',
  'ollama.down',
  'ollama.sync',
  'ollama.model_loaded',
  'ollama.model_unloaded',
  'ollama.model_installed',
  'ollama.model_removed',
  'ollama.inference',
] as const
export type OllamaEventType = (typeof OLLAMA_EVENT_TYPES)[number]

/** `data` of server and model events. */
export const OllamaEventData = z
  .object({
    version: z.string().max(64).nullable().optional(),
    reason: z.string().max(1000).nullable().optional(),
    installed: z.array(OllamaModel).optional(),
    loaded: z.array(OllamaLoadedModel).optional(),
    model: z.union([OllamaModel, OllamaLoadedModel]).optional(),
  })
  .loose()
export type OllamaEventData = z.infer<typeof OllamaEventData>

/** Samples an inference event contributes to the time series (at the event's ts = when the request ended). */
export function inferenceSamples(e: Event): Sample[] {
  const r = InferenceRecord.safeParse(e.data)
  if (!r.success || r.data.outcome !== 'ok' || r.data.model === null) return []
  const d = r.data
  const m = d.model as string
  const s = ollamaSeries
  const out: Sample[] = [[s.duration(m), d.totalMs]]
  if (d.ttftMs !== null) out.push([s.ttft(m), d.ttftMs])
  if (d.tokensPerSecond !== null) out.push([s.tokensPerSecond(m), d.tokensPerSecond])
  if (d.promptTokensPerSecond !== null) out.push([s.promptTokensPerSecond(m), d.promptTokensPerSecond])
  if (d.completionTokens !== null) out.push([s.completionTokens(m), d.completionTokens])
  return out
}

/**
 * GET /api/ollama/status — DESIGN.md's OllamaStatus (`running`, `models` = installed model names,
 * `activeInferences` = inference requests in flight through the proxy, 0 without it), plus the detail.
 * `stale` when the collector is offline and this is the last known state.
 */
export const OllamaStatus = z.object({
  host: z.string(),
  running: z.boolean(),
  models: z.array(ModelName),
  activeInferences: z.number().int().min(0),
  collector: z.enum(['online', 'offline', 'unknown']),
  url: z.string().nullable(),
  version: z.string().nullable(),
  reason: z.string().nullable(),
  loaded: z.array(ModelName),
  gpu: GpuState.nullable(),
  proxy: ProxyState.nullable(),
  updatedAt: EpochMs.nullable(),
  stale: z.boolean(),
})
export type OllamaStatus = z.infer<typeof OllamaStatus>

/** GET /api/ollama/models element: an installed model, and whether it is loaded now. */
export const OllamaModelView = z.object({ ...OllamaModel.shape, loaded: z.boolean() })
export type OllamaModelView = z.infer<typeof OllamaModelView>

/** GET /api/ollama/running element: a loaded model and the keep-alive countdown at `updatedAt`. */
export const OllamaRunningView = z.object({
  ...OllamaLoadedModel.shape,
  expiresInMs: z.number().nullable(),
  updatedAt: EpochMs,
})
export type OllamaRunningView = z.infer<typeof OllamaRunningView>

const Column = z.array(z.number().nullable())

/**
 * GET /api/ollama/inference: per-model series over [from, to] on one time axis (bucket averages of the requests
 * that ended in each bucket; null = no request) and the most recent requests in that range (never their content).
 */
export const OllamaInferenceHistory = z.object({
  host: z.string(),
  from: EpochMs,
  to: EpochMs,
  tier: z.enum(['raw', '1m', '1h']),
  stepMs: z.number(),
  x: z.array(z.number()),
  models: z.array(
    z.object({
      model: ModelName,
      tokensPerSecond: Column,
      ttftMs: Column,
    }),
  ),
  requests: z.array(z.object({ ts: EpochMs, host: z.string(), ...InferenceRecord.shape })),
})
export type OllamaInferenceHistory = z.infer<typeof OllamaInferenceHistory>
