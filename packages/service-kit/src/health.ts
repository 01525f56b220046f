import { writeFile } from 'node:fs/promises'

/**
 * A health file for container healthchecks: every few seconds the service writes `{"ok","detail","ts"}` to `path`
 * (e.g. `/tmp/health`); `scripts/healthcheck.sh file <path>` passes while the file is fresh and `ok` is true. `ok` is
 * the service's own health (its MQTT connection), not its source's: a Docker collector without a Docker socket is
 * running fine and says so in its status, it is not a container to restart.
 */
export function startHealthFile(
  path: string | undefined,
  probe: () => { ok: boolean; detail: string },
  everyMs = 5000,
): () => void {
  if (!path) return () => undefined
  const write = () => {
    const p = probe()
    void writeFile(path, `${JSON.stringify({ ...p, ts: Date.now() })}\n`).catch(() => undefined)
  }
  write()
  const t = setInterval(write, everyMs)
  t.unref()
  return () => clearInterval(t)
}

/** The probe of a service whose health is its MQTT connection. */
export function mqttProbe(conn: { connected: boolean }): () => { ok: boolean; detail: string } {
  return () => ({
    ok: conn.connected,
    detail: conn.connected ? 'connected to the broker' : 'not connected to the broker',
  })
}
