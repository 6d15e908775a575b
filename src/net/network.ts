/**
 * The simulated network of one run: packet table, namespaces, interfaces, links, counters, and the
 * kernel's IPv4 packet path through each namespace with the netfilter hooks (see hooks.ts).
 *
 *   arrive(iface) --> [PREROUTING] --> route(dst after DNAT) --> local? --> [INPUT] --> deliver
 *                                                         \--> ttl-- --> [FORWARD] --> [POSTROUTING] --> transmit
 *   socket --> route --> [OUTPUT] --> re-route if dst changed --> [POSTROUTING] --> transmit
 *
 * Hot path: a packet is an integer handle into a pooled Packet table; a packet crossing a link is one
 * scheduler event (kind ARRIVE, a = packet handle, b = receiving interface id, negative when the link
 * lost it). Per-packet processing allocates nothing and builds no strings. Processing costs (the
 * filter's lastCostNs per hook, forwardCostNs per forwarded packet) delay the packet's departure in
 * simulated time; departures from one interface stay FIFO.
 *
 * Links: serialization delay = ceil((IP bytes + Ethernet overhead) * 8e9 / bandwidth) ns on links with
 * finite bandwidth, then the propagation latency. MTU is checked on the transmitting interface: a
 * larger packet is dropped (MTU_EXCEEDED). There is no fragmentation and no PMTU discovery (DF is
 * assumed on every packet). The transmit queue holds packets not yet fully serialized; beyond
 * queuePacketsMax they are dropped (QUEUE_FULL). Loss is drawn per traversal from the link's own
 * random stream ("net/link/<ns>/<ifname>/loss") with an integer compare in parts per million, and the
 * drop is recorded when the packet would have arrived.
 */
import { AssertionError, assert } from "../sim/assert.ts"
import { Rng } from "../sim/rng.ts"
import type { Distribution } from "../sim/distribution.ts"
import type { IntMap } from "../sim/int-map.ts"
import type { EventHandler, Scheduler } from "../sim/scheduler.ts"
import { DropReason } from "../wire/drop-reason.ts"
import type { Cidr, Ipv4 } from "../wire/ipv4.ts"
import { cidr as parseCidrText, maskOf } from "../wire/ipv4.ts"
import { Packet } from "../wire/packet.ts"
import { IcmpCode, IcmpType, ICMP_HEADER_BYTES, IPV4_HEADER_BYTES, Protocol, TcpFlag } from "../wire/protocol.ts"
import { INGRESS_QUEUE_BACKLOG, INGRESS_QUEUE_RX_RING, IngressBacklog } from "./backlog.ts"
import { NetError } from "./errors.ts"
import type { NetIo, SocketNs } from "./io.ts"
import { Hook, RejectWith, Verdict } from "./hooks.ts"
import type { PacketFilter } from "./hooks.ts"
import {
  ICMP_CODE_ADMIN_PROHIBITED,
  ICMP_CODE_PROTOCOL_UNREACHABLE,
  icmpUnreachableErrno,
  icmpUnreachableFatal,
  Pinger,
} from "./icmp.ts"
import type { PingListener } from "./icmp.ts"
import { Fabric, InterfaceKind, LOOPBACK_IFINDEX, NetInterface, NetNs, growQueueRing } from "./netns.ts"
import type { LinkOptions } from "./netns.ts"
import { DEFAULT_NET_PARAMS } from "./params.ts"
import type { NetParams } from "./params.ts"
import { Route } from "./route.ts"
import { TcpEngine } from "./tcp.ts"
import type { TcpBind, TcpConnection, TcpConnectionListener, TcpListenSocket, TcpServerListener } from "./tcp.ts"
import { UdpSocket, udpBindConflicts, udpLookup } from "./udp.ts"
import type { UdpListener } from "./udp.ts"

// Hot-path copies of imported constants (used by the per-packet methods below): an imported
// binding is read through the module's import cell, then the object's property, on every use
// (tsx runs these files as ES modules); a module-local const is one load of the same value.
const DROP_REASON_INTERFACE_DOWN = DropReason.INTERFACE_DOWN
const DROP_REASON_LINK_LOSS = DropReason.LINK_LOSS
const DROP_REASON_MTU_EXCEEDED = DropReason.MTU_EXCEEDED
const DROP_REASON_NETFILTER_REJECT = DropReason.NETFILTER_REJECT
const DROP_REASON_NO_NEIGHBOUR = DropReason.NO_NEIGHBOUR
const DROP_REASON_NO_ROUTE = DropReason.NO_ROUTE
const DROP_REASON_NO_SOCKET = DropReason.NO_SOCKET
const DROP_REASON_QUEUE_FULL = DropReason.QUEUE_FULL
const DROP_REASON_BACKLOG = DropReason.BACKLOG
const DROP_REASON_RX_RING = DropReason.RX_RING
const DROP_REASON_TTL_EXPIRED = DropReason.TTL_EXPIRED
const HOOK_FORWARD = Hook.FORWARD
const HOOK_INPUT = Hook.INPUT
const HOOK_OUTPUT = Hook.OUTPUT
const HOOK_POSTROUTING = Hook.POSTROUTING
const HOOK_PREROUTING = Hook.PREROUTING
const INTERFACE_KIND_BRIDGE = InterfaceKind.BRIDGE
const INTERFACE_KIND_DUMMY = InterfaceKind.DUMMY
const INTERFACE_KIND_FABRIC = InterfaceKind.FABRIC
const INTERFACE_KIND_LOOPBACK = InterfaceKind.LOOPBACK
const INTERFACE_KIND_VETH = InterfaceKind.VETH
const PROTOCOL_ICMP = Protocol.ICMP
const PROTOCOL_TCP = Protocol.TCP
const PROTOCOL_UDP = Protocol.UDP
const VERDICT_ACCEPT = Verdict.ACCEPT
const VERDICT_DROP = Verdict.DROP
const VERDICT_STOLEN = Verdict.STOLEN

/** Observation hooks for statistics and traces. One null check per event when unused. */
export interface NetObserver {
  /** A namespace's stack created a packet (socket send, ICMP reply/error, RST). */
  onSend(packet: Packet, nsId: number, nowNs: number): void
  /** A packet left an interface; it arrives at `arriveNs` unless lost. */
  onTransmit(packet: Packet, ifaceId: number, departNs: number, arriveNs: number): void
  /** A packet was consumed by a socket or the namespace's own stack (echo, RST handling). */
  onDeliver(packet: Packet, nsId: number, nowNs: number): void
  onDrop(packet: Packet, reason: number, nsId: number, nowNs: number): void
}

/**
 * Packet capture (`run --pcap`): every packet an interface receives (before PREROUTING, at arrival)
 * or transmits (after POSTROUTING, when its serialization ends), as the bytes on that link carry
 * it. Null = off: one null check per packet on each path.
 */
export interface PacketCapture {
  onInterfacePacket(packet: Packet, iface: NetInterface, outbound: boolean, timeNs: number): void
}

/** Counters of one Network. Invariant: sent = delivered + dropped + inFlight. */
export class NetCounters {
  sent = 0
  delivered = 0
  dropped = 0
  forwarded = 0
  transmitted = 0
  /** droppedByReason[DropReason]. */
  readonly droppedByReason = new Float64Array(32)
  inFlight = 0
}

const PACKET_TABLE_INITIAL = 256
const ICMP_ERROR_ROOM_BYTES = 576 - IPV4_HEADER_BYTES - ICMP_HEADER_BYTES

export class Network implements EventHandler, NetIo {
  // Fields read per packet are `declare`d and assigned in the constructor rather than declared
  // without a value or as parameter properties: those are first defined as undefined, so V8
  // tracks them as any value (see sim/empty.ts); assigned once, a field keeps the type it holds.
  declare readonly scheduler: Scheduler
  declare readonly seed: number
  declare readonly params: NetParams
  readonly counters = new NetCounters()
  observer: NetObserver | null = null
  capture: PacketCapture | null = null
  /**
   * A bridge's FDB has no port for an address: the CNI may build the device behind it now (a pod
   * kept as a compact record until a packet needs it, cni.ts) and return its port; null = none.
   */
  bridgeMiss: ((bridge: NetInterface, address: Ipv4) => NetInterface | undefined) | null = null
  readonly namespaces: NetNs[] = []
  /** interfaces[id] for every interface of every namespace. */
  readonly interfaces: NetInterface[] = []
  readonly fabrics: Fabric[] = []
  declare readonly tcp: TcpEngine

  private readonly packets: Packet[] = []
  /**
   * Free handles, packetFree[0 .. packetFreeLength), last freed first. A count rather than
   * push/pop: V8 trims an array's backing store as pop shortens it, and the pushes after that
   * allocate a new one.
   */
  private readonly packetFree: number[] = []
  private packetFreeLength = 0
  private packetIdNext = 1

  declare private readonly kindArrive: number
  declare private readonly kindDeliver: number
  declare private readonly kindLocalError: number
  /**
   * Registered at the first deferred packet (napiStart): event kinds are numbered in registration
   * order and the numbers enter the run's fingerprint, so a run where no packet waits behind
   * another queue registers nothing new.
   */
  private kindNapiPoll = -1

  constructor(scheduler: Scheduler, seed: number, params: Partial<NetParams> = {}) {
    this.scheduler = scheduler
    this.seed = seed
    this.params = { ...DEFAULT_NET_PARAMS, ...params }
    this.kindArrive = scheduler.registerKind("net/arrive", this)
    this.kindDeliver = scheduler.registerKind("net/deliver", this)
    this.kindLocalError = scheduler.registerKind("net/local-error", this)
    // Most events of a run are packet arrivals: their own monomorphic dispatch site.
    scheduler.preferDispatch(this)
    for (let i = 0; i < PACKET_TABLE_INITIAL; i++) {
      this.packets.push(new Packet())
      this.packetFree.push(PACKET_TABLE_INITIAL - 1 - i)
      this.packetFreeLength++
    }
    this.tcp = new TcpEngine(this)
  }

  // ---------------------------------------------------------------- building

  /**
   * `reserved`: create the namespace (and its lo) under ids reserved earlier (reserveNamespace,
   * reserveInterfaces), so a namespace built late (a pod's, when a packet first needs it; cni.ts)
   * has the ids, and so the events, it would have had if built when reserved.
   */
  createNamespace(
    name: string,
    options: { readonly ipForward?: boolean } = {},
    reserved?: { readonly nsId: number; readonly loId: number },
  ): NetNs {
    const ns = new NetNs(
      reserved?.nsId ?? this.namespaces.length,
      name,
      options.ipForward ?? false,
      Rng.stream(this.seed, `net/ns/${name}/ports`),
      Rng.stream(this.seed, `net/ns/${name}/tcp-isn`),
    )
    if (reserved === undefined) this.namespaces.push(ns)
    else {
      assert(this.namespaces[reserved.nsId] === undefined, "namespace id not reserved or already used")
      this.namespaces[reserved.nsId] = ns
    }
    const lo = this.addInterface(
      ns,
      "lo",
      InterfaceKind.LOOPBACK,
      {
        latencyNs: this.params.loopbackLatencyNs,
        bandwidthBitsPerSecond: 0,
        mtuBytes: this.params.loopbackMtuBytes,
        lossPartsPerMillion: 0,
        queuePacketsMax: 1 << 16,
      },
      reserved === undefined ? undefined : { id: reserved.loId, ifIndex: LOOPBACK_IFINDEX },
    )
    assert(lo.ifIndex === LOOPBACK_IFINDEX)
    lo.address = 0x7f000001
    lo.prefixLength = 8
    return ns
  }

  /**
   * Ids for a namespace created later (createNamespace's `reserved`): the slot stays empty (a hole
   * in `namespaces`) until then. Nothing addresses a reserved id before its namespace exists.
   */
  reserveNamespace(): number {
    const id = this.namespaces.length
    this.namespaces.length = id + 1
    return id
  }

  /** `count` consecutive interface ids for interfaces created later; returns the first. */
  reserveInterfaces(count: number): number {
    const id = this.interfaces.length
    this.interfaces.length = id + count
    return id
  }

  /** The next ifIndex of `ns`, for an interface created later (a null slot until then). */
  reserveIfIndex(ns: NetNs): number {
    ns.interfaces.push(null)
    return ns.interfaces.length - 1
  }

  private addInterface(
    ns: NetNs,
    name: string,
    kind: InterfaceKind,
    link: LinkOptions,
    reserved?: { readonly id: number; readonly ifIndex: number },
  ): NetInterface {
    assert(ns.interfaceByName(name) === null, `${ns.name}: interface ${name} exists`)
    assert(Number.isSafeInteger(link.latencyNs) && link.latencyNs >= 0, `bad latency ${link.latencyNs}`)
    assert(
      link.bandwidthBitsPerSecond >= 0 && link.mtuBytes >= 68 && link.queuePacketsMax >= 1,
      `bad link options for ${name}`,
    )
    assert(
      Number.isInteger(link.lossPartsPerMillion) &&
        link.lossPartsPerMillion >= 0 &&
        link.lossPartsPerMillion <= 1_000_000,
      "loss in ppm",
    )
    if (reserved !== undefined) {
      assert(this.interfaces[reserved.id] === undefined, "interface id not reserved or already used")
      assert(
        reserved.ifIndex === ns.interfaces.length || ns.interfaces[reserved.ifIndex] === null,
        "ifIndex not reserved",
      )
    }
    const iface = new NetInterface(
      reserved?.id ?? this.interfaces.length,
      ns,
      reserved?.ifIndex ?? ns.interfaces.length,
      name,
      kind,
      link,
    )
    if (link.lossPartsPerMillion > 0) iface.lossRng = Rng.stream(this.seed, `net/link/${ns.name}/${name}/loss`)
    if (reserved === undefined) this.interfaces.push(iface)
    else this.interfaces[reserved.id] = iface
    if (reserved === undefined || reserved.ifIndex === ns.interfaces.length) ns.interfaces.push(iface)
    else ns.interfaces[reserved.ifIndex] = iface
    return iface
  }

  /** `ip link add nameA type veth peer name nameB`, the two ends in nsA and nsB; both directions share `link`. */
  addVethPair(
    nsA: NetNs,
    nameA: string,
    nsB: NetNs,
    nameB: string,
    link: LinkOptions,
    reserved?: {
      readonly a: { readonly id: number; readonly ifIndex: number }
      readonly b: { readonly id: number; readonly ifIndex: number }
    },
  ): [NetInterface, NetInterface] {
    const a = this.addInterface(nsA, nameA, InterfaceKind.VETH, link, reserved?.a)
    const b = this.addInterface(nsB, nameB, InterfaceKind.VETH, link, reserved?.b)
    a.peer = b
    b.peer = a
    return [a, b]
  }

  /** A bridge device (cni0). Its ports are added with attachToBridge. */
  addBridge(ns: NetNs, name: string, mtuBytes: number): NetInterface {
    return this.addInterface(ns, name, InterfaceKind.BRIDGE, {
      latencyNs: 0,
      bandwidthBitsPerSecond: 0,
      mtuBytes,
      lossPartsPerMillion: 0,
      queuePacketsMax: 1,
    })
  }

  /** `ip link set port master bridge`; `deviceAddress` is the address of the device behind the port (bridge FDB at L3). */
  attachToBridge(bridge: NetInterface, port: NetInterface, deviceAddress: Ipv4): void {
    assert(
      bridge.kind === InterfaceKind.BRIDGE && port.kind === InterfaceKind.VETH && port.ns === bridge.ns,
      "bridge port must be a veth in the bridge's namespace",
    )
    port.master = bridge
    ;(bridge.bridgePorts as IntMap<NetInterface>).set(deviceAddress, port)
  }

  /** `ip link add NAME type dummy` (created down, as kube-proxy leaves kube-ipvs0). */
  addDummy(ns: NetNs, name: string): NetInterface {
    const iface = this.addInterface(ns, name, InterfaceKind.DUMMY, {
      latencyNs: 0,
      bandwidthBitsPerSecond: 0,
      mtuBytes: 1500,
      lossPartsPerMillion: 0,
      queuePacketsMax: 1,
    })
    iface.up = false
    return iface
  }

  /**
   * Draws `iface`'s latency per packet from `dist` (its own stream "net/link/<ns>/<ifname>/latency");
   * a fixed distribution sets the constant instead (no stream, no draws: constant-cost results
   * stay bit-identical). On a bridge the latency is its own hop, added to the port's.
   */
  setLinkLatency(iface: NetInterface, dist: Distribution): void {
    if (dist.isFixed) {
      iface.latencyNs = dist.fixedNs
      iface.latencyDist = null
      return
    }
    iface.latencyDist = dist
    iface.latencyRng ??= Rng.stream(this.seed, `net/link/${iface.ns.name}/${iface.name}/latency`)
  }

  /**
   * Host stack time per packet delivered to a local socket (a profile's hostStackNs: the send and
   * receive socket work of one datagram, half a loopback round trip), drawn per packet from the
   * receiving namespace's stream; a fixed 0 (the default profile, whose hop latencies hold it)
   * charges nothing and draws nothing.
   */
  setHostStack(dist: Distribution): void {
    this.hostStack = dist.isFixed && dist.fixedNs === 0 ? null : dist
  }
  private hostStack: Distribution | null = null

  /** The fabric's latencies drawn per packet (same zone, cross zone); fixed ones stay constants. */
  setFabricLatency(fabric: Fabric, sameZone: Distribution, crossZone: Distribution): void {
    fabric.sameZoneLatencyNs = sameZone.fixedNs
    fabric.crossZoneLatencyNs = crossZone.fixedNs
    fabric.sameZoneLatency = sameZone.isFixed ? null : sameZone
    fabric.crossZoneLatency = crossZone.isFixed ? null : crossZone
    if (fabric.sameZoneLatency !== null || fabric.crossZoneLatency !== null)
      for (const port of fabric.ports)
        port.latencyRng ??= Rng.stream(this.seed, `net/link/${port.ns.name}/${port.name}/latency`)
  }

  createFabric(name: string, sameZoneLatencyNs: number, crossZoneLatencyNs: number): Fabric {
    const fabric = new Fabric(name, sameZoneLatencyNs, crossZoneLatencyNs)
    this.fabrics.push(fabric)
    return fabric
  }

  /** A NIC in `ns` attached to `fabric`; `zone` -1 = edge (same-zone distance to everyone). */
  attachToFabric(
    fabric: Fabric,
    ns: NetNs,
    name: string,
    zone: number,
    link: Omit<LinkOptions, "latencyNs">,
  ): NetInterface {
    const iface = this.addInterface(ns, name, InterfaceKind.FABRIC, { ...link, latencyNs: 0 })
    iface.fabric = fabric
    iface.zone = zone
    fabric.ports.push(iface)
    if (fabric.sameZoneLatency !== null || fabric.crossZoneLatency !== null)
      iface.latencyRng = Rng.stream(this.seed, `net/link/${ns.name}/${name}/latency`)
    return iface
  }

  /**
   * `ip addr add address/prefixLength dev iface`: a local address and its connected route (none for
   * /32). The first address becomes the interface's primary address. On a fabric NIC the address is
   * also registered as a fabric neighbour.
   */
  addAddress(iface: NetInterface, address: Ipv4, prefixLength: number): void {
    const ns = iface.ns
    if (ns.sharedAddressesIface === iface) ns.ownSharedAddresses()
    assert(ns.localInterface(address) === undefined, `${ns.name}: address already assigned`)
    ns.addLocalAddress(address, iface)
    iface.ownAddresses.push(address)
    if (iface.address === 0) {
      iface.address = address
      iface.prefixLength = prefixLength
    }
    // fib_add_ifaddr: the prefix route only for an up device (a dummy is down until set up).
    if (prefixLength < 32 && (iface.kind !== InterfaceKind.DUMMY || iface.up)) {
      const mask = maskOf(prefixLength)
      ns.routes.add(new Route({ address: (address & mask) >>> 0, prefixLength, mask }, iface.ifIndex, 0, address, 0))
    }
    if (iface.fabric !== null) this.addFabricNeighbour(iface.fabric, address, iface)
  }

  /**
   * `ip addr del address/32 dev iface` (kube-proxy unbinding a VIP from kube-ipvs0): the address is
   * no longer local. Only host (/32) addresses, which have no connected route; the primary address
   * moves to the interface's next one (0 when none is left).
   */
  removeAddress(iface: NetInterface, address: Ipv4): void {
    const ns = iface.ns
    if (ns.sharedAddressesIface === iface) ns.ownSharedAddresses()
    assert(ns.localAddresses.get(address) === iface, `${ns.name}: ${iface.name} does not hold the address`)
    assert(iface.address !== address || iface.prefixLength === 32, "only /32 addresses are removed")
    ns.removeLocalAddress(address)
    const list = iface.ownAddresses
    list.splice(list.indexOf(address), 1)
    if (iface.address === address) iface.address = list.length > 0 ? list[0] : 0
  }

  /** The fabric delivers packets for `address` to `iface` (VPC: ENI secondary IPs of a node). */
  addFabricNeighbour(fabric: Fabric, address: Ipv4, iface: NetInterface): void {
    assert(iface.fabric === fabric, "neighbour must be a port of the fabric")
    fabric.neighbours.set(address, iface)
  }

  /** `ip route add prefix [via gw] dev iface [src s]`. `prefix` as Cidr or text. */
  addRoute(ns: NetNs, prefix: Cidr | string, iface: NetInterface, via: Ipv4 = 0, src: Ipv4 = 0, metric = 0): Route {
    assert(iface.ns === ns, "route device must be in the namespace")
    const route = new Route(
      typeof prefix === "string" ? parseCidrText(prefix) : prefix,
      iface.ifIndex,
      via,
      src,
      metric,
    )
    ns.routes.add(route)
    return route
  }

  // ---------------------------------------------------------------- packet table

  /** Takes a packet from the pool, reset, with a fresh id. Counted in flight once `send`/`output` is called. */
  allocatePacket(): number {
    let handle: number
    if (this.packetFreeLength > 0) handle = this.packetFree[--this.packetFreeLength]
    else {
      handle = this.packets.length
      this.packets.push(new Packet())
    }
    const packet = this.packets[handle]
    packet.reset()
    packet.id = this.packetIdNext++
    return handle
  }

  packet(handle: number): Packet {
    return this.packets[handle]
  }

  /** Live packets in the table (independent of the counters; the conservation test compares them). */
  get livePacketCount(): number {
    return this.packets.length - this.packetFreeLength
  }

  private free(handle: number): void {
    this.packets[handle].appData = null
    this.packetFree[this.packetFreeLength++] = handle
    this.counters.inFlight--
  }

  private drop(handle: number, reason: number, ns: NetNs): void {
    const filter = ns.filter
    if (filter !== null && this.packets[handle].ctId >= 0 && filter.discard !== undefined)
      filter.discard(this.packets[handle])
    const c = this.counters
    c.dropped++
    c.droppedByReason[reason]++
    if (this.observer !== null) this.observer.onDrop(this.packets[handle], reason, ns.id, this.scheduler.nowNs)
    this.free(handle)
  }

  /** Marks a packet consumed by `ns`'s stack or one of its sockets. */
  private delivered(handle: number, ns: NetNs): void {
    this.counters.delivered++
    if (this.observer !== null) this.observer.onDeliver(this.packets[handle], ns.id, this.scheduler.nowNs)
    this.free(handle)
  }

  // ---------------------------------------------------------------- events

  handleEvent(kind: number, a: number, b: number, nowNs: number): void {
    if (kind === this.kindArrive) {
      if (b >= 0) this.receive(this.interfaces[b], a, nowNs)
      else this.drop(a, DROP_REASON_LINK_LOSS, this.interfaces[-b - 1].ns)
    } else if (kind === this.kindDeliver) {
      this.deliver(this.namespaces[b], a, nowNs)
    } else if (kind === this.kindNapiPoll) {
      this.napiPoll(this.namespaces[a], b, nowNs)
    } else if (kind === this.kindLocalError) {
      const ns = this.namespaces[b]
      const p = this.packets[a]
      this.socketError(
        ns,
        p.protocol,
        p.srcAddr,
        p.srcPort,
        p.dstAddr,
        p.dstPort,
        p.tcpSeq,
        p.appTag,
        NetError.NET_UNREACHABLE,
        true,
        true,
      )
      this.drop(a, DROP_REASON_NO_ROUTE, ns)
    }
  }

  // ---------------------------------------------------------------- output path

  /**
   * Sends a locally generated packet from `ns` (ip_local_out): fills srcAddr from the route when 0,
   * sets sentNs (default: readyNs; an echo reply keeps its request's), counts it sent, then route -> OUTPUT -> re-route -> POSTROUTING -> transmit.
   * `readyNs` (>= now) is when the stack hands it over (after earlier processing costs).
   */
  send(ns: NetNs, handle: number, readyNs: number = this.scheduler.nowNs, sentNs: number = readyNs): void {
    const p = this.packets[handle]
    const c = this.counters
    c.sent++
    c.inFlight++
    p.sentNs = sentNs
    if (this.observer !== null) this.observer.onSend(p, ns.id, readyNs)
    this.outputReadyNs = readyNs
    this.output(ns, handle)
  }

  /** The namespace a socket's `ns` (the narrow view of net/io.ts) is. */
  namespaceOf(ns: SocketNs): NetNs {
    return this.namespaces[ns.id]
  }

  /** NetIo.sendFrom: a socket's packet, sent now from its namespace. */
  sendFrom(ns: SocketNs, handle: number): void {
    this.send(this.namespaceOf(ns), handle)
  }

  /** `output`'s readyNs argument, as a field (see transmitReadyNs). */
  private outputReadyNs = 0

  private output(ns: NetNs, handle: number): void {
    const readyNs = this.outputReadyNs
    const p = this.packets[handle]
    // The tagged copy: passed on to the hooks as it is, where a read of nowNs would be boxed per call.
    const nowNs = this.scheduler.nowBoxedNs
    let route: Route | null = null
    let iface: NetInterface
    const local = ns.isLocalAddress(p.dstAddr)
    if (local) iface = ns.loopback
    else {
      route = ns.routes.lookup(p.dstAddr)
      if (route === null) {
        this.scheduler.schedule(readyNs, this.kindLocalError, handle, ns.id)
        return
      }
      iface = ns.interfaces[route.ifIndex] as NetInterface
    }
    if (p.srcAddr === 0) {
      // The route's preferred source, else the output device's address (ns.interfaceAddress of
      // iface, which is ns.interfaces[iface.ifIndex], read here without the table).
      if (local) p.srcAddr = p.dstAddr
      else if ((route as Route).src !== 0) p.srcAddr = (route as Route).src
      else p.srcAddr = iface.address !== 0 ? iface.address : ns.primaryAddress
    }
    let costNs = 0
    const filter = ns.filter
    if (filter !== null) {
      const dstBefore = p.dstAddr
      const verdict = filter.runHook(HOOK_OUTPUT, p, -1, iface.ifIndex, nowNs)
      costNs += filter.lastCostNs
      if (verdict !== VERDICT_ACCEPT) return this.refuse(ns, filter, verdict, handle, readyNs + costNs)
      if (p.dstAddr !== dstBefore) {
        // ip_route_me_harder: DNAT in OUTPUT changes the routing decision.
        if (ns.isLocalAddress(p.dstAddr)) {
          route = null
          iface = ns.loopback
        } else {
          route = ns.routes.lookup(p.dstAddr)
          if (route === null) return this.drop(handle, DROP_REASON_NO_ROUTE, ns)
          iface = ns.interfaces[route.ifIndex] as NetInterface
        }
      }
      const verdict2 = filter.runHook(HOOK_POSTROUTING, p, -1, iface.ifIndex, nowNs)
      costNs += filter.lastCostNs
      if (verdict2 !== VERDICT_ACCEPT) return this.refuse(ns, filter, verdict2, handle, readyNs + costNs)
    }
    const nextHop = route !== null && route.via !== 0 ? route.via : p.dstAddr
    this.processReadyNs = readyNs
    const ingress = ns.ingress
    if (ingress !== null && ingress.deferredPackets > 0) {
      // Packets wait for a CPU on this node: the CPU's NAPI order decides (see napiStart).
      const cpu = ingress.freeFirst(ns.cpuFreeAtNs as Float64Array)
      if (!this.napiStart(ns, ingress, cpu, INGRESS_QUEUE_BACKLOG, false, costNs, handle, iface.ifIndex, nextHop))
        return
    } else this.processed(ns, costNs)
    this.transmitReadyNs = this.processedNs
    this.transmit(iface, nextHop, handle)
  }

  /**
   * A stolen packet, rewritten by its new owner, sent on from `ns` at `readyNs` as a locally
   * generated one: route -> OUTPUT -> POSTROUTING -> transmit (ip_vs_nat_send_or_cont: NF_HOOK at
   * LOCAL_OUT, then dst_output). Not counted as sent again: it is still the same packet in flight.
   */
  resumeStolen(ns: NetNs, handle: number, readyNs: number = this.scheduler.nowNs): void {
    this.outputReadyNs = readyNs
    this.output(ns, handle)
  }

  /** The owner of a stolen packet drops it (counted by `reason`, its unconfirmed conntrack freed). */
  dropStolen(ns: NetNs, handle: number, reason: number): void {
    this.drop(handle, reason, ns)
  }

  // ---------------------------------------------------------------- input path

  private receive(iface: NetInterface, handle: number, nowNs: number): void {
    const ns = iface.ns
    const p = this.packets[handle]
    iface.rxPackets++
    if (this.capture !== null) this.capture.onInterfacePacket(p, iface, false, nowNs)
    if (iface.kind !== INTERFACE_KIND_LOOPBACK) {
      // Entering another namespace or host: skb_scrub_packet() resets conntrack and the mark; over
      // lo the packet keeps its conntrack entry (the filter relies on that).
      p.ctId = -1
      p.ctDirection = 0
      p.ctState = 0
      p.untracked = false
      p.mark = 0
    }
    if (!iface.up) return this.drop(handle, DROP_REASON_INTERFACE_DOWN, ns)
    if (ns.ingress !== null) {
      const reason = this.ingressDrop(ns, ns.ingress, iface, nowNs)
      if (reason >= 0) return this.drop(handle, reason, ns)
    }
    // A bridge port hands the packet to the bridge: netfilter sees it "on" cni0 (br_netfilter).
    const inIf = iface.master !== null ? iface.master : iface
    p.inIfIndex = inIf.ifIndex
    const dstBefore = p.dstAddr
    const filter = ns.filter
    let costNs = 0
    if (filter !== null) {
      const verdict = filter.runHook(HOOK_PREROUTING, p, inIf.ifIndex, -1, nowNs)
      costNs += filter.lastCostNs
      if (verdict !== VERDICT_ACCEPT) return this.refuse(ns, filter, verdict, handle, nowNs + costNs)
    }
    if (ns.isLocalAddress(p.dstAddr)) {
      if (filter !== null) {
        const verdict = filter.runHook(HOOK_INPUT, p, inIf.ifIndex, -1, nowNs)
        costNs += filter.lastCostNs
        if (verdict !== VERDICT_ACCEPT) return this.refuse(ns, filter, verdict, handle, nowNs + costNs)
      }
      this.processReadyNs = nowNs
      if (ns.ingress !== null) {
        if (!this.napiReceived(ns, ns.ingress, costNs, handle, -1, 0)) return
      } else this.processed(ns, costNs)
      let atNs = this.processedNs
      if (this.hostStack !== null) {
        ns.stackRng ??= Rng.stream(this.seed, `net/ns/${ns.name}/host-stack`)
        atNs += this.hostStack.sample(ns.stackRng)
      }
      if (atNs < ns.lastDeliverNs) atNs = ns.lastDeliverNs
      ns.lastDeliverNs = atNs
      if (atNs === nowNs) this.deliver(ns, handle, nowNs)
      else {
        this.scheduler.stagedTimeNs = atNs
        this.scheduler.postStaged(this.kindDeliver, handle, ns.id)
      }
      return
    }
    // ip_forward is off (pods): not for us, dropped without an ICMP error (ip_error, !IN_DEV_FORWARD).
    if (!ns.ipForward) return this.drop(handle, DROP_REASON_NO_ROUTE, ns)
    const route = ns.routes.lookup(p.dstAddr)
    if (route === null) {
      this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, IcmpCode.NET_UNREACHABLE, nowNs + costNs)
      return this.drop(handle, DROP_REASON_NO_ROUTE, ns)
    }
    const out = ns.interfaces[route.ifIndex] as NetInterface
    // Bridged (L2) traffic between two ports of a bridge is not routed: no TTL decrement, no
    // forwarding cost; br_netfilter still runs the hooks. Bridged are frames addressed within the
    // bridge's subnet (to the peer's MAC), and frames PREROUTING DNATed to an address the route
    // sends back out the same bridge (br_nf_pre_routing_finish: daddr changed and the route's
    // device is the bridge -> "bridged_dnat", the frame is re-bridged to the new destination's
    // port): a pod reaching a same-node pod through a ClusterIP arrives with TTL 64, as the kernel
    // differential test measures.
    const bridged =
      out === inIf &&
      inIf.kind === INTERFACE_KIND_BRIDGE &&
      inIf.prefixLength > 0 &&
      // The prefix mask inline (prefixLength > 0 here): maskOf's unsigned result is above 2^30,
      // returned boxed from a call V8 does not inline.
      (p.dstAddr !== dstBefore || ((dstBefore ^ inIf.address) & (-1 << (32 - inIf.prefixLength))) === 0)
    if (!bridged) {
      // ip_forward(): TTL checked and decremented before the FORWARD hook.
      if (p.ttl <= 1) {
        this.icmpError(ns, p, IcmpType.TIME_EXCEEDED, 0, nowNs + costNs)
        return this.drop(handle, DROP_REASON_TTL_EXPIRED, ns)
      }
      p.ttl--
      costNs += this.params.forwardCostNs
    }
    if (filter !== null) {
      const verdict = filter.runHook(HOOK_FORWARD, p, inIf.ifIndex, out.ifIndex, nowNs)
      costNs += filter.lastCostNs
      if (verdict !== VERDICT_ACCEPT) return this.refuse(ns, filter, verdict, handle, nowNs + costNs)
      const verdict2 = filter.runHook(HOOK_POSTROUTING, p, -1, out.ifIndex, nowNs)
      costNs += filter.lastCostNs
      if (verdict2 !== VERDICT_ACCEPT) return this.refuse(ns, filter, verdict2, handle, nowNs + costNs)
    }
    this.counters.forwarded++
    this.processReadyNs = nowNs
    const nextHop = route.via !== 0 ? route.via : p.dstAddr
    if (ns.ingress !== null) {
      if (!this.napiReceived(ns, ns.ingress, costNs, handle, out.ifIndex, nextHop)) return
    } else this.processed(ns, costNs)
    this.transmitReadyNs = this.processedNs
    this.transmit(out, nextHop, handle)
  }

  /**
   * `costNs` of packet processing in `ns` becoming ready at `readyNs`: without softirq CPUs
   * (NetNs.cpuFreeAtNs) it ends at readyNs + costNs; with them it runs on the CPU free first, after
   * the work queued there (a FIFO server with as many servers as CPUs), and ends when it is done.
   * readyNs is processReadyNs and the end is left in processedNs (times as fields, not as an
   * argument and a result: see transmitReadyNs).
   */
  private processReadyNs = 0
  private processedNs = 0

  private processed(ns: NetNs, costNs: number): void {
    const readyNs = this.processReadyNs
    const cpus = ns.cpuFreeAtNs
    if (cpus === null || costNs === 0) {
      this.processedNs = readyNs + costNs
      return
    }
    let best = 0
    for (let i = 1; i < cpus.length; i++) if (cpus[i] < cpus[best]) best = i
    const startNs = cpus[best] > readyNs ? cpus[best] : readyNs
    const endNs = startNs + costNs
    cpus[best] = endNs
    this.processedNs = endNs
  }

  /**
   * Gives `ns` `cpus` softirq CPUs: its packet-processing costs contend for them (see processed).
   * With `ingress` (net.core.netdev_max_backlog and the NIC RX ring size, per CPU; the NAPI weights,
   * default 64 each), received packets wait for a CPU in a bounded ingress queue and are dropped
   * there, before any hook (ingressDrop), and the CPU serves the two queues in NAPI order.
   */
  setNamespaceCpus(
    ns: NetNs,
    cpus: number,
    ingress?: { netdevMaxBacklog: number; rxRingSize: number; napiWeight?: number; devRxWeight?: number },
  ): void {
    assert(Number.isInteger(cpus) && cpus >= 1, `cpus ${cpus}`)
    ns.cpuFreeAtNs = new Float64Array(cpus)
    ns.ingress =
      ingress === undefined
        ? null
        : new IngressBacklog(
            cpus,
            ingress.netdevMaxBacklog,
            ingress.rxRingSize,
            ingress.napiWeight,
            ingress.devRxWeight,
          )
  }

  /**
   * The ingress queue a packet arriving on `iface` at `nowNs` joins in front of `ns`'s CPUs
   * (net/backlog.ts): -1 when admitted, else the drop reason. The queue is the one of the CPU its
   * work will run on (the CPU free first, counting work deferred there), left in ingressCpu and
   * ingressKind for napiStart: a NIC's RX ring for a fabric NIC, else the per-CPU backlog
   * (veth_xmit and loopback_xmit -> __netif_rx -> enqueue_to_backlog, net/core/dev.c). Dropped
   * here, the packet runs no hook and costs no CPU.
   */
  private ingressDrop(ns: NetNs, ingress: IngressBacklog, iface: NetInterface, nowNs: number): number {
    const cpus = ns.cpuFreeAtNs as Float64Array
    const best = ingress.freeFirst(cpus)
    const nic = iface.kind === INTERFACE_KIND_FABRIC
    const kind = nic ? INGRESS_QUEUE_RX_RING : INGRESS_QUEUE_BACKLOG
    this.ingressCpu = best
    this.ingressKind = kind
    // An idle CPU with nothing deferred takes the packet at once: it never waits.
    if (cpus[best] <= nowNs && ingress.deferredPerCpu[best] === 0) return -1
    if (ingress.admits(best, kind, nowNs)) return -1
    return nic ? DROP_REASON_RX_RING : DROP_REASON_BACKLOG
  }

  /** The CPU and queue kind ingressDrop chose for the packet being received. */
  private ingressCpu = 0
  private ingressKind = 0

  /**
   * napiStart for the packet being received (on ingressCpu, in ingressKind's queue), with its
   * common cases inline, as napiStart decides them: with nothing deferred on the CPU, work on an
   * idle CPU starts at once (a new turn of its instance), and work arriving while the CPU serves a
   * turn of the same instance that has used less than its weight starts when the work before it
   * ends. A received packet is ready at its arrival (processReadyNs is the event's time), so
   * "busy" is busyNs > readyNs here. Small so that V8 inlines it into receive; every other case
   * goes through napiStart.
   */
  private napiReceived(
    ns: NetNs,
    ingress: IngressBacklog,
    costNs: number,
    handle: number,
    outIfIndex: number,
    nextHop: number,
  ): boolean {
    const cpu = this.ingressCpu
    const kind = this.ingressKind
    if (costNs !== 0 && ingress.deferredPerCpu[cpu] === 0) {
      const readyNs = this.processReadyNs
      const cpus = ns.cpuFreeAtNs as Float64Array
      const busyNs = cpus[cpu]
      if (busyNs <= readyNs) {
        ingress.active[cpu] = kind
        ingress.turnCount[cpu] = 1
        this.processedNs = cpus[cpu] = readyNs + costNs
        return true
      }
      if (ingress.active[cpu] === kind && ingress.turnCount[cpu] < ingress.weights[kind]) {
        ingress.turnCount[cpu]++
        ingress.recordStart(cpu, kind, busyNs)
        this.processedNs = cpus[cpu] = busyNs + costNs
        return true
      }
    }
    return this.napiStart(ns, ingress, cpu, kind, true, costNs, handle, outIfIndex, nextHop)
  }

  /**
   * `costNs` of work for packet `handle` (ready at processReadyNs) on `cpu` of a node with ingress
   * queues, as NAPI serves them (net/backlog.ts; net_rx_action / napi_poll / process_backlog,
   * net/core/dev.c). Returns true when its start is known now (processedNs is its end, the caller
   * goes on as before): the CPU is idle with nothing deferred, or the packet falls in the turn
   * being served (its instance is polled now, nothing of it deferred, less than its weight taken).
   * Otherwise the packet is deferred with its continuation (transmit on `outIfIndex` to `nextHop`,
   * or local delivery when -1) and started when the CPU picks it (napiPoll); returns false.
   * `bounded` false: a locally generated packet (process context, not in a NAPI queue): it takes
   * the CPU as before while nothing waits there, else it is served in the backlog's turn.
   */
  private napiStart(
    ns: NetNs,
    ingress: IngressBacklog,
    cpu: number,
    kind: number,
    bounded: boolean,
    costNs: number,
    handle: number,
    outIfIndex: number,
    nextHop: number,
  ): boolean {
    const readyNs = this.processReadyNs
    if (costNs === 0) {
      // No CPU work (as processed): nothing to queue for.
      this.processedNs = readyNs
      return true
    }
    const cpus = ns.cpuFreeAtNs as Float64Array
    const busyNs = cpus[cpu]
    const nowNs = this.scheduler.nowNs
    if (ingress.deferredPerCpu[cpu] === 0) {
      if (busyNs <= readyNs) {
        // Idle CPU, empty queues: the packet starts at once, a new turn of its instance.
        if (bounded) {
          ingress.active[cpu] = kind
          ingress.turnCount[cpu] = 1
        }
        this.processedNs = cpus[cpu] = readyNs + costNs
        return true
      }
      if (!bounded) {
        this.processedNs = cpus[cpu] = busyNs + costNs
        return true
      }
    }
    if (
      bounded &&
      busyNs > nowNs &&
      ingress.active[cpu] === kind &&
      ingress.turnCount[cpu] < ingress.weights[kind] &&
      ingress.deferredLength(cpu, kind) === 0
    ) {
      // In the turn being served: starts when the packets before it are done.
      ingress.turnCount[cpu]++
      ingress.recordStart(cpu, kind, busyNs)
      this.processedNs = cpus[cpu] = busyNs + costNs
      return true
    }
    ingress.defer(cpu, kind, handle, costNs, readyNs, outIfIndex, nextHop, bounded)
    // napi_schedule, unless its instance is the one being polled (repolled at its turn's end).
    if (!(ingress.active[cpu] === kind && busyNs > nowNs)) ingress.schedule(cpu, kind)
    if (ingress.pollPending[cpu] === 0) {
      ingress.pollPending[cpu] = 1
      if (this.kindNapiPoll < 0) this.kindNapiPoll = this.scheduler.registerKind("net/napi-poll", this)
      this.scheduler.schedule(busyNs > nowNs ? busyNs : nowNs, this.kindNapiPoll, ns.id, cpu)
    }
    return false
  }

  /**
   * `cpu` of `ns` finished the work it had started (event at its free time): the next instance
   * on its poll list gets a turn (net_rx_action) and its deferred packets start back to back, up
   * to its weight; each goes on as napiStart's caller would have (napiFinish).
   */
  private napiPoll(ns: NetNs, cpu: number, nowNs: number): void {
    const ingress = ns.ingress as IngressBacklog
    const cpus = ns.cpuFreeAtNs as Float64Array
    ingress.pollPending[cpu] = 0
    if (ingress.deferredPerCpu[cpu] === 0) return
    if (cpus[cpu] > nowNs) {
      // Packets of the turn being served came meanwhile: its end moved.
      ingress.pollPending[cpu] = 1
      this.scheduler.schedule(cpus[cpu], this.kindNapiPoll, ns.id, cpu)
      return
    }
    let kind = ingress.nextTurn(cpu)
    while (kind >= 0 && ingress.deferredLength(cpu, kind) === 0) kind = ingress.nextTurn(cpu)
    if (kind < 0) return
    const weight = ingress.weights[kind]
    let tNs = nowNs
    while (ingress.turnCount[cpu] < weight && ingress.deferredLength(cpu, kind) > 0) {
      ingress.shift(cpu, kind)
      const startNs = ingress.headReadyNs > tNs ? ingress.headReadyNs : tNs
      const endNs = startNs + ingress.headCostNs
      cpus[cpu] = endNs
      ingress.turnCount[cpu]++
      if (ingress.headBounded && startNs > nowNs) ingress.recordStart(cpu, kind, startNs)
      this.napiFinish(ns, ingress.headHandle, ingress.headOutIf, ingress.headNextHop, endNs)
      tNs = endNs
    }
    if (ingress.deferredPerCpu[cpu] > 0) {
      ingress.pollPending[cpu] = 1
      this.scheduler.schedule(cpus[cpu], this.kindNapiPoll, ns.id, cpu)
    }
  }

  /** A deferred packet's continuation once its work ends at `endNs` (as in receive and output). */
  private napiFinish(ns: NetNs, handle: number, outIfIndex: number, nextHop: number, endNs: number): void {
    if (outIfIndex >= 0) {
      this.transmitReadyNs = endNs
      this.transmit(ns.interfaces[outIfIndex] as NetInterface, nextHop, handle)
      return
    }
    let atNs = endNs
    if (this.hostStack !== null) {
      ns.stackRng ??= Rng.stream(this.seed, `net/ns/${ns.name}/host-stack`)
      atNs += this.hostStack.sample(ns.stackRng)
    }
    if (atNs < ns.lastDeliverNs) atNs = ns.lastDeliverNs
    ns.lastDeliverNs = atNs
    this.scheduler.stagedTimeNs = atNs
    this.scheduler.postStaged(this.kindDeliver, handle, ns.id)
  }

  /** DROP, REJECT or STOLEN verdict at a hook. */
  private refuse(ns: NetNs, filter: PacketFilter, verdict: number, handle: number, readyNs: number): void {
    if (verdict === VERDICT_DROP) return this.drop(handle, filter.lastDropReason, ns)
    if (verdict === VERDICT_STOLEN) {
      // nf_hook_slow, NF_STOLEN: the hook owns the skb now; neither continued nor freed here.
      if (filter.takeStolen === undefined) throw new Error("net: a filter returned STOLEN without takeStolen")
      filter.takeStolen(handle, this.packets[handle], readyNs)
      return
    }
    const p = this.packets[handle]
    switch (filter.lastRejectWith) {
      case RejectWith.TCP_RESET:
        if (p.protocol === PROTOCOL_TCP) this.tcpReset(ns, p, readyNs)
        else this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, IcmpCode.PORT_UNREACHABLE, readyNs)
        break
      case RejectWith.ICMP_HOST_UNREACHABLE:
        this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, IcmpCode.HOST_UNREACHABLE, readyNs)
        break
      case RejectWith.ICMP_NET_UNREACHABLE:
        this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, IcmpCode.NET_UNREACHABLE, readyNs)
        break
      case RejectWith.ICMP_ADMIN_PROHIBITED:
        this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, ICMP_CODE_ADMIN_PROHIBITED, readyNs)
        break
      case RejectWith.ICMP_PROTO_UNREACHABLE:
        this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, ICMP_CODE_PROTOCOL_UNREACHABLE, readyNs)
        break
      default:
        this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, IcmpCode.PORT_UNREACHABLE, readyNs)
    }
    this.drop(handle, DROP_REASON_NETFILTER_REJECT, ns)
  }

  // ---------------------------------------------------------------- transmit

  /**
   * The time `transmit`'s packet is ready to leave (the argument of transmit, as a field): a time
   * above 2^31 ns passed to a call that is not inlined is boxed into a new heap number, once per
   * packet; a store into this double field is not (Scheduler.stagedTimeNs, the same for events).
   */
  private transmitReadyNs = 0

  private transmit(iface: NetInterface, nextHop: Ipv4, handle: number): void {
    const readyNs = this.transmitReadyNs
    const p = this.packets[handle]
    let tx = iface
    let to: NetInterface
    let latencyNs: number
    // A latency drawn per packet (latencyRng set) is clamped below so the link stays FIFO; the
    // fabric keeps one FIFO per zone class (same-zone packets do not wait behind cross-zone ones).
    let crossZone = false
    switch (iface.kind) {
      case INTERFACE_KIND_VETH:
        to = iface.peer as NetInterface
        latencyNs = iface.latencyDist === null ? iface.latencyNs : iface.latencyDist.sample(iface.latencyRng as Rng)
        break
      case INTERFACE_KIND_FABRIC: {
        const fabric = iface.fabric as Fabric
        const neighbour = fabric.neighbours.get(nextHop)
        if (neighbour === undefined || neighbour === iface) return this.drop(handle, DROP_REASON_NO_NEIGHBOUR, iface.ns)
        to = neighbour
        crossZone = fabric.isCrossZone(iface, neighbour)
        const dist = crossZone ? fabric.crossZoneLatency : fabric.sameZoneLatency
        if (dist === null) latencyNs = crossZone ? fabric.crossZoneLatencyNs : fabric.sameZoneLatencyNs
        else latencyNs = dist.sample(iface.latencyRng as Rng)
        break
      }
      case INTERFACE_KIND_BRIDGE: {
        if (p.totalBytes > iface.mtuBytes) return this.drop(handle, DROP_REASON_MTU_EXCEEDED, iface.ns)
        let port = (iface.bridgePorts as IntMap<NetInterface>).get(nextHop)
        // Not in the FDB: a pod whose network is built on first use (cni.ts) is built now.
        if (port === undefined && this.bridgeMiss !== null) port = this.bridgeMiss(iface, nextHop)
        if (port === undefined) return this.drop(handle, DROP_REASON_NO_NEIGHBOUR, iface.ns)
        tx = port
        to = port.peer as NetInterface
        latencyNs = port.latencyDist === null ? port.latencyNs : port.latencyDist.sample(port.latencyRng as Rng)
        // The bridge's own forwarding hop (br_forward), drawn from the bridge's stream.
        if (iface.latencyDist !== null) latencyNs += iface.latencyDist.sample(iface.latencyRng as Rng)
        else latencyNs += iface.latencyNs
        break
      }
      case INTERFACE_KIND_DUMMY:
        if (!iface.up) return this.drop(handle, DROP_REASON_INTERFACE_DOWN, iface.ns)
        // dummy_xmit: counted as sent by the device, then freed (consumed, not a drop).
        iface.txPackets++
        iface.txBytes += p.totalBytes
        this.counters.transmitted++
        return this.delivered(handle, iface.ns)
      default:
        to = iface
        latencyNs = iface.latencyNs
    }
    if (!tx.up) return this.drop(handle, DROP_REASON_INTERFACE_DOWN, tx.ns)
    if (p.totalBytes > tx.mtuBytes) return this.drop(handle, DROP_REASON_MTU_EXCEEDED, tx.ns)
    // Transmit queue, as the packet reaches it at readyNs (after its CPU work, which may still be
    // ahead: a packet waiting for a CPU waits in the ingress backlog, not here): forget packets
    // whose serialization finished by then. Up to the packets other CPUs hand over at the same
    // time, that is the queue the qdisc holds when this one is enqueued.
    // The queue's newest packet departs at busyUntilNs and is not stored in the ring; the ring
    // holds the queueLength - 1 before it (NetInterface.queueDepartNs). A link whose packets have
    // all departed when the next one comes (every unshaped link but a burst's) touches no ring.
    if (tx.queueLength > 0 && tx.busyUntilNs <= readyNs) {
      // Departure times are non-decreasing and busyUntilNs is the newest: all have departed. The
      // same end state as popping them one by one, without reading the ring.
      tx.queueLength = 0
    }
    // Otherwise the newest departs after readyNs: only stored ones can have left.
    if (tx.queueLength > 1) {
      const ring = tx.queueDepartNs
      while (tx.queueLength > 1 && ring[tx.queueHead] <= readyNs) {
        tx.queueHead = tx.queueHead + 1 === ring.length ? 0 : tx.queueHead + 1
        tx.queueLength--
      }
    }
    if (tx.queueLength >= tx.queuePacketsMax) return this.drop(handle, DROP_REASON_QUEUE_FULL, tx.ns)
    let departNs = readyNs > tx.busyUntilNs ? readyNs : tx.busyUntilNs
    if (tx.bandwidthBitsPerSecond > 0) {
      departNs += Math.ceil(((p.totalBytes + this.params.ethernetOverheadBytes) * 8 * 1e9) / tx.bandwidthBitsPerSecond)
    }
    if (tx.queueLength > 0) {
      // The previous newest (still queued) goes into the ring behind the stored ones.
      const stored = tx.queueLength - 1
      let ring = tx.queueDepartNs
      if (stored === ring.length) ring = growQueueRing(tx)
      let tail = tx.queueHead + stored
      if (tail >= ring.length) tail -= ring.length
      ring[tail] = tx.busyUntilNs
    }
    tx.busyUntilNs = departNs
    tx.queueLength++
    tx.txPackets++
    tx.txBytes += p.totalBytes
    this.counters.transmitted++
    let arriveNs = departNs + latencyNs
    if (tx.latencyRng !== null || iface.latencyRng !== null) {
      // FIFO per link: delivery = max(drawn arrival, the previous packet's arrival on this link).
      if (crossZone) {
        if (arriveNs < tx.lastArriveCrossZoneNs) arriveNs = tx.lastArriveCrossZoneNs
        tx.lastArriveCrossZoneNs = arriveNs
      } else {
        if (arriveNs < tx.lastArriveNs) arriveNs = tx.lastArriveNs
        tx.lastArriveNs = arriveNs
      }
    }
    if (this.capture !== null) this.capture.onInterfacePacket(p, tx, true, departNs)
    if (this.observer !== null) this.observer.onTransmit(p, tx.id, departNs, arriveNs)
    const lost = tx.lossRng !== null && tx.lossRng.intBelow(1_000_000) < tx.lossPartsPerMillion
    this.scheduler.stagedTimeNs = arriveNs
    this.scheduler.postStaged(this.kindArrive, handle, lost ? -tx.id - 1 : to.id)
  }

  // ---------------------------------------------------------------- local delivery

  private deliver(ns: NetNs, handle: number, nowNs: number): void {
    // A deferred userspace proxier binds its ports before the socket lookup (proxy/userspace/deferral.ts).
    if (ns.portsPending !== null) ns.portsPending.settle()
    const p = this.packets[handle]
    switch (p.protocol) {
      case PROTOCOL_UDP: {
        const socket = udpLookup(ns.udpSockets.get(p.dstPort), p.dstAddr)
        if (socket === null) {
          this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, IcmpCode.PORT_UNREACHABLE, nowNs)
          return this.drop(handle, DROP_REASON_NO_SOCKET, ns)
        }
        if (socket.remotePort !== 0 && (socket.remotePort !== p.srcPort || socket.remoteAddr !== p.srcAddr)) {
          // A connected socket only receives from its peer (udp4_lib_lookup scoring); no ICMP.
          return this.drop(handle, DROP_REASON_NO_SOCKET, ns)
        }
        // A port-holding socket (udpHoldPort: localPort 0, the userspace proxy's ports before
        // their first datagram) has its own call site, so that this one sees only the listeners
        // of sockets of their own (four classes in the userspace star, which V8 keeps
        // polymorphic; a fifth makes the site megamorphic for the rest of the run).
        if (socket.localPort === 0) socket.listener.onUdpMessage(socket, p)
        else socket.listener.onUdpMessage(socket, p)
        return this.delivered(handle, ns)
      }
      case PROTOCOL_TCP:
        if (this.tcp.receive(ns, p, nowNs)) return this.delivered(handle, ns)
        return this.drop(handle, DROP_REASON_NO_SOCKET, ns)
      case PROTOCOL_ICMP:
        return this.deliverIcmp(ns, handle, p, nowNs)
      default:
        this.icmpError(ns, p, IcmpType.DEST_UNREACHABLE, ICMP_CODE_PROTOCOL_UNREACHABLE, nowNs)
        return this.drop(handle, DROP_REASON_NO_SOCKET, ns)
    }
  }

  private deliverIcmp(ns: NetNs, handle: number, p: Packet, nowNs: number): void {
    switch (p.icmpType) {
      case IcmpType.ECHO_REQUEST: {
        // icmp_echo(): the reply echoes identifier, sequence and data, from the address pinged.
        const h = this.allocatePacket()
        const r = this.packets[h]
        r.protocol = Protocol.ICMP
        r.icmpType = IcmpType.ECHO_REPLY
        r.srcAddr = p.dstAddr
        r.dstAddr = p.srcAddr
        r.srcPort = p.srcPort
        r.tcpSeq = p.tcpSeq
        r.ttl = this.params.defaultTtl
        r.payloadBytes = p.payloadBytes
        r.totalBytes = p.totalBytes
        r.appTag = p.appTag
        r.appData = p.appData
        r.flowId = p.flowId
        const sentNs = p.sentNs
        this.delivered(handle, ns)
        this.send(ns, h, nowNs, sentNs)
        return
      }
      case IcmpType.ECHO_REPLY: {
        const pinger = ns.pingers.get(p.srcPort)
        if (pinger === undefined) return this.drop(handle, DropReason.NO_SOCKET, ns)
        pinger.listener.onEchoReply(pinger, p.tcpSeq, nowNs - p.sentNs, p)
        return this.delivered(handle, ns)
      }
      case IcmpType.DEST_UNREACHABLE:
      case IcmpType.TIME_EXCEEDED: {
        // The error is about a packet this namespace sent: local = inner source. Time exceeded is
        // EHOSTUNREACH for TCP/UDP (tcp_v4_err), reported as such to ping.
        const exceeded = p.icmpType === IcmpType.TIME_EXCEEDED
        const fatal = !exceeded && icmpUnreachableFatal(p.icmpCode)
        let e: NetError = exceeded ? NetError.HOST_UNREACHABLE : icmpUnreachableErrno(p.icmpCode)
        if (exceeded && p.innerProtocol === Protocol.ICMP) e = NetError.TTL_EXCEEDED
        this.socketError(
          ns,
          p.innerProtocol,
          p.innerSrcAddr,
          p.innerSrcPort,
          p.innerDstAddr,
          p.innerDstPort,
          p.tcpSeq,
          p.appTag,
          e,
          fatal,
          false,
        )
        return this.delivered(handle, ns)
      }
      default:
        return this.delivered(handle, ns)
    }
  }

  /**
   * Reports an error about a packet `ns` sent (localAddr:localPort -> remoteAddr:remotePort) to its
   * socket: ICMP errors (`local` false) and local routing failures (`local` true, as sendto/connect
   * returning ENETUNREACH). UDP sockets see ICMP errors only when connected and the error is hard
   * (__udp4_lib_err without IP_RECVERR); TCP decides by state (tcp_v4_err); pingers see everything.
   */
  private socketError(
    ns: NetNs,
    protocol: number,
    localAddr: Ipv4,
    localPort: number,
    remoteAddr: Ipv4,
    remotePort: number,
    seq: number,
    appTag: number,
    error: NetError,
    fatal: boolean,
    local: boolean,
  ): void {
    if (ns.portsPending !== null) ns.portsPending.settle()
    switch (protocol) {
      case Protocol.UDP: {
        // __udp4_lib_err looks the socket up by the offending datagram's source (our local side).
        const socket = udpLookup(ns.udpSockets.get(localPort), localAddr)
        if (socket === null) return
        if (!local && !(fatal && socket.remotePort === remotePort && socket.remoteAddr === remoteAddr)) return
        socket.listener.onUdpError(socket, error, remoteAddr, remotePort, appTag)
        return
      }
      case Protocol.TCP:
        this.tcp.error(ns, localAddr, localPort, remoteAddr, remotePort, error)
        return
      case Protocol.ICMP: {
        const pinger = ns.pingers.get(localPort)
        if (pinger !== undefined) pinger.listener.onPingError(pinger, seq, error, remoteAddr)
        return
      }
    }
  }

  // ---------------------------------------------------------------- generated packets

  /**
   * icmp_send(): an ICMP error from `ns` about `orig` to its sender, carrying orig's header in the
   * inner* fields and as many bytes of orig as fit in 576 (RFC 1812 4.3.2.3). Never about an ICMP
   * error (RFC 1122 3.2.2). Source: orig's destination when local, else chosen by the route back.
   */
  icmpError(ns: NetNs, orig: Packet, type: number, code: number, readyNs: number): void {
    if (
      orig.protocol === Protocol.ICMP &&
      orig.icmpType !== IcmpType.ECHO_REQUEST &&
      orig.icmpType !== IcmpType.ECHO_REPLY
    )
      return
    const h = this.allocatePacket()
    const e = this.packets[h]
    e.protocol = Protocol.ICMP
    e.icmpType = type
    e.icmpCode = code
    e.srcAddr = ns.isLocalAddress(orig.dstAddr) ? orig.dstAddr : 0
    e.dstAddr = orig.srcAddr
    e.ttl = this.params.defaultTtl
    e.innerSrcAddr = orig.srcAddr
    e.innerDstAddr = orig.dstAddr
    e.innerProtocol = orig.protocol
    e.innerSrcPort = orig.srcPort
    e.innerDstPort = orig.dstPort
    e.tcpSeq = orig.protocol === Protocol.ICMP ? orig.tcpSeq : 0
    e.payloadBytes = Math.min(orig.totalBytes, ICMP_ERROR_ROOM_BYTES)
    e.totalBytes = IPV4_HEADER_BYTES + ICMP_HEADER_BYTES + e.payloadBytes
    e.appTag = orig.appTag
    e.flowId = orig.flowId
    this.send(ns, h, readyNs)
  }

  /**
   * tcp_v4_send_reset() / nf_send_reset(): RST answering `orig` (never a RST). If orig had ACK, the
   * RST's sequence is orig's ack; otherwise RST|ACK acknowledging orig's sequence space.
   */
  tcpReset(ns: SocketNs, orig: Packet, readyNs: number): void {
    if ((orig.tcpFlags & TcpFlag.RST) !== 0) return
    const h = this.allocatePacket()
    const r = this.packets[h]
    r.protocol = Protocol.TCP
    r.srcAddr = orig.dstAddr
    r.dstAddr = orig.srcAddr
    r.srcPort = orig.dstPort
    r.dstPort = orig.srcPort
    r.ttl = this.params.defaultTtl
    r.totalBytes = IPV4_HEADER_BYTES + 20
    if ((orig.tcpFlags & TcpFlag.ACK) !== 0) {
      r.tcpFlags = TcpFlag.RST
      r.tcpSeq = orig.tcpAck
    } else {
      r.tcpFlags = TcpFlag.RST | TcpFlag.ACK
      r.tcpSeq = 0
      const span =
        orig.payloadBytes +
        ((orig.tcpFlags & TcpFlag.SYN) !== 0 ? 1 : 0) +
        ((orig.tcpFlags & TcpFlag.FIN) !== 0 ? 1 : 0)
      r.tcpAck = (orig.tcpSeq + span) >>> 0
    }
    r.flowId = orig.flowId
    this.send(this.namespaceOf(ns), h, readyNs)
  }

  // ---------------------------------------------------------------- sockets

  /**
   * bind(2) a UDP socket. `port` 0 = ephemeral (random start in ip_local_port_range from the
   * namespace's "ports" stream, then the next free port, as udp_lib_get_port). Returns null when no
   * ephemeral port is free; binding a port in use is a programmer error.
   */
  udpBind(ns: NetNs, localAddr: Ipv4, port: number, listener: UdpListener, reuse = false): UdpSocket | null {
    if (ns.portsPending !== null) ns.portsPending.settle()
    let chosen = port
    if (chosen === 0) {
      const min = this.params.ephemeralPortMin
      const count = this.params.ephemeralPortMax - min + 1
      const start = ns.portRng.intBelow(count)
      chosen = -1
      for (let i = 0; i < count; i++) {
        const candidate = min + ((start + i) % count)
        if (!ns.udpSockets.has(candidate)) {
          chosen = candidate
          break
        }
      }
      if (chosen < 0) return null
    }
    const head = ns.udpSockets.get(chosen)
    // A plain if rather than assert(cond, `template`): the message would be built on every bind.
    if (!(chosen > 0 && chosen < 65536 && !udpBindConflicts(head, localAddr, reuse)))
      throw new AssertionError(`${ns.name}: UDP port ${chosen} in use`)
    const socket = new UdpSocket(this, ns, localAddr, chosen, listener, reuse)
    if (head !== undefined) {
      socket.next = head
      head.prev = socket
    }
    ns.udpSockets.set(chosen, socket)
    return socket
  }

  /** listen(2) on `port` (`localAddr` 0 = any address). */
  tcpListen(ns: NetNs, localAddr: Ipv4, port: number, listener: TcpServerListener): TcpListenSocket {
    return this.tcp.listen(ns, localAddr, port, listener)
  }

  /**
   * connect(2) to dstAddr:dstPort; the outcome arrives at `listener` (onConnected or onClosed).
   * `bind` fixes the local address and/or port first (bind(2) then connect(2)).
   */
  tcpConnect(
    ns: NetNs,
    dstAddr: Ipv4,
    dstPort: number,
    listener: TcpConnectionListener,
    flowId = 0,
    bind: TcpBind | null = null,
  ): TcpConnection {
    return this.tcp.connect(ns, dstAddr, dstPort, listener, flowId, bind)
  }

  /** An ICMP echo socket (ping). Identifiers are allocated sequentially per namespace from 1. */
  createPinger(ns: NetNs, listener: PingListener): Pinger {
    let identifier = ns.pingIdentifierNext
    while (ns.pingers.has(identifier)) identifier = (identifier % 65535) + 1
    ns.pingIdentifierNext = (identifier % 65535) + 1
    const pinger = new Pinger(this, ns, identifier, listener)
    ns.pingers.set(identifier, pinger)
    return pinger
  }

  /** Source address `ns` would use towards `dstAddr` (route src or interface address); 0 = no route. */
  sourceAddressFor(socketNs: SocketNs, dstAddr: Ipv4): Ipv4 {
    const ns = this.namespaceOf(socketNs)
    if (ns.isLocalAddress(dstAddr)) return dstAddr
    const route = ns.routes.lookup(dstAddr)
    if (route === null) return 0
    return route.src !== 0 ? route.src : ns.interfaceAddress(route.ifIndex)
  }

  /** MTU of the interface `ns` routes `dstAddr` through (0 = no route). */
  pathMtuFor(socketNs: SocketNs, dstAddr: Ipv4): number {
    const ns = this.namespaceOf(socketNs)
    if (ns.isLocalAddress(dstAddr)) return ns.loopback.mtuBytes
    const route = ns.routes.lookup(dstAddr)
    if (route === null) return 0
    return (ns.interfaces[route.ifIndex] as NetInterface).mtuBytes
  }
}
