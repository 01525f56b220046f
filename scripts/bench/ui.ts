import { join } from 'node:path'
import { createTopics, type SystemReading } from '@homelab/contracts'
import { databasePath } from '@homelab/recorder'
import { openWriter } from '@homelab/storage'
import type { MqttClient } from 'mqtt'
import { Store } from '../../services/recorder/src/store.js'
import { buildWeb, launchChromium } from '../../test/helpers/browser.js'
import { syntheticContainerReading, syntheticReading } from '../../test/helpers/readings.js'
import {
  agentClient,
  connectClient,
  HOST,
  startGateway,
  startRecorder,
  startTestBroker,
  TEST_PASSWORD,
} from '../../test/helpers/stack.js'
import { fmt, header, line } from './util.js'

const topics = createTopics('homelab')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const PERCENT_SERIES = ['cpu.usage', 'cpu.user', 'cpu.system', 'cpu.iowait', 'mem.percent']
const FS = ['/', '/srv', '/backup'].map((m) => `fs.percent{mount=${m}}`)
const WEEK_SERIES = [...PERCENT_SERIES, ...FS]

/** A week of 1-minute samples of 8 percentage series (80,640 samples), written as the recorder writes them. */
function seedWeek(dir: string): number {
  const db = openWriter(databasePath(dir))
  const store = new Store(db, {})
  const end = Date.now()
  let stored = 0
  const insert = db.transaction((from: number, to: number) => {
    for (let ts = from; ts < to; ts += 60_000)
      stored += store.addSamples(
        HOST,
        ts,
        WEEK_SERIES.map((s, i) => [s, 50 + 40 * Math.sin(ts / 3_600_000 + i)] as const),
      ).stored
  })
  for (let t = end - 7 * 86_400_000; t < end; t += 86_400_000) insert(t, Math.min(end, t + 86_400_000))
  db.transaction(() => store.sealAll())()
  db.close()
  return stored
}

interface Mark {
  name: string
  startTime: number
}

/** For each `rendered` mark, the time since the latest `answer` mark before it (ms). */
function renderTimes(marks: Mark[], answer: string, rendered: string): number[] {
  const out: number[] = []
  let last: number | null = null
  for (const m of marks) {
    if (m.name === answer) last = m.startTime
    else if (m.name === rendered && last !== null) {
      out.push(m.startTime - last)
      last = null
    }
  }
  return out
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

/**
 * `npm run bench -- ui`: how long the dashboard takes in Chromium from an answer's arrival to it being on screen —
 * the fleet view with 50 hosts, the Overview's container summary with 50 containers, and a week of 1-minute data for
 * 8 series in one History chart. Budgets (issue 18): < 50 ms each. The page marks both moments (user timing,
 * switched on by localStorage `homelab.perf`).
 */
export async function benchUi(dir: string): Promise<void> {
  header('ui: time from answer to screen in Chromium (budget < 50 ms each)')
  await buildWeb(join(dir, 'web'))
  const samples = seedWeek(dir)
  const b = await startTestBroker(dir)
  const rec = startRecorder(dir, b.url, 'recorder', b.credentials.recorder)
  const gw = await startGateway(
    dir,
    b.url,
    'gateway',
    b.credentials.gateway,
    'bench-ui-admin-token-000000000',
    join(dir, 'web'),
  )
  await gw.start()
  await gw.auth.accounts.add('owner', 'admin', TEST_PASSWORD)
  const base = `http://127.0.0.1:${gw.port}`
  const clients: MqttClient[] = []
  const agents: MqttClient[] = []
  const docker = await connectClient(b.url, 'docker-collector', b.credentials['docker-collector'])
  clients.push(docker)
  await docker.publishAsync(topics.availability(HOST, 'docker-collector'), 'online', { qos: 1, retain: true })
  for (let i = 0; i < 50; i++) {
    const name = `app-${i}`
    await docker.publishAsync(
      topics.reading(HOST, 'docker-collector', 'container', name),
      JSON.stringify(syntheticContainerReading(Date.now(), i, name)),
      { qos: 1, retain: true },
    )
  }
  const hosts = Array.from({ length: 49 }, (_, i) => `host-${String(i).padStart(2, '0')}`)
  const publishAll = async () => {
    for (const [i, c] of agents.entries()) {
      const host = hosts[i]!
      const r: SystemReading = syntheticReading(Date.now(), i * 10, host)
      await c.publishAsync(topics.reading(host, 'sys-collector', 'system'), JSON.stringify(r), {
        qos: 1,
        retain: true,
      })
    }
  }
  for (const host of hosts) {
    const c = await agentClient(b, dir, host)
    agents.push(c)
    clients.push(c)
    await c.publishAsync(topics.availability(host, 'sys-collector'), 'online', { qos: 1, retain: true })
  }
  await publishAll()
  // The gateway's own host has a system reading too (50 hosts in all).
  const sysClient = await connectClient(b.url, 'sys-collector', b.credentials['sys-collector'])
  clients.push(sysClient)
  await sysClient.publishAsync(
    topics.reading(HOST, 'sys-collector', 'system'),
    JSON.stringify(syntheticReading(Date.now(), 1, HOST)),
    { qos: 1, retain: true },
  )
  const refresh = setInterval(() => void publishAll(), 2000)
  const browser = await launchChromium()
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } })
    await page.addInitScript(() => localStorage.setItem('homelab.perf', '1'))
    await page.goto(base)
    await page.fill('#username', 'owner')
    await page.fill('#password', TEST_PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForSelector('[data-testid=fleet-host-48]')
    // The fleet refreshes every 5 s; the Overview's containers every 5 s.
    await sleep(16_000)
    const rows = await page.$$eval('[data-testid^=fleet-]', (els) => els.length)
    const marksOf = () =>
      page.evaluate(() =>
        performance.getEntriesByType('mark').map((m) => ({ name: m.name, startTime: m.startTime })),
      )
    const fleet = renderTimes(await marksOf(), 'answer /api/fleet', 'rendered fleet')
    await page.goto(`${base}/?host=${HOST}`)
    await page.waitForSelector('[data-testid=containers-summary] strong')
    await sleep(16_000)
    const overview = renderTimes(
      await marksOf(),
      'answer /api/docker/containers',
      'rendered overview-containers',
    )
    await page.goto(`${base}/history?series=${encodeURIComponent(WEEK_SERIES.join(','))}&range=7d`)
    await page.waitForFunction(() =>
      /· 8 lines$/.test(document.querySelector('[data-testid=history-meta]')?.textContent ?? ''),
    )
    await sleep(500)
    const week = renderTimes(await marksOf(), 'answer /api/history', 'rendered chart history-chart')
    line(
      'fleet view, 50 hosts',
      `${fmt(median(fleet))} ms median over ${fleet.length} refreshes (${rows} rows)`,
    )
    line('Overview, 50 containers', `${fmt(median(overview))} ms median over ${overview.length} refreshes`)
    line(
      'History, 8 series × a week of 1-min data',
      `${fmt(week.at(-1) ?? Number.NaN)} ms (${samples.toLocaleString('en')} samples stored)`,
    )
  } finally {
    clearInterval(refresh)
    await browser.close()
    for (const c of clients) await c.endAsync()
    await gw.stop()
    await rec.stop()
    await b.broker.stop()
  }
}
