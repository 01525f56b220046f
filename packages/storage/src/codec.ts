import { deflateRawSync, inflateRawSync } from 'node:zlib'

/**
 * Compact encoding of one series' samples (a chunk), so a raw sample costs about 1–3 bytes on disk:
 *   byte 0: format (1) | flags (bit 7: deflated)
 *   then (possibly deflated): count, first ts, first delta, delta-of-deltas (zig-zag varints);
 *   value scale k: values are stored as integers v·10^k when every value has at most k decimals (k ≤ 6),
 *   as zig-zag varint deltas; otherwise (k = 255) as raw float64.
 * Regular sampling makes every delta-of-delta 0 and slowly moving values make small deltas, which deflate well.
 */
const FORMAT = 1
const DEFLATED = 0x80

class Writer {
  private buf = Buffer.allocUnsafe(256)
  len = 0
  private ensure(n: number) {
    if (this.len + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n))
    this.buf.copy(next, 0, 0, this.len)
    this.buf = next
  }
  byte(b: number) {
    this.ensure(1)
    this.buf[this.len++] = b
  }
  /** Unsigned varint for 0 ≤ n < 2^53. */
  uvar(n: number) {
    this.ensure(8)
    while (n >= 0x80) {
      this.buf[this.len++] = (n % 0x80) | 0x80
      n = Math.floor(n / 0x80)
    }
    this.buf[this.len++] = n
  }
  svar(n: number) {
    this.uvar(n >= 0 ? n * 2 : -n * 2 - 1)
  }
  f64(x: number) {
    this.ensure(8)
    this.buf.writeDoubleLE(x, this.len)
    this.len += 8
  }
  done(): Buffer {
    return this.buf.subarray(0, this.len)
  }
}

class Reader {
  pos = 0
  constructor(private readonly buf: Buffer) {}
  byte(): number {
    const b = this.buf[this.pos++]
    if (b === undefined) throw new Error('chunk truncated')
    return b
  }
  uvar(): number {
    let n = 0
    let mul = 1
    for (;;) {
      const b = this.byte()
      n += (b & 0x7f) * mul
      if (b < 0x80) return n
      mul *= 0x80
    }
  }
  svar(): number {
    const z = this.uvar()
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2
  }
  f64(): number {
    const x = this.buf.readDoubleLE(this.pos)
    this.pos += 8
    return x
  }
}

/** Smallest k ≤ 6 such that every value is an integer at 10^k, or 255 if none (or a value is too large). */
function decimalScale(values: ArrayLike<number>): number {
  outer: for (let k = 0; k <= 6; k++) {
    const m = 10 ** k
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!
      const q = Math.round(v * m)
      // Exact round trip only: the decoder computes q / 10^k and must get v back bit for bit.
      if (!Number.isFinite(q) || Math.abs(q) > 2 ** 50 || q / m !== v) continue outer
    }
    return k
  }
  return 255
}

export function encodeChunk(ts: ArrayLike<number>, values: ArrayLike<number>): Buffer {
  const n = ts.length
  if (n !== values.length) throw new Error('ts and values differ in length')
  const w = new Writer()
  w.uvar(n)
  if (n > 0) {
    w.uvar(ts[0]!)
    let prevDelta = 0
    for (let i = 1; i < n; i++) {
      const d = ts[i]! - ts[i - 1]!
      if (i === 1) w.svar(d)
      else w.svar(d - prevDelta)
      prevDelta = d
    }
    const k = decimalScale(values)
    w.byte(k)
    if (k === 255) {
      for (let i = 0; i < n; i++) w.f64(values[i]!)
    } else {
      const m = 10 ** k
      let prev = 0
      for (let i = 0; i < n; i++) {
        const q = Math.round(values[i]! * m)
        w.svar(q - prev)
        prev = q
      }
    }
  }
  const plain = w.done()
  const packed = deflateRawSync(plain, { level: 6 })
  const useDeflate = packed.length < plain.length
  const body = useDeflate ? packed : plain
  const out = Buffer.allocUnsafe(body.length + 1)
  out[0] = FORMAT | (useDeflate ? DEFLATED : 0)
  body.copy(out, 1)
  return out
}

export function decodeChunk(chunk: Buffer): { ts: Float64Array; values: Float64Array } {
  const head = chunk[0] ?? 0
  if ((head & 0x7f) !== FORMAT) throw new Error(`unknown chunk format ${head & 0x7f}`)
  const body = head & DEFLATED ? inflateRawSync(chunk.subarray(1)) : chunk.subarray(1)
  const r = new Reader(body)
  const n = r.uvar()
  const ts = new Float64Array(n)
  const values = new Float64Array(n)
  if (n === 0) return { ts, values }
  ts[0] = r.uvar()
  let delta = 0
  for (let i = 1; i < n; i++) {
    delta = i === 1 ? r.svar() : delta + r.svar()
    ts[i] = ts[i - 1]! + delta
  }
  const k = r.byte()
  if (k === 255) {
    for (let i = 0; i < n; i++) values[i] = r.f64()
  } else {
    const m = 10 ** k
    let q = 0
    for (let i = 0; i < n; i++) {
      q += r.svar()
      values[i] = q / m
    }
  }
  return { ts, values }
}
