/**
 * Names and fixed tables of kube-proxy's IPVS proxier: iptables chains, jump rules, the ipsets in
 * `ipsetInfo` order with their types and comments, and `ipsetWithIptablesChain`.
 *
 * Upstream: kubernetes/kubernetes pkg/proxy/ipvs/proxier.go (v1.31-v1.34 shape: KUBE-IPVS-OUT-FILTER,
 * lbNoNodeAccessIPPortProtocolEntries), pkg/proxy/ipvs/ipset.go (set names and comments);
 * ../shared/reference/proxy-modes.md §3.1-3.3.
 */

export const KUBE_SERVICES = "KUBE-SERVICES"
export const KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"
export const KUBE_SOURCE_RANGES_FIREWALL = "KUBE-SOURCE-RANGES-FIREWALL"
export const KUBE_POSTROUTING = "KUBE-POSTROUTING"
export const KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
export const KUBE_NODE_PORT = "KUBE-NODE-PORT"
export const KUBE_FORWARD = "KUBE-FORWARD"
export const KUBE_LOAD_BALANCER = "KUBE-LOAD-BALANCER"
/** Filters external access to the node's own ports through VIPs (kubernetes issue #72236). */
export const KUBE_IPVS_FILTER = "KUBE-IPVS-FILTER"
/** Blocks node access to LB IPs whose source ranges exclude the node (kubernetes issue #119656). */
export const KUBE_IPVS_OUT_FILTER = "KUBE-IPVS-OUT-FILTER"

/** proxier.go `defaultDummyDevice`. */
export const DUMMY_DEVICE = "kube-ipvs0"
/** proxier.go `defaultScheduler`. */
export const DEFAULT_SCHEDULER = "rr"

export type IptablesTableName = "nat" | "filter"

/** proxier.go `iptablesChains`, in upstream order (TestCreateAndLinkKubeChain asserts it). */
export const IPTABLES_CHAINS: readonly { readonly table: IptablesTableName; readonly chain: string }[] = [
  { table: "nat", chain: KUBE_SERVICES },
  { table: "nat", chain: KUBE_POSTROUTING },
  { table: "nat", chain: KUBE_NODE_PORT },
  { table: "nat", chain: KUBE_LOAD_BALANCER },
  { table: "nat", chain: KUBE_MARK_MASQ },
  { table: "filter", chain: KUBE_FORWARD },
  { table: "filter", chain: KUBE_NODE_PORT },
  { table: "filter", chain: KUBE_PROXY_FIREWALL },
  { table: "filter", chain: KUBE_SOURCE_RANGES_FIREWALL },
  { table: "filter", chain: KUBE_IPVS_FILTER },
  { table: "filter", chain: KUBE_IPVS_OUT_FILTER },
]

export interface IpvsJumpChain {
  readonly table: IptablesTableName
  /** Built-in chain the jump is installed in. */
  readonly from: string
  readonly to: string
  readonly comment: string
}

/**
 * proxier.go `iptablesJumpChain`: installed by `createAndLinkKubeChain` with
 * `EnsureRule(Prepend, table, from, "-m", "comment", "--comment", comment, "-j", to)`, i.e.
 * `iptables -I from` when missing, in this order.
 */
export const IPTABLES_JUMP_CHAINS: readonly IpvsJumpChain[] = [
  { table: "nat", from: "OUTPUT", to: KUBE_SERVICES, comment: "kubernetes service portals" },
  { table: "nat", from: "PREROUTING", to: KUBE_SERVICES, comment: "kubernetes service portals" },
  { table: "nat", from: "POSTROUTING", to: KUBE_POSTROUTING, comment: "kubernetes postrouting rules" },
  { table: "filter", from: "FORWARD", to: KUBE_FORWARD, comment: "kubernetes forwarding rules" },
  { table: "filter", from: "INPUT", to: KUBE_NODE_PORT, comment: "kubernetes health check rules" },
  { table: "filter", from: "INPUT", to: KUBE_PROXY_FIREWALL, comment: "kube-proxy firewall rules" },
  { table: "filter", from: "FORWARD", to: KUBE_PROXY_FIREWALL, comment: "kube-proxy firewall rules" },
  { table: "filter", from: "INPUT", to: KUBE_IPVS_FILTER, comment: "kubernetes ipvs access filter" },
  { table: "filter", from: "OUTPUT", to: KUBE_IPVS_OUT_FILTER, comment: "kubernetes ipvs access filter" },
]

export const KUBE_LOOP_BACK = "KUBE-LOOP-BACK"
export const KUBE_CLUSTER_IP = "KUBE-CLUSTER-IP"
export const KUBE_EXTERNAL_IP = "KUBE-EXTERNAL-IP"
export const KUBE_EXTERNAL_IP_LOCAL = "KUBE-EXTERNAL-IP-LOCAL"
export const KUBE_LOAD_BALANCER_SET = "KUBE-LOAD-BALANCER"
export const KUBE_LOAD_BALANCER_FW = "KUBE-LOAD-BALANCER-FW"
export const KUBE_LOAD_BALANCER_LOCAL = "KUBE-LOAD-BALANCER-LOCAL"
export const KUBE_LOAD_BALANCER_SOURCE_IP = "KUBE-LOAD-BALANCER-SOURCE-IP"
export const KUBE_LOAD_BALANCER_SOURCE_CIDR = "KUBE-LOAD-BALANCER-SOURCE-CIDR"
export const KUBE_NODE_PORT_TCP = "KUBE-NODE-PORT-TCP"
export const KUBE_NODE_PORT_LOCAL_TCP = "KUBE-NODE-PORT-LOCAL-TCP"
export const KUBE_NODE_PORT_UDP = "KUBE-NODE-PORT-UDP"
export const KUBE_NODE_PORT_LOCAL_UDP = "KUBE-NODE-PORT-LOCAL-UDP"
export const KUBE_NODE_PORT_SCTP_HASH = "KUBE-NODE-PORT-SCTP-HASH"
export const KUBE_NODE_PORT_LOCAL_SCTP_HASH = "KUBE-NODE-PORT-LOCAL-SCTP-HASH"
export const KUBE_HEALTH_CHECK_NODE_PORT = "KUBE-HEALTH-CHECK-NODE-PORT"
export const KUBE_IPVS_IPS = "KUBE-IPVS-IPS"

/** The ipset types kube-proxy's IPVS mode creates (pkg/proxy/ipvs/ipset/ipset.go `Type`). */
export type IpsetType = "hash:ip" | "hash:ip,port" | "hash:ip,port,ip" | "hash:ip,port,net" | "bitmap:port"

export interface IpsetInfo {
  readonly name: string
  readonly type: IpsetType
  /** Set comment; rules carry it quoted (`IPSet.getComment`). */
  readonly comment: string
}

/** proxier.go `ipsetInfo`, in upstream order; comments from pkg/proxy/ipvs/ipset.go. */
export const IPSET_INFO: readonly IpsetInfo[] = [
  {
    name: KUBE_LOOP_BACK,
    type: "hash:ip,port,ip",
    comment: "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose",
  },
  {
    name: KUBE_CLUSTER_IP,
    type: "hash:ip,port",
    comment: "Kubernetes service cluster ip + port for masquerade purpose",
  },
  {
    name: KUBE_EXTERNAL_IP,
    type: "hash:ip,port",
    comment: "Kubernetes service external ip + port for masquerade and filter purpose",
  },
  {
    name: KUBE_EXTERNAL_IP_LOCAL,
    type: "hash:ip,port",
    comment: "Kubernetes service external ip + port with externalTrafficPolicy=local",
  },
  { name: KUBE_LOAD_BALANCER_SET, type: "hash:ip,port", comment: "Kubernetes service lb portal" },
  {
    name: KUBE_LOAD_BALANCER_FW,
    type: "hash:ip,port",
    comment: "Kubernetes service load balancer ip + port for load balancer with sourceRange",
  },
  {
    name: KUBE_LOAD_BALANCER_LOCAL,
    type: "hash:ip,port",
    comment: "Kubernetes service load balancer ip + port with externalTrafficPolicy=local",
  },
  {
    name: KUBE_LOAD_BALANCER_SOURCE_IP,
    type: "hash:ip,port,ip",
    comment: "Kubernetes service load balancer ip + port + source IP for packet filter purpose",
  },
  {
    name: KUBE_LOAD_BALANCER_SOURCE_CIDR,
    type: "hash:ip,port,net",
    comment: "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
  },
  { name: KUBE_NODE_PORT_TCP, type: "bitmap:port", comment: "Kubernetes nodeport TCP port for masquerade purpose" },
  {
    name: KUBE_NODE_PORT_LOCAL_TCP,
    type: "bitmap:port",
    comment: "Kubernetes nodeport TCP port with externalTrafficPolicy=local",
  },
  { name: KUBE_NODE_PORT_UDP, type: "bitmap:port", comment: "Kubernetes nodeport UDP port for masquerade purpose" },
  {
    name: KUBE_NODE_PORT_LOCAL_UDP,
    type: "bitmap:port",
    comment: "Kubernetes nodeport UDP port with externalTrafficPolicy=local",
  },
  {
    name: KUBE_NODE_PORT_SCTP_HASH,
    type: "hash:ip,port",
    comment: "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
  },
  {
    name: KUBE_NODE_PORT_LOCAL_SCTP_HASH,
    type: "hash:ip,port",
    comment: "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
  },
  { name: KUBE_HEALTH_CHECK_NODE_PORT, type: "bitmap:port", comment: "Kubernetes health check node port" },
  { name: KUBE_IPVS_IPS, type: "hash:ip", comment: "Addresses on the ipvs interface" },
]

export interface IpsetChainLink {
  readonly set: string
  readonly table: IptablesTableName
  readonly from: string
  readonly to: string
  readonly matchType: string
  /** `-p <proto>` before the match, or "". */
  readonly protocolMatch: string
}

/**
 * proxier.go `ipsetWithIptablesChain`: one rule per non-empty set, in this order
 * ("kubeNodePortLocalSetTCP must be prior to kubeNodePortSetTCP, the same for UDP").
 */
export const IPSET_WITH_IPTABLES_CHAIN: readonly IpsetChainLink[] = [
  {
    set: KUBE_LOOP_BACK,
    table: "nat",
    from: KUBE_POSTROUTING,
    to: "MASQUERADE",
    matchType: "dst,dst,src",
    protocolMatch: "",
  },
  {
    set: KUBE_LOAD_BALANCER_SET,
    table: "nat",
    from: KUBE_SERVICES,
    to: KUBE_LOAD_BALANCER,
    matchType: "dst,dst",
    protocolMatch: "",
  },
  {
    set: KUBE_LOAD_BALANCER_LOCAL,
    table: "nat",
    from: KUBE_LOAD_BALANCER,
    to: "RETURN",
    matchType: "dst,dst",
    protocolMatch: "",
  },
  {
    set: KUBE_NODE_PORT_LOCAL_TCP,
    table: "nat",
    from: KUBE_NODE_PORT,
    to: "RETURN",
    matchType: "dst",
    protocolMatch: "tcp",
  },
  {
    set: KUBE_NODE_PORT_TCP,
    table: "nat",
    from: KUBE_NODE_PORT,
    to: KUBE_MARK_MASQ,
    matchType: "dst",
    protocolMatch: "tcp",
  },
  {
    set: KUBE_NODE_PORT_LOCAL_UDP,
    table: "nat",
    from: KUBE_NODE_PORT,
    to: "RETURN",
    matchType: "dst",
    protocolMatch: "udp",
  },
  {
    set: KUBE_NODE_PORT_UDP,
    table: "nat",
    from: KUBE_NODE_PORT,
    to: KUBE_MARK_MASQ,
    matchType: "dst",
    protocolMatch: "udp",
  },
  {
    set: KUBE_NODE_PORT_LOCAL_SCTP_HASH,
    table: "nat",
    from: KUBE_NODE_PORT,
    to: "RETURN",
    matchType: "dst,dst",
    protocolMatch: "sctp",
  },
  {
    set: KUBE_NODE_PORT_SCTP_HASH,
    table: "nat",
    from: KUBE_NODE_PORT,
    to: KUBE_MARK_MASQ,
    matchType: "dst,dst",
    protocolMatch: "sctp",
  },
  {
    set: KUBE_LOAD_BALANCER_FW,
    table: "filter",
    from: KUBE_PROXY_FIREWALL,
    to: KUBE_SOURCE_RANGES_FIREWALL,
    matchType: "dst,dst",
    protocolMatch: "",
  },
  {
    set: KUBE_LOAD_BALANCER_SOURCE_CIDR,
    table: "filter",
    from: KUBE_SOURCE_RANGES_FIREWALL,
    to: "RETURN",
    matchType: "dst,dst,src",
    protocolMatch: "",
  },
  {
    set: KUBE_LOAD_BALANCER_SOURCE_IP,
    table: "filter",
    from: KUBE_SOURCE_RANGES_FIREWALL,
    to: "RETURN",
    matchType: "dst,dst,src",
    protocolMatch: "",
  },
]

/** pkg/proxy/ipvs/util `FlagPersistent` (IP_VS_SVC_F_PERSISTENT). */
export const FLAG_PERSISTENT = 0x1
/** IP_VS_SVC_F_HASHED: set by the kernel on every service in its table (not by kube-proxy). */
export const FLAG_HASHED = 0x2
/** pkg/proxy/ipvs/util `FlagSourceHash` (IP_VS_SVC_F_SCHED2 = mh-port / sh-port), set for scheduler "mh". */
export const FLAG_SOURCE_HASH = 0x10

/** pkg/proxy/ipvs/ipset/ipset.go defaults for hash sets (`setIPSetDefaults`) and `DefaultPortRange`. */
export const IPSET_HASH_SIZE = 1024
export const IPSET_MAX_ELEM = 65536
export const IPSET_PORT_RANGE = "0-65535"
