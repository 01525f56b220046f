import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { which } from './infra.js'
import { waitFor } from './stack.js'

export const nginxPath = (): string | null =>
  which('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null)

const portOpen = (port: number) =>
  new Promise<boolean>((r) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy()
      r(true)
    })
    s.on('error', () => r(false))
  })

/**
 * A real nginx in the foreground on loopback ports, with `servers` (server blocks) as its http config and every file
 * it writes in `dir`. Resolves once every port in `ports` accepts connections.
 */
export async function startNginx(
  dir: string,
  servers: string,
  ports: number[],
): Promise<{ stop: () => Promise<void>; log: () => string }> {
  const bin = nginxPath()
  if (!bin) throw new Error('no nginx: apt-get install -y nginx-light')
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true })
  const conf = join(dir, 'nginx.conf')
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
${servers}
}
`,
  )
  const proc: ChildProcess = spawn(bin, ['-c', conf, '-p', dir, '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let log = ''
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()))
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}: ${log}`)
      return (await Promise.all(ports.map(portOpen))).every(Boolean)
    },
    10_000,
    'nginx to listen',
  )
  return {
    log: () => log,
    stop: async () => {
      if (proc.exitCode !== null) return
      const done = new Promise<void>((r) => proc.once('exit', () => r()))
      proc.kill('SIGQUIT')
      await done
    },
  }
}
