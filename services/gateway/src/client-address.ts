import { BlockList, isIP } from 'node:net'

/** `::ffff:10.0.0.1` → `10.0.0.1`: one address, one spelling. */
export function normalizeAddress(a: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a)
  return (m ? m[1]! : a).toLowerCase()
}

/** Parses `HOMELAB_TRUSTED_PROXIES`: CIDRs or addresses, comma or space separated. Throws naming a bad entry. */
export function parseCidrs(list: string): BlockList {
  const b = new BlockList()
  for (const raw of list.split(/[\s,]+/).filter(Boolean)) {
    const [addr = '', bits] = raw.split('/')
    const family = isIP(addr)
    if (family === 0) throw new Error(`"${raw}" is not an IP address or CIDR`)
    const type = family === 4 ? 'ipv4' : 'ipv6'
    const max = family === 4 ? 32 : 128
    if (bits === undefined) b.addAddress(addr, type)
    else {
      const n = Number(bits)
      if (!/^\d{1,3}$/.test(bits) || n > max) throw new Error(`"${raw}": the prefix length must be 0–${max}`)
      b.addSubnet(addr, n, type)
    }
  }
  return b
}

/**
 * Who a request comes from. The socket's peer, unless that peer is a trusted proxy: then the last address in
 * `X-Forwarded-For` (or `Forwarded: for=`) that is not itself a trusted proxy — the proxy appends the address it
 * saw, so the entries left of it are whatever the client chose to send and count for nothing.
 */
export class TrustedProxies {
  constructor(private readonly list: BlockList | null) {}

  trusts(addr: string): boolean {
    if (!this.list) return false
    const a = normalizeAddress(addr)
    const family = isIP(a)
    return family !== 0 && this.list.check(a, family === 4 ? 'ipv4' : 'ipv6')
  }

  client(peer: string, headers: { forwardedFor?: string; forwarded?: string }): string {
    const p = normalizeAddress(peer)
    if (!this.trusts(p)) return p
    const chain = headers.forwardedFor
      ? headers.forwardedFor.split(',').map((s) => s.trim())
      : forwardedFor(headers.forwarded ?? '')
    for (let i = chain.length - 1; i >= 0; i--) {
      const a = normalizeAddress(chain[i]!)
      if (isIP(a) === 0) return p // garbage where an address should be: trust nothing further left
      if (!this.trusts(a)) return a
    }
    return p
  }
}

/** The `for=` addresses of an RFC 7239 `Forwarded` header, in order (`for="[2001:db8::1]:4711"` → `2001:db8::1`). */
function forwardedFor(header: string): string[] {
  const out: string[] = []
  for (const m of header.matchAll(/for=("?)([^";,]+)\1/gi)) {
    let v = m[2]!.trim()
    const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(v)
    if (v6) v = v6[1]!
    else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(v)) v = v.slice(0, v.lastIndexOf(':'))
    out.push(v)
  }
  return out
}
