/**
 * The simulator's side of the differential test: topology.ts's cluster built with src/net's
 * ClusterNetwork (the `bridge` CNI: cni0, one veth port per pod, node routes, the edge router and its
 * external hosts), the rules under test loaded into the test node's NetfilterStack, and the probes
 * sent through the simulated sockets of the namespace the kernel side sends them from (the client
 * pod, an endpoint pod for hairpin, the node's own stack, the external host). Every packet then
 * crosses src/net's packet path exactly as the simulator runs it: hook order, re-routing after DNAT
 * in OUTPUT, the bridge (br_netfilter) path, TTL, namespace crossings, RST / ICMP errors.
 *
 * The evidence is what the kernel side collects, in the same shapes (lab.ts): per probe what the
 * client saw (ProbeResult, with the endpoint's report of where it was reached and by whom, and how
 * many routers decremented the TTL), and the test node's conntrack entries as `conntrack -E` lists
 * them (every entry confirmed, read from the stack's tracer).
 */
import { ClusterNetwork } from "../../src/net/cni.ts"
import { NetError } from "../../src/net/errors.ts"
import { Network } from "../../src/net/network.ts"
import type { NetNs } from "../../src/net/netns.ts"
import type { TcpConnection, TcpConnectionListener, TcpListenSocket, TcpServerListener } from "../../src/net/tcp.ts"
import type { UdpListener, UdpSocket } from "../../src/net/udp.ts"
import type { NetObserver } from "../../src/net/network.ts"
import { ConntrackEvent, NetfilterStack } from "../../src/netfilter/stack.ts"
import type { NetfilterOptions, NetfilterTracer } from "../../src/netfilter/stack.ts"
import { NftHooks } from "../../src/netfilter/nftables/hooks.ts"
import { Rng } from "../../src/sim/rng.ts"
import { Scheduler } from "../../src/sim/scheduler.ts"
import type { EventHandler } from "../../src/sim/scheduler.ts"
import { formatIpv4, ipv4 } from "../../src/wire/ipv4.ts"
import type { Ipv4 } from "../../src/wire/ipv4.ts"
import { DropReason } from "../../src/wire/drop-reason.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { Protocol, TcpFlag } from "../../src/wire/protocol.ts"
import { parseConntrack } from "./lab.ts"
import type { CtEntry, Probe, ProbeResult } from "./lab.ts"
import {
  ENDPOINT_PODS,
  EXTERNAL_CIDR,
  EXTERNAL_HIGH_ALT_IPS,
  EXTERNAL_HIGH_IPS,
  EXTERNAL_LOW_ALT_IPS,
  EXTERNAL_LOW_IPS,
  NODE_CIDR,
  NODE_IP,
  NODE_NAME,
  NODE_POD_PREFIX_LENGTH,
  OTHER_NODE_IP,
  OTHER_NODE_NAME,
  POD_ALT_IPS,
  POD_CIDR,
  POD_CLIENT_IPS,
  SINK_GATEWAY,
  SINK_INTERFACE,
  TARGET_PORTS,
  VIP_CIDRS,
} from "./topology.ts"
import type { ClientKind } from "./topology.ts"

/**
 * Microsecond links: the outcome of a probe does not depend on them (the kernel's are faster still).
 * A wave's probes start at one instant, so transmit queues must hold a whole wave (run() checks
 * that no packet was dropped for a full queue: that would be the harness's artefact, not a finding).
 */
const LINKS = {
  sameNodeLatencyNs: 20_000,
  crossNodeLatencyNs: 100_000,
  crossZoneLatencyNs: 100_000,
  externalLatencyNs: 200_000,
  bandwidthBitsPerSecond: 0,
  mtuBytes: 1500,
  lossPartsPerMillion: 0,
  queuePacketsMax: 20_000,
}

/** Locally generated packets leave with this TTL (ip_default_ttl); the endpoint reports 64 - TTL. */
const DEFAULT_TTL = 64
/** The kernel side's TTL classes: 0, 1, 2, "3 or more" routers (lab.ts HOP_CLASSES). */
const HOPS_MAX = 3

interface EndpointReport {
  readonly ep: string
  readonly peer: string
  readonly hops: number
}

function hopsOf(ttl: number): number {
  return Math.min(HOPS_MAX, DEFAULT_TTL - ttl)
}

/** Endpoint pod server: TCP answers one line and closes, UDP answers each datagram (server.mjs). */
class EndpointServer implements TcpServerListener, UdpListener {
  constructor(
    private readonly world: SimWorld,
    private readonly ip: Ipv4,
  ) {}

  onAccept(_server: TcpListenSocket, conn: TcpConnection): TcpConnectionListener {
    const report: EndpointReport = {
      ep: `${formatIpv4(this.ip)}:${conn.localPort}`,
      peer: `${formatIpv4(conn.remoteAddr)}:${conn.remotePort}`,
      hops: this.world.synHops(this.world.net.namespaceOf(conn.ns), conn.remoteAddr, conn.remotePort, conn.localPort),
    }
    conn.send(64, 0, report)
    conn.close()
    return SILENT
  }

  onUdpMessage(socket: UdpSocket, packet: Packet): void {
    const report: EndpointReport = {
      ep: `${formatIpv4(this.ip)}:${socket.localPort}`,
      peer: `${formatIpv4(packet.srcAddr)}:${packet.srcPort}`,
      hops: hopsOf(packet.ttl),
    }
    socket.sendTo(packet.srcAddr, packet.srcPort, 64, 0, report)
  }

  onUdpError(): void {}
}

const SILENT: TcpConnectionListener = {
  onConnected() {},
  onMessage() {},
  onPeerClosed(conn) {
    conn.close()
  },
  onClosed() {},
}

function outcomeOf(error: number): ProbeResult {
  switch (error) {
    case NetError.REFUSED:
      return { outcome: "refused", code: "ECONNREFUSED" }
    case NetError.RESET:
      return { outcome: "refused", code: "ECONNRESET" }
    case NetError.HOST_UNREACHABLE:
      return { outcome: "unreachable", code: "EHOSTUNREACH" }
    case NetError.NET_UNREACHABLE:
      return { outcome: "unreachable", code: "ENETUNREACH" }
    case NetError.TIMEOUT:
      return { outcome: "timeout" }
    default:
      return { outcome: "error", code: `net-error-${error}` }
  }
}

/** One probe's client socket (client.mjs): settles on the first answer, error or the deadline. */
class ProbeClient implements TcpConnectionListener, UdpListener {
  result: ProbeResult | null = null
  tcp: TcpConnection | null = null
  udp: UdpSocket | null = null

  private settle(result: ProbeResult): void {
    if (this.result === null) this.result = result
  }

  onConnected(): void {}
  onMessage(conn: TcpConnection, _bytes: number, _tag: number, data: object | null): void {
    const r = data as EndpointReport | null
    this.settle(
      r === null ? { outcome: "error", code: "no report" } : { outcome: "reply", ep: r.ep, peer: r.peer, hops: r.hops },
    )
    conn.close()
  }
  onPeerClosed(conn: TcpConnection): void {
    // EOF before any data: the client reports it as a refusal (client.mjs).
    this.settle({ outcome: "refused", code: "EOF" })
    conn.close()
  }
  onClosed(_conn: TcpConnection, error: NetError): void {
    if (error !== NetError.NONE) this.settle(outcomeOf(error))
  }
  onUdpMessage(_socket: UdpSocket, packet: Packet): void {
    const r = packet.appData as EndpointReport | null
    this.settle(
      r === null ? { outcome: "error", code: "no report" } : { outcome: "reply", ep: r.ep, peer: r.peer, hops: r.hops },
    )
  }
  onUdpError(_socket: UdpSocket, error: NetError): void {
    this.settle(outcomeOf(error))
  }
}

/** Records every conntrack entry the test node confirms, as `conntrack -E -e NEW` would print it. */
class ConfirmedEntries implements NetfilterTracer {
  readonly lines: string[] = []
  constructor(
    private readonly stack: () => NetfilterStack,
    private readonly scheduler: Scheduler,
  ) {}
  rule(): void {}
  conntrack(event: ConntrackEvent, ctId: number): void {
    if (event === ConntrackEvent.CONFIRM) this.lines.push(this.stack().conntrack.format(ctId, this.scheduler.nowNs))
  }
}

/** TTL of each TCP SYN delivered to an endpoint pod, keyed by namespace, source and ports. */
class SynTtl implements NetObserver {
  readonly ttl = new Map<string, number>()
  constructor(private readonly endpointNs: ReadonlySet<number>) {}
  onSend(): void {}
  onTransmit(): void {}
  onDrop(): void {}
  onDeliver(packet: Packet, nsId: number): void {
    if (
      packet.protocol !== Protocol.TCP ||
      (packet.tcpFlags & (TcpFlag.SYN | TcpFlag.ACK)) !== TcpFlag.SYN ||
      !this.endpointNs.has(nsId)
    )
      return
    this.ttl.set(`${nsId}|${packet.srcAddr}|${packet.srcPort}|${packet.dstPort}`, packet.ttl)
  }
}

/**
 * Knobs the calibration validation sets from a calibration profile (calibration-validation.test.ts):
 * the link latencies and the node stack's costs; unset = the differential test's values above and
 * NetfilterStack's defaults.
 */
export interface SimTuning {
  readonly links?: Partial<typeof LINKS>
  readonly stack?: Pick<NetfilterOptions, "ruleCostNs" | "conntrackLookupCostNs" | "conntrackNewCostNs">
}

export interface SimRun {
  readonly results: Map<Probe, ProbeResult>
  readonly ct: CtEntry[]
}

/** The simulated cluster of topology.ts with `rulesText` in the test node. One instance per run. */
export class SimWorld implements EventHandler {
  readonly scheduler = new Scheduler()
  readonly net: Network
  readonly cluster: ClusterNetwork
  readonly stack: NetfilterStack
  private readonly clientNs: ReadonlyMap<string, NetNs>
  private readonly nodeNs: NetNs
  private readonly externalNs: NetNs
  private readonly confirmed: ConfirmedEntries
  private readonly synTtl: SynTtl
  private readonly kindTick: number

  /** The node's nftables when built with an nft transaction (nftables mode), else null. */
  readonly nft: NftHooks | null = null

  /**
   * `rulesText`: iptables-restore input for the node; `nftTransaction`: an `nft -f` transaction
   * loaded into the node's nftables as well (nftables mode passes empty iptables tables).
   */
  constructor(rulesText: string, seed: number, nftTransaction?: string, tuning: SimTuning = {}) {
    const links = { ...LINKS, ...tuning.links }
    const net = new Network(this.scheduler, seed)
    this.net = net
    this.kindTick = this.scheduler.registerKind("kernel-differential/tick", this)
    const cluster = new ClusterNetwork(net, {
      cni: "bridge",
      network: links,
      nodeCidr: NODE_CIDR,
      podCidr: POD_CIDR,
      nodePodCidrPrefixLength: NODE_POD_PREFIX_LENGTH,
      externalCidr: EXTERNAL_CIDR,
    })
    this.cluster = cluster
    const node = cluster.addNode(NODE_NAME, "a", ipv4(NODE_IP))
    const other = cluster.addNode(OTHER_NODE_NAME, "a", ipv4(OTHER_NODE_IP))
    this.nodeNs = node.ns
    // The VIP sink: a veth into a namespace that owns no address and does not forward.
    const sink = net.createNamespace("sink")
    const [svc0] = net.addVethPair(node.ns, SINK_INTERFACE, sink, "eth0", {
      latencyNs: 0,
      bandwidthBitsPerSecond: 0,
      mtuBytes: LINKS.mtuBytes,
      lossPartsPerMillion: 0,
      queuePacketsMax: LINKS.queuePacketsMax,
    })
    for (const vip of VIP_CIDRS) {
      net.addRoute(cluster.edge, vip, cluster.edgeEth0, ipv4(NODE_IP))
      net.addRoute(node.ns, vip, svc0, ipv4(SINK_GATEWAY))
    }
    // The client pod: every source address on its one eth0 (ip addr add ... dev eth0), each a bridge FDB entry.
    const [first, ...secondary] = [...POD_CLIENT_IPS, ...POD_ALT_IPS]
    const pc = cluster.addPod(node, "pc", ipv4(first ?? ""))
    for (const ip of secondary) {
      net.addAddress(pc.eth0, ipv4(ip), NODE_POD_PREFIX_LENGTH)
      net.attachToBridge(node.bridge as NonNullable<typeof node.bridge>, pc.hostVeth, ipv4(ip))
    }
    const clientNs = new Map<string, NetNs>()
    for (const ip of [...POD_CLIENT_IPS, ...POD_ALT_IPS]) clientNs.set(ip, pc.ns)
    // Endpoint pods and their servers.
    const endpointNs = new Set<number>()
    for (const e of ENDPOINT_PODS) {
      const pod = cluster.addPod(e.node === "test" ? node : other, e.name, ipv4(e.ip))
      const server = new EndpointServer(this, pod.ip)
      for (const port of TARGET_PORTS) {
        net.tcpListen(pod.ns, pod.ip, port, server)
        net.udpBind(pod.ns, pod.ip, port, server)
      }
      clientNs.set(e.ip, pod.ns)
      endpointNs.add(pod.ns.id)
    }
    // External clients: one host behind the edge's ext0 holding every external source address.
    const externals = [...EXTERNAL_LOW_IPS, ...EXTERNAL_HIGH_IPS, ...EXTERNAL_LOW_ALT_IPS, ...EXTERNAL_HIGH_ALT_IPS]
    const ext = cluster.addExternalHost("ext", ipv4(externals[0] ?? ""))
    const ext0 = cluster.edge.interfaceByName("ext0")
    if (ext0 === null || ext.eth0.peer === null) throw new Error("edge has no ext0 bridge")
    for (const ip of externals.slice(1)) {
      net.addAddress(ext.eth0, ipv4(ip), Number(EXTERNAL_CIDR.split("/")[1]))
      net.attachToBridge(ext0, ext.eth0.peer, ipv4(ip))
    }
    this.externalNs = ext.ns
    this.clientNs = clientNs
    // The rules under test, in the test node only (the other node and the edge have none).
    this.stack = new NetfilterStack(node.ns, { rng: Rng.stream(seed, "kernel-differential/node"), ...tuning.stack })
    this.stack.restore(rulesText)
    if (nftTransaction !== undefined) {
      this.nft = new NftHooks(this.stack, node.ns, Rng.stream(seed, "kernel-differential/nft"), 0)
      this.nft.applyText(nftTransaction, 0, "kube-proxy.nft")
    }
    node.ns.filter = this.stack
    this.confirmed = new ConfirmedEntries(() => this.stack, this.scheduler)
    this.stack.tracer = this.confirmed
    this.synTtl = new SynTtl(endpointNs)
    net.observer = this.synTtl
  }

  handleEvent(): void {}

  /** Hops of the SYN `ns` received from remote:remotePort on localPort (TCP server side). */
  synHops(ns: NetNs, remote: Ipv4, remotePort: number, localPort: number): number {
    const ttl = this.synTtl.ttl.get(`${ns.id}|${remote}|${remotePort}|${localPort}`)
    return ttl === undefined ? -1 : hopsOf(ttl)
  }

  /** The simulated namespace owning a client or endpoint address of topology.ts. */
  namespaceOfAddress(ip: string): NetNs {
    const ns = this.clientNs.get(ip)
    if (ns === undefined) throw new Error(`no simulated namespace owns ${ip}`)
    return ns
  }

  private namespaceOf(client: ClientKind, src: string): NetNs {
    if (client === "node") return this.nodeNs
    if (client === "external") return this.externalNs
    const ns = this.clientNs.get(src)
    if (ns === undefined) throw new Error(`no simulated namespace owns ${src}`)
    return ns
  }

  /**
   * Runs waves of probes (each wave's probes start together; a wave lasts `timeoutMs` of simulated
   * time, as the kernel client's per-probe deadline) and returns what the clients saw and the
   * conntrack entries the node confirmed meanwhile.
   */
  run(waves: readonly (readonly (readonly [ClientKind, Probe])[])[], timeoutMs: number): SimRun {
    const results = new Map<Probe, ProbeResult>()
    const confirmedBefore = this.confirmed.lines.length
    for (const wave of waves) {
      const clients: [Probe, ProbeClient][] = []
      for (const [client, probe] of wave) {
        const ns = this.namespaceOf(client, probe.src)
        const c = new ProbeClient()
        const dst = ipv4(probe.dst)
        const src = ipv4(probe.src)
        if (probe.proto === "tcp") {
          c.tcp = this.net.tcpConnect(ns, dst, probe.dport, c, 0, { localAddr: src, localPort: probe.sport })
        } else {
          const socket = this.net.udpBind(ns, src, probe.sport, c)
          if (socket === null) throw new Error(`cannot bind ${probe.src}:${probe.sport}`)
          c.udp = socket
          socket.connect(dst, probe.dport)
          socket.send(5)
        }
        clients.push([probe, c])
      }
      const endNs = this.scheduler.nowNs + timeoutMs * 1_000_000
      this.scheduler.schedule(endNs, this.kindTick, 0, 0)
      this.scheduler.run({ timeNsMax: endNs, eventCountMax: 50_000_000 })
      const queueFull = this.net.counters.droppedByReason[DropReason.QUEUE_FULL] ?? 0
      if (queueFull > 0)
        throw new Error(
          `${queueFull} packets dropped for a full transmit queue: raise LINKS.queuePacketsMax above the wave size`,
        )
      for (const [probe, c] of clients) {
        results.set(probe, c.result ?? { outcome: "timeout" })
        // Deadline: the kernel client destroys its socket (no RST in SYN_SENT).
        if (c.tcp !== null && c.result === null) c.tcp.abort()
        c.udp?.close()
      }
    }
    return { results, ct: parseConntrack(this.confirmed.lines.slice(confirmedBefore).join("\n")) }
  }
}
