/**
 * The node under test and its neighbours, as data. The same description builds the real network
 * namespaces (lab.ts) and the simulated node (sim-node.ts), so both sides see one topology.
 *
 *   [pc]  pod client 10.0.0.2..      --veth-- pc0 10.0.0.1/24      \
 *   [ep]  endpoints 10.180.0.1..      --veth-- ep0 10.180.0.254/24   [node] 192.168.0.2, rules loaded here
 *   [lan] 192.168.0.1, external       --veth-- eth0 192.168.0.2/24  /      svc0: sink, service VIPs routed here
 *         clients 203.0.113.x on lo
 *
 * Service VIPs (ClusterIPs 172.30.0.0/16, external IPs 192.168.99.0/24, LB IPs 198.51.100.0/24)
 * are routed by the node into a sink interface (svc0), so a packet that is not DNATed disappears inside
 * the node namespace. Nothing is connected to the host's namespace: no packet can leave the lab.
 */

export const NODE_NAME = "test-node"
export const OTHER_NODE_NAME = "other-node"
export const NODE_IP = "192.168.0.2"
export const CLUSTER_CIDR = "10.0.0.0/8"

export const SERVICE_CIDR = "172.30.0.0/16"
export const EXTERNAL_IP_CIDR = "192.168.99.0/24"
export const LB_IP_CIDR = "198.51.100.0/24"

/** Endpoint (pod) addresses all live in the ep namespace. */
export const ENDPOINT_POOL: readonly string[] = ["10.180.0.1", "10.180.0.2", "10.180.0.3", "10.180.0.4", "10.180.0.5", "10.180.0.6"]
/** Target ports every endpoint serves (TCP and UDP). */
export const TARGET_PORTS: readonly number[] = [80, 8080, 5353]

/** Source addresses per client namespace (one affinity session per address). */
export const POD_CLIENT_IPS: readonly string[] = Array.from({ length: 24 }, (_, i) => `10.0.0.${i + 2}`)
/** External clients: inside 203.0.113.0/25 and inside 203.0.113.128/25 (source-range tests). */
export const EXTERNAL_LOW_IPS: readonly string[] = Array.from({ length: 12 }, (_, i) => `203.0.113.${i + 2}`)
export const EXTERNAL_HIGH_IPS: readonly string[] = Array.from({ length: 12 }, (_, i) => `203.0.113.${i + 130}`)

export type ClientKind = "pod" | "external" | "node" | "hairpin"

/** Interfaces of the node namespace (index = ifindex in the simulator's FilterHost). */
export interface NodeInterface {
  readonly index: number
  readonly name: string
  /** Primary address (MASQUERADE source), "" for none. */
  readonly address: string
  readonly prefixLength: number
  /** Namespace on the other end of the veth ("" for lo and the VIP sink). */
  readonly peer: "pc" | "ep" | "lan" | ""
}

export const NODE_INTERFACES: readonly NodeInterface[] = [
  { index: 1, name: "lo", address: "127.0.0.1", prefixLength: 8, peer: "" },
  { index: 2, name: "pc0", address: "10.0.0.1", prefixLength: 24, peer: "pc" },
  { index: 3, name: "ep0", address: "10.180.0.254", prefixLength: 24, peer: "ep" },
  { index: 4, name: "eth0", address: NODE_IP, prefixLength: 24, peer: "lan" },
  { index: 5, name: "svc0", address: "", prefixLength: 0, peer: "" },
]

/** Next hop of the VIP sink: a permanent neighbour entry with a MAC no interface has. */
export const SINK_GATEWAY = "169.254.1.1"

/** Node routes besides the connected ones, [destination CIDR, interface name, gateway or ""]. */
export const NODE_ROUTES: readonly (readonly [string, string, string])[] = [
  ["203.0.113.0/24", "eth0", "192.168.0.1"],
  [SERVICE_CIDR, "svc0", SINK_GATEWAY],
  [EXTERNAL_IP_CIDR, "svc0", SINK_GATEWAY],
  [LB_IP_CIDR, "svc0", SINK_GATEWAY],
]

export const LAN_GATEWAY = "192.168.0.1"
