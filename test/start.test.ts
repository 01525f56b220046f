import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { HistoryResponse, OllamaStatus, SystemMetrics } from '@homelab/contracts'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from './helpers/net.js'
import { exited, ROOT } from './helpers/process.js'
import { tempDir, waitFor } from './helpers/stack.js'

const PASSWORD = 'the owner of this homelab'

const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Runs `npm start` as a user does, in its own process group (so SIGINT reaches it as Ctrl-C would). */
function npmStart(env: Record<string, string>): ChildProcess & { output: () => string } {
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  cleanups.push(() => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  })
  return Object.assign(child, { output: () => out })
}

/**
 * Ctrl-C: SIGINT to the whole process group, as a terminal sends it. npm then exits by the signal while our process
 * stops by itself, so success is our clean-stop log line, no error, and every process of the group gone.
 */
async function ctrlC(c: ChildProcess & { output: () => string }) {
  process.kill(-c.pid!, 'SIGINT')
  await exited(c)
  await waitFor(
    () => {
      try {
        process.kill(-c.pid!, 0)
        return false
      } catch {
        return true
      }
    },
    15_000,
    'every process of npm start to exit',
  )
  expect(c.output()).toContain('SIGINT: stopping')
  expect(c.output()).not.toMatch(/ERROR|exiting now|took longer/)
}

describe('npm start', () => {
  it('serves this machine’s real metrics within 20 s, stops cleanly, and keeps history across a restart', {
    timeout: 120_000,
  }, async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const port = await freePort()
    const env = {
      HOMELAB_DATA_DIR: dir.path,
      HOMELAB_PORT: String(port),
      HOMELAB_MQTT_PORT: String(await freePort()),
      HOMELAB_SYS_INTERVAL_MS: '1000',
      // No Ollama here (a port nothing listens on, in case this machine runs one): the rest must not care.
      OLLAMA_HOST: `127.0.0.1:${await freePort()}`,
    }
    const startedAt = Date.now()
    let app = npmStart(env)
    await waitFor(
      () => app.output().includes(`Dashboard: http://localhost:${port}/`),
      20_000,
      `the dashboard URL (output: ${app.output()})`,
    )
    expect(app.output()).toContain(join(dir.path, 'secrets', 'admin-token'))

    // First start: a one-time setup link for the first admin; it works once, then logins use the password.
    const base = `http://127.0.0.1:${port}`
    const link = /create the first admin at (\S+)/.exec(app.output())?.[1] ?? ''
    expect(link).toMatch(new RegExp(`^http://localhost:${port}/setup#[A-Za-z0-9_-]{20,}$`))
    const setup = () =>
      fetch(`${base}/api/auth/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: base },
        body: JSON.stringify({ code: link.split('#')[1], username: 'owner', password: PASSWORD }),
      })
    expect((await setup()).status).toBe(201)
    expect((await setup()).status).toBe(409)
    const login = async (username = 'owner', password = PASSWORD) => {
      const res = await fetch(`${base}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      })
      expect(res.status).toBe(200)
      return res.headers.get('set-cookie')!.split(';')[0]!
    }
    const cookie = await login()
    const metrics = await waitFor(
      async () => {
        const r = await fetch(`${base}/api/metrics/system`, { headers: { cookie } })
        return r.status === 200 ? SystemMetrics.parse(await r.json()) : null
      },
      20_000 - (Date.now() - startedAt),
      'metrics within 20 s of the start',
    )
    const kb = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1])
    expect(metrics.memoryTotal).toBe(kb * 1024)
    expect(metrics.cpuUsage).toBeGreaterThanOrEqual(0)
    const ollama = await waitFor(async () => {
      const r = await fetch(`${base}/api/ollama/status`, { headers: { cookie } })
      const s = OllamaStatus.parse(await r.json())
      return s.collector === 'online' && s.reason ? s : null
    })
    expect(ollama.running).toBe(false)
    expect(ollama.reason).toMatch(
      /^Ollama not detected at OLLAMA_HOST \(http:\/\/127\.0\.0\.1:\d+\): connection refused/,
    )

    const history = async (c: string, from: number, to: number) => {
      const r = await fetch(`${base}/api/history?series=uptime&from=${from}&to=${to}&points=1000`, {
        headers: { cookie: c },
      })
      return HistoryResponse.parse(await r.json())
    }
    const before = await waitFor(
      async () => {
        const h = await history(cookie, startedAt - 1000, Date.now())
        return h.columns[0].length >= 3 ? h : null
      },
      15_000,
      'three samples',
    )

    // `npm run user` adds an account while the monitor runs (the password piped in); it can log in at once.
    const added = spawnSync('npm', ['run', '--silent', 'user', '--', 'add', 'vic', 'viewer'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      input: 'vic has a good password\n',
      encoding: 'utf8',
    })
    expect(added.status, added.stderr).toBe(0)
    expect(added.stdout).toContain('added vic (viewer)')
    const vic = await login('vic', 'vic has a good password')
    const me = await fetch(`${base}/api/auth/me`, { headers: { cookie: vic } })
    expect(await me.json()).toStrictEqual({ name: 'vic', role: 'viewer', via: 'password' })

    await ctrlC(app)

    app = npmStart(env)
    await waitFor(() => app.output().includes('Dashboard:'), 20_000, 'the restart')
    const again = await history(await login(), startedAt - 1000, before.to)
    expect(again.columns[0].slice(0, before.columns[0].length)).toStrictEqual(before.columns[0])
    expect(again.columns[1].slice(0, before.columns[1].length)).toStrictEqual(before.columns[1])

    // A second instance on the same MQTT port explains both ways out and exits with code 2.
    const clash = npmStart({ ...env, HOMELAB_PORT: String(await freePort()) })
    expect(await exited(clash)).toBe(2)
    expect(clash.output()).toMatch(/MQTT port \d+ is already in use .*HOMELAB_MQTT_PORT.*HOMELAB_MQTT_URL/s)
    expect(clash.output()).not.toMatch(/\n\s+at /) // no stack trace

    await ctrlC(app)
  })

  it('stops with one clear line naming the variable when the configuration is bad', async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const app = npmStart({ HOMELAB_DATA_DIR: dir.path, HOMELAB_PORT: 'eighty' })
    expect(await exited(app)).toBe(2)
    expect(app.output()).toContain(
      'HOMELAB_PORT: HOMELAB_PORT must be a port number 0–65535 (0 = any free port) (got "eighty")',
    )
  })
})
