/**
 * kube-proxy's nftables object names, byte-exact.
 *
 * Upstream: pkg/proxy/nftables/proxier.go constants, `hashAndTruncate`, `servicePortChainNameBase`,
 * `servicePortEndpointChainNameBase`, `isServiceChainName`, `isAffinitySetName`
 * (proxy-modes.md §1.3 and §1.5; test vectors from Test_servicePortChainNameBase and
 * Test_servicePortEndpointChainNameBase).
 */
import { createHash } from "node:crypto"
import { base32Std } from "../iptables/names.ts"

export const KUBE_PROXY_TABLE = "kube-proxy"
export const TABLE_COMMENT = "rules for kube-proxy"

// Base chains (era A, v1.33-v1.35).
export const FILTER_PREROUTING_PRE_DNAT = "filter-prerouting-pre-dnat"
export const FILTER_OUTPUT_PRE_DNAT = "filter-output-pre-dnat"
export const FILTER_INPUT = "filter-input"
export const FILTER_FORWARD = "filter-forward"
export const FILTER_OUTPUT = "filter-output"
export const NAT_PREROUTING = "nat-prerouting"
export const NAT_OUTPUT = "nat-output"
export const NAT_POSTROUTING = "nat-postrouting"

// Regular top-level chains.
export const SERVICES_CHAIN = "services"
export const SERVICE_ENDPOINTS_CHECK_CHAIN = "service-endpoints-check"
export const NODEPORT_ENDPOINTS_CHECK_CHAIN = "nodeport-endpoints-check"
export const REJECT_CHAIN = "reject-chain"
export const CLUSTER_IPS_CHECK_CHAIN = "cluster-ips-check"
export const FIREWALL_CHECK_CHAIN = "firewall-check"
export const MARK_MASQ_CHAIN = "mark-for-masquerade"
export const MASQUERADING_CHAIN = "masquerading"

// Sets and maps.
export const CLUSTER_IPS_SET = "cluster-ips"
export const NODEPORT_IPS_SET = "nodeport-ips"
export const SERVICE_IPS_MAP = "service-ips"
export const SERVICE_NODEPORTS_MAP = "service-nodeports"
export const FIREWALL_IPS_MAP = "firewall-ips"
export const NO_ENDPOINT_SERVICES_MAP = "no-endpoint-services"
export const NO_ENDPOINT_NODEPORTS_MAP = "no-endpoint-nodeports"

export const PREFIX_CLUSTER_POLICY = "service-"
export const PREFIX_LOCAL_POLICY = "local-"
export const PREFIX_EXTERNAL = "external-"
export const PREFIX_ENDPOINT = "endpoint-"
export const PREFIX_AFFINITY = "affinity-"
export const PREFIX_FIREWALL = "firewall-"

/** knftables.NameLengthMax. */
export const NAME_LENGTH_MAX = 256
/** chainNamePrefixLengthMax: the longest prefix, trailing hyphen included. */
const CHAIN_NAME_PREFIX_LENGTH_MAX = 16
/** chainNameBaseLengthMax = NameLengthMax - chainNamePrefixLengthMax. */
export const CHAIN_NAME_BASE_LENGTH_MAX = NAME_LENGTH_MAX - CHAIN_NAME_PREFIX_LENGTH_MAX

/** Bounded memo (as iptables/names.ts): the same names are hashed on every node and every sync. */
const HASH_MEMO_MAX = 1 << 18
const baseMemo = new Map<string, string>()
/** Hashes actually computed (tests pin the memo). */
export const nftNameHashStats = { computed: 0 }

/**
 * `hashAndTruncate(name)`: first 8 chars of base32(sha256(name)), "-", name; cut to 240 bytes with
 * "..." at the end. Names are ASCII (Kubernetes names, protocols, IPs, ports), so bytes = chars.
 */
export function hashAndTruncate(name: string): string {
  const memo = baseMemo.get(name)
  if (memo !== undefined) return memo
  const digest = createHash("sha256").update(name, "utf8").digest()
  let out = `${base32Std(digest).slice(0, 8)}-${name}`
  if (out.length > CHAIN_NAME_BASE_LENGTH_MAX) out = out.slice(0, CHAIN_NAME_BASE_LENGTH_MAX - 3) + "..."
  nftNameHashStats.computed++
  if (baseMemo.size >= HASH_MEMO_MAX) baseMemo.clear()
  baseMemo.set(name, out)
  return out
}

/** `servicePortChainNameBase`: hashAndTruncate("ns/svc/protocol/portName"); protocol lower-case. */
export function servicePortChainNameBase(
  namespace: string,
  serviceName: string,
  protocol: string,
  portName: string,
): string {
  return hashAndTruncate(`${namespace}/${serviceName}/${protocol}/${portName}`)
}

/**
 * `servicePortEndpointChainNameBase`: the endpoint string ("IP:port" or "[v6]:port") is split as
 * net.SplitHostPort does and IPv6 colons become dots: "ns/svc/protocol/portName__IP/port".
 */
export function servicePortEndpointChainNameBase(
  namespace: string,
  serviceName: string,
  protocol: string,
  portName: string,
  endpoint: string,
): string {
  const colon = endpoint.lastIndexOf(":")
  let ip = endpoint.slice(0, colon)
  const port = endpoint.slice(colon + 1)
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1)
  ip = ip.replaceAll(":", ".")
  return hashAndTruncate(`${namespace}/${serviceName}/${protocol}/${portName}__${ip}/${port}`)
}

/** Service and endpoint chain names always contain "/"; none of the fixed chains do. */
export function isServiceChainName(chain: string): boolean {
  return chain.includes("/")
}

export function isAffinitySetName(set: string): boolean {
  return set.startsWith(PREFIX_AFFINITY)
}
