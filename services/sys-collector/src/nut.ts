import { connect, type Socket } from 'node:net'

/**
 * A client of NUT's network protocol (upsd, TCP 3493; https://networkupstools.org/docs/developer-guide.chunked/
 * net-protocol.html): one connection per server, kept open, one request at a time. Answers are bounded (line length,
 * lines per list) so a server that sends garbage or never stops cannot grow this process.
 */

/** A NUT server to read, and which of its UPSes (null: every UPS it lists). */
export interface NutTarget {
  host: string
  port: number
  ups: string | null
  username: string | null
  password: string | null
}

/** The UPS variables this reads, as `LIST VAR` reports them. */
export type UpsVars = ReadonlyMap<string, string>

export class NutError extends Error {
  constructor(
    message: string,
    /** NUT's error name (`UNKNOWN-UPS`, `DATA-STALE`, `DRIVER-NOT-CONNECTED`, `ACCESS-DENIED`…) or a socket's. */
    readonly code: string,
  ) {
    super(message)
  }
}

const MAX_LINE = 4096
const MAX_LIST = 1000

/** What NUT's errors mean, for people (net-protocol.txt, "Error responses"). */
const NUT_ERRORS: Record<string, string> = {
  'ACCESS-DENIED': 'the NUT server refused access (check upsd.users and the credentials)',
  'UNKNOWN-UPS': 'the NUT server has no UPS of that name',
  'DATA-STALE': "the UPS's data is stale (its driver lost contact with the UPS)",
  'DRIVER-NOT-CONNECTED': "upsd is not connected to the UPS's driver (is the driver running?)",
  'USERNAME-REQUIRED': 'the NUT server requires a user name',
  'PASSWORD-REQUIRED': 'the NUT server requires a password',
  'INVALID-PASSWORD': 'the NUT server refused the password',
}

/** `a "b c" "d \"e\""` → [a, b c, d "e"]: NUT's words, quoted ones with `\"` and `\\` escapes. */
export function splitWords(line: string): string[] {
  const out: string[] = []
  let i = 0
  while (i < line.length) {
    while (line[i] === ' ') i++
    if (i >= line.length) break
    if (line[i] === '"') {
      let s = ''
      i++
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++
        s += line[i]
        i++
      }
      i++
      out.push(s)
    } else {
      const j = line.indexOf(' ', i)
      const end = j === -1 ? line.length : j
      out.push(line.slice(i, end))
      i = end
    }
  }
  return out
}

/** A word for a request line: quoted when it has spaces or quotes. */
function word(s: string): string {
  return /^[A-Za-z0-9._@:-]+$/.test(s) ? s : `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

export class NutClient {
  private socket: Socket | null = null
  private buffer = ''
  private lines: string[] = []
  private waiter: (() => void) | null = null
  private failure: NutError | null = null
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly target: NutTarget,
    private readonly timeoutMs = 5000,
  ) {}

  get server(): string {
    return `${this.target.host}:${this.target.port}`
  }

  /** Every UPS the server lists: name → description. */
  listUps(): Promise<Map<string, string>> {
    return this.serial(async () => {
      const rows = await this.list('LIST UPS', 'UPS')
      return new Map(rows.map((w) => [w[1]!, w[2] ?? '']))
    })
  }

  /** One UPS's variables. */
  listVars(ups: string): Promise<UpsVars> {
    return this.serial(async () => {
      const rows = await this.list(`LIST VAR ${word(ups)}`, 'VAR')
      return new Map(rows.filter((w) => w[1] === ups && w[2] !== undefined).map((w) => [w[2]!, w[3] ?? '']))
    })
  }

  close(): void {
    const s = this.socket
    this.socket = null
    if (s && !s.destroyed) {
      s.end('LOGOUT\n')
      s.destroySoon()
    }
  }

  /** Requests run one after another on the one connection. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn)
    this.queue = p.catch(() => undefined)
    return p
  }

  private async list(request: string, rowWord: string): Promise<string[][]> {
    await this.ensureConnected()
    this.send(request)
    const first = await this.nextLine()
    this.throwIfErr(first)
    if (first !== `BEGIN ${request}`)
      throw this.drop(new NutError(`unexpected answer: ${first.slice(0, 200)}`, 'PROTOCOL'))
    const rows: string[][] = []
    for (;;) {
      const line = await this.nextLine()
      if (line === `END ${request}`) return rows
      this.throwIfErr(line)
      const w = splitWords(line)
      if (w[0] !== rowWord) continue
      if (rows.length >= MAX_LIST)
        throw this.drop(new NutError(`more than ${MAX_LIST} lines in one list`, 'PROTOCOL'))
      rows.push(w)
    }
  }

  private throwIfErr(line: string): void {
    if (!line.startsWith('ERR ')) return
    const code = line.slice(4).split(' ')[0] ?? 'UNKNOWN'
    throw new NutError(NUT_ERRORS[code] ?? `the NUT server answered ERR ${code}`, code)
  }

  private async ensureConnected(): Promise<void> {
    if (this.socket && !this.socket.destroyed && !this.failure) return
    this.reset()
    const { host, port } = this.target
    const s = connect({ host, port })
    this.socket = s
    s.setEncoding('utf8')
    s.setNoDelay(true)
    s.on('data', (chunk: string) => this.onData(chunk))
    s.on('error', (e: NodeJS.ErrnoException) =>
      this.fail(new NutError(`${this.server}: ${e.message}`, e.code ?? 'SOCKET')),
    )
    s.on('close', () => this.fail(new NutError(`${this.server} closed the connection`, 'CLOSED')))
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        reject(
          this.drop(
            new NutError(
              `${this.server} did not accept a connection within ${this.timeoutMs} ms`,
              'ETIMEDOUT',
            ),
          ),
        )
      }, this.timeoutMs)
      s.once('connect', () => {
        clearTimeout(t)
        resolve()
      })
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(t)
        reject(new NutError(`${this.server}: ${e.message}`, e.code ?? 'SOCKET'))
      })
    })
    const { username, password } = this.target
    if (username !== null) {
      this.send(`USERNAME ${word(username)}`)
      this.expectOk(await this.nextLine())
    }
    if (password !== null) {
      this.send(`PASSWORD ${word(password)}`)
      this.expectOk(await this.nextLine())
    }
  }

  private expectOk(line: string): void {
    this.throwIfErr(line)
    if (!line.startsWith('OK'))
      throw this.drop(new NutError(`unexpected answer: ${line.slice(0, 200)}`, 'PROTOCOL'))
  }

  private send(line: string): void {
    this.socket?.write(`${line}\n`)
  }

  private onData(chunk: string): void {
    this.buffer += chunk
    let i = this.buffer.indexOf('\n')
    while (i !== -1) {
      this.lines.push(this.buffer.slice(0, i).replace(/\r$/, ''))
      this.buffer = this.buffer.slice(i + 1)
      i = this.buffer.indexOf('\n')
    }
    if (this.buffer.length > MAX_LINE)
      this.fail(new NutError(`a line longer than ${MAX_LINE} bytes`, 'PROTOCOL'))
    this.waiter?.()
  }

  private fail(e: NutError): void {
    if (!this.failure) this.failure = e
    this.socket?.destroy()
    this.waiter?.()
  }

  private drop(e: NutError): NutError {
    this.fail(e)
    return e
  }

  private reset(): void {
    this.socket?.destroy()
    this.socket = null
    this.buffer = ''
    this.lines = []
    this.failure = null
  }

  private nextLine(): Promise<string> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = null
        reject(
          this.drop(new NutError(`${this.server} did not answer within ${this.timeoutMs} ms`, 'ETIMEDOUT')),
        )
      }, this.timeoutMs)
      const check = () => {
        const line = this.lines.shift()
        if (line !== undefined) {
          clearTimeout(t)
          this.waiter = null
          resolve(line)
        } else if (this.failure) {
          clearTimeout(t)
          this.waiter = null
          reject(this.failure)
        } else this.waiter = check
      }
      check()
    })
  }
}

/**
 * `HOMELAB_UPS` entries: `nut://[user:pass@]host[:port][/ups]` or upsc's `ups@host[:port]`, or `host[:port]`
 * (every UPS the server lists). Throws with what is wrong.
 */
export function parseNutTarget(spec: string): NutTarget {
  const s = spec.trim()
  if (s.startsWith('nut://')) {
    let u: URL
    try {
      u = new URL(s)
    } catch {
      throw new Error(
        `"${s.replace(/\/\/[^@/]*@/, '//…@')}" is not a URL; expected nut://[user:pass@]host[:port][/ups]`,
      )
    }
    const ups = decodeURIComponent(u.pathname.replace(/^\//, '')) || null
    if (ups !== null && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(ups))
      throw new Error(`"${ups}" is not a UPS name (1–64 of A-Z, a-z, 0-9, ".", "_", "-")`)
    if (!u.hostname) throw new Error('nut:// needs a host')
    return {
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port ? Number(u.port) : 3493,
      ups,
      username: u.username ? decodeURIComponent(u.username) : null,
      password: u.password ? decodeURIComponent(u.password) : null,
    }
  }
  const m = /^(?:([A-Za-z0-9][A-Za-z0-9._-]{0,63})@)?([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?$/.exec(
    s,
  )
  if (!m)
    throw new Error(
      `"${s}" is not a NUT server; expected nut://[user:pass@]host[:port][/ups], ups@host[:port] or host[:port]`,
    )
  const port = m[3] ? Number(m[3]) : 3493
  if (port < 1 || port > 65_535) throw new Error(`port ${port} is outside 1–65535`)
  return { host: m[2]!.replace(/^\[|\]$/g, ''), port, ups: m[1] ?? null, username: null, password: null }
}
