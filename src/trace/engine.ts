/**
 * `kube-netsim trace`: walks one packet through the simulated data plane and records every hook,
 * table, chain and rule it meets in every namespace it crosses, the NAT decisions, the conntrack
 * entries made and the verdict, plus the reply path back (the simulated counterpart of
 * `iptables -t raw -j TRACE`, `nft monitor trace` and pwru).
 *
 * How: the World is built from the scenario without its workloads (so the traced packet is the only
 * traffic), run until `atNs` (default: the cluster has settled: every pod's containers run and it is
 * Ready, and every node's kube-proxy synced after the last Service/EndpointSlice change; polled
 * every 10 ms of simulated time, at most until the scenario duration). Then each node's netfilter is
 * wrapped by a TracingFilter (hook, verdict, cost, before/after headers) with a NetfilterTracer
 * installed (rules matched, policies, conntrack events), a NetObserver is set on the Network (sends,
 * transmissions, deliveries, drops), and one packet is injected through the real socket API: a TCP
 * SYN (connect), a UDP datagram (a connected UDP socket) or an ICMP echo request (a ping socket).
 * The run continues until a reply or error reaches the source, the packet is dropped with nothing
 * left in flight, or the trace window ends (just before the first SYN retransmission, 1 s).
 *
 * Which packets are traced: the probe and every packet sent after it, except those the source sends
 * on the probe's own 5-tuple (the handshake's final ACK, retransmissions). No workload runs, so
 * nothing else moves.
 *
 * Rules evaluated without matching are not reported by the engine (it finds the first match with an
 * index, STYLE rule 2); the tracer reconstructs the linear walk from the matched rules and the
 * chains' structure, which gives the same count the engine charges (`rulesEvaluated` x ruleCostNs
 * is part of `costNs`).
 */
import { netErrorName, type NetError } from "../net/errors.ts"
import { HOOK_NAMES, RejectWith, Verdict, type Hook, type PacketFilter } from "../net/hooks.ts"
import type { PingListener, Pinger } from "../net/icmp.ts"
import type { NetNs } from "../net/netns.ts"
import type { NetObserver, Network } from "../net/network.ts"
import type { TcpConnection, TcpConnectionListener } from "../net/tcp.ts"
import type { UdpListener, UdpSocket } from "../net/udp.ts"
import { CT_STATE_NAMES, CtStatus, TABLE_NAMES, TargetKind, type TableId } from "../netfilter/constants.ts"
import type { Rule } from "../netfilter/rule.ts"
import { formatTokens } from "../netfilter/rule.ts"
import { readsNatParams } from "../netfilter/ext/xt_nat.ts"
import { ConntrackEvent, type NetfilterStack, type NetfilterTracer } from "../netfilter/stack.ts"
import type { Chain } from "../netfilter/table.ts"
import { matchesSelector, matchesServiceSelector } from "../k8s/labels.ts"
import { NS_PER_MS } from "../sim/time.ts"
import { dropReasonName } from "../wire/drop-reason.ts"
import { formatIpv4, type Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import { IcmpType, Protocol, TcpFlag, protocolName } from "../wire/protocol.ts"
import type {
  ConntrackView,
  DeliverEvent,
  DropEvent,
  HookEvent,
  HookStep,
  NatChange,
  NftStep,
  IpvsStep,
  PacketView,
  RuleRef,
  SendEvent,
  TraceEvent,
  TraceResult,
} from "./events.ts"
import { formatEndpoint } from "./format.ts"
import { resolveHost, type NameTables } from "../dns/resolve.ts"
import type { ScenarioSpec } from "../cluster/spec.ts"
import { World } from "../cluster/world.ts"
import { NftablesBackend } from "../cluster/backend-nftables.ts"
import { IpvsBackend } from "../cluster/backend-ipvs.ts"
import type { IpvsTracer } from "../netfilter/ipvs/hooks.ts"
import type { Ipvs } from "../netfilter/ipvs/ipvs.ts"
import { SCHEDULER_NAMES } from "../netfilter/ipvs/schedulers.ts"
import type { NftChainTracer, NftHooks } from "../netfilter/nftables/hooks.ts"
import { NftVerdict } from "../netfilter/nftables/eval.ts"

export type { TraceEvent, TraceResult } from "./events.ts"

export interface TraceOptions {
  /** pod/NAME, pod/NAMESPACE/NAME, deployment/NAME (its first running replica), node/NAME, external/NAME. */
  readonly from: string
  /** HOST:PORT[/PROTO] or HOST/icmp; HOST a Service name, ClusterIP, node IP (NodePort), LB IP... */
  readonly to: string
  /** Simulated time to inject the packet at; undefined = once the cluster has settled. */
  readonly atNs?: number
  /** Also record the rules evaluated without matching. */
  readonly verbose?: boolean
  /** Seed instead of the scenario's. */
  readonly seed?: number
}

/** Bad --from / --to / --at (exit 2 in the CLI). */
export class TraceInputError extends Error {
  override readonly name = "TraceInputError"
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(message)
  }
}

/** Settle polling step (the same 10 ms a waiting workload uses). */
const SETTLE_STEP_NS = 10 * NS_PER_MS
const UDP_PROBE_BYTES = 64

interface Target {
  readonly host: string
  readonly port: number
  readonly protocol: "tcp" | "udp" | "icmp"
}

/** Parses `HOST:PORT[/PROTO]` or `HOST[/icmp]`. */
export function parseTraceTarget(text: string): Target {
  const m = /^([^:/\s]+)(?::(\d{1,5}))?(?:\/(tcp|udp|icmp))?$/i.exec(text)
  if (m === null)
    throw new TraceInputError(
      "--to",
      `invalid target "${text}": expected HOST:PORT[/tcp|udp] or HOST/icmp, e.g. http-go-svc:80, 10.96.0.10:53/udp, 10.0.0.13:31001/tcp`,
    )
  const protocol = (m[3]?.toLowerCase() ?? "tcp") as Target["protocol"]
  const port = m[2] === undefined ? 0 : Number(m[2])
  if (protocol !== "icmp" && m[2] === undefined)
    throw new TraceInputError("--to", `invalid target "${text}": ${protocol} needs a port (HOST:PORT/${protocol})`)
  if (protocol !== "icmp" && (port < 1 || port > 65535))
    throw new TraceInputError("--to", `invalid target "${text}": port must be 1-65535`)
  return { host: m[1], port, protocol }
}

type Source =
  | { readonly kind: "pod"; readonly namespace: string; readonly name: string }
  | { readonly kind: "deployment"; readonly namespace: string; readonly name: string }
  | { readonly kind: "node"; readonly name: string }
  | { readonly kind: "external"; readonly name: string }

export function parseTraceSource(text: string): Source {
  const m = /^(pod|deployment|node|external)\/(?:([^/\s]+)\/)?([^/\s]+)$/.exec(text)
  if (m === null)
    throw new TraceInputError(
      "--from",
      `invalid source "${text}": expected pod/NAME, pod/NAMESPACE/NAME, deployment/NAME, node/NAME or external/NAME`,
    )
  const kind = m[1]
  if (kind === "node" || kind === "external") {
    if (m[2] !== undefined)
      throw new TraceInputError("--from", `invalid source "${text}": ${kind}/NAME takes no namespace`)
    return { kind, name: m[3] }
  }
  return { kind: kind === "pod" ? "pod" : "deployment", namespace: m[2] ?? "default", name: m[3] }
}

/** Traces one packet; see the module comment. Throws TraceInputError (bad options) or ScenarioIssues. */
export function traceScenario(spec: ScenarioSpec, options: TraceOptions): TraceResult {
  const target = parseTraceTarget(options.to)
  const source = parseTraceSource(options.from)
  if (options.atNs !== undefined && !(Number.isSafeInteger(options.atNs) && options.atNs >= 0))
    throw new TraceInputError("--at", `invalid time ${options.atNs}`)
  const seed = options.seed ?? spec.seed
  const world = new World({ ...spec, workloads: [] }, seed)
  if (source.kind === "node" && !world.nodes.has(source.name))
    throw new TraceInputError("--from", `no node "${source.name}" (nodes: ${[...world.nodes.keys()].join(", ")})`)
  if (source.kind === "external" && !world.externals.has(source.name)) {
    const known = [...world.externals.keys()]
    throw new TraceInputError(
      "--from",
      `no external host "${source.name}" (${known.length === 0 ? "the scenario declares none under externalHosts:" : `external hosts: ${known.join(", ")}`})`,
    )
  }

  // Service/EndpointSlice changes after the build, for "every kube-proxy synced since".
  const changes = { lastNs: 0 }
  world.controlPlane.store.addListener({
    onServiceChanged: () => void (changes.lastNs = world.scheduler.nowNs),
    onEndpointSliceChanged: () => void (changes.lastNs = world.scheduler.nowNs),
  })

  const runner = new Runner(world)
  let atNs: number
  let atReason: string
  if (options.atNs !== undefined) {
    atNs = options.atNs
    atReason = "--at"
    runner.advance(atNs)
  } else {
    atNs = 0
    atReason = ""
    for (;;) {
      runner.advance(atNs)
      const waiting = unsettled(world, changes.lastNs)
      if (waiting === null) {
        atReason = "settled: every pod ready, every kube-proxy synced"
        break
      }
      if (atNs >= spec.durationNs) {
        atReason = `scenario duration; not settled: ${waiting}`
        break
      }
      atNs = Math.min(spec.durationNs, atNs + SETTLE_STEP_NS)
    }
  }

  const sourceNs = sourceNamespace(world, source, atNs)
  const names: NameTables = {
    store: world.controlPlane.store,
    clusterDomain: spec.cluster.clusterDomain,
    nodeAddresses: new Map([...world.nodes.values()].map((n) => [n.name, n.net.ip])),
    externalAddresses: new Map([...world.externals.values()].map((h) => [h.name, h.ip])),
  }
  const clientNamespace = source.kind === "pod" || source.kind === "deployment" ? source.namespace : "default"
  const resolution = resolveHost(names, target.host, target.port, clientNamespace)
  if (resolution === null)
    throw new TraceInputError(
      "--to",
      `cannot resolve "${target.host}": not an IPv4 address, a Service (from namespace ${clientNamespace}), a node or an external host`,
    )
  const network = world.network
  const fromAddress = network.sourceAddressFor(sourceNs, resolution.address)

  const recorder = new Recorder(world, sourceNs, options.verbose === true)
  recorder.events.push({
    kind: "start",
    timeNs: atNs,
    scenario: spec.name,
    seed,
    atReason,
    from: sourceLabel(source),
    fromAddress: fromAddress === 0 ? "no route" : formatIpv4(fromAddress),
    to: options.to,
    protocol: target.protocol,
    address: formatIpv4(resolution.address),
    port: target.port,
    service: resolution.service === null ? null : `${resolution.service.namespace}/${resolution.service.name}`,
  })

  // Install the tracers, inject, run, uninstall.
  const filters = new Map<NetNs, PacketFilter | null>()
  for (const node of world.nodes.values()) {
    const ns = node.net.ns
    filters.set(ns, ns.filter)
    ns.filter = new TracingFilter(node.filter, ns, recorder)
    node.filter.tracer = new StackTracer(node.filter, recorder)
    if (node.proxy.backend instanceof NftablesBackend)
      node.proxy.backend.nft.tracer = new NftTracer(node.filter, node.proxy.backend.nft, recorder)
    if (node.proxy.backend instanceof IpvsBackend)
      node.proxy.backend.hooks.tracer = new IpvsStepTracer(node.filter, node.proxy.backend.hooks.ipvs, recorder)
  }
  const previousObserver = network.observer
  network.observer = recorder
  const client = new ProbeClient()
  recorder.injecting = true
  const windowEndNs = atNs + network.params.tcpSynRtoNs - 1
  switch (target.protocol) {
    case "tcp":
      network.tcpConnect(sourceNs, resolution.address, target.port, client)
      break
    case "udp": {
      const socket = network.udpBind(sourceNs, 0, 0, client)
      if (socket === null) throw new TraceInputError("--from", `${sourceNs.name}: no free UDP port`)
      socket.connect(resolution.address, target.port)
      socket.send(UDP_PROBE_BYTES)
      break
    }
    case "icmp":
      network.createPinger(sourceNs, client).send(resolution.address, 1)
      break
  }
  recorder.injecting = false
  if (!recorder.done) runner.advance(windowEndNs, recorder)
  network.observer = previousObserver
  for (const [ns, filter] of filters) ns.filter = filter
  for (const node of world.nodes.values()) {
    node.filter.tracer = null
    if (node.proxy.backend instanceof NftablesBackend) node.proxy.backend.nft.tracer = null
    if (node.proxy.backend instanceof IpvsBackend) node.proxy.backend.hooks.tracer = null
  }

  recorder.events.push(recorder.verdict(client, target.protocol, world.scheduler.nowNs))
  return { events: recorder.events }
}

/** Runs the world's scheduler, ignoring the World's own early stop (it has no workloads). */
class Runner {
  private eventsLeft: number
  constructor(private readonly world: World) {
    this.eventsLeft = world.spec.limits.eventCountMax
  }

  advance(untilNs: number, until: { readonly done: boolean } | null = null): void {
    const scheduler = this.world.scheduler
    for (;;) {
      const outcome = scheduler.run({ timeNsMax: untilNs, eventCountMax: this.eventsLeft })
      this.eventsLeft -= outcome.eventCount
      if (outcome.reason === "stopped") {
        if (until !== null && until.done) return
        continue
      }
      if (outcome.reason === "event-limit") throw new Error(`event limit reached at ${scheduler.nowNs} ns`)
      break
    }
    if (scheduler.nowNs < untilNs) scheduler.nowNs = untilNs
  }
}

/** Why the cluster has not settled yet, or null when it has. */
function unsettled(world: World, lastChangeNs: number): string | null {
  const cp = world.controlPlane
  for (const pod of cp.store.list("Pod")) {
    if (
      pod.metadata.deletionTimestampNs !== undefined ||
      pod.status?.phase === "Succeeded" ||
      pod.status?.phase === "Failed"
    )
      continue
    const namespace = pod.metadata.namespace ?? "default"
    if (!cp.isContainerRunning(namespace, pod.metadata.name)) return `pod/${pod.metadata.name} is not running`
    if (pod.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True")
      return `pod/${pod.metadata.name} is not ready`
  }
  // Every Service's EndpointSlices list its ready selected pods (the controller may lag behind).
  for (const service of cp.store.list("Service")) {
    const selector = service.spec.selector
    if (selector === undefined) continue
    const namespace = service.metadata.namespace ?? "default"
    const ready = cp.store
      .list("Pod", namespace)
      .filter(
        (pod) =>
          pod.metadata.deletionTimestampNs === undefined && matchesServiceSelector(selector, pod.metadata.labels ?? {}),
      )
      .filter((pod) => pod.status?.conditions?.find((c) => c.type === "Ready")?.status === "True").length
    let listed = 0
    for (const slice of cp.store.endpointSlicesFor(namespace, service.metadata.name))
      for (const e of slice.endpoints) if (e.conditions?.ready !== false) listed++
    if (listed < ready) return `the endpoints of service/${service.metadata.name} are not up to date`
  }
  for (const node of world.nodes.values()) {
    const last = node.proxy.syncs[node.proxy.syncs.length - 1]
    if (last === undefined || last.atNs < lastChangeNs) return `kube-proxy on ${node.name} has not synced`
  }
  return null
}

function sourceLabel(source: Source): string {
  if (source.kind === "node" || source.kind === "external") return `${source.kind}/${source.name}`
  return source.namespace === "default"
    ? `${source.kind}/${source.name}`
    : `${source.kind}/${source.namespace}/${source.name}`
}

function sourceNamespace(world: World, source: Source, atNs: number): NetNs {
  const at = `at ${atNs / 1e9}s`
  switch (source.kind) {
    case "node":
      return (world.nodes.get(source.name) ?? never()).net.ns
    case "external":
      return (world.externals.get(source.name) ?? never()).ns
    case "pod": {
      const runtime = world.pods.get(`${source.namespace}/${source.name}`)
      if (runtime !== undefined) return runtime.ns
      const pods = world.controlPlane.store
        .list("Pod", source.namespace)
        .map((p) => p.metadata.name)
        .sort()
      const exists = pods.includes(source.name)
      const known =
        pods.length === 0
          ? `no pods in namespace ${source.namespace}`
          : `pods: ${pods.slice(0, 12).join(", ")}${pods.length > 12 ? ", ..." : ""}`
      throw new TraceInputError(
        "--from",
        exists
          ? `pod/${source.name} has no network ${at} (not started yet; try a later --at)`
          : `no pod "${source.name}" in namespace ${source.namespace} ${at} (${known})`,
      )
    }
    case "deployment": {
      const store = world.controlPlane.store
      const deployment = store.get("Deployment", source.namespace, source.name)
      if (deployment === undefined)
        throw new TraceInputError("--from", `no Deployment "${source.name}" in namespace ${source.namespace}`)
      const replicas = store
        .list("Pod", source.namespace)
        .filter(
          (p) =>
            matchesSelector(deployment.spec.selector, p.metadata.labels ?? {}) &&
            p.metadata.deletionTimestampNs === undefined,
        )
        .map((p) => p.metadata.name)
        .sort()
      for (const name of replicas) {
        const runtime = world.pods.get(`${source.namespace}/${name}`)
        if (runtime !== undefined && world.controlPlane.isContainerRunning(source.namespace, name)) return runtime.ns
      }
      throw new TraceInputError("--from", `deployment/${source.name} has no running replica ${at}`)
    }
  }
}

function never(): never {
  throw new Error("unreachable")
}

// ---------------------------------------------------------------------------------------------
// Recording

const REJECT_NAMES: Record<number, string> = {
  [RejectWith.ICMP_PORT_UNREACHABLE]: "icmp-port-unreachable",
  [RejectWith.ICMP_HOST_UNREACHABLE]: "icmp-host-unreachable",
  [RejectWith.ICMP_NET_UNREACHABLE]: "icmp-net-unreachable",
  [RejectWith.ICMP_ADMIN_PROHIBITED]: "icmp-admin-prohibited",
  [RejectWith.TCP_RESET]: "tcp-reset",
  [RejectWith.ICMP_PROTO_UNREACHABLE]: "icmp-proto-unreachable",
}

const TARGET_NAMES = [
  "NONE",
  "ACCEPT",
  "DROP",
  "REJECT",
  "RETURN",
  "JUMP",
  "GOTO",
  "MARK",
  "DNAT",
  "SNAT",
  "MASQUERADE",
  "NOTRACK",
  "LOG",
  "REDIRECT",
] as const

const CONNTRACK_EVENT_NAMES = ["new", "nat", "confirm", "insert-failed", "table-full", "released"] as const

function tcpFlagsText(flags: number): string {
  const names: string[] = []
  if ((flags & TcpFlag.SYN) !== 0) names.push("SYN")
  if ((flags & TcpFlag.FIN) !== 0) names.push("FIN")
  if ((flags & TcpFlag.RST) !== 0) names.push("RST")
  if ((flags & TcpFlag.PSH) !== 0) names.push("PSH")
  if ((flags & TcpFlag.ACK) !== 0) names.push("ACK")
  return names.join(",")
}

function icmpText(p: Packet): string {
  switch (p.icmpType) {
    case IcmpType.ECHO_REQUEST:
      return `echo-request id=${p.srcPort} seq=${p.tcpSeq}`
    case IcmpType.ECHO_REPLY:
      return `echo-reply id=${p.srcPort} seq=${p.tcpSeq}`
    case IcmpType.DEST_UNREACHABLE:
    case IcmpType.TIME_EXCEEDED: {
      const what =
        p.icmpType === IcmpType.TIME_EXCEEDED
          ? "time-exceeded"
          : (["net", "host", "protocol", "port"][p.icmpCode] ?? `code-${p.icmpCode}`) + "-unreachable"
      const proto = protocolName(p.innerProtocol)
      return `${what} about ${proto} ${formatEndpoint(formatIpv4(p.innerSrcAddr), p.innerSrcPort, proto)} -> ${formatEndpoint(formatIpv4(p.innerDstAddr), p.innerDstPort, proto)}`
    }
    default:
      return `type=${p.icmpType} code=${p.icmpCode}`
  }
}

function view(p: Packet, srcAddr: Ipv4 = p.srcAddr): PacketView {
  const protocol = protocolName(p.protocol)
  return {
    id: p.id,
    protocol,
    src: formatIpv4(srcAddr),
    srcPort: p.srcPort,
    dst: formatIpv4(p.dstAddr),
    dstPort: p.protocol === Protocol.ICMP ? 0 : p.dstPort,
    detail:
      p.protocol === Protocol.TCP
        ? tcpFlagsText(p.tcpFlags)
        : p.protocol === Protocol.ICMP
          ? icmpText(p)
          : `${p.payloadBytes} bytes`,
    bytes: p.totalBytes,
  }
}

function isErrorPacket(p: Packet): boolean {
  if (p.protocol === Protocol.TCP) return (p.tcpFlags & TcpFlag.RST) !== 0
  return (
    p.protocol === Protocol.ICMP && (p.icmpType === IcmpType.DEST_UNREACHABLE || p.icmpType === IcmpType.TIME_EXCEEDED)
  )
}

interface WalkFrame {
  readonly chain: Chain
  readonly pos: number
}

/** The linear walk of one table traversal, reconstructed from the rules that matched. */
class Walk {
  chain: Chain
  pos = 0
  ended = false
  readonly frames: WalkFrame[] = []
  constructor(
    readonly table: TableId,
    chain: Chain,
  ) {
    this.chain = chain
  }
}

/** One hook traversal in progress. */
class HookRecord {
  readonly steps: HookStep[] = []
  walk: Walk | null = null
  rulesEvaluated = 0
  constructor(
    readonly ns: NetNs,
    readonly stack: NetfilterStack,
    readonly hook: Hook,
    readonly packet: Packet,
    readonly before: PacketView,
    readonly inIfIndex: number,
    readonly outIfIndex: number,
    readonly nowNs: number,
  ) {}
}

class Recorder implements NetObserver {
  readonly events: TraceEvent[] = []
  injecting = false
  done = false
  probeId = 0
  private probeProtocol = 0
  private probeSport = 0
  private probeDst = 0
  private probeDport = 0
  private probeFinished = false
  private alive = 0
  private readonly traced = new Set<number>()
  private readonly ignored = new Set<number>()
  private current: HookRecord | null = null
  /** NAT status bits already reported per conntrack entry (per stack). */
  private readonly natReported = new Map<NetfilterStack, Map<number, number>>()

  constructor(
    private readonly world: World,
    readonly sourceNs: NetNs,
    private readonly verbose: boolean,
  ) {}

  private get network(): Network {
    return this.world.network
  }

  isTraced(packet: Packet): boolean {
    return this.traced.has(packet.id)
  }

  // ------------------------------------------------------------------ NetObserver

  onSend(packet: Packet, nsId: number, nowNs: number): void {
    const ns = this.network.namespaces[nsId]
    let role: SendEvent["role"]
    if (this.probeId === 0) {
      if (!this.injecting || ns !== this.sourceNs) return
      this.probeId = packet.id
      this.probeProtocol = packet.protocol
      this.probeSport = packet.srcPort
      this.probeDst = packet.dstAddr
      this.probeDport = packet.dstPort
      role = "probe"
    } else {
      if (this.done) return
      // The source's next packets on the probe's own 5-tuple (handshake ACK, retransmissions).
      if (
        ns === this.sourceNs &&
        packet.protocol === this.probeProtocol &&
        packet.srcPort === this.probeSport &&
        packet.dstAddr === this.probeDst &&
        packet.dstPort === this.probeDport
      ) {
        this.ignored.add(packet.id)
        return
      }
      role = isErrorPacket(packet) ? "error" : "reply"
    }
    this.traced.add(packet.id)
    this.alive++
    const src = packet.srcAddr !== 0 ? packet.srcAddr : this.network.sourceAddressFor(ns, packet.dstAddr)
    // `nowNs` is when the stack hands the packet over (after its processing cost); the hooks run now.
    this.events.push({
      kind: "send",
      timeNs: this.world.scheduler.nowNs,
      readyNs: nowNs,
      ns: ns.name,
      packet: view(packet, src),
      role,
      route: routeText(ns, packet.dstAddr),
    })
  }

  onTransmit(packet: Packet, ifaceId: number, departNs: number, arriveNs: number): void {
    if (!this.traced.has(packet.id)) return
    const iface = this.network.interfaces[ifaceId]
    this.events.push({
      kind: "transmit",
      timeNs: this.world.scheduler.nowNs,
      ns: iface.ns.name,
      packetId: packet.id,
      dev: iface.name,
      departNs,
      arriveNs,
    })
  }

  onDeliver(packet: Packet, nsId: number, nowNs: number): void {
    if (!this.traced.has(packet.id)) return
    const ns = this.network.namespaces[nsId]
    this.insertAfterCause(packet.id, nowNs, ns.name, {
      kind: "deliver",
      timeNs: nowNs,
      ns: ns.name,
      packet: view(packet),
      what: this.deliveryText(ns, packet),
    })
    this.finished(packet, ns)
  }

  onDrop(packet: Packet, reason: number, nsId: number, nowNs: number): void {
    if (!this.traced.has(packet.id)) return
    const ns = this.network.namespaces[nsId]
    this.insertAfterCause(packet.id, nowNs, ns.name, {
      kind: "drop",
      timeNs: nowNs,
      ns: ns.name,
      packet: view(packet),
      reason: dropReasonName(reason),
    })
    this.finished(packet, ns)
  }

  private finished(packet: Packet, ns: NetNs): void {
    this.traced.delete(packet.id)
    this.alive--
    if (packet.id === this.probeId) this.probeFinished = true
    // A reply or error made it back to the source (or died there), or nothing is left to come.
    const backAtSource = ns === this.sourceNs && packet.id !== this.probeId
    const probeDropped =
      this.probeFinished &&
      this.alive === 0 &&
      this.events.some((e) => e.kind === "drop" && e.packet.id === this.probeId)
    if (backAtSource || probeDropped) {
      this.done = true
      this.world.scheduler.stop()
    }
  }

  /**
   * A delivery or drop is reported after what it caused at the same instant (the SYN-ACK a listener
   * sends, the ICMP error a REJECT sends); list it before those, right after its own last event.
   */
  private insertAfterCause(packetId: number, nowNs: number, nsName: string, event: TraceEvent): void {
    let k = this.events.length
    while (k > 0) {
      const e = this.events[k - 1]
      if (e.timeNs !== nowNs || !("ns" in e) || e.ns !== nsName || concerns(e, packetId)) break
      k--
    }
    this.events.splice(k, 0, event)
  }

  private deliveryText(ns: NetNs, p: Packet): string {
    if (ns === this.sourceNs && p.id !== this.probeId)
      return isErrorPacket(p) ? "error reported to the sending socket" : "received by the sending socket"
    switch (p.protocol) {
      case Protocol.TCP:
        return (p.tcpFlags & TcpFlag.SYN) !== 0 && ns.tcpListeners.has(p.dstPort)
          ? `accepted by the socket listening on port ${p.dstPort}`
          : "taken by a TCP socket"
      case Protocol.UDP:
        return `received by the socket bound to port ${p.dstPort}`
      case Protocol.ICMP:
        return p.icmpType === IcmpType.ECHO_REQUEST
          ? "answered by the stack with an echo reply"
          : "consumed by the stack"
      default:
        return "consumed by the stack"
    }
  }

  // ------------------------------------------------------------------ hooks (TracingFilter)

  beginHook(record: HookRecord): void {
    this.current = record
  }

  endHook(record: HookRecord, verdict: number): void {
    this.current = null
    const stack = record.stack
    const p = record.packet
    const after = view(p)
    const nat: NatChange[] = []
    const ruleTargets = new Set(record.steps.map((s) => (s.kind === "rule" ? s.target : "")))
    // nft `dnat to` / `masquerade`: a binding set up in this hook after an nft chain ran.
    const byIpvs = record.steps.some((s) => s.kind === "ipvs")
    const nftBound =
      record.steps.some((s) => s.kind === "nft") &&
      record.steps.some((s) => s.kind === "conntrack" && s.event === "nat")
    const before = record.before
    if (before.dst !== after.dst || before.dstPort !== after.dstPort) {
      nat.push({
        type: "DNAT",
        from: formatEndpoint(before.dst, before.dstPort, before.protocol),
        to: formatEndpoint(after.dst, after.dstPort, after.protocol),
        by: ruleTargets.has("DNAT") || nftBound ? "rule" : byIpvs ? "ipvs" : "conntrack",
      })
    }
    if (before.src !== after.src || before.srcPort !== after.srcPort) {
      const byRule = ruleTargets.has("SNAT") || ruleTargets.has("MASQUERADE") || nftBound
      nat.push({
        type: "SNAT",
        from: formatEndpoint(before.src, before.srcPort, before.protocol),
        to: formatEndpoint(after.src, after.srcPort, after.protocol),
        by: byRule ? "rule" : byIpvs ? "ipvs" : "conntrack",
      })
    }
    let conntrack: ConntrackView | null = null
    if (p.ctId >= 0 && verdict === Verdict.ACCEPT) {
      const state = CT_STATE_NAMES.filter(([, bit]) => (p.ctState & bit) !== 0)
        .map(([name]) => name)
        .join(",")
      conntrack = {
        state: state === "" ? "-" : state,
        direction: p.ctDirection === 1 ? "reply" : "original",
        entry: stack.conntrack.format(p.ctId, record.nowNs),
      }
    }
    const verdictName =
      verdict === Verdict.ACCEPT
        ? "ACCEPT"
        : verdict === Verdict.DROP
          ? "DROP"
          : verdict === Verdict.STOLEN
            ? "STOLEN"
            : "REJECT"
    const event: HookEvent = {
      kind: "hook",
      timeNs: record.nowNs,
      ns: record.ns.name,
      hook: HOOK_NAMES[record.hook],
      in: record.inIfIndex >= 0 ? record.ns.interfaceName(record.inIfIndex) : null,
      out: record.outIfIndex >= 0 ? record.ns.interfaceName(record.outIfIndex) : null,
      before,
      after,
      verdict: verdictName,
      rejectWith: verdict === Verdict.REJECT ? (REJECT_NAMES[stack.lastRejectWith] ?? "reject") : null,
      costNs: stack.lastCostNs,
      rulesEvaluated: record.rulesEvaluated,
      steps: record.steps,
      nat,
      conntrack,
    }
    this.events.push(event)
  }

  // ------------------------------------------------------------------ NetfilterTracer (StackTracer)

  rule(
    stack: NetfilterStack,
    _hook: Hook,
    table: TableId,
    chain: Chain,
    index: number,
    rule: Rule | null,
    kind: TargetKind,
  ): void {
    const record = this.current
    if (record === null || record.stack !== stack) return
    let walk = record.walk
    if (walk === null || walk.ended || walk.table !== table) {
      walk = new Walk(table, chain)
      record.walk = walk
    }
    const tableName = TABLE_NAMES[table]
    if (index < 0) {
      // The built-in chain's policy: every chain still open fell through to its end.
      while (walk.frames.length > 0) {
        this.fallThrough(record, walk, tableName)
        const frame = walk.frames.pop() as WalkFrame
        walk.chain = frame.chain
        walk.pos = frame.pos
      }
      let count = 0
      let skipped: RuleRef[] | undefined
      let from = chain.rules.length + 1
      if (walk.chain !== chain) this.fallThrough(record, walk, tableName)
      else {
        from = walk.pos + 1
        count = chain.rules.length - walk.pos
        skipped = this.skipped(chain, walk.pos, chain.rules.length)
      }
      record.rulesEvaluated += count
      const policy = kind === TargetKind.DROP ? "DROP" : "ACCEPT"
      record.steps.push({
        kind: "policy",
        table: tableName,
        chain: chain.name,
        from,
        policy,
        evaluated: count,
        ...(skipped === undefined ? {} : { notMatched: skipped }),
      })
      walk.ended = true
      return
    }
    // Chains left without a match since the last event returned to their callers.
    while (walk.chain !== chain) {
      this.fallThrough(record, walk, tableName)
      const frame = walk.frames.pop()
      if (frame === undefined) {
        walk.chain = chain
        walk.pos = 0
        break
      }
      walk.chain = frame.chain
      walk.pos = frame.pos
    }
    const count = index - walk.pos + 1
    const skipped = this.skipped(chain, walk.pos, index)
    record.rulesEvaluated += count
    const r = rule as Rule
    record.steps.push({
      kind: "rule",
      table: tableName,
      chain: chain.name,
      rule: index + 1,
      text: ruleText(stack, chain, r),
      target: TARGET_NAMES[kind],
      evaluated: count,
      ...(skipped === undefined ? {} : { notMatched: skipped }),
    })
    switch (kind) {
      case TargetKind.JUMP:
        walk.frames.push({ chain, pos: index + 1 })
        walk.chain = stack.tables[table].chains[chain.jumps[index]]
        walk.pos = 0
        break
      case TargetKind.GOTO:
        walk.chain = stack.tables[table].chains[chain.jumps[index]]
        walk.pos = 0
        break
      case TargetKind.RETURN: {
        const frame = walk.frames.pop()
        if (frame === undefined)
          walk.pos = chain.rules.length // the policy follows
        else {
          walk.chain = frame.chain
          walk.pos = frame.pos
        }
        break
      }
      case TargetKind.NONE:
      case TargetKind.LOG:
      case TargetKind.MARK:
      case TargetKind.NOTRACK:
        walk.pos = index + 1
        break
      default:
        walk.ended = true
    }
  }

  private fallThrough(record: HookRecord, walk: Walk, tableName: string): void {
    const chain = walk.chain
    const count = chain.rules.length - walk.pos
    const skipped = this.skipped(chain, walk.pos, chain.rules.length)
    record.rulesEvaluated += count
    record.steps.push({
      kind: "return",
      table: tableName,
      chain: chain.name,
      from: walk.pos + 1,
      evaluated: count,
      ...(skipped === undefined ? {} : { notMatched: skipped }),
    })
    walk.pos = chain.rules.length
  }

  private skipped(chain: Chain, from: number, to: number): RuleRef[] | undefined {
    if (!this.verbose) return undefined
    const out: RuleRef[] = []
    for (let i = from; i < to; i++)
      out.push({ rule: i + 1, text: ruleText(this.current?.stack ?? null, chain, chain.rules[i]) })
    return out
  }

  conntrack(stack: NetfilterStack, event: ConntrackEvent, ctId: number, packet: Packet): void {
    if (!this.traced.has(packet.id)) return
    const nowNs = this.world.scheduler.nowNs
    if (event === ConntrackEvent.NAT) {
      // Null bindings (no address change) are not news; report a binding once per entry and kind.
      const bits = stack.conntrack.status[ctId] & (CtStatus.SRC_NAT | CtStatus.DST_NAT)
      let reported = this.natReported.get(stack)
      if (reported === undefined) {
        reported = new Map()
        this.natReported.set(stack, reported)
      }
      if (bits === 0 || (reported.get(ctId) ?? 0) === bits) return
      reported.set(ctId, bits)
    }
    const entry = ctId >= 0 ? stack.conntrack.format(ctId, nowNs) : ""
    const step: HookStep = { kind: "conntrack", event: CONNTRACK_EVENT_NAMES[event], entry }
    const record = this.current
    if (record !== null && record.stack === stack) record.steps.push(step)
  }

  /** IPVS acted on a traced packet (ipvs mode). */
  ipvsStep(stack: NetfilterStack, step: IpvsStep, packet: Packet): void {
    if (!this.traced.has(packet.id)) return
    const record = this.current
    if (record !== null && record.stack === stack) record.steps.push(step)
  }

  /** An nftables base chain ran on a traced packet (nftables mode). */
  nftChains(stack: NetfilterStack, step: NftStep, packet: Packet): void {
    if (!this.traced.has(packet.id)) return
    const record = this.current
    if (record !== null && record.stack === stack) record.steps.push(step)
  }

  // ------------------------------------------------------------------ verdict

  verdict(client: ProbeClient, protocol: string, nowNs: number): TraceEvent {
    const events = this.events
    const probeEnd = events.find(
      (e): e is DeliverEvent | DropEvent => (e.kind === "deliver" || e.kind === "drop") && e.packet.id === this.probeId,
    )
    let fate: "delivered" | "dropped" | "in-flight"
    let probe: string
    if (this.probeId === 0) {
      fate = "in-flight"
      probe = "nothing was sent"
    } else if (probeEnd === undefined) {
      fate = "in-flight"
      probe = "still in flight when the trace window ended"
    } else if (probeEnd.kind === "deliver") {
      fate = "delivered"
      probe = `delivered to ${probeEnd.ns} ${formatEndpoint(probeEnd.packet.dst, probeEnd.packet.dstPort, probeEnd.packet.protocol)} (${probeEnd.what})`
    } else {
      fate = "dropped"
      const at = formatEndpoint(probeEnd.packet.dst, probeEnd.packet.dstPort, probeEnd.packet.protocol)
      probe =
        probeEnd.reason === "no-socket"
          ? `no socket for ${at} in ${probeEnd.ns} (dropped: no-socket)`
          : `dropped in ${probeEnd.ns}: ${probeEnd.reason}`
      const hook = [...events].reverse().find((e): e is HookEvent => e.kind === "hook" && e.before.id === this.probeId)
      if (hook !== undefined && hook.verdict !== "ACCEPT" && hook.ns === probeEnd.ns) {
        const last = hook.steps.filter((s) => s.kind === "rule" || s.kind === "policy").pop()
        const by =
          last === undefined
            ? ""
            : last.kind === "rule"
              ? ` by ${last.table} ${last.chain} rule ${last.rule}: ${last.text}`
              : ` by the ${last.table} ${last.chain} policy`
        probe = `${hook.verdict === "REJECT" ? `rejected (${hook.rejectWith ?? "reject"})` : "dropped"} in ${hook.ns} at ${hook.hook}${by}`
      }
    }
    let reply: string | null = null
    const replySend = events.find((e): e is SendEvent => e.kind === "send" && e.role !== "probe")
    if (replySend !== undefined) {
      const id = replySend.packet.id
      const p = replySend.packet
      const end = events.find(
        (e): e is DeliverEvent | DropEvent => (e.kind === "deliver" || e.kind === "drop") && e.packet.id === id,
      )
      const what = `${p.protocol} ${p.detail === "" ? "" : `${p.detail} `}from ${replySend.ns} ${formatEndpoint(p.src, p.srcPort, p.protocol)}`
      const unNat: string[] = []
      for (const e of events) {
        if (e.kind !== "hook" || e.before.id !== id) continue
        for (const change of e.nat)
          unNat.push(
            `${change.type === "DNAT" ? "destination" : "source"} ${change.from} -> ${change.to} by ${change.by === "ipvs" ? "IPVS" : change.by} in ${e.ns} ${e.hook}`,
          )
      }
      const translated = unNat.length === 0 ? "" : ` (${unNat.join("; ")})`
      if (end === undefined) reply = `${what}, still in flight when the trace window ended${translated}`
      else if (end.kind === "deliver")
        reply = `${what} arrived at ${end.ns} as ${formatPacket(end.packet)}${translated}`
      else reply = `${what} dropped in ${end.ns}: ${end.reason}${translated}`
    }
    return { kind: "verdict", timeNs: nowNs, fate, probe, reply, socket: client.outcome(protocol) }
  }
}

function formatPacket(p: PacketView): string {
  return `${p.protocol} ${formatEndpoint(p.src, p.srcPort, p.protocol)} -> ${formatEndpoint(p.dst, p.dstPort, p.protocol)}`
}

function concerns(e: TraceEvent, packetId: number): boolean {
  switch (e.kind) {
    case "send":
    case "deliver":
    case "drop":
      return e.packet.id === packetId
    case "hook":
      return e.before.id === packetId
    case "transmit":
      return e.packetId === packetId
    default:
      return true
  }
}

/** The rule as the node's iptables-save prints it (its own values of any node parameter: ext/xt_nat.ts). */
function ruleText(stack: NetfilterStack | null, chain: Chain, rule: Rule): string {
  const args =
    stack !== null && readsNatParams(rule.target) ? formatTokens(stack.natParams.tokens(rule.tokens)) : rule.text()
  return args === "" ? `-A ${chain.name}` : `-A ${chain.name} ${args}`
}

function routeText(ns: NetNs, dst: Ipv4): string {
  if (ns.isLocalAddress(dst)) return `${formatIpv4(dst)} local dev lo`
  const route = ns.routes.lookup(dst)
  if (route === null) return `${formatIpv4(dst)} unreachable (no route)`
  const via = route.via !== 0 ? ` via ${formatIpv4(route.via)}` : ""
  return `${formatIpv4(dst)}${via} dev ${ns.interfaceName(route.ifIndex)}`
}

/** The node's NetfilterStack, with every hook traversal of a traced packet recorded. */
class TracingFilter implements PacketFilter {
  constructor(
    private readonly inner: NetfilterStack,
    private readonly ns: NetNs,
    private readonly recorder: Recorder,
  ) {}

  get lastCostNs(): number {
    return this.inner.lastCostNs
  }

  get lastDropReason(): number {
    return this.inner.lastDropReason
  }

  get lastRejectWith(): RejectWith {
    return this.inner.lastRejectWith
  }

  runHook(hook: Hook, packet: Packet, inIfIndex: number, outIfIndex: number, nowNs: number): Verdict {
    if (!this.recorder.isTraced(packet)) return this.inner.runHook(hook, packet, inIfIndex, outIfIndex, nowNs)
    const record = new HookRecord(this.ns, this.inner, hook, packet, view(packet), inIfIndex, outIfIndex, nowNs)
    this.recorder.beginHook(record)
    const verdict = this.inner.runHook(hook, packet, inIfIndex, outIfIndex, nowNs)
    this.recorder.endHook(record, verdict)
    return verdict
  }

  discard(packet: Packet): void {
    this.inner.discard(packet)
  }

  takeStolen(handle: number, packet: Packet, readyNs: number): void {
    this.inner.takeStolen(handle, packet, readyNs)
  }
}

class StackTracer implements NetfilterTracer {
  constructor(
    private readonly stack: NetfilterStack,
    private readonly recorder: Recorder,
  ) {}

  rule(hook: Hook, table: TableId, chain: Chain, ruleIndex: number, rule: Rule | null, kind: TargetKind): void {
    this.recorder.rule(this.stack, hook, table, chain, ruleIndex, rule, kind)
  }

  conntrack(event: ConntrackEvent, ctId: number, packet: Packet): void {
    this.recorder.conntrack(this.stack, event, ctId, packet)
  }
}

/** The IPVS connection's protocol: an ICMP error's (ipvs/icmp.ts) is its inner header's. */
const connProtocol = (packet: Packet): number =>
  packet.protocol === Protocol.ICMP ? packet.innerProtocol : packet.protocol

/** Reports what IPVS did to a traced packet (IpvsHooks' tracer). */
class IpvsStepTracer implements IpvsTracer {
  constructor(
    private readonly stack: NetfilterStack,
    private readonly ipvs: Ipvs,
    private readonly recorder: Recorder,
  ) {}

  xmit(packet: Packet, cp: number, created: boolean, local: boolean): void {
    this.recorder.ipvsStep(
      this.stack,
      this.step(created ? "schedule" : "connection", connProtocol(packet), cp, local),
      packet,
    )
  }

  reply(packet: Packet, cp: number): void {
    this.recorder.ipvsStep(this.stack, this.step("reply", connProtocol(packet), cp, false), packet)
  }

  private step(action: IpvsStep["action"], protocol: number, cp: number, local: boolean): IpvsStep {
    const ipvs = this.ipvs
    const proto = protocolName(protocol)
    const serviceId = ipvs.dests.service[ipvs.connDest(cp)]
    const service = serviceId >= 0 ? ipvs.services[serviceId] : undefined
    // ipvsadm -Ln prints "TCP  ADDR:PORT SCHED" (two spaces after the protocol).
    const scheduler = service === undefined ? "" : ` ${SCHEDULER_NAMES[service.scheduler]}`
    return {
      kind: "ipvs",
      action,
      service: `${proto.toUpperCase()}  ${formatIpv4(ipvs.connVaddr(cp))}:${ipvs.connVport(cp)}${scheduler}`,
      realServer: `${formatIpv4(ipvs.connDaddr(cp))}:${ipvs.connDport(cp)}`,
      local,
    }
  }
}

/** Reports the nftables base chains a traced packet ran through (NftHooks' tracer). */
class NftTracer implements NftChainTracer {
  constructor(
    private readonly stack: NetfilterStack,
    private readonly nft: NftHooks,
    private readonly recorder: Recorder,
  ) {}

  nftChains(
    _hook: Hook,
    chains: readonly string[],
    verdict: NftVerdict,
    expressions: number,
    lookups: number,
    packet: Packet,
  ): void {
    this.recorder.nftChains(
      this.stack,
      {
        kind: "nft",
        table: `${this.nft.family} ${this.nft.tableName}`,
        chain: chains[0] ?? "",
        chains: [...chains],
        verdict: verdict === NftVerdict.ACCEPT ? "accept" : verdict === NftVerdict.DROP ? "drop" : "reject",
        evaluated: expressions,
        lookups,
      },
      packet,
    )
  }
}

/** The sending application: a TCP client, a connected UDP socket or a ping socket. */
class ProbeClient implements TcpConnectionListener, UdpListener, PingListener {
  private result: string | null = null

  outcome(protocol: string): string {
    if (this.result !== null) return this.result
    if (protocol === "tcp")
      return "connect() still waiting: no answer to the SYN within the trace window (TCP would retransmit it after 1s)"
    if (protocol === "udp") return "no datagram or error came back within the trace window"
    return "no echo reply or ICMP error within the trace window"
  }

  private set(text: string): void {
    this.result ??= text
  }

  onConnected(_conn: TcpConnection): void {
    this.set("connect() succeeded: handshake complete")
  }

  onMessage(): void {}

  onPeerClosed(): void {}

  onClosed(_conn: TcpConnection, error: NetError): void {
    this.set(`connect() failed: ${netErrorName(error)}`)
  }

  onUdpMessage(_socket: UdpSocket, packet: Packet): void {
    this.set(`recv() got ${packet.payloadBytes} bytes from ${formatIpv4(packet.srcAddr)}:${packet.srcPort}`)
  }

  onUdpError(_socket: UdpSocket, error: NetError): void {
    this.set(`recv() failed: ${netErrorName(error)}`)
  }

  onEchoReply(_pinger: Pinger, seq: number, rttNs: number, packet: Packet): void {
    this.set(`echo reply from ${formatIpv4(packet.srcAddr)} seq=${seq} rtt ${rttNs} ns`)
  }

  onPingError(_pinger: Pinger, _seq: number, error: NetError, remoteAddr: Ipv4): void {
    this.set(`ping failed: ${netErrorName(error)} (from ${formatIpv4(remoteAddr)})`)
  }
}
