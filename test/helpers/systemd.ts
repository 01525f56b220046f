import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { docker, testLabels } from './docker.js'
import { ROOT } from './process.js'

export const SYSTEMD_IMAGE = 'homelab-test/systemd:1'

/** Builds the systemd test image (scripts/build-systemd-image.sh) unless it exists. */
export async function ensureSystemdImage(): Promise<void> {
  const images = await docker.listImages({ filters: { reference: [SYSTEMD_IMAGE] } })
  if (images.length > 0) return
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'build-systemd-image.sh')], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`could not build ${SYSTEMD_IMAGE}: ${r.stderr}`)
}

/**
 * A real systemd booted in a container (as ENVIRONMENT.md shows), its system bus socket in a host folder.
 * Returns the bus address and helpers to write units and run systemctl inside.
 */
export async function startSystemd(name: string) {
  const busDir = mkdtempSync(join(tmpdir(), 'hl-sdbus-'))
  // Its journal is written into a host folder, as a host's /var/log/journal mounted into the collector's container.
  const journalDir = mkdtempSync(join(tmpdir(), 'hl-sdjournal-'))
  // CgroupnsMode (API ≥ 1.41) is missing from @types/dockerode.
  const options = {
    name,
    Image: SYSTEMD_IMAGE,
    Cmd: ['/lib/systemd/systemd'],
    Env: ['container=docker'],
    Labels: testLabels(),
    HostConfig: {
      CapAdd: ['SYS_ADMIN'],
      SecurityOpt: ['seccomp=unconfined'],
      CgroupnsMode: 'host',
      Binds: ['/sys/fs/cgroup:/sys/fs/cgroup:rw', `${busDir}:/run/dbus`, `${journalDir}:/var/log/journal`],
      Tmpfs: { '/run': '', '/run/lock': '' },
    },
  }
  const c = await docker.createContainer(options as Parameters<typeof docker.createContainer>[0])
  await c.start()
  const socket = join(busDir, 'system_bus_socket')
  const exec = (cmd: string) => execFileSync('docker', ['exec', name, 'sh', '-c', cmd], { encoding: 'utf8' })
  for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100))
  // Wait until systemd answers (it starts dbus, then finishes booting).
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('docker', ['exec', name, 'systemctl', 'is-system-running'], { encoding: 'utf8' })
    if (/running|degraded/.test(r.stdout)) break
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    address: `unix:path=${socket}`,
    journalDir,
    exec,
    writeUnit(unit: string, body: string) {
      exec(`cat > /etc/systemd/system/${unit} <<'UNIT'\n${body}\nUNIT\nsystemctl daemon-reload`)
    },
    systemctl: (args: string) => exec(`systemctl ${args}`),
    async remove() {
      await c.remove({ force: true }).catch(() => undefined)
    },
    async restart() {
      await c.restart({ t: 1 })
    },
  }
}
