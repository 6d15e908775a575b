/**
 * Cluster network layouts (the CNI plugins' result), built from NetworkSpec.
 *
 * bridge (the reference `bridge` + host-local IPAM plugins, kubenet, flannel host-gw):
 *   - each node gets a pod CIDR (/24 by default, kube-controller-manager --node-cidr-mask-size=24)
 *     carved sequentially from the cluster pod CIDR; bridge cni0 in the node namespace holds its
 *     gateway .1; each pod's eth0 (podIP/24, default via .1) is a veth whose host end (vethXXXXXXXX)
 *     is a port of cni0;
 *   - nodes route every other node's pod CIDR via that node's IP (host-gw / cloud routes); the
 *     edge router has the same routes;
 *   - the bridge is modelled at L3: the node namespace routes between its ports, and netfilter runs
 *     at PREROUTING/FORWARD/POSTROUTING with in/out interface cni0, as br_netfilter does with
 *     bridge-nf-call-iptables=1 (which Kubernetes requires). Pod-to-pod traffic addressed within the
 *     bridge's subnet is bridged (no TTL decrement, no forwarding cost); traffic addressed to the
 *     gateway or a Service is routed. Hairpin (a pod reaching itself through a Service) works: ports
 *     are in hairpin mode as kubelet sets them.
 *
 * aws-vpc (amazon-vpc-cni-k8s):
 *   - pod IPs are ENI secondary addresses from the node's VPC subnet; pod eth0 has podIP/32 and a
 *     default route via 169.254.1.1 (169.254.1.1 dev eth0 scope link); the host end is eniXXXXXXXXXXX
 *     with a /32 host route to the pod;
 *   - the VPC fabric delivers any pod IP to the node owning it (no encapsulation);
 *   - one ENI per node (secondary ENIs and their policy routing are not modelled).
 *
 * External hosts (e.g. 203.0.113.0/24) sit behind an edge router on the fabric (the VPC / data-centre
 * router; it is the nodes' default gateway, address .1 of the node CIDR). Host <-> edge takes
 * externalLatencyNs, edge <-> node crossNodeLatencyNs.
 *
 * Latencies: pod <-> its node sameNodeLatencyNs (one veth hop); node <-> node crossNodeLatencyNs in
 * a zone, crossZoneLatencyNs across zones. The fabric NICs serialize at bandwidthBitsPerSecond; veths
 * have no serialization delay (a memory copy) and never lose packets; the fabric applies
 * lossPartsPerMillion per traversal.
 */
import { assert } from "../sim/assert.ts"
import { compileCosts, type CostParameters, type CostSamplers } from "../sim/costs.ts"
import type { Distribution } from "../sim/distribution.ts"
import type { Cidr, Ipv4 } from "../wire/ipv4.ts"
import { cidr, cidrAddress, cidrContains, cidrSize, formatIpv4, ipv4 } from "../wire/ipv4.ts"
import type { Network } from "./network.ts"
import type { Fabric, LinkOptions, NetInterface, NetNs } from "./netns.ts"
import { Route, SharedRoutes } from "./route.ts"

/**
 * The link model of a cluster (cluster/spec.ts names it NetworkSpec).
 */
export interface NetworkLinkSpec {
  /** One-way latency pod <-> its node (veth + bridge traversal). */
  readonly sameNodeLatencyNs: number
  /** One-way latency node <-> node in the same zone. */
  readonly crossNodeLatencyNs: number
  /** One-way latency node <-> node in different zones. */
  readonly crossZoneLatencyNs: number
  /** One-way latency between an external host and the cluster edge. */
  readonly externalLatencyNs: number
  readonly bandwidthBitsPerSecond: number
  readonly mtuBytes: number
  /** Loss probability per fabric traversal, in parts per million (0 = lossless). */
  readonly lossPartsPerMillion: number
  /** Transmit queue bound per link, in packets (drops beyond it are counted). */
  readonly queuePacketsMax: number
  /** net.core.netdev_max_backlog of every node, per CPU (net/backlog.ts; absent: 1000). */
  readonly netdevMaxBacklog?: number
  /** RX descriptors per queue of every node's NIC, one queue per CPU (absent: 1024, ENA's default). */
  readonly rxRingSize?: number
  /**
   * Cost distributions (a calibration profile, sim/costs.ts). When present, link latencies are
   * drawn per packet from them (veth, bridge, fabric same/cross zone, external) and the constant
   * latencies above are only their medians; absent (hand-built specs), the constants apply.
   */
  readonly costs?: CostParameters
}

export interface ClusterNetworkOptions {
  readonly cni: "bridge" | "aws-vpc"
  readonly network: NetworkLinkSpec
  /** Node subnet (bridge) / VPC subnet pod IPs also come from (aws-vpc), e.g. "10.0.0.0/16". */
  readonly nodeCidr: string
  /** Cluster pod CIDR (bridge), e.g. "10.244.0.0/16". */
  readonly podCidr: string
  /** Per-node pod CIDR size (bridge). Default 24. */
  readonly nodePodCidrPrefixLength?: number
  /** Network of external hosts behind the edge router. Default "203.0.113.0/24" (TEST-NET-3). */
  readonly externalCidr?: string
}

export class NodeNet {
  readonly pods: PodNet[] = []
  /**
   * Pods of this node not built yet, by address: the bridge's FDB misses (bridge), or lookups that
   * reach their reserved host routes (aws-vpc), build them.
   */
  readonly lazyPods = new Map<Ipv4, PodNet>()
  podIndexNext = 2
  constructor(
    readonly name: string,
    readonly zone: string,
    readonly ns: NetNs,
    readonly ip: Ipv4,
    readonly eth0: NetInterface,
    /** bridge: the node's pod CIDR and cni0; null for aws-vpc. */
    readonly podCidr: Cidr | null,
    readonly bridge: NetInterface | null,
  ) {}
}

/**
 * The ids a lazily built pod network takes (reserved when the pod got its address, in the order
 * an eager build would have taken them): namespace, lo, eth0, the host veth and its ifIndex in
 * the node's namespace; and the host veth's name.
 */
interface PodReservation {
  readonly nsId: number
  /** lo; eth0 = +1; host veth = +2 (addVethPair's order). */
  readonly firstInterfaceId: number
  readonly hostIfIndex: number
  readonly hostVethName: string
}

/**
 * A pod's network: its namespace, eth0 and the host end of its veth. A lazy one (addPod with
 * `lazy`) is a compact record (name, node, address, reserved ids) until something needs the
 * devices: a packet for its address reaching the node's bridge (bridge) or routed by the node
 * (aws-vpc: its host route is pending until then, route.ts), or a caller reading `ns`,
 * `eth0` or `hostVeth`. Building it then gives the same devices, ids, names and routes as
 * building it at once, and building takes no simulated time and draws no random numbers, so
 * nothing simulated depends on when (or whether) it happens.
 */
export class PodNet {
  private built: { readonly ns: NetNs; readonly eth0: NetInterface; readonly hostVeth: NetInterface } | null = null

  constructor(
    readonly name: string,
    readonly node: NodeNet,
    readonly ip: Ipv4,
    /** The network that builds it, with its reserved ids (taken whether it is built at once or later). */
    private readonly builder: { readonly cluster: ClusterNetwork; readonly reservation: PodReservation },
  ) {}

  /** The host veth's ifIndex in the node's namespace (reserved; the built device has it). */
  get reservedHostIfIndex(): number {
    return this.builder.reservation.hostIfIndex
  }

  /** The host veth's name (reserved; the built device has it), without building the pod. */
  get hostVethName(): string {
    return this.builder.reservation.hostVethName
  }

  /** Whether the devices exist (false: a compact record). */
  get isBuilt(): boolean {
    return this.built !== null
  }

  /** The namespace, or null while not built (does not build it). */
  get builtNs(): NetNs | null {
    return this.built?.ns ?? null
  }

  get ns(): NetNs {
    return this.build().ns
  }

  get eth0(): NetInterface {
    return this.build().eth0
  }

  get hostVeth(): NetInterface {
    return this.build().hostVeth
  }

  /** @internal ClusterNetwork sets the devices once built. */
  setBuilt(ns: NetNs, eth0: NetInterface, hostVeth: NetInterface): void {
    assert(this.built === null, `pod ${this.name}: network built twice`)
    this.built = { ns, eth0, hostVeth }
  }

  /** Builds the devices if they are not built yet (a lookup reached the pod's host route). */
  ensureBuilt(): void {
    this.build()
  }

  private build(): { readonly ns: NetNs; readonly eth0: NetInterface; readonly hostVeth: NetInterface } {
    if (this.built === null) {
      this.builder.cluster.buildPod(this, this.builder.reservation, true)
    }
    return this.built as { readonly ns: NetNs; readonly eth0: NetInterface; readonly hostVeth: NetInterface }
  }
}

export class ExternalHost {
  constructor(
    readonly name: string,
    readonly ns: NetNs,
    readonly ip: Ipv4,
    readonly eth0: NetInterface,
  ) {}
}

/** AWS VPC CNI's gateway for pods (proxy-ARPed by the host). */
export const AWS_POD_GATEWAY = ipv4("169.254.1.1")

export class ClusterNetwork {
  readonly fabric: Fabric
  readonly nodes: NodeNet[] = []
  readonly externals: ExternalHost[] = []
  readonly edge: NetNs
  readonly edgeIp: Ipv4
  readonly edgeEth0: NetInterface
  readonly nodeCidr: Cidr
  readonly podCidr: Cidr
  readonly externalCidr: Cidr
  private readonly nodePodPrefixLength: number
  private readonly zones: string[] = []
  private readonly usedAddresses = new Set<Ipv4>()
  private addressIndexNext = 10
  private externalIndexNext = 10
  private readonly externalBridge: NetInterface
  private readonly vethNames = new Set<string>()
  /** bridge: the routes to each node's pod CIDR via its IP, shared by every node's table. */
  private peerRoutes: SharedRoutes | null = null
  /** The profile's samplers (NetworkLinkSpec.costs); null: the constant latencies. */
  private readonly samplers: CostSamplers | null
  /** Node of each node namespace id (a bridge FDB miss finds its lazy pods through it). */
  private readonly nodeByNsId = new Map<number, NodeNet>()
  /** Called when a lazy pod's network is built (its servers start then: cluster/world.ts). */
  onPodBuilt: ((pod: PodNet) => void) | null = null
  /** Pod networks built, and of those built late (lazy): the scale-shape test counts them. */
  podsBuilt = 0
  lazyPodsBuilt = 0

  /** Both ends of a veth pair draw their one-way latency from `dist` (each end its own stream). */
  private drawLatency(ends: readonly NetInterface[], dist: Distribution | undefined): void {
    if (dist === undefined) return
    for (const end of ends) this.net.setLinkLatency(end, dist)
  }

  constructor(
    readonly net: Network,
    readonly options: ClusterNetworkOptions,
  ) {
    const spec = options.network
    this.nodeCidr = cidr(options.nodeCidr)
    this.podCidr = cidr(options.podCidr)
    this.externalCidr = cidr(options.externalCidr ?? "203.0.113.0/24")
    this.nodePodPrefixLength = options.nodePodCidrPrefixLength ?? 24
    this.fabric = net.createFabric("fabric", spec.crossNodeLatencyNs, spec.crossZoneLatencyNs)
    this.samplers = spec.costs === undefined ? null : compileCosts(spec.costs)
    if (this.samplers !== null) {
      net.setFabricLatency(this.fabric, this.samplers.nodeFabricSameZoneNs, this.samplers.nodeFabricCrossZoneNs)
      net.setHostStack(this.samplers.hostStackNs)
    }
    this.edge = net.createNamespace("edge", { ipForward: true })
    this.edgeIp = cidrAddress(this.nodeCidr, 1)
    this.usedAddresses.add(this.edgeIp)
    this.edgeEth0 = net.attachToFabric(this.fabric, this.edge, "eth0", -1, this.fabricLink())
    net.addAddress(this.edgeEth0, this.edgeIp, this.nodeCidr.prefixLength)
    this.externalBridge = net.addBridge(this.edge, "ext0", spec.mtuBytes)
    net.addAddress(this.externalBridge, cidrAddress(this.externalCidr, 1), this.externalCidr.prefixLength)
    net.bridgeMiss = (bridge, address) => {
      const pod = this.nodeByNsId.get(bridge.ns.id)?.lazyPods.get(address)
      return pod === undefined ? undefined : pod.hostVeth
    }
  }

  private fabricLink(): Omit<LinkOptions, "latencyNs"> {
    const spec = this.options.network
    return {
      bandwidthBitsPerSecond: spec.bandwidthBitsPerSecond,
      mtuBytes: spec.mtuBytes,
      lossPartsPerMillion: spec.lossPartsPerMillion,
      queuePacketsMax: spec.queuePacketsMax,
    }
  }

  private vethLink(latencyNs: number): LinkOptions {
    const spec = this.options.network
    return {
      latencyNs,
      bandwidthBitsPerSecond: 0,
      mtuBytes: spec.mtuBytes,
      lossPartsPerMillion: 0,
      queuePacketsMax: spec.queuePacketsMax,
    }
  }

  private zoneId(zone: string): number {
    let id = this.zones.indexOf(zone)
    if (id < 0) {
      id = this.zones.length
      this.zones.push(zone)
    }
    return id
  }

  /** Next free address of the node/VPC subnet (from .10 up). */
  private allocateSubnetAddress(): Ipv4 {
    const size = cidrSize(this.nodeCidr)
    while (this.addressIndexNext < size - 1) {
      const address = cidrAddress(this.nodeCidr, this.addressIndexNext++)
      if (!this.usedAddresses.has(address)) return address
    }
    throw new Error(`node CIDR exhausted`)
  }

  private claim(address: Ipv4, within: Cidr, what: string): void {
    assert(cidrContains(within, address), `${what} outside its CIDR`)
    assert(!this.usedAddresses.has(address), `${what}: address in use`)
    this.usedAddresses.add(address)
  }

  addNode(name: string, zone: string, ip?: Ipv4): NodeNet {
    const net = this.net
    const address = ip ?? this.allocateSubnetAddress()
    this.claim(address, this.nodeCidr, `node ${name}`)
    const ns = net.createNamespace(`node/${name}`, { ipForward: true })
    const eth0 = net.attachToFabric(this.fabric, ns, "eth0", this.zoneId(zone), this.fabricLink())
    net.addAddress(eth0, address, this.nodeCidr.prefixLength)
    net.addRoute(ns, "0.0.0.0/0", eth0, this.edgeIp)
    let node: NodeNet
    if (this.options.cni === "bridge") {
      const index = this.nodes.length
      const perNode = 2 ** (this.nodePodPrefixLength - this.podCidr.prefixLength)
      assert(index < perNode, "cluster pod CIDR exhausted")
      const base = cidrAddress(this.podCidr, index * 2 ** (32 - this.nodePodPrefixLength))
      const podCidr = cidr(`${formatIpv4(base)}/${this.nodePodPrefixLength}`)
      const bridge = net.addBridge(ns, "cni0", this.options.network.mtuBytes)
      this.drawLatency([bridge], this.samplers?.bridgeHopNs)
      net.addAddress(bridge, cidrAddress(podCidr, 1), podCidr.prefixLength)
      node = new NodeNet(name, zone, ns, address, eth0, podCidr, bridge)
      // Every node routes every other node's pod CIDR via that node (host-gw): one shared route per
      // node, seen by all nodes' tables (route.ts SharedRoutes), not nodes x nodes copies. The
      // routes go via eth0, the same ifIndex in every node namespace (created right after lo).
      const peers = this.peerRoutes ?? new SharedRoutes(this.nodePodPrefixLength)
      this.peerRoutes = peers
      assert(peers.routes.length === 0 || peers.routes[0].ifIndex === eth0.ifIndex, "node eth0 ifIndex differs")
      ns.routes.attachShared(peers)
      peers.add(new Route(podCidr, eth0.ifIndex, address, 0, 0))
      net.addRoute(this.edge, podCidr, this.edgeEth0, address)
    } else {
      node = new NodeNet(name, zone, ns, address, eth0, null, null)
      // A lookup reaching a lazy pod's host route builds the pod (its eni device, then the route
      // in force); `ip route` names the device of a route not in force from the pod's record.
      const pods = node.lazyPods
      ns.routes.onPending = (route) => {
        const pod = pods.get(route.prefix.address)
        assert(pod !== undefined, "pending host route without a pod")
        pod.ensureBuilt()
      }
      ns.reservedInterfaceName = (ifIndex) => {
        for (const pod of pods.values()) if (pod.reservedHostIfIndex === ifIndex) return pod.hostVethName
        return ""
      }
    }
    this.nodes.push(node)
    this.nodeByNsId.set(ns.id, node)
    return node
  }

  private hostVethName(prefix: string, podName: string, hexDigits: number): string {
    let h = 0x811c9dc5
    for (let i = 0; i < podName.length; i++) h = Math.imul(h ^ podName.charCodeAt(i), 0x01000193)
    let name = ""
    for (let n = 0; name.length < prefix.length + hexDigits; n++) {
      const hx = ((h ^ Math.imul(n, 0x9e3779b9)) >>> 0).toString(16).padStart(8, "0")
      name = (prefix + hx + hx).slice(0, prefix.length + hexDigits)
      if (!this.vethNames.has(name)) break
      name = ""
    }
    this.vethNames.add(name)
    return name
  }

  /**
   * A pod on `node` (namespace `pod/<name>`); `ip` defaults to the next free address. `lazy`:
   * the address, names and ids are taken now, the devices built when first needed (PodNet): at the
   * bridge's FDB miss (bridge), or at the node's lookup of its host route (aws-vpc: the route is
   * listed from the start, route.ts reserve, and comes in force when the pod is built).
   */
  addPod(node: NodeNet, name: string, ip?: Ipv4, lazy = false): PodNet {
    const net = this.net
    let pod: PodNet
    const latencyNs = this.options.network.sameNodeLatencyNs
    if (this.options.cni === "bridge") {
      const podCidr = node.podCidr as Cidr
      let address = ip
      if (address === undefined) {
        while (this.usedAddresses.has(cidrAddress(podCidr, node.podIndexNext))) node.podIndexNext++
        assert(node.podIndexNext < cidrSize(podCidr) - 1, `node ${node.name}: pod CIDR exhausted`)
        address = cidrAddress(podCidr, node.podIndexNext++)
      }
      // Ids in the order an immediate build takes them: namespace, lo, eth0, host veth.
      const reservation: PodReservation = {
        nsId: net.reserveNamespace(),
        firstInterfaceId: net.reserveInterfaces(3),
        hostIfIndex: net.reserveIfIndex(node.ns),
        hostVethName: "",
      }
      this.claim(address, podCidr, `pod ${name}`)
      const withName = { ...reservation, hostVethName: this.hostVethName("veth", name, 8) }
      pod = new PodNet(name, node, address, { cluster: this, reservation: withName })
      node.lazyPods.set(address, pod)
      if (!lazy) this.buildPod(pod, withName, false)
    } else {
      // aws-vpc: the address from the VPC subnet, and the ids an immediate build takes, in its
      // order. The fabric delivers the address to the node, and the node's host route is listed
      // now (pending until its device exists: route.ts reserve), as an immediate build adds them.
      const reservation: PodReservation = {
        nsId: net.reserveNamespace(),
        firstInterfaceId: net.reserveInterfaces(3),
        hostIfIndex: net.reserveIfIndex(node.ns),
        hostVethName: this.hostVethName("eni", name, 11),
      }
      const address = ip ?? this.allocateSubnetAddress()
      this.claim(address, this.nodeCidr, `pod ${name}`)
      pod = new PodNet(name, node, address, { cluster: this, reservation })
      node.lazyPods.set(address, pod)
      node.ns.routes.reserve(
        new Route({ address, prefixLength: 32, mask: 0xffffffff }, reservation.hostIfIndex, 0, 0, 0),
      )
      net.addFabricNeighbour(this.fabric, address, node.eth0)
      if (!lazy) this.buildPod(pod, reservation, false)
    }
    node.pods.push(pod)
    return pod
  }

  /** Builds a pod's devices under its reserved ids (addPod, or a lazy pod's first use). */
  buildPod(pod: PodNet, reservation: PodReservation, late: boolean): void {
    const net = this.net
    const node = pod.node
    const lazy = node.lazyPods.get(pod.ip) === pod
    assert(lazy, `pod ${pod.name}: not waiting to be built`)
    node.lazyPods.delete(pod.ip)
    const id = reservation.firstInterfaceId
    const ns = net.createNamespace(`pod/${pod.name}`, {}, { nsId: reservation.nsId, loId: id })
    const [eth0, host] = net.addVethPair(
      ns,
      "eth0",
      node.ns,
      reservation.hostVethName,
      this.vethLink(this.options.network.sameNodeLatencyNs),
      { a: { id: id + 1, ifIndex: ns.interfaces.length }, b: { id: id + 2, ifIndex: reservation.hostIfIndex } },
    )
    this.drawLatency([eth0, host], this.samplers?.vethHopNs)
    if (node.bridge !== null) {
      const podCidr = node.podCidr as Cidr
      net.addAddress(eth0, pod.ip, podCidr.prefixLength)
      net.addRoute(ns, "0.0.0.0/0", eth0, cidrAddress(podCidr, 1))
      net.attachToBridge(node.bridge, host, pod.ip)
    } else {
      // aws-vpc: eth0 holds the /32, the gateway 169.254.1.1 is on-link (the host end answers its
      // ARP), and the node's host route to the pod (reserved by addPod) comes in force.
      net.addAddress(eth0, pod.ip, 32)
      net.addRoute(ns, `169.254.1.1/32`, eth0)
      net.addRoute(ns, "0.0.0.0/0", eth0, AWS_POD_GATEWAY)
      node.ns.routes.activate(pod.ip)
    }
    pod.setBuilt(ns, eth0, host)
    this.podsBuilt++
    if (late) {
      this.lazyPodsBuilt++
      this.onPodBuilt?.(pod)
    }
  }

  /** Deletes a pod's network: its veth goes down, routes/FDB/fabric entries are removed, the address is freed. */
  removePod(pod: PodNet): void {
    const node = pod.node
    if (!pod.isBuilt) {
      // Never built: nothing to take down; its address, FDB claim (bridge), or reserved host route
      // and fabric entry (aws-vpc) go.
      if (node.lazyPods.get(pod.ip) === pod) node.lazyPods.delete(pod.ip)
      if (node.bridge === null) {
        node.ns.routes.remove({ address: pod.ip, prefixLength: 32, mask: 0xffffffff }, pod.reservedHostIfIndex)
        this.fabric.neighbours.delete(pod.ip)
      }
      this.usedAddresses.delete(pod.ip)
      const at = node.pods.indexOf(pod)
      if (at >= 0) node.pods.splice(at, 1)
      return
    }
    pod.eth0.up = false
    pod.hostVeth.up = false
    if (node.bridge !== null) node.bridge.bridgePorts?.delete(pod.ip)
    else {
      node.ns.routes.remove({ address: pod.ip, prefixLength: 32, mask: 0xffffffff }, pod.hostVeth.ifIndex)
      this.fabric.neighbours.delete(pod.ip)
    }
    this.usedAddresses.delete(pod.ip)
    const i = node.pods.indexOf(pod)
    if (i >= 0) node.pods.splice(i, 1)
  }

  /**
   * A machine on the nodes' own subnet that is not a node (a laptop on the same LAN, as in the
   * NodePort tutorials): attached to the fabric like a node, default route via the edge router.
   */
  private addLanHost(name: string, address: Ipv4): ExternalHost {
    const net = this.net
    this.claim(address, this.nodeCidr, `host ${name}`)
    const ns = net.createNamespace(`external/${name}`)
    const eth0 = net.attachToFabric(this.fabric, ns, "eth0", -1, this.fabricLink())
    net.addAddress(eth0, address, this.nodeCidr.prefixLength)
    net.addRoute(ns, "0.0.0.0/0", eth0, this.edgeIp)
    const host = new ExternalHost(name, ns, address, eth0)
    this.externals.push(host)
    return host
  }

  /** An external host with address `ip` in the external CIDR, behind the edge router. */
  addExternalHost(name: string, ip?: Ipv4): ExternalHost {
    const net = this.net
    const address = ip ?? cidrAddress(this.externalCidr, this.externalIndexNext++)
    if (cidrContains(this.nodeCidr, address)) return this.addLanHost(name, address)
    // Hosts outside the external CIDR (a public server a selectorless Service points at, say) get a
    // /32 on the same edge segment and an on-link route to the edge, as a host route on a router.
    const inside = cidrContains(this.externalCidr, address)
    assert(
      !this.usedAddresses.has(address) && !cidrContains(this.nodeCidr, address) && !cidrContains(this.podCidr, address),
      `external host ${name}: address in use or inside the cluster`,
    )
    this.usedAddresses.add(address)
    const ns = net.createNamespace(`external/${name}`)
    const [eth0, edgeSide] = net.addVethPair(
      ns,
      "eth0",
      this.edge,
      `ext-${this.externals.length}`,
      this.vethLink(this.options.network.externalLatencyNs),
    )
    this.drawLatency([eth0, edgeSide], this.samplers?.externalNs)
    const gateway = cidrAddress(this.externalCidr, 1)
    net.addAddress(eth0, address, inside ? this.externalCidr.prefixLength : 32)
    if (!inside) {
      net.addRoute(ns, { address: gateway, prefixLength: 32, mask: 0xffffffff }, eth0)
      net.addRoute(this.edge, { address, prefixLength: 32, mask: 0xffffffff }, this.externalBridge)
    }
    net.addRoute(ns, "0.0.0.0/0", eth0, gateway)
    net.attachToBridge(this.externalBridge, edgeSide, address)
    const host = new ExternalHost(name, ns, address, eth0)
    this.externals.push(host)
    return host
  }
}
