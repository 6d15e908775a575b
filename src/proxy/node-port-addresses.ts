/**
 * kube-proxy's `--nodeport-addresses` (KubeProxyConfiguration.nodePortAddresses), for every mode:
 * which node addresses accept NodePort traffic.
 *
 * Upstream, in the order it happens:
 * 1. validation (pkg/proxy/apis/config/validation/validation.go `validateKubeProxyNodePortAddress`):
 *    each entry is a CIDR of either family, or the single word `primary` alone;
 * 2. mode defaults (cmd/kube-proxy/app/server_linux.go `platformApplyDefaults`): in nftables mode an
 *    empty list becomes `[primary]`; the other modes keep it empty (= every local address);
 * 3. `primary` becomes the node's primary IP as a /32 (cmd/kube-proxy/app/server.go
 *    `newProxyServer`), skipped when that IP is loopback, so the list may become empty;
 * 4. per IP family (pkg/proxy/util/nodeport_addresses.go `NewNodePortAddresses`): CIDRs of the
 *    other family are dropped; none left -> the zero CIDR (match all); a zero CIDR anywhere -> match
 *    all; `containsIPv4Loopback` when a CIDR is loopback or contains 127.0.0.0.
 * Each mode's compiler then turns the result into its own form (iptables `-m addrtype --dst-type
 * LOCAL` or `-d <nodeIP>` rules; nftables `nodeport-ips`; IPVS virtual servers per node IP).
 */
import { isIPv6 } from "node:net"
import { cidrContains, parseCidr, parseIpv4, type Cidr } from "../wire/ipv4.ts"

export type ProxyModeName = "iptables" | "ipvs" | "nftables" | "userspace"

/** kubeproxyconfig.NodePortAddressesPrimary. */
export const NODE_PORT_ADDRESSES_PRIMARY = "primary"

/** One validation error: the index of the offending entry and upstream's message. */
export interface NodePortAddressIssue {
  readonly index: number
  readonly message: string
}

/** ParseCIDRSloppy: an address, a slash and a prefix length (host bits may be set). */
function isCidr(text: string): boolean {
  const slash = text.indexOf("/")
  if (slash < 0) return false
  const address = text.slice(0, slash)
  const prefix = text.slice(slash + 1)
  if (!/^\d{1,3}$/.test(prefix)) return false
  if (parseIpv4(address) !== undefined) return Number(prefix) <= 32
  return isIPv6(address) && Number(prefix) <= 128
}

/** validateKubeProxyNodePortAddress: upstream's messages, one per bad entry. */
export function validateNodePortAddresses(addresses: readonly string[]): NodePortAddressIssue[] {
  const issues: NodePortAddressIssue[] = []
  for (let i = 0; i < addresses.length; i++) {
    const text = addresses[i] as string
    if (text === NODE_PORT_ADDRESSES_PRIMARY) {
      if (i !== 0 || addresses.length !== 1) issues.push({ index: i, message: "can't use both 'primary' and CIDRs" })
      break
    }
    if (!isCidr(text)) issues.push({ index: i, message: "must be a valid CIDR" })
  }
  return issues
}

/**
 * The list the proxier is configured with in `mode` (platformApplyDefaults): the scenario's value,
 * or, when it is unset or empty, `[primary]` in nftables mode and `[]` (every local address) in
 * the others.
 */
export function effectiveNodePortAddresses(mode: ProxyModeName, value: readonly string[] | null): readonly string[] {
  const list = value ?? []
  if (mode === "nftables" && list.length === 0) return [NODE_PORT_ADDRESSES_PRIMARY]
  return list
}

/** newProxyServer: `[primary]` -> the node's primary IPv4 as a /32 (none if it is loopback). */
export function resolvePrimary(addresses: readonly string[], primaryIp: string | undefined): readonly string[] {
  if (addresses.length !== 1 || addresses[0] !== NODE_PORT_ADDRESSES_PRIMARY) return addresses
  const ip = primaryIp === undefined ? undefined : parseIpv4(primaryIp)
  if (ip === undefined || ip >>> 24 === 127) return []
  return [`${primaryIp}/32`]
}

/** NewNodePortAddresses(IPv4, ...): the IPv4 CIDRs, or match-all. */
export interface Ipv4NodePortAddresses {
  readonly matchAll: boolean
  /** The IPv4 CIDRs (host bits cleared), empty when matchAll. */
  readonly cidrs: readonly Cidr[]
  /** A CIDR is loopback or contains 127.0.0.0 (always true when matchAll: 0.0.0.0/0 contains it). */
  readonly containsIPv4Loopback: boolean
}

export function ipv4NodePortAddresses(addresses: readonly string[]): Ipv4NodePortAddresses {
  const cidrs: Cidr[] = []
  for (const text of addresses) {
    const prefix = parseCidr(text.trim(), false)
    if (prefix === undefined) continue // the other family's CIDR (or "primary", resolved earlier)
    if (prefix.prefixLength === 0) return { matchAll: true, cidrs: [], containsIPv4Loopback: true }
    cidrs.push(prefix)
  }
  if (cidrs.length === 0) return { matchAll: true, cidrs: [], containsIPv4Loopback: true }
  const loopback = parseIpv4("127.0.0.0") as number
  return {
    matchAll: false,
    cidrs,
    containsIPv4Loopback: cidrs.some((c) => c.address >>> 24 === 127 || cidrContains(c, loopback)),
  }
}

/** The mode's effective list for a node, resolved and reduced to IPv4 (steps 2-4 above). */
export function nodePortAddressesForNode(
  mode: ProxyModeName,
  value: readonly string[] | null,
  primaryIp: string | undefined,
): Ipv4NodePortAddresses {
  return ipv4NodePortAddresses(resolvePrimary(effectiveNodePortAddresses(mode, value), primaryIp))
}
