import { createTopics } from '@homelab/contracts'
import { afterEach, describe, expect, it } from 'vitest'
import { Counters, createLogger } from './log.js'
import { MqttConnection } from './mqtt-connection.js'
import { SourceWatcher } from './source-watcher.js'

const topics = createTopics('homelab')

/** A source that refuses its first connect, then connects; `drop()` ends the connection. */
class FlakySource extends SourceWatcher {
  attempts = 0
  readonly order: string[] = []
  private end: ((reason: string) => void) | null = null

  protected async connect() {
    this.attempts++
    if (this.attempts === 1) throw new Error('refused')
    const ended = new Promise<string>((r) => {
      this.end = r
    })
    await this.enqueue(() => {
      this.order.push('resync')
    })
    return { ended }
  }
  protected disconnect(): void {
    this.end?.('closed')
  }
  protected watching(): string {
    return 'watching the flaky source'
  }
  protected lost(reason: string): string {
    return `lost it (${reason})`
  }
  protected describeError(e: unknown): string {
    return `cannot reach it: ${(e as Error).message}`
  }
  protected async sample(): Promise<void> {
    this.order.push('sample')
    await new Promise((r) => setTimeout(r, 50))
  }
  drop(reason: string): void {
    this.end?.(reason)
  }
  change(label: string, ms: number): Promise<void> {
    return this.enqueue(async () => {
      await new Promise((r) => setTimeout(r, ms))
      this.order.push(label)
    })
  }
}

function watcher(): { w: FlakySource; conn: MqttConnection; counters: Counters; lines: string[] } {
  const lines: string[] = []
  const log = createLogger('test', (l) => lines.push(l))
  const counters = new Counters()
  const conn = new MqttConnection({
    url: 'mqtt://127.0.0.1:9',
    username: 'x',
    password: 'y',
    clientId: 'docker-collector-pi',
    host: 'pi',
    service: 'docker-collector',
    topics,
    log,
    counters,
    version: 'test',
  })
  const w = new FlakySource(
    { conn, topics, host: 'pi', intervalMs: 60_000, log, counters },
    {
      service: 'docker-collector',
      where: 'the flaky source',
      counter: 'source',
      change: 'flaky change',
      reading: 'it',
    },
  )
  return { w, conn, counters, lines }
}

const until = async (ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('SourceWatcher', () => {
  let stop: (() => Promise<void>) | null = null
  afterEach(async () => {
    await stop?.()
    stop = null
  })

  it('reports a failed connect as its status, retries, and says when it is back', async () => {
    const { w, conn, counters, lines } = watcher()
    stop = () => w.stop()
    w.start()
    expect(conn.currentStatus).toMatchObject({
      state: 'unavailable',
      reason: 'connecting to the flaky source',
    })
    await until(() => w.attempts === 1 && !w.isConnected && counters.get('source.errors') === 1)
    expect(w.unavailableReason).toBe('cannot reach it: refused')
    expect(conn.currentStatus.reason).toBe('cannot reach it: refused')
    await until(() => w.isConnected)
    expect(w.attempts).toBe(2)
    expect(conn.currentStatus).toMatchObject({ state: 'ok', reason: null })
    expect(lines.some((l) => l.includes('watching the flaky source'))).toBe(true)

    w.drop('the peer went away')
    await until(() => !w.isConnected)
    expect(counters.get('source.disconnects')).toBe(1)
    expect(conn.currentStatus.reason).toBe('lost it (the peer went away)')
    await until(() => w.isConnected)
    expect(w.order.filter((x) => x === 'resync')).toHaveLength(2)
  })

  it('applies changes in the order they arrived, and skips a tick while one runs', async () => {
    const { w, counters } = watcher()
    stop = () => w.stop()
    w.start()
    await until(() => w.isConnected, 5000)
    await Promise.all([w.change('slow', 40), w.change('fast', 0)])
    expect(w.order.slice(-2)).toStrictEqual(['slow', 'fast'])
    const first = w.tick()
    await w.tick()
    await first
    expect(counters.get('ticks.skipped')).toBe(1)
    expect(counters.get('ticks')).toBe(1)
  })
})
