import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTopics, type SystemReading } from '@homelab/contracts'
import type { Gateway } from '@homelab/gateway'
import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeWith, which } from './helpers/infra.js'
import { freePort } from './helpers/net.js'
import { ROOT } from './helpers/process.js'
import { syntheticContainerReading, syntheticUnitReading } from './helpers/readings.js'
import {
  accountWithToken,
  connectClient,
  HOST,
  startGateway,
  startSysCollector,
  startTestBroker,
  tempDir,
  waitFor,
} from './helpers/stack.js'

const topics = createTopics('homelab')
const json = (v: unknown) => JSON.stringify(v)
const prometheus = which('prometheus')
const promtool = which('promtool')

describeWith(
  'Prometheus and promtool',
  prometheus !== null && promtool !== null,
  'apt-get install -y prometheus (as .ci/run does)',
)('Prometheus scrapes /metrics', () => {
  const dir = tempDir('hl-prom-')
  let stack: Awaited<ReturnType<typeof startTestBroker>>
  let gw: Gateway
  let sys: Awaited<ReturnType<typeof startSysCollector>>
  let docker: MqttClient
  let systemd: MqttClient
  let watcher: MqttClient
  let prom: ChildProcess | null = null
  let promUrl = ''
  let viewer = ''
  let base = ''
  let system: SystemReading | null = null

  const query = async (q: string) => {
    const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`)
    const body = (await r.json()) as {
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }
    }
    return body.data.result
  }

  beforeAll(async () => {
    stack = await startTestBroker(dir.path)
    gw = await startGateway(
      dir.path,
      stack.url,
      'gateway',
      stack.credentials.gateway,
      'admin-token-prom-0123456',
      undefined,
      1500,
      {
        HOMELAB_METRICS_LISTEN: `127.0.0.1:${await freePort()}`,
      },
    )
    await gw.start()
    base = `http://127.0.0.1:${gw.port}`
    viewer = await accountWithToken(gw, 'grafana', 'viewer')
    // The real sys-collector of this machine, and a container and a unit as their collectors publish them.
    sys = await startSysCollector(stack.url, 'sys-collector', stack.credentials['sys-collector'], 1000)
    docker = await connectClient(stack.url, 'docker-collector', stack.credentials['docker-collector'])
    systemd = await connectClient(stack.url, 'systemd-collector', stack.credentials['systemd-collector'])
    const c = syntheticContainerReading(Date.now(), 1, 'web-front')
    await docker.publishAsync(
      topics.reading(HOST, 'docker-collector', 'container', c.container.name),
      json(c),
      {
        qos: 1,
        retain: true,
      },
    )
    const u = syntheticUnitReading(Date.now(), 'nginx.service')
    await systemd.publishAsync(topics.reading(HOST, 'systemd-collector', 'unit', 'nginx.service'), json(u), {
      qos: 1,
      retain: true,
    })
    watcher = await connectClient(stack.url, 'alerter', stack.credentials.alerter)
    watcher.on('message', (_t, payload) => {
      system = JSON.parse(payload.toString()) as SystemReading
    })
    await watcher.subscribeAsync(topics.reading(HOST, 'sys-collector', 'system'), { qos: 1 })
    await waitFor(
      async () =>
        (
          await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${viewer}` } })).text()
        ).includes('container_memory_usage_bytes'),
      15_000,
      'the gateway to hold the readings',
    )

    // A real Prometheus scraping the gateway every second with the viewer's API token.
    const port = await freePort()
    promUrl = `http://127.0.0.1:${port}`
    writeFileSync(join(dir.path, 'token'), viewer)
    writeFileSync(
      join(dir.path, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: homelab',
        '    authorization: { credentials_file: token }',
        `    static_configs: [{ targets: ["127.0.0.1:${gw.port}"] }]`,
        '',
      ].join('\n'),
    )
    prom = spawn(
      prometheus!,
      [
        `--config.file=${join(dir.path, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir.path, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    )
    await waitFor(
      async () => {
        try {
          return (await query('up{job="homelab"} == 1')).length === 1
        } catch {
          return false
        }
      },
      30_000,
      'Prometheus to scrape the gateway',
    )
  }, 90_000)

  afterAll(async () => {
    prom?.kill('SIGTERM')
    await sys?.stop()
    await docker?.endAsync()
    await systemd?.endAsync()
    await watcher?.endAsync()
    await gw?.stop()
    await stack?.broker.stop()
    dir.remove()
  })

  it('stores what the collectors published, under node_exporter and cAdvisor names, queryable with PromQL', async () => {
    const load = await waitFor(
      async () => {
        const r = await query(`node_load1{host="${HOST}"}`)
        return r.length === 1 ? r[0]! : null
      },
      15_000,
      'node_load1',
    )
    expect(load.metric).toMatchObject({ job: 'homelab', host: HOST })
    await waitFor(() => system !== null, 10_000, "the sys-collector's reading")
    // The same quantity the sys-collector read from /proc/loadavg (it moves slowly; a reading apart at most).
    expect(Math.abs(Number(load.value[1]) - system!.load[0])).toBeLessThan(1)
    const memTotal = await query(`node_memory_MemTotal_bytes{host="${HOST}"}`)
    expect(Number(memTotal[0]!.value[1])).toBe(system!.memory.total)
    // A PromQL expression over two series, as the Node Exporter Full dashboard computes memory use.
    const used = await query(
      `100 * (1 - node_memory_MemAvailable_bytes{host="${HOST}"} / node_memory_MemTotal_bytes{host="${HOST}"})`,
    )
    expect(Number(used[0]!.value[1])).toBeGreaterThan(0)
    expect(Number(used[0]!.value[1])).toBeLessThan(100)
    const root = await query(`node_filesystem_size_bytes{host="${HOST}"}`)
    expect(root.length).toBe(system!.filesystems.length)
    // A container and a unit, as their collectors publish them.
    const mem = await query('container_memory_usage_bytes')
    expect(mem.map((m) => m.metric.name)).toEqual(['web-front'])
    const unit = await query('homelab_unit_active{unit="nginx.service"}')
    expect(unit[0]!.value[1]).toBe('1')
    const up = await query(`homelab_service_up{host="${HOST}",service="sys-collector"}`)
    expect(up[0]!.value[1]).toBe('1')
  })

  it("the shipped Grafana dashboard's queries are valid PromQL and find this stack's series", async () => {
    const dashboard = JSON.parse(
      readFileSync(join(ROOT, 'docs/grafana/homelab-observability.json'), 'utf8'),
    ) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>
    }
    const answers = new Map<string, number>()
    for (const p of dashboard.panels)
      for (const t of p.targets) {
        const expr = t.expr.replaceAll('$host', '.*')
        const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)
        const body = (await r.json()) as { status: string; error?: string; data?: { result: unknown[] } }
        expect(body.status, `${p.title}: ${expr}: ${body.error ?? ''}`).toBe('success')
        answers.set(p.title, (answers.get(p.title) ?? 0) + (body.data?.result.length ?? 0))
      }
    // What this stack has: a container, a unit, the sys-collector (no alerter, recorder or Ollama here).
    for (const title of [
      'Containers running',
      'Container memory',
      'Unit memory',
      'Unit CPU (% of one core)',
      'Container CPU (% of one core)',
      'Reading age (collector freshness)',
      'CPU by mode (all cores)',
    ])
      expect(answers.get(title), title).toBeGreaterThan(0)
  })

  it('passes promtool check metrics, and refuses a scrape without a valid token', async () => {
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${viewer}` } })
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('no-store')
    const text = await res.text()
    // promtool exits non-zero on any problem it prints. The only ones allowed are the camelCase complaints about the
    // names node_exporter itself exposes (its own output gets the very same), kept so its dashboards work.
    let problems: string[] = []
    try {
      execFileSync(promtool!, ['check', 'metrics'], { input: text, encoding: 'utf8' })
    } catch (e) {
      const { stdout, stderr } = e as { stdout?: string; stderr?: string }
      problems = `${stdout ?? ''}\n${stderr ?? ''}`.split('\n').filter((l) => l.trim() !== '')
    }
    expect(problems.sort()).toEqual(
      ['MemAvailable', 'MemTotal', 'SwapFree', 'SwapTotal'].map(
        (f) => `node_memory_${f}_bytes metric names should be written in 'snake_case' not 'camelCase'`,
      ),
    )
    expect((await fetch(`${base}/metrics`)).status).toBe(401)
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401)
    const basic = Buffer.from(`prometheus:${viewer}`).toString('base64')
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Basic ${basic}` } })).status).toBe(
      200,
    )
    const wrong = Buffer.from('prometheus:wrong').toString('base64')
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Basic ${wrong}` } })).status).toBe(
      401,
    )
    // The open listener serves the same, without a login, and nothing else.
    const open = `http://127.0.0.1:${gw.metricsPort}`
    const openText = await (await fetch(`${open}/metrics`)).text()
    expect(openText).toContain('node_load1{host=')
    expect((await fetch(`${open}/api/docker/containers`)).status).toBe(404)
  })
})
