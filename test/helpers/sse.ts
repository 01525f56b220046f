/** A server-sent-event stream read by a test: its events as they arrive, and a way to close it. */
export interface SseReader {
  events: Array<{ event: string; data: string; at: number }>
  status: number
  close(): void
  /** Settles when the server ends the stream. */
  ended: Promise<void>
}

/** Opens `url` as an event stream with a bearer token and collects its events (comments skipped). */
export async function openSse(url: string, token: string): Promise<SseReader> {
  const abort = new AbortController()
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal })
  const events: SseReader['events'] = []
  const reader = res.body?.getReader()
  const ended = (async () => {
    if (!reader || res.status !== 200) return
    const dec = new TextDecoder()
    let buf = ''
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        buf += dec.decode(value, { stream: true })
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i)
          buf = buf.slice(i + 2)
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim()
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
          }
          if (data.length) events.push({ event, data: data.join('\n'), at: Date.now() })
        }
      }
    } catch {
      // aborted by close()
    }
  })()
  return { events, status: res.status, close: () => abort.abort(), ended }
}
