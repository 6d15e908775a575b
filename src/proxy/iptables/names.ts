/**
 * kube-proxy's iptables chain names and number formatting, byte-exact.
 *
 * Upstream: pkg/proxy/iptables/proxier.go `portProtoHash`, `servicePortPolicyClusterChain`,
 * `servicePortEndpointChainName`, `computeProbability`; kube-proxy.md §2.11 and §2.4.
 */
import { createHash } from "node:crypto"

export const KUBE_SERVICES = "KUBE-SERVICES"
export const KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"
export const KUBE_NODEPORTS = "KUBE-NODEPORTS"
export const KUBE_POSTROUTING = "KUBE-POSTROUTING"
export const KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
export const KUBE_FORWARD = "KUBE-FORWARD"
export const KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"
export const KUBE_PROXY_CANARY = "KUBE-PROXY-CANARY"
/** kubelet's anti-martian chain, duplicated by kube-proxy when localhost NodePorts are on. */
export const KUBE_FIREWALL = "KUBE-FIREWALL"

export const PREFIX_SVC = "KUBE-SVC-"
export const PREFIX_SVL = "KUBE-SVL-"
export const PREFIX_FW = "KUBE-FW-"
export const PREFIX_EXT = "KUBE-EXT-"
export const PREFIX_SEP = "KUBE-SEP-"

/** nfacct counter names (pkg/proxy/metrics). */
export const NFACCT_CT_STATE_INVALID_DROPPED = "ct_state_invalid_dropped_pkts"
export const NFACCT_LOCALHOST_NODEPORTS_ACCEPTED = "localhost_nps_accepted_pkts"

const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

/** RFC 4648 base32 (Go base32.StdEncoding) of `bytes`, padding included. */
export function base32Std(bytes: Uint8Array): string {
  let out = ""
  let buffer = 0
  let bits = 0
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff
    bits += 8
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31]
  while (out.length % 8 !== 0) out += "="
  return out
}

/**
 * `base32Std(bytes).slice(0, 16)`: the first 16 characters are the first 80 bits (10 bytes), two
 * 5-byte groups of 8 characters each, without encoding the rest of the digest.
 */
function base32Head16(bytes: Uint8Array): string {
  let out = ""
  for (let g = 0; g < 10; g += 5) {
    // 40 bits as a high byte and a low 32-bit word (bitwise operators are 32-bit).
    const hi = bytes[g]
    const lo = ((bytes[g + 1] << 24) | (bytes[g + 2] << 16) | (bytes[g + 3] << 8) | bytes[g + 4]) >>> 0
    out +=
      BASE32_ALPHABET[hi >>> 3] +
      BASE32_ALPHABET[((hi & 7) << 2) | (lo >>> 30)] +
      BASE32_ALPHABET[(lo >>> 25) & 31] +
      BASE32_ALPHABET[(lo >>> 20) & 31] +
      BASE32_ALPHABET[(lo >>> 15) & 31] +
      BASE32_ALPHABET[(lo >>> 10) & 31] +
      BASE32_ALPHABET[(lo >>> 5) & 31] +
      BASE32_ALPHABET[lo & 31]
  }
  return out
}

/**
 * SHA-256 chain-name hashes are memoised: every node's kube-proxy names the same chains on every
 * sync, and hashing dominated the compiler's wall time at 10,000 Services. The memo is bounded
 * (cleared when full), so it only changes speed, never a name.
 */
const HASH_MEMO_MAX = 1 << 18
const hashMemo = new Map<string, string>()
/** Hashes actually computed (a performance invariant tests pin). */
export const chainNameHashStats = { computed: 0 }

function hash16(text: string): string {
  const memo = hashMemo.get(text)
  if (memo !== undefined) return memo
  const digest = createHash("sha256").update(text, "utf8").digest()
  const value = base32Head16(digest)
  chainNameHashStats.computed++
  if (hashMemo.size >= HASH_MEMO_MAX) hashMemo.clear()
  hashMemo.set(text, value)
  return value
}

/** `portProtoHash(servicePortName, protocol)`: first 16 base32 chars of sha256(name + protocol). */
export function portProtoHash(servicePortName: string, protocol: string): string {
  return hash16(servicePortName + protocol)
}

export function serviceChainName(servicePortName: string, protocol: string): string {
  return PREFIX_SVC + portProtoHash(servicePortName, protocol)
}

export function serviceLocalChainName(servicePortName: string, protocol: string): string {
  return PREFIX_SVL + portProtoHash(servicePortName, protocol)
}

export function serviceFirewallChainName(servicePortName: string, protocol: string): string {
  return PREFIX_FW + portProtoHash(servicePortName, protocol)
}

export function serviceExternalChainName(servicePortName: string, protocol: string): string {
  return PREFIX_EXT + portProtoHash(servicePortName, protocol)
}

/** KUBE-SEP- name: sha256(servicePortName + protocol + "IP:port"). */
export function endpointChainName(servicePortName: string, protocol: string, endpoint: string): string {
  return PREFIX_SEP + hash16(servicePortName + protocol + endpoint)
}

/** `isServiceChainName`: the chains kube-proxy owns per service and may delete when stale. */
export function isServiceChainName(chain: string): boolean {
  return (
    chain.startsWith(PREFIX_SVC) ||
    chain.startsWith(PREFIX_SVL) ||
    chain.startsWith(PREFIX_SEP) ||
    chain.startsWith(PREFIX_FW) ||
    chain.startsWith(PREFIX_EXT)
  )
}

/**
 * Go's `fmt.Sprintf("%0.*f", precision, x)` for a finite non-negative double: the exact binary value
 * rounded to `precision` decimals, ties to even (Go's strconv bigFtoa). JS `toFixed` breaks ties
 * upward instead, which differs for e.g. 1/2048 at 10 decimals.
 */
export function formatFixedGo(x: number, precision: number): string {
  if (!(x >= 0) || !Number.isFinite(x)) throw new Error(`formatFixedGo: unsupported value ${x}`)
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const high = view.getUint32(0)
  const low = view.getUint32(4)
  const biased = (high >>> 20) & 0x7ff
  let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(low)
  let exponent: number
  if (biased === 0) {
    exponent = -1074
  } else {
    mantissa |= 1n << 52n
    exponent = biased - 1075
  }
  const scale = 10n ** BigInt(precision)
  let scaled: bigint
  if (exponent >= 0) {
    scaled = (mantissa << BigInt(exponent)) * scale
  } else {
    const numerator = mantissa * scale
    const denominator = 1n << BigInt(-exponent)
    scaled = numerator / denominator
    const twiceRemainder = (numerator - scaled * denominator) * 2n
    if (twiceRemainder > denominator || (twiceRemainder === denominator && scaled % 2n === 1n)) scaled += 1n
  }
  const digits = scaled.toString().padStart(precision + 1, "0")
  if (precision === 0) return digits
  return `${digits.slice(0, digits.length - precision)}.${digits.slice(digits.length - precision)}`
}

const probabilityCache: string[] = []

/** `computeProbability(n)` = `fmt.Sprintf("%0.10f", 1.0/float64(n))`, cached like upstream. */
export function computeProbability(n: number): string {
  let value = probabilityCache[n]
  if (value === undefined) {
    value = formatFixedGo(1 / n, 10)
    probabilityCache[n] = value
  }
  return value
}

/** The masquerade mark as the unit-test fakes and iptables-save print it (`0x4000` for bit 14). */
export function masqueradeMark(masqueradeBit: number): string {
  return `0x${(2 ** masqueradeBit).toString(16)}`
}

/**
 * The mark exactly as real kube-proxy formats it, Go `fmt.Sprintf("%#08x", 1<<bit)`: Go pads the
 * digits (not the prefix) to 8, so bit 14 gives `0x00004000`. iptables-restore parses both forms
 * to the same value and iptables-save prints `0x4000`.
 */
export function masqueradeMarkGo(masqueradeBit: number): string {
  return `0x${(2 ** masqueradeBit).toString(16).padStart(8, "0")}`
}
