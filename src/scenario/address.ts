/**
 * Addresses and CIDRs at the input boundary (scenario files and their manifests), parsed and
 * validated with `ip-address` (Address4 / Address6) so that the messages name what is wrong:
 * an IPv6 address or prefix is refused as such ("IPv6 is not modelled"), not as a malformed IPv4
 * address. The result is the engine's form, uint32 addresses and `Cidr` (src/wire/ipv4.ts): the
 * hot path never sees text or `ip-address` objects.
 */
import { Address4, Address6 } from "ip-address"
import { maskOf, type Cidr, type Ipv4 } from "../wire/ipv4.ts"

/** A parsed value, or the message saying why the text is not one. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string }

const IPV6_NOT_MODELLED = "IPv6 is not modelled (the simulator is IPv4 single-stack)"

/** True for an IPv6 address or prefix (Address6), which the simulator refuses as not modelled. */
export function isIpv6(text: string): boolean {
  return text.includes(":") && Address6.isValid(text)
}

/** The refusal of an IPv6 `text` as `what` ("clusterIP "fd00::1" is IPv6: ..."). */
export function ipv6NotModelled(text: string, what: string): string {
  return `${what} "${text}" is IPv6: ${IPV6_NOT_MODELLED}`
}

function ipv6Message(text: string, what: string): string | undefined {
  return isIpv6(text) ? ipv6NotModelled(text, what) : undefined
}

/** What ip-address says is wrong ("IPv4 addresses can't have leading zeroes."), without the full stop. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(/\.$/, "").replace(/^Invalid IPv4 address$/, "expected a dotted quad such as 10.96.0.10")
}

/** A dotted-quad IPv4 address (no prefix) as uint32. */
export function parseAddress(text: string, what = "IPv4 address"): Parsed<Ipv4> {
  const v6 = ipv6Message(text, what.replace(/^IPv4 /, ""))
  if (v6 !== undefined) return { ok: false, message: v6 }
  if (text.includes("/"))
    return { ok: false, message: `invalid ${what} "${text}": expected an address without a /prefix` }
  let address: Address4
  try {
    address = new Address4(text)
  } catch (error) {
    return { ok: false, message: `invalid ${what} "${text}": ${reason(error)}` }
  }
  return { ok: true, value: Number(address.bigInt()) >>> 0 }
}

/**
 * An IPv4 prefix ADDRESS/LENGTH as a `Cidr`. With `strict` (the default, as the API server and
 * kube-controller-manager validate CIDR fields) host bits must be zero; the message then names the
 * network the user probably meant.
 */
export function parsePrefix(text: string, what = "CIDR", strict = true): Parsed<Cidr> {
  const v6 = ipv6Message(text, what)
  if (v6 !== undefined) return { ok: false, message: v6 }
  const slash = text.indexOf("/")
  if (slash < 0) return { ok: false, message: `invalid ${what} "${text}": expected ADDRESS/PREFIX, e.g. 10.96.0.0/12` }
  // ip-address reads the prefix length leniently ("/08"); the API server's parser (netip) does not.
  if (!/^(0|[1-9]\d?)$/.test(text.slice(slash + 1)))
    return { ok: false, message: `invalid ${what} "${text}": the prefix length must be 0 to 32` }
  let prefix: Address4
  try {
    prefix = new Address4(text)
  } catch (error) {
    const message = reason(error).replace(/^Invalid subnet mask$/, "the prefix length must be 0 to 32")
    return { ok: false, message: `invalid ${what} "${text}": ${message}` }
  }
  const prefixLength = prefix.subnetMask
  const mask = maskOf(prefixLength)
  const address = Number(prefix.bigInt()) >>> 0
  const network = (address & mask) >>> 0
  if (strict && network !== address) {
    return {
      ok: false,
      message: `invalid ${what} "${text}": host bits are set (did you mean ${prefix.startAddress().correctForm()}/${prefixLength}?)`,
    }
  }
  return { ok: true, value: { address: network, prefixLength, mask } }
}
