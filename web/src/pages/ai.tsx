import {
  InferenceRecord,
  type LiveMessage,
  type OllamaInferenceHistory,
  type OllamaReading,
  type OllamaStatus,
} from '@homelab/contracts'
import { useEffect, useMemo, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import { api, HttpError, openLive } from '../api'
import { liveOptions } from '../charts'
import { Chart } from '../components/chart'
import { Empty } from '../components/empty'
import { ago, bytes } from '../format'

const RANGES = [
  { id: '1h', ms: 3_600_000 },
  { id: '6h', ms: 6 * 3_600_000 },
  { id: '24h', ms: 86_400_000 },
  { id: '7d', ms: 7 * 86_400_000 },
] as const
const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7']

type Request = OllamaInferenceHistory['requests'][number]

function countdown(expiresAt: number | null, now: number): string {
  if (expiresAt === null) return 'never unloads'
  const s = Math.max(0, Math.round((expiresAt - now) / 1000))
  return s >= 3600
    ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
    : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

const num = (v: number | null, digits = 0, unit = '') => (v === null ? '–' : `${v.toFixed(digits)}${unit}`)

function outcomeBadge(o: InferenceRecord['outcome']): string {
  return o === 'ok' ? 'ok' : o === 'aborted' ? 'muted' : 'bad'
}

/**
 * Local AI: Ollama's state and version, installed models, loaded models with their share of GPU memory and the
 * keep-alive countdown, tokens/s and time to first token per model over time, and the latest requests measured by
 * the proxy (never their content).
 */
export function Ai({ host }: { host: string }) {
  const [reading, setReading] = useState<OllamaReading | null>(null)
  const [status, setStatus] = useState<OllamaStatus | null>(null)
  const [availability, setAvailability] = useState<string | null>(null)
  const [hist, setHist] = useState<OllamaInferenceHistory | null>(null)
  const [live, setLive] = useState<Request[]>([])
  const [range, setRange] = useState<(typeof RANGES)[number]['id']>('1h')
  const [now, setNow] = useState(Date.now())
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(t)
  }, [])

  useEffect(() => {
    setReading(null)
    setStatus(null)
    setLive([])
    api.ollamaStatus(host).then(setStatus, () => undefined)
    return openLive(
      host,
      (m: LiveMessage) => {
        if (m.service !== 'ollama-collector') return
        if (m.channel === 'availability') setAvailability(m.payload)
        else if (m.channel === 'reading' && m.kind === 'ollama' && m.payload) setReading(m.payload)
        else if (m.channel === 'event' && m.type === 'ollama.inference') {
          const e = m.payload
          const d = InferenceRecord.safeParse(e.data)
          if (d.success) setLive((cur) => [{ ts: e.ts, host: e.host, ...d.data }, ...cur].slice(0, 50))
        }
      },
      () => undefined,
    )
  }, [host])

  useEffect(() => {
    const span = RANGES.find((r) => r.id === range)?.ms ?? 3_600_000
    const load = () =>
      api.ollamaInference(host, Date.now() - span, Date.now()).then(
        (h) => {
          setHist(h)
          setError(null)
        },
        (e) => setError(e instanceof HttpError ? e.message : String(e)),
      )
    load()
    const t = setInterval(load, 15_000)
    return () => clearInterval(t)
  }, [host, range])

  const up = reading?.up ?? status?.running ?? false
  const version = reading?.version ?? status?.version ?? null
  const reason = reading ? reading.reason : (status?.reason ?? null)
  const installed = reading?.installed ?? []
  const loaded = reading?.loaded ?? []
  const loadedNames = new Set(loaded.map((m) => m.name))
  const gpu = reading?.gpu ?? status?.gpu ?? null
  const proxy = reading?.proxy ?? status?.proxy ?? null
  const collectorOnline =
    availability === 'online' || (availability === null && status?.collector === 'online')

  const requests = useMemo(() => {
    const byId = new Map<string, Request>()
    for (const r of [...live, ...(hist?.requests ?? [])]) if (!byId.has(r.requestId)) byId.set(r.requestId, r)
    return [...byId.values()].sort((a, b) => b.ts - a.ts).slice(0, 50)
  }, [live, hist])

  const models = hist?.models ?? []
  const key = models.map((m) => m.model).join('|')
  const tpsData = useMemo(
    () => (hist ? ([hist.x, ...models.map((m) => m.tokensPerSecond)] as uPlot.AlignedData) : null),
    [hist],
  )
  const ttftData = useMemo(
    () => (hist ? ([hist.x, ...models.map((m) => m.ttftMs)] as uPlot.AlignedData) : null),
    [hist],
  )
  const lines = models.map((m, i) => ({ label: m.model, color: COLORS[i % COLORS.length] ?? '#888' }))

  return (
    <main>
      <section class="facts">
        <h2>AI</h2>
        <span class={`badge ${up ? 'ok' : 'bad'}`} data-testid="ollama-state">
          {up ? 'Ollama up' : 'Ollama down'}
        </span>
        {version && <span class="muted">version {version}</span>}
        {reading?.url && <span class="muted mono small">{reading.url}</span>}
        <span class="muted" data-testid="model-count">
          {installed.length} installed · {loaded.length} loaded
        </span>
      </section>

      {(!collectorOnline || !up) && (
        <div class="card warnbox" data-testid="ollama-unavailable">
          <strong>
            {collectorOnline ? 'Ollama is not reachable.' : 'The ollama-collector is not running.'}
          </strong>{' '}
          {reason}
          <p class="hint">
            The collector reads Ollama's API at <code>OLLAMA_HOST</code> (default{' '}
            <code>http://127.0.0.1:11434</code>
            ). Set it to where Ollama listens, e.g. <code>OLLAMA_HOST=http://192.168.1.5:11434</code>; Ollama
            must listen there too (<code>OLLAMA_HOST=0.0.0.0</code> in Ollama's own environment). See “Local
            AI (Ollama)” in the README.
          </p>
        </div>
      )}

      <section class="grid2">
        <div class="card">
          <h3>Loaded models</h3>
          {loaded.length === 0 && (
            <Empty testId="loaded-empty">
              No model is loaded. Ollama loads one at its first request and unloads it after its keep-alive.
            </Empty>
          )}
          <table data-testid="loaded" hidden={loaded.length === 0}>
            <tbody>
              {loaded.map((m) => (
                <tr key={m.name}>
                  <td>
                    <div class="mono">{m.name}</div>
                    <div class="muted small">
                      {bytes(m.size)}
                      {m.contextLength ? ` · context ${m.contextLength}` : ''}
                    </div>
                  </td>
                  <td class="num" data-testid="vram">
                    {m.gpuPercent.toFixed(0)} % GPU
                    <div class="bar" title={`${bytes(m.sizeVram)} of ${bytes(m.size)} in GPU memory`}>
                      <div style={{ width: `${Math.min(100, m.gpuPercent)}%` }} />
                    </div>
                  </td>
                  <td class="num small" data-testid="keepalive" title="until keep-alive unloads it">
                    {countdown(m.expiresAt, now)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="card">
          <h3>GPU and proxy</h3>
          <div data-testid="gpu">
            {gpu?.present ? (
              gpu.devices.map((g) => (
                <p key={g.index} class="small">
                  <strong>
                    GPU {g.index}: {g.name}
                  </strong>{' '}
                  · {num(g.utilization, 0, ' %')} busy · {bytes(g.memoryUsed)} of {bytes(g.memoryTotal)} ·{' '}
                  {num(g.temperature, 0, ' °C')}
                </p>
              ))
            ) : (
              <p class="muted small">GPU: not present{gpu?.reason ? ` (${gpu.reason})` : ''}</p>
            )}
          </div>
          <div data-testid="proxy">
            {proxy ? (
              <p class="small">
                Measuring proxy on <span class="mono">{proxy.listen}</span>: {proxy.activeInferences} running
                now, {proxy.requests} requests, {proxy.errors} failed since start.
              </p>
            ) : (
              <p class="muted small">
                No measuring proxy: set <code>HOMELAB_OLLAMA_PROXY_PORT</code> and point clients at it to see
                tokens/s and time to first token.
              </p>
            )}
          </div>
        </div>
      </section>

      <div class="toolbar">
        <fieldset class="segmented">
          <legend class="muted small">range</legend>
          {RANGES.map((r) => (
            <button type="button" key={r.id} aria-pressed={range === r.id} onClick={() => setRange(r.id)}>
              {r.id}
            </button>
          ))}
        </fieldset>
      </div>
      {error && <p class="error">{error}</p>}
      {models.length === 0 && <p class="muted small">No measured requests in this range.</p>}
      {tpsData && ttftData && models.length > 0 && (
        <section class="grid2">
          <div class="card">
            <h3>Tokens per second</h3>
            <Chart
              testId="tps-chart"
              optionsKey={`tps:${key}`}
              height={200}
              data={tpsData}
              options={(w) => liveOptions(w, 200, lines, (v) => v.toFixed(0))}
            />
          </div>
          <div class="card">
            <h3>Time to first token</h3>
            <Chart
              testId="ttft-chart"
              optionsKey={`ttft:${key}`}
              height={200}
              data={ttftData}
              options={(w) => liveOptions(w, 200, lines, (v) => `${v.toFixed(0)} ms`)}
            />
          </div>
        </section>
      )}

      <section class="grid2">
        <div class="card scroll">
          <h3>Installed models</h3>
          {installed.length === 0 && (
            <Empty testId="installed-empty">
              No model is installed in this Ollama; <code>ollama pull NAME</code> adds one.
            </Empty>
          )}
          <table data-testid="installed" hidden={installed.length === 0}>
            <thead>
              <tr>
                <th>model</th>
                <th>parameters</th>
                <th>quantization</th>
                <th class="num">size</th>
                <th>modified</th>
              </tr>
            </thead>
            <tbody>
              {installed.map((m) => (
                <tr key={m.name}>
                  <td class="mono">
                    {m.name} {loadedNames.has(m.name) && <span class="badge ok">loaded</span>}
                  </td>
                  <td>{m.parameterSize ?? '–'}</td>
                  <td>{m.quantization ?? '–'}</td>
                  <td class="num">{bytes(m.size)}</td>
                  <td class="small muted">
                    {m.modifiedAt ? new Date(m.modifiedAt).toLocaleDateString() : '–'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="card scroll">
          <h3>Recent requests</h3>
          {requests.length === 0 && (
            <Empty testId="requests-empty">
              No request seen yet: requests made through the collector's Ollama proxy appear here with their
              timings.
            </Empty>
          )}
          <table data-testid="requests" hidden={requests.length === 0}>
            <thead>
              <tr>
                <th>when</th>
                <th>model</th>
                <th>result</th>
                <th class="num">first token</th>
                <th class="num">tokens</th>
                <th class="num">tokens/s</th>
              </tr>
            </thead>
            <tbody>
              {requests.map((r) => (
                <tr key={r.requestId} title={r.error ?? undefined}>
                  <td class="small muted">{ago(r.ts)}</td>
                  <td class="mono small">
                    {r.model ?? '–'}
                    <div class="muted">{r.endpoint}</div>
                  </td>
                  <td>
                    <span class={`badge ${outcomeBadge(r.outcome)}`}>{r.outcome}</span>
                    {r.status >= 400 && <span class="muted small"> {r.status}</span>}
                  </td>
                  <td class="num">{num(r.ttftMs, 0, ' ms')}</td>
                  <td class="num">{r.completionTokens ?? '–'}</td>
                  <td class="num">{num(r.tokensPerSecond, 1)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </main>
  )
}
