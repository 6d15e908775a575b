/**
 * IPv4 addresses as unsigned 32-bit integers, CIDR prefixes, and their text forms.
 * Dotted quads are parsed at the boundary (scenario, iptables-save text) and formatted only for
 * output; the engine compares integers.
 */
export type Ipv4 = number

export interface Cidr {
  /** Network address (host bits zero). */
  readonly address: Ipv4
  readonly prefixLength: number
  /** Netmask as u32; 0 for /0. */
  readonly mask: number
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** Parses a dotted quad; returns undefined when the text is not a valid IPv4 address. */
export function parseIpv4(text: string): Ipv4 | undefined {
  const m = IPV4_RE.exec(text)
  if (m === null) return undefined
  let value = 0
  for (let i = 1; i <= 4; i++) {
    const part = m[i]
    if (part.length > 1 && part[0] === "0") return undefined
    const octet = Number(part)
    if (octet > 255) return undefined
    value = value * 256 + octet
  }
  return value >>> 0
}

export function ipv4(text: string): Ipv4 {
  const value = parseIpv4(text)
  if (value === undefined) throw new Error(`not an IPv4 address: ${text}`)
  return value
}

export function formatIpv4(address: Ipv4): string {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`
}

export function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0
}

/** Parses `a.b.c.d/n` (or a bare address as /32). Host bits must be zero unless `strict` is false. */
export function parseCidr(text: string, strict = true): Cidr | undefined {
  const slash = text.indexOf("/")
  const address = parseIpv4(slash < 0 ? text : text.slice(0, slash))
  if (address === undefined) return undefined
  let prefixLength = 32
  if (slash >= 0) {
    const p = text.slice(slash + 1)
    if (!/^\d{1,2}$/.test(p)) return undefined
    prefixLength = Number(p)
    if (prefixLength > 32) return undefined
  }
  const mask = maskOf(prefixLength)
  if (strict && (address & ~mask) >>> 0 !== 0) return undefined
  return { address: (address & mask) >>> 0, prefixLength, mask }
}

export function cidr(text: string, strict = true): Cidr {
  const value = parseCidr(text, strict)
  if (value === undefined) throw new Error(`not an IPv4 CIDR: ${text}`)
  return value
}

export function cidrContains(prefix: Cidr, address: Ipv4): boolean {
  return (address & prefix.mask) >>> 0 === prefix.address
}

export function formatCidr(prefix: Cidr): string {
  return `${formatIpv4(prefix.address)}/${prefix.prefixLength}`
}

/** Number of addresses in the prefix (2^(32-n)). */
export function cidrSize(prefix: Cidr): number {
  return 2 ** (32 - prefix.prefixLength)
}

/** The i-th address of the prefix (0 = network address). */
export function cidrAddress(prefix: Cidr, index: number): Ipv4 {
  return (prefix.address + index) >>> 0
}
