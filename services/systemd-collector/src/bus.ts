import { existsSync } from 'node:fs'
import dbus from 'dbus-next'

const SYSTEMD = 'org.freedesktop.systemd1'
const MANAGER_PATH = '/org/freedesktop/systemd1'
const MANAGER = 'org.freedesktop.systemd1.Manager'
const PROPS = 'org.freedesktop.DBus.Properties'
export const UNIT_IFACE = 'org.freedesktop.systemd1.Unit'
export const SERVICE_IFACE = 'org.freedesktop.systemd1.Service'

export interface UnitRow {
  name: string
  description: string
  loadState: string
  activeState: string
  subState: string
  path: string
}

export type Props = Record<string, unknown>

export interface BusSignal {
  path: string
  iface: string
  member: string
  body: unknown[]
}

/** Plain JS values from D-Bus values: variants unwrapped, 64-bit integers as numbers. */
export function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v)
  if (v instanceof dbus.Variant) return plain(v.value)
  if (Array.isArray(v)) return v.map(plain)
  if (v && typeof v === 'object' && !(v instanceof Buffer)) {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, plain(x)]))
  }
  return v
}

/**
 * The system bus, as the collector uses it: systemd's Manager methods and properties over low-level messages (no
 * introspection, so watching hundreds of units costs one match rule, not a proxy each), every call with a
 * timeout, and one callback when the connection ends.
 */
export class SystemdBus {
  private bus: dbus.MessageBus | null = null
  /** Ends the current connection (set while one is open). */
  private drop: ((reason: string) => void) | null = null

  constructor(
    readonly address: string,
    private readonly callTimeoutMs = 10_000,
  ) {}

  /** Connects and says hello; rejects with the connection error (ENOENT, ECONNREFUSED, EACCES, auth). */
  async connect(onSignal: (s: BusSignal) => void, onClose: (reason: string) => void): Promise<void> {
    const bus = dbus.sessionBus({ busAddress: this.address })
    this.bus = bus
    let open = false
    let closed = false
    const close = (reason: string) => {
      if (closed) return
      closed = true
      this.drop = null
      if (open) onClose(reason)
    }
    this.drop = close
    await new Promise<void>((resolve, reject) => {
      bus.once('connect', () => {
        open = true
        resolve()
      })
      bus.on('error', (e: Error) => {
        if (!open) reject(e)
        else close(e.message)
      })
    })
    // The underlying connection reports the end of the stream (bus daemon restarted); dbus-next does not forward it.
    const conn = (bus as unknown as { _connection?: { on(ev: 'end', f: () => void): void } })._connection
    conn?.on('end', () => close('the bus closed the connection'))
    bus.on('message', (m: dbus.Message) => {
      if (m.type !== dbus.MessageType.SIGNAL) return
      onSignal({ path: m.path, iface: m.interface, member: m.member, body: m.body.map(plain) })
    })
    await this.busCall('AddMatch', 's', [`type='signal',sender='${SYSTEMD}'`])
    await this.manager('Subscribe')
  }

  close(): void {
    const b = this.bus
    this.bus = null
    try {
      b?.disconnect()
    } catch {
      // already gone
    }
  }

  private async call(msg: dbus.MessageLike): Promise<unknown[]> {
    const bus = this.bus
    if (!bus) throw new Error('not connected to the system bus')
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // A bus that stops answering is as good as gone (a half-open socket may never report its end).
        this.drop?.(`${msg.member} got no answer within ${this.callTimeoutMs} ms`)
        reject(new Error(`${msg.member} got no answer within ${this.callTimeoutMs} ms`))
      }, this.callTimeoutMs)
    })
    try {
      const reply = await Promise.race([bus.call(new dbus.Message(msg)), timeout])
      return (reply?.body ?? []).map(plain)
    } finally {
      clearTimeout(timer)
    }
  }

  private busCall(member: string, signature: string, body: unknown[]) {
    return this.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member,
      signature,
      body,
    })
  }

  private manager(member: string, signature?: string, body?: unknown[]) {
    return this.call({
      destination: SYSTEMD,
      path: MANAGER_PATH,
      interface: MANAGER,
      member,
      ...(signature ? { signature, body } : {}),
    })
  }

  async listUnits(): Promise<UnitRow[]> {
    const [rows] = (await this.manager('ListUnits')) as [unknown[][]]
    return (rows ?? []).map((r) => ({
      name: String(r[0]),
      description: String(r[1]),
      loadState: String(r[2]),
      activeState: String(r[3]),
      subState: String(r[4]),
      path: String(r[6]),
    }))
  }

  /** Loads a unit (so its properties can be read even when inactive) and returns its object path. */
  async loadUnit(name: string): Promise<string> {
    const [path] = await this.manager('LoadUnit', 's', [name])
    return String(path)
  }

  /** The object path of a loaded unit, or null when it is not loaded (GetUnit, unlike LoadUnit, loads nothing). */
  async getUnit(name: string): Promise<string | null> {
    try {
      const [path] = await this.manager('GetUnit', 's', [name])
      return String(path)
    } catch (e) {
      if ((e as { type?: string }).type === 'org.freedesktop.systemd1.NoSuchUnit') return null
      throw e
    }
  }

  /** A few properties, one Get each, in flight together (far less to decode than GetAll's hundreds). */
  async getProps(path: string, iface: string, names: readonly string[]): Promise<Props> {
    const values = await Promise.all(
      names.map((n) =>
        this.call({
          destination: SYSTEMD,
          path,
          interface: PROPS,
          member: 'Get',
          signature: 'ss',
          body: [iface, n],
        }),
      ),
    )
    return Object.fromEntries(names.map((n, i) => [n, values[i]?.[0]]))
  }

  /** StartUnit / StopUnit / RestartUnit in mode "replace"; returns the job's object path. */
  async job(action: 'start' | 'stop' | 'restart', name: string): Promise<string> {
    const member = { start: 'StartUnit', stop: 'StopUnit', restart: 'RestartUnit' }[action]
    const [job] = await this.manager(member, 'ss', [name, 'replace'])
    return String(job)
  }
}

/** Whether this process runs in a container (Docker writes /.dockerenv; Podman /run/.containerenv). */
function inContainer(): boolean {
  return existsSync('/.dockerenv') || existsSync('/run/.containerenv')
}

/** A one-line reason for a bus failure, with the usual fix. */
export function describeBusError(e: unknown, address: string): string {
  const err = e as { code?: string; message?: string; type?: string; text?: string }
  const where = address.replace(/^unix:path=/, '')
  switch (err.code) {
    case 'ENOENT':
      // In a container the fix is a mount; on a host without one, systemd (or D-Bus) is not there.
      return inContainer()
        ? `no system bus at ${where}: mount the host's /run/dbus/system_bus_socket into the container (or set DBUS_SYSTEM_BUS_ADDRESS)`
        : `no system bus at ${where}: this machine runs no systemd with D-Bus (or set DBUS_SYSTEM_BUS_ADDRESS to where its bus is)`
    case 'EACCES':
      return `permission denied on ${where}: the collector's user may not open the system bus socket`
    case 'ECONNREFUSED':
      return `the system bus at ${where} refused the connection: is dbus running?`
  }
  if (
    err.type === 'org.freedesktop.DBus.Error.AccessDenied' ||
    err.type === 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired'
  )
    return `systemd refused: ${err.text ?? err.message} (run the collector as root, or grant its user the polkit action org.freedesktop.systemd1.manage-units for the allowed units)`
  return `system bus at ${where}: ${err.text ?? err.message ?? String(e)}`.slice(0, 1000)
}
