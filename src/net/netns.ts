/**
 * Network namespaces and interfaces: the static structure the Network's packet path walks.
 *
 * A namespace (`NetNs`) has interfaces indexed by ifIndex as in Linux (lo = 1), local addresses (the
 * kernel's `local` table, plus 127.0.0.0/8 on lo), a main routing table, ip_forward, an optional
 * PacketFilter (null = no netfilter: the fast path skips the hooks) and socket tables. It implements
 * FilterHost for its filter.
 *
 * Interfaces are created once at build time; on the packet path they are looked up by integer index.
 */
import type { Distribution } from "../sim/distribution.ts"
import type { Rng } from "../sim/rng.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import type { IngressBacklog } from "./backlog.ts"
import type { FilterHost, PacketFilter } from "./hooks.ts"
import type { Pinger } from "./icmp.ts"
import { RoutingTable } from "./route.ts"
import { IntMap } from "../sim/int-map.ts"
import type { TcpConnection, TcpListenSocket } from "./tcp.ts"
import type { UdpSocket } from "./udp.ts"

export const InterfaceKind = {
  LOOPBACK: 0,
  /** One end of a veth pair (point to point: whatever is sent arrives at the peer). */
  VETH: 1,
  /** A Linux bridge (cni0), modelled at L3: its ports are host-side veths, chosen by next-hop address. */
  BRIDGE: 2,
  /** A NIC attached to a Fabric (the node network / VPC). */
  FABRIC: 3,
  /**
   * A dummy device (drivers/net/dummy.c), as IPVS-mode kube-proxy's `kube-ipvs0`: its addresses are
   * local to the namespace (fib_add_ifaddr adds the local route even while the device is down), it
   * is created down and gets no connected route while down, and whatever is sent out of it is
   * consumed without arriving anywhere (dummy_xmit frees the skb).
   */
  DUMMY: 4,
} as const
export type InterfaceKind = (typeof InterfaceKind)[keyof typeof InterfaceKind]

/** Link properties of an interface's transmit side. */
export interface LinkOptions {
  /** One-way propagation latency to the peer (veth) ; fabric ports take it from the Fabric. */
  readonly latencyNs: number
  /** 0 = no serialization delay (veth, lo: a memory copy). */
  readonly bandwidthBitsPerSecond: number
  readonly mtuBytes: number
  /** Loss per traversal in parts per million (0 = lossless). */
  readonly lossPartsPerMillion: number
  /** Transmit queue bound in packets (waiting or being serialized). */
  readonly queuePacketsMax: number
}

/** A switched L3 fabric (node network, VPC): delivers to the port owning the next-hop address. */
export class Fabric {
  /** Next-hop address -> port (node IPs; in aws-vpc also every pod IP of the node's ENI). */
  readonly neighbours = new IntMap<NetInterface>()
  readonly ports: NetInterface[] = []
  // Read per packet: `declare`d and assigned in the constructor (see NetInterface).
  declare readonly name: string
  /** One-way latency between ports in the same zone (different nodes). */
  declare sameZoneLatencyNs: number
  /** One-way latency between ports in different zones. */
  declare crossZoneLatencyNs: number
  constructor(name: string, sameZoneLatencyNs: number, crossZoneLatencyNs: number) {
    this.name = name
    this.sameZoneLatencyNs = sameZoneLatencyNs
    this.crossZoneLatencyNs = crossZoneLatencyNs
  }

  /**
   * Per-packet latency draws (a calibration profile); null: the constants above. Each port draws
   * from its own stream (NetInterface.latencyRng).
   */
  sameZoneLatency: Distribution | null = null
  crossZoneLatency: Distribution | null = null

  /** Zone -1 (an edge router) is at same-zone distance from every zone. */
  isCrossZone(from: NetInterface, to: NetInterface): boolean {
    return !(from.zone === to.zone || from.zone < 0 || to.zone < 0)
  }

  latencyNs(from: NetInterface, to: NetInterface): number {
    return this.isCrossZone(from, to) ? this.crossZoneLatencyNs : this.sameZoneLatencyNs
  }
}

export class NetInterface {
  /** Primary IPv4 address (0 = none, e.g. AWS host-side veths). */
  address: Ipv4 = 0
  /**
   * Every address assigned with Network.addAddress, in the order assigned (the order `ip addr`
   * lists them: the kernel appends to the device's ifa_list). The namespace's localAddresses map
   * answers "is this address local" on the packet path; this list answers "which, in what order".
   */
  get assignedAddresses(): readonly Ipv4[] {
    const ns = this.ns
    return ns.sharedAddressesIface === this ? (ns.sharedAddresses as AddressBlock).addresses : this.ownAddresses
  }
  /** This interface's own copy of its addresses (empty while it holds a shared AddressBlock). */
  readonly ownAddresses: Ipv4[] = []
  prefixLength = 0
  up = true
  /** Veth: the other end. */
  peer: NetInterface | null = null
  /** Bridge port: its bridge (packets arriving here enter the namespace "on" the bridge). */
  master: NetInterface | null = null
  /** Bridge: address of the device behind each port -> port (the FDB, at L3). */
  declare readonly bridgePorts: IntMap<NetInterface> | null
  fabric: Fabric | null = null
  zone = 0

  // Read per packet: `declare`d and assigned in the constructor rather than declared without a
  // value or as parameter properties, which are first defined as undefined, so V8 tracks them as
  // any value (see sim/empty.ts); assigned once, a field keeps the type of what it holds.
  declare latencyNs: number
  declare bandwidthBitsPerSecond: number
  declare mtuBytes: number
  declare lossPartsPerMillion: number
  declare queuePacketsMax: number
  lossRng: Rng | null = null
  /**
   * Latency drawn per packet (veth hop, or a bridge's own hop added to its port's); null = the
   * constant latencyNs. latencyRng is this transmitter's stream ("net/link/<ns>/<ifname>/latency"),
   * set whenever a draw can vary (here or on the fabric this NIC is attached to).
   */
  latencyDist: Distribution | null = null
  latencyRng: Rng | null = null
  /**
   * Arrival time of the last packet sent on this link (per zone class on a fabric): a packet
   * never overtakes the one before it on the same link, whatever latency it drew.
   */
  lastArriveNs = 0
  lastArriveCrossZoneNs = 0

  /** Transmitter busy until this time (last departure). */
  busyUntilNs = 0
  /**
   * The transmit queue: queueLength packets still queued or in serialization. The newest departs
   * at busyUntilNs, which is not repeated here; this ring holds the departure times of the
   * queueLength - 1 before it, from queueHead. So a packet sent on a link whose queue has drained
   * (most packets: the link is unshaped, or idle between packets) reads and writes no ring entry
   * (a cache line per packet otherwise). Starts small and grows up to queuePacketsMax when the
   * queue fills it (most of a big cluster's interfaces never hold more than a few packets; a
   * full-size ring each would cost gigabytes at 100,000s of veths).
   */
  declare queueDepartNs: Float64Array
  queueHead = 0
  queueLength = 0

  txPackets = 0
  txBytes = 0
  rxPackets = 0

  /** Global id in the Network (event argument). */
  declare readonly id: number
  declare readonly ns: NetNs
  declare readonly ifIndex: number
  declare readonly name: string
  declare readonly kind: InterfaceKind

  constructor(id: number, ns: NetNs, ifIndex: number, name: string, kind: InterfaceKind, link: LinkOptions) {
    this.id = id
    this.ns = ns
    this.ifIndex = ifIndex
    this.name = name
    this.kind = kind
    this.latencyNs = link.latencyNs
    this.bandwidthBitsPerSecond = link.bandwidthBitsPerSecond
    this.mtuBytes = link.mtuBytes
    this.lossPartsPerMillion = link.lossPartsPerMillion
    this.queuePacketsMax = link.queuePacketsMax
    this.queueDepartNs = new Float64Array(Math.min(INITIAL_QUEUE_RING, Math.max(1, link.queuePacketsMax)))
    this.bridgePorts = kind === InterfaceKind.BRIDGE ? new IntMap() : null
  }
}

/** Initial capacity of an interface's departure ring (it grows as needed up to queuePacketsMax). */
const INITIAL_QUEUE_RING = 8

/**
 * Doubles a full departure ring (capped at queuePacketsMax), unrolled so the head is at 0. Full:
 * it stores queueLength - 1 entries (the newest is busyUntilNs, see queueDepartNs).
 */
export function growQueueRing(iface: NetInterface): Float64Array {
  const old = iface.queueDepartNs
  const ring = new Float64Array(Math.min(old.length * 2, Math.max(1, iface.queuePacketsMax)))
  for (let i = 0; i < iface.queueLength - 1; i++) {
    const at = iface.queueHead + i
    ring[i] = old[at >= old.length ? at - old.length : at]
  }
  iface.queueDepartNs = ring
  iface.queueHead = 0
  return ring
}

/**
 * An immutable, ordered set of local addresses held by one interface, shared between namespaces
 * whose interface holds exactly these addresses (IPVS mode's kube-ipvs0: every node binds the same
 * Service addresses, 10,000 at cluster scale; backend-ipvs.ts interns one block per (previous
 * block, shared operation list)). A namespace consults it beside its own localAddresses; a write to
 * the holding interface first gives the namespace its own copy (NetNs.ownSharedAddresses).
 */
export class AddressBlock {
  // Read per packet (isLocalAddress): `declare`d and assigned in the constructor (see NetInterface).
  declare readonly set: IntMap<true>
  /**
   * A filter of the block's addresses (one bit per address hash, addressHash >>> bitsShift):
   * isLocalAddress asks `set` only when the address's bit is set. At least 8 bits per address.
   */
  declare readonly bits: Int32Array
  declare readonly bitsShift: number
  /** In assignment order (the order `ip addr` lists them). */
  declare readonly addresses: readonly Ipv4[]
  constructor(addresses: readonly Ipv4[]) {
    this.addresses = addresses
    this.set = new IntMap<true>(addresses.length)
    for (const a of addresses) this.set.set(a, true)
    let log2 = 6
    while (1 << log2 < addresses.length * 8 && log2 < 20) log2++
    this.bitsShift = 32 - log2
    this.bits = new Int32Array(1 << (log2 - 5))
    for (const a of addresses) {
      const b = addressHash(a) >>> this.bitsShift
      this.bits[b >> 5] |= 1 << b
    }
  }
  static readonly EMPTY = new AddressBlock([])
}

/** The hash of an address for the local-address filters (AddressBlock.bits, NetNs's own). */
function addressHash(address: Ipv4): number {
  return Math.imul(address, 0x9e3779b1)
}

/** Interface index of lo in every namespace, as in Linux. */
export const LOOPBACK_IFINDEX = 1

/** Binds the ports it owes a namespace (NetNs.portsPending). */
export interface PortsSettler {
  settle(): void
}

export class NetNs implements FilterHost {
  /** interfaces[ifIndex]; index 0 unused. */
  readonly interfaces: (NetInterface | null)[] = [null]
  /**
   * Local addresses -> interface holding them (127.0.0.0/8 is local without an entry). Changed
   * only through addLocalAddress / removeLocalAddress, which keep the filter below.
   */
  readonly localAddresses = new IntMap<NetInterface>()
  /**
   * A 64-bit filter of localAddresses' keys (bit addressHash >>> 26, low word bits 0-31): a clear
   * bit answers "not an own address" without the map's probe. Most packets a namespace sees are
   * not for one of its own few addresses (forwarded, or sent to another host). Exact: a set bit
   * asks the map.
   */
  private localBitsLow = 0
  private localBitsHigh = 0
  /**
   * Local addresses held by `sharedAddressesIface` as a block shared with other namespaces (null:
   * none); disjoint from localAddresses. Read them through isLocalAddress / localInterface.
   */
  sharedAddresses: AddressBlock | null = null
  sharedAddressesIface: NetInterface | null = null
  readonly routes = new RoutingTable()
  // Read per packet: `declare`d and assigned in the constructor (see NetInterface).
  declare ipForward: boolean
  /** Netfilter of this namespace; null = no hooks (fast path). */
  filter: PacketFilter | null = null

  readonly udpSockets = new IntMap<UdpSocket>()
  readonly tcpListeners = new Map<number, TcpListenSocket>()
  /** (localPort << 16 | remotePort) -> chain of connections (TcpConnection.nextInBucket). */
  readonly tcpConnections = new Map<number, TcpConnection>()
  readonly pingers = new Map<number, Pinger>()
  pingIdentifierNext = 1

  /**
   * Who still owes this namespace its ports (a deferred userspace proxier, proxy/userspace/
   * deferral.ts), or null. Whatever reads or changes the port tables or draws from `portRng` calls
   * settlePorts first, so the owner binds what it would have bound, in order, before anyone else.
   */
  portsPending: PortsSettler | null = null

  /** Cursor of the TCP ephemeral port search (see Network.allocateTcpPort). */
  tcpPortCursor = -1
  /** Local deliveries keep FIFO order even when per-packet costs differ. */
  lastDeliverNs = 0
  /**
   * Softirq CPUs of this namespace's kernel (a node's NET_RX work): the time each becomes free.
   * Packet-processing costs (netfilter, forwarding) occupy one CPU each, first free first, so
   * a busy node delays its other packets. null: costs delay packets without contention.
   */
  cpuFreeAtNs: Float64Array | null = null
  /** The bounded queues received packets wait in for those CPUs (net/backlog.ts); null: unbounded. */
  ingress: IngressBacklog | null = null
  /** Stream of the host stack time drawn per locally delivered packet (Network.setHostStack). */
  stackRng: Rng | null = null
  /**
   * The name of an interface whose ifIndex is reserved but not built yet (cni.ts: a lazy pod's
   * host veth), for `ip route`, which lists its host route as before; null: none reserved here.
   */
  reservedInterfaceName: ((ifIndex: number) => string) | null = null

  declare readonly id: number
  declare readonly name: string
  declare readonly portRng: Rng
  declare readonly isnRng: Rng

  constructor(id: number, name: string, ipForward: boolean, portRng: Rng, isnRng: Rng) {
    this.id = id
    this.name = name
    this.ipForward = ipForward
    this.portRng = portRng
    this.isnRng = isnRng
  }

  get loopback(): NetInterface {
    return this.interfaces[LOOPBACK_IFINDEX] as NetInterface
  }

  interface(ifIndex: number): NetInterface {
    const iface = this.interfaces[ifIndex]
    if (iface === null || iface === undefined) throw new Error(`${this.name}: no interface ${ifIndex}`)
    return iface
  }

  interfaceByName(name: string): NetInterface | null {
    for (const iface of this.interfaces) if (iface !== null && iface.name === name) return iface
    return null
  }

  /** First non-loopback address (source of ICMP errors and MASQUERADE on address-less devices). */
  get primaryAddress(): Ipv4 {
    for (const iface of this.interfaces)
      if (iface !== null && iface.kind !== InterfaceKind.LOOPBACK && iface.address !== 0) return iface.address
    return 0
  }

  isLocalAddress(address: Ipv4): boolean {
    if (address >>> 24 === 127) return true
    const h = addressHash(address)
    const own = h >>> 26
    if (((own < 32 ? this.localBitsLow : this.localBitsHigh) & (1 << own)) !== 0 && this.localAddresses.has(address))
      return true
    const shared = this.sharedAddresses
    if (shared === null) return false
    const b = h >>> shared.bitsShift
    return (shared.bits[b >> 5] & (1 << b)) !== 0 && shared.set.has(address)
  }

  /** `address` becomes one of this namespace's own, held by `iface` (Network.addAddress). */
  /** Before reading or changing the port tables: whoever owes ports binds them (portsPending). */
  settlePorts(): void {
    const pending = this.portsPending
    if (pending !== null) pending.settle()
  }

  addLocalAddress(address: Ipv4, iface: NetInterface): void {
    this.localAddresses.set(address, iface)
    this.noteLocalBit(address)
  }

  /** `address` is no longer one of this namespace's own (Network.removeAddress). */
  removeLocalAddress(address: Ipv4): void {
    this.localAddresses.delete(address)
    this.localBitsLow = 0
    this.localBitsHigh = 0
    for (const a of this.localAddresses.keyList()) this.noteLocalBit(a)
  }

  private noteLocalBit(address: Ipv4): void {
    const own = addressHash(address) >>> 26
    if (own < 32) this.localBitsLow |= 1 << own
    else this.localBitsHigh |= 1 << own
  }

  /** The interface holding an assigned local address (undefined: none; 127.0.0.0/8 has no entry). */
  localInterface(address: Ipv4): NetInterface | undefined {
    const own = this.localAddresses.get(address)
    if (own !== undefined || this.sharedAddresses === null) return own
    return this.sharedAddresses.set.has(address) ? (this.sharedAddressesIface as NetInterface) : undefined
  }

  /**
   * `iface` holds exactly `block`'s addresses (and had none of its own): the primary address
   * follows as Network.addAddress/removeAddress would set it for a /32 list.
   */
  adoptSharedAddresses(iface: NetInterface, block: AddressBlock): void {
    if (iface.ownAddresses.length > 0) throw new Error(`${this.name}: ${iface.name} holds addresses of its own`)
    if (this.sharedAddressesIface !== null && this.sharedAddressesIface !== iface)
      throw new Error(`${this.name}: another interface holds the shared addresses`)
    this.sharedAddresses = block
    this.sharedAddressesIface = iface
    iface.address = block.addresses.length > 0 ? block.addresses[0] : 0
    if (block.addresses.length > 0) iface.prefixLength = 32
  }

  /** Before a write to the holding interface: the shared block becomes this namespace's own copy. */
  ownSharedAddresses(): void {
    const block = this.sharedAddresses
    const iface = this.sharedAddressesIface
    if (block === null || iface === null) return
    this.sharedAddresses = null
    this.sharedAddressesIface = null
    for (const a of block.addresses) {
      this.addLocalAddress(a, iface)
      iface.ownAddresses.push(a)
    }
  }

  interfaceAddress(ifIndex: number): Ipv4 {
    const iface = this.interfaces[ifIndex]
    if (iface !== null && iface !== undefined && iface.address !== 0) return iface.address
    return this.primaryAddress
  }

  /** The interface's own address (0 when it has none), for REDIRECT (nf_nat_redirect_ipv4). */
  interfaceOwnAddress(ifIndex: number): Ipv4 {
    const iface = this.interfaces[ifIndex]
    return iface === null || iface === undefined ? 0 : iface.address
  }

  /** Whether the interface is a bridge (-m physdev --physdev-is-in). */
  interfaceIsBridge(ifIndex: number): boolean {
    const iface = this.interfaces[ifIndex]
    return iface !== null && iface !== undefined && iface.kind === InterfaceKind.BRIDGE
  }

  interfaceName(ifIndex: number): string {
    const iface = this.interfaces[ifIndex]
    return iface === null || iface === undefined ? "" : iface.name
  }

  /** `ip route` listing. */
  formatRoutes(): string[] {
    const reserved = this.reservedInterfaceName
    return this.routes.format((i) =>
      reserved !== null && this.interfaces[i] === null ? reserved(i) : this.interfaceName(i),
    )
  }
}
