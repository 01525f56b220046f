import { LOG_LIMITS, type LogLine, type LogSelector } from '@homelab/contracts'
import { boundedText, LogError, type LogSource, searchPredicate, selectLines } from '@homelab/service-kit'
import { describeDockerError } from './convert.js'
import { type Engine, statusOf } from './engine.js'

const TIMESTAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) /

/**
 * Docker's log stream to lines: demultiplexes stdout/stderr frames (8-byte headers; a TTY container's stream is
 * raw), joins the parts of a long line (Docker splits lines at 16 KiB, each part with its own timestamp), cuts lines
 * past LOG_LIMITS.maxLineChars, and reads the timestamp at the start of each line. Holds at most one partial line
 * per stream, itself bounded.
 */
export class LogDemuxer {
  private buf: Buffer = Buffer.alloc(0)
  private readonly partial = { stdout: '', stderr: '' }
  private readonly partialAt = { stdout: '', stderr: '' }

  constructor(
    private readonly tty: boolean,
    private readonly instance: string | null,
  ) {}

  push(chunk: Buffer): LogLine[] {
    const out: LogLine[] = []
    if (this.tty) {
      this.text('stdout', chunk.toString('utf8'), out)
      return out
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk
    let at = 0
    while (this.buf.length - at >= 8) {
      const size = this.buf.readUInt32BE(at + 4)
      if (this.buf.length - at - 8 < size) break
      const kind = this.buf[at]
      const payload = this.buf.toString('utf8', at + 8, at + 8 + size)
      at += 8 + size
      // 1 stdout, 2 stderr (0 is stdin, never in logs).
      this.text(kind === 2 ? 'stderr' : 'stdout', payload, out)
    }
    this.buf = at === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at)
    return out
  }

  /** What is left when the stream ends (a last line without a newline). */
  end(): LogLine[] {
    const out: LogLine[] = []
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.partial[s]) out.push(this.line(s, this.partialAt[s], this.partial[s]))
      this.partial[s] = ''
    }
    return out
  }

  private text(stream: 'stdout' | 'stderr', text: string, out: LogLine[]): void {
    let rest = text
    for (;;) {
      const nl = rest.indexOf('\n')
      const piece = nl < 0 ? rest : rest.slice(0, nl)
      if (this.partial[stream] === '') {
        const m = TIMESTAMP.exec(piece)
        this.partialAt[stream] = m?.[1] ?? ''
        this.partial[stream] = m ? piece.slice(m[0].length) : piece
      } else {
        // The continuation of a split line carries its own timestamp: drop it.
        const m = TIMESTAMP.exec(piece)
        this.partial[stream] += m ? piece.slice(m[0].length) : piece
      }
      // Bound what a line without a newline can hold.
      if (this.partial[stream].length > LOG_LIMITS.maxLineChars * 2)
        this.partial[stream] = this.partial[stream].slice(0, LOG_LIMITS.maxLineChars * 2)
      if (nl < 0) return
      out.push(this.line(stream, this.partialAt[stream], this.partial[stream]))
      this.partial[stream] = ''
      rest = rest.slice(nl + 1)
      if (rest === '') return
    }
  }

  private line(stream: 'stdout' | 'stderr', at: string, raw: string): LogLine {
    const ts = Date.parse(at)
    const { text, truncated } = boundedText(raw)
    return {
      ts: Number.isFinite(ts) ? ts : Date.now(),
      at: at.slice(0, 40),
      stream,
      priority: null,
      text,
      truncated,
      instance: this.instance,
    }
  }
}

interface Target {
  id: string
  name: string
  tty: boolean
  running: boolean
  startedAt: string | null
}

/** How many reads run at once; each holds at most READ_BUFFER_CHARS of lines. */
const MAX_READS = 4
const READ_BUFFER_CHARS = 8 * 1024 * 1024

/** The docker-collector's logs: read through the Docker API (the proxy lets `/containers/{id}/logs` through). */
export class DockerLogs implements LogSource {
  private reads = 0

  constructor(
    private readonly engine: Engine,
    /** A container's full id for a name, id or id prefix (the collector's own list), or null. */
    private readonly resolve: (target: string) => string | null,
  ) {}

  private async target(ref: string): Promise<Target> {
    const id = this.resolve(ref)
    if (!id) throw new LogError('not_found', `no container named "${ref}" or with that id`)
    try {
      const i = await this.engine.inspect(id)
      return {
        id: i.Id,
        name: (i.Name ?? id).replace(/^\//, ''),
        tty: i.Config?.Tty === true,
        running: i.State?.Running === true,
        startedAt: i.State?.StartedAt ?? null,
      }
    } catch (e) {
      if (statusOf(e) === 404) throw new LogError('not_found', `container "${ref}" no longer exists`)
      throw new LogError('unavailable', describeDockerError(e, this.engine.where))
    }
  }

  private open(
    t: Target,
    sel: LogSelector,
    tail: number | 'all',
    signal: AbortSignal,
    since?: number,
    until?: number,
  ) {
    return this.engine.logs(t.id, {
      stdout: sel.stream !== 'stderr',
      stderr: sel.stream !== 'stdout',
      tail,
      signal,
      ...(since === undefined ? {} : { since }),
      ...(until === undefined ? {} : { until }),
    })
  }

  async read(sel: LogSelector, signal: AbortSignal) {
    searchPredicate(sel.search) // a bad pattern is refused before Docker is asked
    if (this.reads >= MAX_READS)
      throw new LogError('busy', `already reading ${MAX_READS} logs: try again in a moment`)
    this.reads++
    try {
      const t = await this.target(sel.target)
      // With a search, look through up to maxScan lines for matches; without, the tail is the answer.
      const scan = sel.search ? LOG_LIMITS.maxScan : sel.tail
      const until = sel.until ?? Date.now()
      const demux = new LogDemuxer(t.tty, t.startedAt)
      const lines: LogLine[] = []
      let chars = 0
      let dropped = false
      const keep = (ls: LogLine[]) => {
        for (const l of ls) {
          lines.push(l)
          chars += l.text.length
        }
        // Newest lines win: past the buffer's bound the oldest go (and the answer gets a cursor).
        while (chars > READ_BUFFER_CHARS && lines.length > 1) {
          chars -= lines.shift()!.text.length
          dropped = true
        }
      }
      const stream = await this.open(t, sel, scan, signal, sel.since, until)
      await new Promise<void>((resolve, reject) => {
        stream.on('data', (c: Buffer) => keep(demux.push(c)))
        stream.on('end', () => resolve())
        stream.on('close', () => resolve())
        stream.on('error', (e: Error) => (signal.aborted ? resolve() : reject(e)))
        signal.addEventListener('abort', () => {
          ;(stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.()
          resolve()
        })
      })
      keep(demux.end())
      const exhausted = !dropped && !signal.aborted && lines.length < scan
      return { subject: t.name, ...selectLines(lines, sel, exhausted) }
    } finally {
      this.reads--
    }
  }

  async follow(sel: LogSelector, onLines: (lines: LogLine[]) => void, signal: AbortSignal) {
    const match = searchPredicate(sel.search)
    let t = await this.target(sel.target)
    let last = 0
    // Opens a stream and returns once it is open; `ended` settles when Docker ends it.
    const pipe = async (tail: number | 'all', since?: number) => {
      const demux = new LogDemuxer(t.tty, t.startedAt)
      const stream = await this.open(t, sel, tail, signal, since)
      const ended = new Promise<void>((resolve) => {
        const emit = (ls: LogLine[]) => {
          // A resumed stream starts at the last line already sent: only what is newer goes on.
          const fresh = ls.filter((l) => (since === undefined || l.ts > since) && (!match || match(l.text)))
          if (ls.length) last = Math.max(last, ls[ls.length - 1]!.ts)
          if (fresh.length > 0) onLines(fresh)
        }
        stream.on('data', (c: Buffer) => emit(demux.push(c)))
        const done = () => {
          emit(demux.end())
          resolve()
        }
        stream.on('end', done)
        stream.on('close', done)
        stream.on('error', done)
      })
      return { ended }
    }
    const first = (await pipe(sel.tail)).ended
    const ended = (async () => {
      await first
      // Docker ends a follow when the container stops: wait for it to run again (a restart), then go on from the
      // last line seen, as its new instance. A removed container ends the follow.
      while (!signal.aborted) {
        await sleep(1000, signal)
        if (signal.aborted) return
        let next: Target
        try {
          next = await this.target(t.id)
        } catch (e) {
          if (e instanceof LogError && e.code === 'not_found') return
          continue
        }
        if (!next.running) continue
        t = next
        await (await pipe('all', last > 0 ? last : undefined)).ended
      }
    })()
    return { subject: t.name, ended }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms)
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t)
        resolve()
      },
      { once: true },
    )
  })
}
