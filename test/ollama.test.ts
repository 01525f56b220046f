import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  createTopics,
  type Event,
  type InferenceRecord,
  OllamaInferenceHistory,
  OllamaModelView,
  OllamaRunningView,
  OllamaStatus,
} from '@homelab/contracts'
import { OllamaCollectorService } from '@homelab/ollama-collector'
import { databasePath } from '@homelab/recorder'
import { Counters, createLogger } from '@homelab/service-kit'
import { HistoryReader, openReader, ProjectionReader } from '@homelab/storage'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { buildWeb, launchChromium } from './helpers/browser.js'
import { FakeOllama, fakeModel } from './helpers/fake-ollama.js'
import { chromiumPath, describeWith } from './helpers/infra.js'
import {
  accountWithToken,
  connectClient,
  HOST,
  startAlerter,
  startGateway,
  startRecorder,
  startTestBroker,
  TEST_PASSWORD,
  tempDir,
  waitFor,
} from './helpers/stack.js'

const topics = createTopics('homelab')
const SVC = 'ollama-collector'
const PROMPT_MARKER = `PROMPT-MARKER-${process.pid}-x7q`
const RESPONSE_MARKER = `RESPONSEMARK${process.pid}w`
const LLAMA = 'llama3.2:3b'
const HF = 'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M'

describe('ollama-collector against a stand-in Ollama, with the measuring proxy', () => {
  const dir = tempDir('hl-ollama-')
  const fake = new FakeOllama()
  const logLines: string[] = []
  const mqttPayloads: string[] = []
  const events: Event[] = []
  const cleanups: Array<() => Promise<void> | void> = []
  let svc: OllamaCollectorService
  let counters: Counters
  let base = ''
  let proxy = ''
  let token = ''
  let watcher: MqttClient

  const api = async <S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } })
    const body: unknown = await res.json()
    expect(res.status, JSON.stringify(body)).toBe(200)
    return schema.parse(body)
  }
  const inferences = () =>
    events.filter((e) => e.type === 'ollama.inference').map((e) => e.data as InferenceRecord)
  const nextInference = async (n: number) => {
    await waitFor(() => inferences().length > n, 10_000, `inference event #${n + 1}`)
    return inferences()[n] as InferenceRecord
  }
  const post = (path: string, body: unknown, init: RequestInit = {}) =>
    fetch(`${proxy}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      ...init,
    })

  beforeAll(async () => {
    cleanups.push(dir.remove)
    fake.wordPrefix = RESPONSE_MARKER
    fake.models = [fakeModel(LLAMA, 2_019_393_189), fakeModel(HF, 807_694_464, '1.2B', 'Q4_K_M')]
    await fake.start()
    cleanups.push(() => fake.stop())
    const b = await startTestBroker(dir.path)
    cleanups.push(() => b.broker.stop())
    const recorder = startRecorder(dir.path, b.url, 'recorder', b.credentials.recorder)
    cleanups.push(() => recorder.stop())
    await recorder.conn.whenConnected()
    const gw = await startGateway(
      dir.path,
      b.url,
      'gateway',
      b.credentials.gateway,
      'admin-token-ollama-0123456789',
    )
    await gw.start()
    cleanups.push(() => gw.stop())
    base = `http://127.0.0.1:${gw.port}`
    token = await accountWithToken(gw, 'viewer', 'viewer')
    watcher = await connectClient(b.url, 'homeassistant', 'ha-password-123')
    watcher.on('message', (topic, payload) => {
      mqttPayloads.push(payload.toString('utf8'))
      if (topics.parse(topic)?.channel === 'event') events.push(JSON.parse(payload.toString()) as Event)
    })
    await watcher.subscribeAsync('homelab/#', { qos: 1 })
    cleanups.push(() => watcher.endAsync())
    counters = new Counters()
    svc = new OllamaCollectorService({
      url: b.url,
      username: SVC,
      password: b.credentials[SVC],
      host: HOST,
      topics,
      ollamaHost: fake.url,
      intervalMs: 200,
      timeoutMs: 1000,
      proxy: { port: 0, bind: '127.0.0.1', idleTimeoutMs: 1000, maxBodyBytes: 1024 * 1024 },
      gpu: { enabled: true, program: 'nvidia-smi' },
      log: createLogger(SVC, (l) => logLines.push(l)),
      counters,
    })
    await svc.start()
    cleanups.push(() => svc.stop())
    proxy = `http://127.0.0.1:${svc.proxy?.port}`
    // The alerter with its default rules (ollama-down among them), as npm start runs it.
    const alerter = startAlerter(dir.path, b.url, b.credentials.alerter)
    cleanups.push(() => alerter.stop())
    await alerter.conn.whenConnected()
  })

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('reports the server, installed models and loaded models with the right numbers', async () => {
    fake.loaded = [
      {
        name: LLAMA,
        model: LLAMA,
        size: 3_500_000_000,
        size_vram: 2_100_000_000,
        digest: fake.models[0]?.digest ?? '',
        expires_at: new Date(Date.now() + 240_000).toISOString(),
        context_length: 8192,
        details: fake.models[0]!.details,
      },
    ]
    const status = await waitFor(
      async () => {
        const s = await api('/api/ollama/status', OllamaStatus)
        return s.running && s.loaded.length === 1 ? s : null
      },
      10_000,
      'Ollama reported running with one loaded model',
    )
    expect(status).toMatchObject({
      running: true,
      version: '0.12.6',
      models: [HF, LLAMA],
      loaded: [LLAMA],
      activeInferences: 0,
      collector: 'online',
      url: fake.url,
      stale: false,
      gpu: { present: false, reason: expect.stringMatching(/nvidia-smi/) },
      proxy: { listen: `127.0.0.1:${svc.proxy?.port}` },
    })
    const models = await api('/api/ollama/models', z.array(OllamaModelView))
    expect(models).toEqual([
      {
        name: HF,
        digest: fake.models[1]?.digest,
        size: 807_694_464,
        modifiedAt: Date.parse('2026-11-20T10:15:30.123+01:00'),
        format: 'gguf',
        family: 'llama',
        parameterSize: '1.2B',
        quantization: 'Q4_K_M',
        loaded: false,
      },
      expect.objectContaining({ name: LLAMA, size: 2_019_393_189, parameterSize: '3.2B', loaded: true }),
    ])
    const running = await api('/api/ollama/running', z.array(OllamaRunningView))
    expect(running).toHaveLength(1)
    expect(running[0]).toMatchObject({
      name: LLAMA,
      size: 3_500_000_000,
      sizeVram: 2_100_000_000,
      gpuPercent: 60,
    })
    expect(running[0]?.contextLength).toBe(8192)
    expect(running[0]?.expiresInMs).toBeGreaterThan(200_000)
    expect(running[0]?.expiresInMs).toBeLessThanOrEqual(240_000)
    // The first read after a start is the inventory, not a stream of "loaded"/"installed" events.
    const sync = events.find((e) => e.type === 'ollama.sync')
    expect(sync?.data).toMatchObject({ version: '0.12.6' })
    expect(events.filter((e) => e.type === 'ollama.model_installed')).toHaveLength(0)
  })

  it('turns changes of /api/ps and /api/tags into load, unload, install and remove events, and projects them', async () => {
    const from = events.length
    const hf = fake.models[1]!
    fake.loaded.push({
      name: HF,
      model: HF,
      size: 1_000_000_000,
      size_vram: 0,
      digest: hf.digest,
      expires_at: new Date(Date.now() + 1500).toISOString(),
      context_length: 4096,
      details: hf.details,
    })
    const loaded = await waitFor(
      () => events.slice(from).find((e) => e.type === 'ollama.model_loaded'),
      5000,
      'model_loaded',
    )
    expect(loaded.subject).toBe(HF)
    expect(loaded.data).toMatchObject({
      model: { name: HF, sizeVram: 0, gpuPercent: 0, contextLength: 4096 },
    })
    // Its keep-alive ends (the stand-in drops it from /api/ps): unloaded, "expired".
    const expired = await waitFor(
      () => events.slice(from).find((e) => e.type === 'ollama.model_unloaded' && e.subject === HF),
      5000,
      'model_unloaded (expired)',
    )
    expect(expired.data).toMatchObject({ reason: 'expired' })
    // The other one is evicted long before its keep-alive ends.
    fake.loaded = []
    const evicted = await waitFor(
      () => events.slice(from).find((e) => e.type === 'ollama.model_unloaded' && e.subject === LLAMA),
      5000,
      'model_unloaded (evicted)',
    )
    expect(evicted.data).toMatchObject({ reason: 'evicted' })
    fake.models.push(fakeModel('qwen2.5-coder:7b', 4_683_087_332, '7.6B'))
    await waitFor(
      () => events.slice(from).find((e) => e.type === 'ollama.model_installed'),
      5000,
      'installed',
    )
    fake.models = fake.models.filter((m) => m.name !== 'qwen2.5-coder:7b')
    await waitFor(() => events.slice(from).find((e) => e.type === 'ollama.model_removed'), 5000, 'removed')

    // The recorder's projection agrees with the server.
    const db = openReader(databasePath(dir.path))
    const reader = new HistoryReader(db)
    const projections = new ProjectionReader(db)
    const row = await waitFor(() => {
      const r = projections.ollama(HOST)
      return r && JSON.parse(r.installed).length === 2 && JSON.parse(r.loaded).length === 0 ? r : null
    })
    expect(row.up).toBe(1)
    expect((JSON.parse(row.installed) as Array<{ name: string }>).map((m) => m.name)).toEqual([HF, LLAMA])
    const stored = reader.events({ host: HOST, type: 'ollama.*', limit: 100 }) as Event[]
    expect(stored.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'ollama.sync',
        'ollama.model_loaded',
        'ollama.model_unloaded',
        'ollama.model_installed',
        'ollama.model_removed',
      ]),
    )
  })

  it('streams through the proxy byte for byte and incrementally, and measures the request from Ollama’s own counters', async () => {
    let release!: () => void
    fake.gate = new Promise<void>((r) => {
      release = r
    })
    fake.tokens = 30
    const n0 = inferences().length
    const exchanges0 = fake.exchanges.length
    const body = { model: LLAMA, prompt: `Say hello. ${PROMPT_MARKER}` }
    const res = await post('/api/generate', body)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/x-ndjson')
    const reader = res.body!.getReader()
    const first = await reader.read()
    expect(first.done).toBe(false)
    const ex = fake.exchanges.slice(exchanges0).find((e) => e.path === '/api/generate')!
    // The first token reached the client while the upstream is still held before its final record.
    expect(ex.finished).toBe(false)
    const got: Buffer[] = [Buffer.from(first.value!)]
    release()
    for (;;) {
      const r = await reader.read()
      if (r.done) break
      got.push(Buffer.from(r.value))
    }
    fake.gate = null
    expect(Buffer.concat(got).equals(Buffer.concat(ex.sent))).toBe(true)
    expect(ex.received.equals(Buffer.from(JSON.stringify(body)))).toBe(true)

    const rec = await nextInference(n0)
    expect(rec).toMatchObject({
      endpoint: 'generate',
      model: LLAMA,
      stream: true,
      status: 200,
      outcome: 'ok',
      promptTokens: 10,
      completionTokens: 30,
      tokensPerSecond: 80, // eval_count 30 / eval_duration 0.375 s
      promptTokensPerSecond: 500, // 10 / 0.02 s
      loadMs: 150,
      doneReason: 'stop',
      error: null,
    })
    expect(rec.bytes).toBe(Buffer.concat(got).length)
    expect(rec.ttftMs).toBeGreaterThan(0)
    expect(rec.ttftMs!).toBeLessThan(rec.totalMs)

    // A non-streamed chat: time to first token from Ollama's load + prompt-eval durations.
    const chat = await post('/api/chat', {
      model: HF,
      stream: false,
      messages: [{ role: 'user', content: `hi ${PROMPT_MARKER}` }],
    })
    const chatBody = Buffer.from(await chat.arrayBuffer())
    const chatEx = fake.exchanges.filter((e) => e.path === '/api/chat').at(-1)!
    expect(chatBody.equals(Buffer.concat(chatEx.sent))).toBe(true)
    expect(await nextInference(n0 + 1)).toMatchObject({
      endpoint: 'chat',
      model: HF,
      stream: false,
      completionTokens: 30,
      tokensPerSecond: 80,
      ttftMs: 170,
      outcome: 'ok',
    })

    // The OpenAI endpoint, streamed as SSE with a usage block.
    const sse = await post('/v1/chat/completions', {
      model: LLAMA,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: PROMPT_MARKER }],
    })
    expect(sse.headers.get('content-type')).toBe('text/event-stream')
    const sseBody = Buffer.from(await sse.arrayBuffer())
    const sseEx = fake.exchanges.filter((e) => e.path === '/v1/chat/completions').at(-1)!
    expect(sseBody.equals(Buffer.concat(sseEx.sent))).toBe(true)
    const o = await nextInference(n0 + 2)
    expect(o).toMatchObject({
      endpoint: 'openai.chat',
      model: LLAMA,
      stream: true,
      promptTokens: 10,
      completionTokens: 30,
      doneReason: 'stop',
      outcome: 'ok',
    })
    expect(o.tokensPerSecond).toBeGreaterThan(0)

    // Other paths are forwarded unchanged and not measured.
    const tags = await fetch(`${proxy}/api/tags`)
    expect(((await tags.json()) as { models: unknown[] }).models).toHaveLength(2)
    expect(inferences()).toHaveLength(n0 + 3)

    // Rates per model in the time series and the requests list, through the gateway.
    const h = await waitFor(
      async () => {
        const r = await api(`/api/ollama/inference?from=${Date.now() - 600_000}`, OllamaInferenceHistory)
        return r.requests.length >= 3 && r.models.length === 2 ? r : null
      },
      10_000,
      'inference history',
    )
    const llama = h.models.find((m) => m.model === LLAMA)!
    expect(llama.tokensPerSecond.filter((v) => v !== null).length).toBeGreaterThan(0)
    expect(h.models.find((m) => m.model === HF)?.tokensPerSecond.filter((v) => v !== null)).toEqual([80])
    expect(h.requests[0]).toMatchObject({ endpoint: 'openai.chat', model: LLAMA })
  })

  it('a client that disconnects mid-stream leaves no request hanging, upstream or in the proxy', async () => {
    fake.tokens = 200
    fake.tokenDelayMs = 20
    const n0 = inferences().length
    const ac = new AbortController()
    const res = await post(
      '/api/chat',
      { model: LLAMA, messages: [{ role: 'user', content: PROMPT_MARKER }] },
      { signal: ac.signal },
    )
    const reader = res.body!.getReader()
    await reader.read()
    ac.abort()
    // The collector polls the same server (/api/ps, /api/version), so the chat exchange is not necessarily the last one.
    const ex = [...fake.exchanges]
      .reverse()
      .find((e) => e.path === '/api/chat' && e.received.includes(PROMPT_MARKER))!
    expect(ex).toBeDefined()
    await waitFor(() => ex.closedByClient && fake.active === 0, 5000, 'upstream request closed')
    expect(ex.finished).toBe(false)
    const rec = await nextInference(n0)
    expect(rec).toMatchObject({ endpoint: 'chat', outcome: 'aborted', model: LLAMA })
    await waitFor(
      () => svc.proxy?.state().active === 0 && svc.proxy.state().activeInferences === 0,
      5000,
      'proxy idle',
    )
    fake.tokens = 20
    fake.tokenDelayMs = 5
  })

  it('counts and reports an upstream that answers garbage, a 500 or hangs, and keeps serving', async () => {
    let n = inferences().length
    fake.failure = 'garbage'
    const g = await post('/api/generate', { model: LLAMA, prompt: PROMPT_MARKER })
    expect(g.status).toBe(200)
    expect(await g.text()).toContain('this is not what Ollama sends')
    expect(await nextInference(n++)).toMatchObject({ outcome: 'invalid', status: 200, tokensPerSecond: null })

    fake.failure = 'error500'
    const e = await post('/api/chat', { model: LLAMA, messages: [] })
    expect(e.status).toBe(500)
    expect(await e.json()).toEqual({ error: 'llama runner process has terminated' })
    expect(await nextInference(n++)).toMatchObject({
      outcome: 'error',
      status: 500,
      error: 'llama runner process has terminated',
    })

    fake.failure = 'hang'
    const t0 = Date.now()
    const h = await post('/api/generate', { model: LLAMA, prompt: PROMPT_MARKER })
    expect(h.status).toBe(504)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900)
    expect(((await h.json()) as { error: string }).error).toMatch(/sent nothing for 1000 ms/)
    expect(await nextInference(n++)).toMatchObject({ outcome: 'timeout' })

    fake.failure = 'hang-mid-stream'
    const m = await post('/api/generate', { model: LLAMA, prompt: PROMPT_MARKER })
    expect(m.status).toBe(200)
    await expect(m.text()).rejects.toThrow()
    expect(await nextInference(n++)).toMatchObject({ outcome: 'timeout', status: 200 })

    fake.failure = 'none'
    const unknown = await post('/api/generate', { model: 'no-such-model:1b', prompt: 'x' })
    expect(unknown.status).toBe(404)
    expect(await nextInference(n++)).toMatchObject({
      outcome: 'error',
      model: 'no-such-model:1b',
      status: 404,
    })

    const ok = await post('/api/generate', { model: LLAMA, prompt: PROMPT_MARKER, stream: false })
    expect(ok.status).toBe(200)
    expect(await nextInference(n++)).toMatchObject({ outcome: 'ok' })

    expect(counters.get('proxy.outcome.invalid')).toBeGreaterThanOrEqual(1)
    expect(counters.get('proxy.outcome.error')).toBeGreaterThanOrEqual(2)
    expect(counters.get('proxy.outcome.timeout')).toBe(2)
    expect(counters.get('proxy.upstream_5xx')).toBe(1)
    const status = await waitFor(
      async () => {
        const s = await api('/api/ollama/status', OllamaStatus)
        // A status published while the last request was still in flight counts it as active: wait for one after.
        return (s.proxy?.errors ?? 0) >= 5 && (s.proxy?.requests ?? 0) >= 6 && s.proxy?.active === 0
          ? s
          : null
      },
      5000,
      'proxy errors in the status',
    )
    expect(status.proxy).toMatchObject({ active: 0, activeInferences: 0 })
  })

  it('Ollama going down and coming back: events, the reason, a 502 from the proxy, and recovery', async () => {
    const from = events.length
    await fake.stop()
    const down = await waitFor(
      () => events.slice(from).find((e) => e.type === 'ollama.down'),
      5000,
      'ollama.down',
    )
    expect(down.severity).toBe('warning')
    const alertOf = (type: string) =>
      waitFor(
        () =>
          events
            .slice(from)
            .find(
              (e) =>
                e.type === type && (e.data.alert as { rule?: string } | undefined)?.rule === 'ollama-down',
            ),
        5000,
        `${type} ollama-down`,
      )
    const firing = await alertOf('alert.firing')
    expect(firing).toMatchObject({ source: 'alerter', host: HOST, subject: down.subject })
    const s = await waitFor(
      async () => {
        const st = await api('/api/ollama/status', OllamaStatus)
        return st.running ? null : st
      },
      5000,
      'status not running',
    )
    expect(s.reason).toMatch(
      /Ollama not detected at OLLAMA_HOST \(http:\/\/127\.0\.0\.1:\d+\): connection refused/,
    )
    expect(s.loaded).toEqual([])
    const n0 = inferences().length
    const r = await post('/api/generate', { model: LLAMA, prompt: PROMPT_MARKER })
    expect(r.status).toBe(502)
    expect(((await r.json()) as { error: string }).error).toMatch(/Ollama not reachable/)
    expect(await nextInference(n0)).toMatchObject({ outcome: 'unreachable', status: 0 })

    await fake.start()
    const up = await waitFor(() => events.slice(from).find((e) => e.type === 'ollama.up'), 5000, 'ollama.up')
    expect(up.data).toMatchObject({ version: '0.12.6' })
    expect((await alertOf('alert.resolved')).data).toMatchObject({ reason: 'condition' })
    await waitFor(async () => (await api('/api/ollama/status', OllamaStatus)).running, 5000, 'running again')
    const again = await post('/api/generate', { model: LLAMA, prompt: PROMPT_MARKER, stream: false })
    expect(again.status).toBe(200)
  })

  it('never lets request or response content into MQTT, the database or the logs', async () => {
    // Everything above sent PROMPT_MARKER in prompts and got RESPONSE_MARKER back in every token.
    expect(fake.exchanges.some((e) => e.received.includes(PROMPT_MARKER))).toBe(true)
    expect(fake.exchanges.some((e) => Buffer.concat(e.sent).includes(RESPONSE_MARKER))).toBe(true)
    await waitFor(
      async () => {
        const r = await api(
          `/api/ollama/inference?from=${Date.now() - 600_000}&limit=1000`,
          OllamaInferenceHistory,
        )
        return r.requests.length >= inferences().length
      },
      10_000,
      'every inference stored',
    )
    for (const marker of [PROMPT_MARKER, RESPONSE_MARKER]) {
      expect(mqttPayloads.some((p) => p.includes(marker))).toBe(false)
      expect(logLines.some((l) => l.includes(marker))).toBe(false)
      for (const f of ['', '-wal']) {
        const path = `${databasePath(dir.path)}${f}`
        let bytes: Buffer
        try {
          bytes = readFileSync(path)
        } catch {
          continue
        }
        expect(bytes.includes(marker), `${marker} in ${join(path)}`).toBe(false)
      }
    }
    expect(mqttPayloads.length).toBeGreaterThan(50)
  })
})

describeWith(
  'Chromium',
  chromiumPath() !== null,
  'apt-get install -y chromium (or set CHROMIUM_PATH), as .ci/run does',
)('the AI page in a real browser', () => {
  const dir = tempDir('hl-ollama-web-')
  const fake = new FakeOllama()
  const cleanups: Array<() => Promise<void> | void> = []
  let base = ''
  let proxy = ''

  beforeAll(async () => {
    cleanups.push(dir.remove)
    fake.models = [fakeModel(LLAMA, 2_019_393_189), fakeModel(HF, 807_694_464, '1.2B', 'Q8_0')]
    fake.vramShare = 0.75
    fake.keepAliveMs = 120_000
    await fake.start()
    cleanups.push(() => fake.stop())
    const b = await startTestBroker(dir.path)
    cleanups.push(() => b.broker.stop())
    const recorder = startRecorder(dir.path, b.url, 'recorder', b.credentials.recorder)
    cleanups.push(() => recorder.stop())
    await buildWeb(join(dir.path, 'web'))
    const gw = await startGateway(
      dir.path,
      b.url,
      'gateway',
      b.credentials.gateway,
      'admin-token-ai-page-0123456',
      join(dir.path, 'web'),
    )
    await gw.start()
    cleanups.push(() => gw.stop())
    base = `http://127.0.0.1:${gw.port}`
    await accountWithToken(gw, 'viewer', 'viewer')
    const svc = new OllamaCollectorService({
      url: b.url,
      username: SVC,
      password: b.credentials[SVC],
      host: HOST,
      topics,
      ollamaHost: fake.url,
      intervalMs: 500,
      timeoutMs: 1000,
      proxy: { port: 0, bind: '127.0.0.1', idleTimeoutMs: 2000, maxBodyBytes: 1024 * 1024 },
      gpu: { enabled: false, program: 'nvidia-smi' },
      log: createLogger(SVC, () => undefined),
    })
    await svc.start()
    cleanups.push(() => svc.stop())
    proxy = `http://127.0.0.1:${svc.proxy?.port}`
  })

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('shows the server, models, VRAM share, keep-alive countdown, rate charts and requests', async () => {
    for (const model of [LLAMA, HF, LLAMA]) {
      const r = await fetch(`${proxy}/api/generate`, {
        method: 'POST',
        body: JSON.stringify({ model, prompt: 'hi' }),
      })
      await r.arrayBuffer()
    }
    await fetch(`${proxy}/api/generate`, {
      method: 'POST',
      body: JSON.stringify({ model: 'missing:1b', prompt: 'x' }),
    })
    const browser = await launchChromium()
    cleanups.push(() => browser.close())
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
    expect(
      (
        await page.request.post(`${base}/api/auth/login`, {
          data: { username: 'viewer', password: TEST_PASSWORD },
        })
      ).status(),
    ).toBe(200)
    await page.goto(`${base}/ai`)
    await page.waitForSelector('[data-testid=ollama-state]:has-text("Ollama up")')
    expect(await page.textContent('[data-testid=model-count]')).toBe('2 installed · 2 loaded')
    const installed = await page.locator('[data-testid=installed] tbody tr').allTextContents()
    expect(installed).toHaveLength(2)
    expect(installed.find((t) => t.includes(HF))).toMatch(/1\.2B.*Q8_0.*770 MiB/)
    const vram = await page.locator('[data-testid=loaded] [data-testid=vram]').allTextContents()
    expect(vram).toEqual(['75 % GPU', '75 % GPU'])
    const first = (await page.locator('[data-testid=keepalive]').first().textContent()) ?? ''
    expect(first).toMatch(/^[12]:\d\d$/)
    await page.waitForTimeout(2100)
    const later = (await page.locator('[data-testid=keepalive]').first().textContent()) ?? ''
    const secs = (t: string) => Number(t.split(':')[0]) * 60 + Number(t.split(':')[1])
    expect(secs(first) - secs(later)).toBeGreaterThanOrEqual(1)
    expect(await page.textContent('[data-testid=gpu]')).toMatch(/not present \(GPU reading is off/)
    expect(await page.textContent('[data-testid=proxy]')).toMatch(/Measuring proxy on 127\.0\.0\.1:\d+/)
    await page.waitForSelector('[data-testid=tps-chart] canvas')
    await page.waitForSelector('[data-testid=ttft-chart] canvas')
    const legend = await page.locator('[data-testid=tps-chart] .u-legend').textContent()
    expect(legend).toContain(LLAMA)
    expect(legend).toContain(HF)
    const rows = await page.locator('[data-testid=requests] tbody tr').allTextContents()
    expect(rows).toHaveLength(4)
    expect(rows.filter((r) => r.includes('ok') && r.includes('80.0'))).toHaveLength(3)
    expect(rows.some((r) => r.includes('missing:1b') && r.includes('error') && r.includes('404'))).toBe(true)

    // A request measured while the page is open appears without a reload.
    await (
      await fetch(`${proxy}/api/chat`, { method: 'POST', body: JSON.stringify({ model: HF, messages: [] }) })
    ).arrayBuffer()
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=requests] tbody tr').length === 5,
    )

    // Ollama stops: the page says so and how to fix it.
    await fake.stop()
    await page.waitForSelector('[data-testid=ollama-unavailable]')
    expect(await page.textContent('[data-testid=ollama-unavailable]')).toMatch(
      /Ollama not detected at OLLAMA_HOST/,
    )
    expect(await page.textContent('[data-testid=ollama-state]')).toBe('Ollama down')
  })
})
