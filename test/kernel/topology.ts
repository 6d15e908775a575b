/**
 * The cluster the differential test runs on, as data: the layout src/net/cni.ts builds for the
 * `bridge` CNI (cni0 with one veth port per pod, the node's eth0 on the node network, an edge router
 * with the external hosts behind its own bridge), small enough for real namespaces. The same
 * description builds the real network namespaces (lab.ts) and the simulated cluster (sim-world.ts,
 * through src/net's ClusterNetwork), so both sides see one topology.
 *
 *              test-node 192.168.0.2 (rules loaded here)            other-node 192.168.0.3 (no rules)
 *   [pc]  10.0.0.2..  --veth--\                                  /--veth-- [ep4] 10.0.1.201
 *   [ep0] 10.0.0.201  --veth-- cni0 10.0.0.1/24   eth0 ---+--- eth0   cni0 10.0.1.1/24
 *   ...   [ep3] 10.0.0.204 --/  svc0: VIP sink           |           \--veth-- [ep5] 10.0.1.202
 *                                                     lan0 192.168.0.1/24  [edge] router
 *                                                     ext0 203.0.113.1/24 --veth-- [ext] external clients
 *
 * The test node's ports are in hairpin mode (as kubelet's hairpin-veth sets them) and br_netfilter
 * runs iptables on bridged frames (bridge-nf-call-iptables=1, which Kubernetes requires). Service
 * VIPs (ClusterIPs 172.30.0.0/16, external IPs 192.168.99.0/24, LB IPs 198.51.100.0/24) are routed by
 * the edge to the test node, and by the test node into a sink interface (svc0) whose other end
 * discards everything, so a packet that is not DNATed disappears inside the node. Nothing is
 * connected to the host's namespace: no packet can leave the lab.
 */

export const NODE_NAME = "test-node"
export const OTHER_NODE_NAME = "other-node"
export const NODE_IP = "192.168.0.2"
export const OTHER_NODE_IP = "192.168.0.3"
export const NODE_CIDR = "192.168.0.0/24"
/** Edge router's address on the node network (the nodes' default gateway, .1 as cni.ts picks it). */
export const EDGE_IP = "192.168.0.1"
/** kube-proxy's --cluster-cidr (the generated rules masquerade off-cluster sources by it). */
export const CLUSTER_CIDR = "10.0.0.0/8"
/** Cluster pod CIDR and per-node prefix: node i gets 10.0.i.0/24, as cni.ts carves it. */
export const POD_CIDR = "10.0.0.0/16"
export const NODE_POD_PREFIX_LENGTH = 24
export const NODE_POD_CIDR = "10.0.0.0/24"
export const OTHER_NODE_POD_CIDR = "10.0.1.0/24"
export const BRIDGE_IP = "10.0.0.1"
export const OTHER_BRIDGE_IP = "10.0.1.1"
export const EXTERNAL_CIDR = "203.0.113.0/24"
export const EXTERNAL_GATEWAY = "203.0.113.1"

export const SERVICE_CIDR = "172.30.0.0/16"
export const EXTERNAL_IP_CIDR = "192.168.99.0/24"
export const LB_IP_CIDR = "198.51.100.0/24"
/** Prefixes the edge routes to the test node, and the test node into the VIP sink. */
export const VIP_CIDRS: readonly string[] = [SERVICE_CIDR, EXTERNAL_IP_CIDR, LB_IP_CIDR]

/** An endpoint pod: its own namespace and address, on the test node's bridge or the other node's. */
export interface EndpointPod {
  readonly name: string
  readonly ip: string
  readonly node: "test" | "other"
}

/**
 * Endpoint pods. Four sit on the test node's bridge (a ClusterIP reached from the client pod or from
 * an endpoint itself is then bridged pod-to-pod traffic, hairpin included), two on the other node
 * (routed out eth0). Which node an endpoint is *declared* on (EndpointSlice nodeName) is drawn
 * independently by the generator: it only changes the rules (traffic policies), not where the pod is.
 */
export const ENDPOINT_PODS: readonly EndpointPod[] = [
  { name: "ep0", ip: "10.0.0.201", node: "test" },
  { name: "ep1", ip: "10.0.0.202", node: "test" },
  { name: "ep2", ip: "10.0.0.203", node: "test" },
  { name: "ep3", ip: "10.0.0.204", node: "test" },
  { name: "ep4", ip: "10.0.1.201", node: "other" },
  { name: "ep5", ip: "10.0.1.202", node: "other" },
]
export const ENDPOINT_POOL: readonly string[] = ENDPOINT_PODS.map((e) => e.ip)
/** Target ports every endpoint serves (TCP and UDP). */
export const TARGET_PORTS: readonly number[] = [80, 8080, 5353]

/** The client pod's addresses (first = its eth0 address, the rest secondary; one affinity session per address). */
export const POD_CLIENT_IPS: readonly string[] = Array.from({ length: 24 }, (_, i) => `10.0.0.${i + 2}`)
/** More client-pod sources, simulator only: the support of an affinity session's first choice. */
export const POD_ALT_IPS: readonly string[] = Array.from({ length: 40 }, (_, k) => `10.0.0.${100 + k}`)
/** External clients: inside 203.0.113.0/25 and inside 203.0.113.128/25 (source-range tests). */
export const EXTERNAL_LOW_IPS: readonly string[] = Array.from({ length: 12 }, (_, i) => `203.0.113.${i + 2}`)
export const EXTERNAL_HIGH_IPS: readonly string[] = Array.from({ length: 12 }, (_, i) => `203.0.113.${i + 130}`)
export const EXTERNAL_LOW_ALT_IPS: readonly string[] = Array.from({ length: 40 }, (_, k) => `203.0.113.${30 + k}`)
export const EXTERNAL_HIGH_ALT_IPS: readonly string[] = Array.from({ length: 40 }, (_, k) => `203.0.113.${160 + k}`)

export type ClientKind = "pod" | "external" | "node" | "hairpin"

/** Name of the sink interface on the test node and of its discarding next hop. */
export const SINK_INTERFACE = "svc0"
export const SINK_GATEWAY = "169.254.1.1"
