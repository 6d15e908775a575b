/**
 * The userspace proxier of one node (kubernetes v1.25 pkg/proxy/userspace/proxier.go, the last
 * release that had it): per service port a proxy socket on a port from `--proxy-port-range`, and
 * iptables nat rules that send the service's traffic to that socket:
 *
 *   nat PREROUTING  -I  -m comment --comment "handle ClusterIPs; ..." -j KUBE-PORTALS-CONTAINER
 *   nat PREROUTING  -A  -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; ..." -j KUBE-NODEPORT-CONTAINER
 *   nat OUTPUT      -I  ... -j KUBE-PORTALS-HOST,  -A ... -j KUBE-NODEPORT-HOST
 *   filter INPUT    -I  -m comment --comment "Ensure that non-local NodePort traffic can flow" -j KUBE-NODEPORT-NON-LOCAL
 *
 * Portal rules (iptablesCommonPortalArgs + iptablesContainerPortalArgs / iptablesHostPortalArgs):
 * from containers (PREROUTING) `-j REDIRECT --to-ports <proxyPort>` (listenIP 0.0.0.0, the
 * default); from the host (OUTPUT) `-j DNAT --to-destination <hostIP>:<proxyPort>`; NodePorts the
 * same in the NODEPORT chains without `-d`, plus a filter ACCEPT of the proxy port for NEW
 * connections. External IPs get a container rule with `-m physdev ! --physdev-is-in`, one with
 * `-m addrtype --dst-type LOCAL`, and a host rule with `-m addrtype --dst-type LOCAL`.
 *
 * syncProxyRules: the Service changes since the last sync are merged (mergeService: a port whose
 * config changed is closed and reopened on a NEW proxy port; unmergeService: removed ports are
 * closed and their load balancer state deleted), then ensurePortals re-checks every portal rule of
 * every service (`iptables -C`, appending what is missing), then stale sticky sessions are cleaned.
 * Endpoints do not go through the sync at all: the load balancer takes every Endpoints update as
 * the watch delivers it (OnEndpointsAdd/Update/Delete), so endpoint changes apply without the
 * runner's minSyncPeriod.
 *
 * `--nodeport-addresses` is ignored, as in v1.25: cmd/kube-proxy/app/server_others.go passes
 * config.NodePortAddresses to userspace.NewProxier, but NewCustomProxier drops it (createProxier
 * has no such parameter and the Proxier no such field), and openNodePort claims the node port on
 * every address (`claimNodePort(nil, ...)`) behind the `-m addrtype --dst-type LOCAL` jumps above.
 * The scenario loader warns when a userspace scenario sets it (scenario/load.ts).
 *
 * The proxier did not look at externalTrafficPolicy, internalTrafficPolicy, topology,
 * loadBalancerSourceRanges, terminating endpoints or EndpointSlices (it predates them): none of
 * those change anything here, as in v1.25.
 *
 * Determinism: upstream iterates Go maps (service changes, ensurePortals); here changes are taken in
 * namespace/name order and rules keep their insertion order, which is what EnsureRule(Append)
 * produces for any order of those iterations.
 */
import type { ApiListener, ApiStore } from "../../k8s/store.ts"
import type { Endpoints, Service, ServicePort } from "../../k8s/types.ts"
import type { Network } from "../../net/network.ts"
import type { NetNs } from "../../net/netns.ts"
import type { Rng } from "../../sim/rng.ts"
import type { Scheduler } from "../../sim/scheduler.ts"
import { parseIpv4 } from "../../wire/ipv4.ts"
import { HOST_PARAM, portParam } from "../../netfilter/ext/xt_nat.ts"
import type { ProxyNode } from "../service-port.ts"
import { shouldSkipService, watchedByKubeProxy } from "../service-port.ts"
import type { PortAllocator } from "./port-allocator.ts"
import { RandomPortAllocator, RangePortAllocator } from "./port-allocator.ts"
import { ProxyPort, ProxyRuntime, type UserspaceCosts } from "./proxysocket.ts"
import { type JournalStep, type PlanShape, type ShapeState, StepKind, UserspaceJournal } from "./deferral.ts"
import type { NatParams } from "../../netfilter/ext/xt_nat.ts"
import type { PortsSettler } from "../../net/netns.ts"
import { AffinityType, LoadBalancerRR, type PortsToEndpoints, ServicePortNames, servicePortName } from "./roundrobin.ts"

export const CHAIN_PORTALS_CONTAINER = "KUBE-PORTALS-CONTAINER"
export const CHAIN_PORTALS_HOST = "KUBE-PORTALS-HOST"
export const CHAIN_NODEPORT_CONTAINER = "KUBE-NODEPORT-CONTAINER"
export const CHAIN_NODEPORT_HOST = "KUBE-NODEPORT-HOST"
export const CHAIN_NODEPORT_NON_LOCAL = "KUBE-NODEPORT-NON-LOCAL"

const PORTALS_COMMENT = `"handle ClusterIPs; NOTE: this must be before the NodePort rules"`
const NODEPORTS_COMMENT = `"handle service NodePorts; NOTE: this must be the last rule in the chain"`
const NON_LOCAL_COMMENT = `"Ensure that non-local NodePort traffic can flow"`

const CHAIN_INDEX_PORTALS_CONTAINER = 0
const CHAIN_INDEX_PORTALS_HOST = 1
const CHAIN_INDEX_NODEPORT_CONTAINER = 2
const CHAIN_INDEX_NODEPORT_HOST = 3
const CHAIN_INDEX_NON_LOCAL = 4

/** iptablesInit's jump rules, in the order it ensures them (table, chain, position, spec). */
export const USERSPACE_JUMP_RULES: readonly {
  readonly table: "nat" | "filter"
  readonly chain: string
  readonly insert: boolean
  readonly spec: string
}[] = [
  {
    table: "nat",
    chain: "PREROUTING",
    insert: true,
    spec: `-m comment --comment ${PORTALS_COMMENT} -j ${CHAIN_PORTALS_CONTAINER}`,
  },
  {
    table: "nat",
    chain: "OUTPUT",
    insert: true,
    spec: `-m comment --comment ${PORTALS_COMMENT} -j ${CHAIN_PORTALS_HOST}`,
  },
  {
    table: "nat",
    chain: "PREROUTING",
    insert: false,
    spec: `-m addrtype --dst-type LOCAL -m comment --comment ${NODEPORTS_COMMENT} -j ${CHAIN_NODEPORT_CONTAINER}`,
  },
  {
    table: "nat",
    chain: "OUTPUT",
    insert: false,
    spec: `-m addrtype --dst-type LOCAL -m comment --comment ${NODEPORTS_COMMENT} -j ${CHAIN_NODEPORT_HOST}`,
  },
  {
    table: "filter",
    chain: "INPUT",
    insert: true,
    spec: `-m comment --comment ${NON_LOCAL_COMMENT} -j ${CHAIN_NODEPORT_NON_LOCAL}`,
  },
]

/** The proxier's own chains, per table, in iptablesInit order. */
export const USERSPACE_CHAINS: readonly { readonly table: "nat" | "filter"; readonly chain: string }[] = [
  { table: "nat", chain: CHAIN_PORTALS_CONTAINER },
  { table: "nat", chain: CHAIN_PORTALS_HOST },
  { table: "nat", chain: CHAIN_NODEPORT_CONTAINER },
  { table: "nat", chain: CHAIN_NODEPORT_HOST },
  { table: "filter", chain: CHAIN_NODEPORT_NON_LOCAL },
]

export interface UserspaceConfig {
  /** --proxy-port-range as [base, size]; null = empty (the kernel picks each proxy port). */
  readonly proxyPortRange: readonly [number, number] | null
  /** --udp-timeout. */
  readonly udpIdleTimeoutNs: number
  readonly costs: UserspaceCosts
}

/**
 * What a Service port says, as the userspace proxier keeps it (ServiceInfo's fields that come from
 * the Service): built once per Service object and shared by every node's proxier (`servicePorts`).
 */
export interface UserspaceServicePort {
  /** ServicePortName string. */
  readonly name: string
  readonly protocol: "tcp" | "udp"
  readonly clusterIP: string
  readonly port: number
  readonly nodePort: number
  readonly externalIPs: readonly string[]
  readonly loadBalancerIPs: readonly string[]
  readonly affinityType: AffinityType
  readonly stickyMaxAgeSeconds: number
  /** TCP or UDP (newProxySocket makes no socket for another protocol: the port is not opened). */
  readonly proxyable: boolean
  /**
   * The portal addresses parsed (undefined: not IPv4), for the per-node claim check of openPortal
   * (a portal on one of the node's own addresses is claimed): parsed once, not per node.
   */
  readonly clusterAddr: number | undefined
  readonly externalAddrs: readonly (number | undefined)[]
  readonly loadBalancerAddrs: readonly (number | undefined)[]
}

/** ServiceInfo's rule count is packed with the proxy port and filter count in one small integer. */
const RULE_COUNT_LIMIT = 1 << 14

/**
 * One service port the proxier serves (ServiceInfo): the Service's fields, shared by the nodes
 * (`spec`), and this node's: the proxy port, the rules it wrote, the proxy port's kernel or proxy
 * socket (ProxyPort, the base class). At thousands of Services on hundreds of nodes a full copy
 * per node was most of a ServiceInfo; the node's own values are one packed integer and the port.
 */
export class UserspaceServiceInfo extends ProxyPort {
  /** proxyPort (bits 0-15), filterRuleCount (bit 16), ruleCount (bits 17-30). */
  private readonly bits: number

  constructor(
    proxyPort: number,
    /**
     * Portal rules this service port wrote (openPortal, up to a claim conflict), and how many of
     * them are in the filter table. The rule texts are not kept per node: `portal` holds them once
     * for every node serving the same Service object, with the node's values as parameters.
     */
    ruleCount: number,
    filterRuleCount: number,
    readonly portal: PortalRuleSet,
  ) {
    super()
    if (ruleCount >= RULE_COUNT_LIMIT || filterRuleCount > 1 || proxyPort < 0 || proxyPort > 0xffff)
      throw new Error(`userspace service port ${portal.spec.name}: ${ruleCount} portal rules do not fit its record`)
    this.bits = proxyPort + 0x10000 * (filterRuleCount + 2 * ruleCount)
  }

  /** The proxy port (bound when the sync that opened it ended; its socket is made at its first packet). */
  get proxyPort(): number {
    return this.bits & 0xffff
  }
  get ruleCount(): number {
    return this.bits >>> 17
  }
  get filterRuleCount(): number {
    return (this.bits >>> 16) & 1
  }

  /** What the Service says of this port (shared by the nodes: the portal rule set's). */
  get spec(): UserspaceServicePort {
    return this.portal.spec
  }

  get name(): string {
    return this.spec.name
  }
  get protocol(): "tcp" | "udp" {
    return this.spec.protocol
  }
  get clusterIP(): string {
    return this.spec.clusterIP
  }
  get port(): number {
    return this.spec.port
  }
  get nodePort(): number {
    return this.spec.nodePort
  }
  get externalIPs(): readonly string[] {
    return this.spec.externalIPs
  }
  get loadBalancerIPs(): readonly string[] {
    return this.spec.loadBalancerIPs
  }
  get affinityType(): AffinityType {
    return this.spec.affinityType
  }
  get stickyMaxAgeSeconds(): number {
    return this.spec.stickyMaxAgeSeconds
  }
}

/**
 * The proxier's serviceMap (ServicePortName -> ServiceInfo, in the order the ports were opened),
 * held as two arrays: the infos by the cluster's service port name index (`ServicePortNames`, the
 * same index as the portal rule sets' `k`) and the infos in insertion order, where a deleted info
 * stays until the next compaction (it is live while the index still points at it). A Map per node
 * was some 46 bytes per node and service port at 10,000 ports; these are 16. Each info is set once
 * (a changed port gets a new info: plan), so an info is never in the order twice.
 */
export class ServicePortMap {
  private readonly byK: (UserspaceServiceInfo | undefined)[]
  private order: UserspaceServiceInfo[]
  /** A journal step's map (deferral.ts), one object for every node on the step: never changed. */
  shared = false
  private dead: number
  size: number

  constructor(
    private readonly names: ServicePortNames,
    from?: ServicePortMap,
  ) {
    if (from === undefined) {
      this.byK = []
      this.order = []
      this.size = 0
    } else {
      from.compact()
      this.byK = from.byK.slice()
      this.order = from.order.slice()
      this.size = from.size
    }
    this.dead = 0
  }

  get(name: string): UserspaceServiceInfo | undefined {
    const k = this.names.peek(name)
    return k < 0 ? undefined : this.byK[k]
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  /** Adds a new info under its name (at the end of the order, as Map.set of a new key). */
  set(name: string, info: UserspaceServiceInfo): void {
    // The portal rule set's k is its name's index (PortalRuleShare.index): no name lookup here.
    if (name !== info.name) throw new Error(`serviceMap: ${name} is not ${info.name}`)
    const k = info.portal.k
    const old = this.byK[k]
    if (old !== undefined) {
      // Map.set of a present key keeps its position.
      this.order[this.order.indexOf(old)] = info
    } else {
      this.order.push(info)
      this.size++
    }
    while (this.byK.length < k) this.byK.push(undefined)
    this.byK[k] = info
  }

  delete(name: string): boolean {
    const k = this.names.peek(name)
    if (k < 0 || this.byK[k] === undefined) return false
    this.byK[k] = undefined
    this.size--
    this.dead++
    return true
  }

  /** The infos in insertion order (compacted first: no deleted entry is visited). */
  values(): IterableIterator<UserspaceServiceInfo> {
    this.compact()
    return this.order.values()
  }

  private compact(): void {
    if (this.dead === 0) return
    const byK = this.byK
    this.order = this.order.filter((info) => byK[info.portal.k] === info)
    this.dead = 0
  }
}

/** What a sync computed when it started; written to the node when it ends. */
export interface UserspacePlan {
  readonly serviceMap: ServicePortMap
  readonly opened: UserspaceServiceInfo[]
  readonly closed: UserspaceServiceInfo[]
  /** Service ports whose load balancer state is deleted (unmergeService). */
  readonly deleted: string[]
  readonly services: ReadonlyMap<string, Service>
  /**
   * `iptables` invocations of the sync (pkg/util/iptables: EnsureRule and DeleteRule run `-C`
   * first, then `-A`/`-D`; EnsureChain one `-N`): 2 per rule added or deleted, 10 for iptablesInit,
   * and 1 `-C` per portal rule of every service for ensurePortals.
   */
  readonly commands: number
  /** Rules in the nat table after the sync (what each invocation of legacy iptables reads). */
  readonly natRules: number
  readonly filterRules: number
  /** Proxy ports allocated by this plan (released if the sync fails). */
  readonly allocated: number[]
  readonly claims: Map<string, string>
  /**
   * A journal step's plan (deferral.ts): its service map operations in order, which a node
   * replaying the step repeats with its own ports instead of planning again (null: not recorded).
   */
  readonly ops: readonly PlanOp[] | null
}

/**
 * One service map operation of a plan, in planSync's order: a service port closed (`info`
 * undefined), or a proxy port allocated for one (`info` the shape's record, or null when the
 * allocation failed and the port was not opened).
 */
interface PlanOp {
  readonly name: string
  readonly protocol: "tcp" | "udp"
  readonly info: UserspaceServiceInfo | null | undefined
}

const SERVICE_CHANGE_PROTOCOLS = new Set(["TCP", "UDP"])

/** The cluster's journal of userspace proxier operations (deferral.ts). */
export type UserspaceProxyJournal = UserspaceJournal<UserspacePlan, EndpointsBatch>

/** A cluster's journal, starting from an empty service map. */
export function userspaceProxyJournal(network: object): UserspaceProxyJournal {
  return new UserspaceJournal<UserspacePlan, EndpointsBatch>(new ServicePortMap(ServicePortNames.of(network)))
}

/** What a plan starts from: the proxier's state after its last commit. */
interface PlanBase {
  readonly serviceMap: ServicePortMap
  readonly services: ReadonlyMap<string, Service>
  readonly claims: ReadonlyMap<string, string>
}

/** What a plan asks of the node: a proxy port from its allocator or kernel, and its own addresses. */
interface PlanNode {
  /** A proxy port for a new service port (-1: none: "failed to allocate proxy port"). */
  allocatePort(protocol: "tcp" | "udp"): number
  /** Whether `address` is one of the node's own (openPortal claims a portal there). */
  isLocal(address: number | undefined): boolean
}

/**
 * syncProxyRules up to the kernel: merges the Service changes into a new service map, from `base`
 * (the last committed state), with `node` for proxy ports and claims. The nodes' proxiers run it
 * with their own allocator and addresses; the journal (deferral.ts) runs it once per step with
 * none, for the shape every node on that step shares.
 */
function planSync(
  network: object,
  base: PlanBase,
  services: readonly Service[],
  node: PlanNode,
  recordOps = false,
): UserspacePlan {
  const ops: PlanOp[] | null = recordOps ? [] : null
  const current = watchedServices(services)
  const serviceMap = new ServicePortMap(ServicePortNames.of(network), base.serviceMap)
  const claims = new Map(base.claims)
  const opened: UserspaceServiceInfo[] = []
  const closed: UserspaceServiceInfo[] = []
  const deleted: string[] = []
  const allocated: number[] = []
  let commands = 0
  // The union of both key sets in order: each map's sorted keys are shared by the nodes.
  const keys = mergeSorted(sortedKeys(base.services), sortedKeys(current))
  for (const key of keys) {
    const previous = base.services.get(key)
    const next = current.get(key)
    // Stored objects are immutable values (store.ts): the same object is the same Service.
    if (
      previous !== undefined &&
      next !== undefined &&
      (previous === next || JSON.stringify(previous) === JSON.stringify(next))
    )
      continue
    // mergeService(current); the ports it saw, for unmergeService (only with a previous Service).
    const existingPorts = previous === undefined ? null : new Set<string>()
    const specs = next === undefined ? null : servicePorts(key, next)
    if (next !== undefined && specs !== null) {
      const ports = next.spec.ports ?? []
      for (let p = 0; p < ports.length; p++) {
        const port = ports[p]
        const spec = specs[p]
        const name = spec.name
        existingPorts?.add(port.name ?? "")
        const info = serviceMap.get(name)
        if (info !== undefined && sameConfig(info, next, port)) continue
        if (info !== undefined) {
          commands += 2 * info.ruleCount // DeleteRule: -C, then -D
          serviceMap.delete(name)
          ops?.push({ name, protocol: info.protocol, info: undefined })
          closed.push(info)
          releaseClaims(claims, info.name)
        }
        if (!spec.proxyable) continue // newProxySocket: unknown protocol
        const proxyPort = node.allocatePort(spec.protocol)
        if (proxyPort < 0) {
          ops?.push({ name, protocol: spec.protocol, info: null })
          continue // "failed to allocate proxy port"
        }
        allocated.push(proxyPort)
        const made = newServiceInfo(network, node, spec, next, port, proxyPort, claims)
        commands += 2 * made.ruleCount // EnsureRule: -C, then -A
        serviceMap.set(name, made)
        ops?.push({ name, protocol: spec.protocol, info: made })
        opened.push(made)
      }
    }
    // unmergeService(previous, existingPorts)
    if (previous !== undefined && servicePorts(key, previous) !== null) {
      for (const port of previous.spec.ports ?? []) {
        if (existingPorts?.has(port.name ?? "")) continue
        const name = servicePortName(key, port.name ?? "")
        const info = serviceMap.get(name)
        if (info === undefined) continue
        commands += 2 * info.ruleCount // DeleteRule: -C, then -D
        serviceMap.delete(name)
        ops?.push({ name, protocol: info.protocol, info: undefined })
        closed.push(info)
        deleted.push(name)
        releaseClaims(claims, info.name)
      }
    }
  }
  // iptablesInit: 5 EnsureChain + 5 EnsureRule (each an iptables -N / -C invocation; the first
  // sync's 5 appends/inserts are not counted).
  commands += 10
  // ensurePortals: one `iptables -C` per portal rule of every service.
  let natRules = USERSPACE_JUMP_RULES.filter((r) => r.table === "nat").length
  let filterRules = USERSPACE_JUMP_RULES.filter((r) => r.table === "filter").length
  for (const info of serviceMap.values()) {
    commands += info.ruleCount
    filterRules += info.filterRuleCount
    natRules += info.ruleCount - info.filterRuleCount
  }
  return {
    serviceMap,
    opened,
    closed,
    deleted,
    services: current,
    commands,
    natRules,
    filterRules,
    allocated,
    claims,
    ops,
  }
}

/**
 * The shape of a plan for the journal (deferral.ts): planSync from a step's state with no node: no
 * address is the node's own (a node owning one of the opened portals' addresses does not take the
 * step: PlanShape.portalAddrs), the random allocator's port is left unknown (0; a node whose
 * namespace could run out of ephemeral ports does not take the step: JournalStep.portsNeeded), and
 * a port range is counted as the range allocator would fill it (it fails only when every port of
 * the range is held, whatever the draws).
 */
function planShape(
  network: object,
  range: readonly [number, number] | null,
  state: ShapeState<UserspacePlan>,
  services: readonly Service[],
): PlanShape<UserspacePlan> {
  let rangeUsed = state.rangeUsed
  const node: PlanNode = {
    allocatePort(): number {
      if (range === null) return 0
      if (rangeUsed >= range[1]) return -1
      rangeUsed++
      return 0
    },
    isLocal: () => false,
  }
  const plan = planSync(network, state, services, node, true)
  plan.serviceMap.shared = true
  const portalAddrs = new Set<number>()
  for (const info of plan.opened) {
    const spec = info.spec
    if (spec.clusterAddr !== undefined) portalAddrs.add(spec.clusterAddr)
    for (const a of spec.externalAddrs) if (a !== undefined) portalAddrs.add(a)
    for (const a of spec.loadBalancerAddrs) if (a !== undefined) portalAddrs.add(a)
  }
  let shareable = true
  for (const info of plan.serviceMap.values())
    if (info.filterRuleCount !== 0) {
      shareable = false
      break
    }
  return { plan, rangeUsed, shareable, portalAddrs }
}

export class UserspaceProxier implements PortsSettler {
  private readonly balancer: LoadBalancerRR
  private readonly rt: ProxyRuntime
  /** serviceMap: ServicePortName -> info, in the order the ports were opened. */
  private map: ServicePortMap
  /** Services as the last successful sync saw them ("ns/name" -> object). */
  private services: ReadonlyMap<string, Service> = new Map<string, Service>()
  /**
   * Endpoints as the load balancer last saw them: per key index of the feed (EndpointsFeed.index),
   * the ports map (undefined: none), and when this proxier learnt of the key (deletions are
   * handed over in that order, as the insertion order of the "ns/name" map this replaces). Two
   * array slots per Endpoints instead of a map entry: at 10,000 Services on 1,000 nodes the map
   * was some 0.5 GB.
   */
  private readonly endpointsSeen: (PortsToEndpoints | undefined)[] = []
  private readonly endpointsLearnt: number[] = []
  private endpointsLearntNext = 0
  /** Entries of the shared EndpointsFeed this proxier has read. */
  private feedCursor = 0
  /** Endpoints writes this proxier read (each once; the scale-shape test's count). */
  endpointsRead = 0
  private readonly allocator: PortAllocator
  /** portMap of claimNodePort: "ip:port/PROTO" -> owner. */
  private claims = new Map<string, string>()
  /** Ports reserved by a plan not yet applied (kernel-chosen proxy ports). */
  private readonly reservedPorts = new Set<number>()
  readonly hostIP: string
  /**
   * While deferred (deferral.ts): this proxier's position in the cluster's journal; null once it
   * replayed (or when the cluster defers nothing), from then on it does its own work.
   */
  private at: JournalStep<UserspacePlan, EndpointsBatch> | null = null
  private readonly journal: UserspaceJournal<UserspacePlan, EndpointsBatch> | null
  /** Sockets the host namespace held when this proxier began deferring (the ports replay cannot take). */
  private readonly socketsBefore: number
  /** During a replay: the steps were taken with no portal on an own address (checked then). */
  private replaying = false
  /** The node's own plan replayed for the shape plan its sync is still running (commit or discard maps it). */
  private replayed: { readonly shape: UserspacePlan; readonly own: UserspacePlan } | null = null
  private readonly natParams: NatParams | null

  constructor(
    readonly node: ProxyNode,
    readonly network: Network,
    readonly ns: NetNs,
    scheduler: Scheduler,
    readonly config: UserspaceConfig,
    private readonly rng: Rng,
    /** The node's NAT parameters (its proxy port per service port: the shared portal rules read them). */
    natParams: NatParams | null = null,
    /** The cluster's journal: this proxier defers its work until a packet or a reader needs it. */
    journal: UserspaceJournal<UserspacePlan, EndpointsBatch> | null = null,
  ) {
    // The balancers and service maps of a cluster's nodes index by one shared name index.
    this.balancer = new LoadBalancerRR(rng, ServicePortNames.of(network))
    this.map = new ServicePortMap(ServicePortNames.of(network))
    this.rt = new ProxyRuntime(network, ns, scheduler, this.balancer, config.costs, config.udpIdleTimeoutNs)
    // A datagram to a UDP proxy port still held without a socket of its own (ProxyPort.openPort):
    // the service port bound on it, found by a walk of the service map (once per port, at its first
    // datagram; a per-port index would cost bytes on every port that never sees one).
    this.rt.heldPortOwner = (port) => {
      for (const info of this.map.values()) if (info.proxyPort === port && info.protocol === "udp") return info
      return undefined
    }
    this.allocator =
      config.proxyPortRange === null
        ? new RandomPortAllocator()
        : new RangePortAllocator(config.proxyPortRange[0], config.proxyPortRange[1], rng)
    // ChooseHostInterface: the node's primary address.
    this.hostIP = node.ips[0] ?? "0.0.0.0"
    this.natParams = natParams
    this.journal = journal
    this.socketsBefore = ns.udpSockets.size + ns.tcpListeners.size + ns.tcpConnections.size
    // Deferred from the start, unless the namespace's addresses are a shared block (IPVS mode's:
    // never here) or someone else already waits on its ports.
    if (journal !== null && natParams !== null && ns.sharedAddresses === null && ns.portsPending === null) {
      this.at = journal.root
      ns.portsPending = this
      natParams.pending = this
    }
  }

  /** The load balancer (a reader: the node's state is replayed first when deferred). */
  get lb(): LoadBalancerRR {
    this.settle()
    return this.balancer
  }

  /** The proxy sockets' runtime (a reader: replayed first when deferred). */
  get runtime(): ProxyRuntime {
    this.settle()
    return this.rt
  }

  /** serviceMap: ServicePortName -> info (a reader: replayed first when deferred). */
  get serviceMap(): ServicePortMap {
    this.settle()
    return this.map
  }

  /** What its next plan starts from (its last commit). */
  private ownBase(): PlanBase {
    return { serviceMap: this.map, services: this.services, claims: this.claims }
  }

  /** Whether this proxier still defers its work (no packet or reader needed its ports yet). */
  get deferred(): boolean {
    return this.at !== null
  }

  /** Service ports served, without replaying a deferred proxier (its journal step's shape). */
  get servicePortCount(): number {
    return this.at === null ? this.map.size : this.at.state.serviceMap.size
  }

  /** Proxy sockets made (none while deferred: no packet reached a port). */
  get socketsMade(): number {
    return this.at === null ? this.rt.socketsMade : 0
  }

  // ------------------------------------------------------------------------------ endpoints

  /**
   * The Endpoints watch: hands every added, changed or deleted Endpoints to the load balancer.
   * Reads the Endpoints written since its last call from the cluster's shared feed (the informer
   * delivers each write once; re-reading every Endpoints per write was Endpoints x writes per node),
   * in namespace/name order, adds and updates first, then deletions in the order the proxier
   * learnt of those Endpoints (the order a full re-list produced, as before).
   */
  syncEndpoints(store: ApiStore): void {
    const feed = EndpointsFeed.of(store)
    const end = feed.keys.length
    if (this.feedCursor === end) return
    // The writes since this proxier's last read, in namespace/name order, with each Endpoints as
    // the store holds it now: the same for every node reading the same writes at the same store
    // revision, so built once for all of them (EndpointsFeed.batch).
    const batch = feed.batch(store, this.feedCursor, end)
    this.endpointsRead += end - this.feedCursor
    this.feedCursor = end
    const at = this.at
    if (at !== null) {
      const next = (this.journal as UserspaceJournal<UserspacePlan, EndpointsBatch>).endpoints(at, feed, batch)
      if (next !== null) {
        this.at = next
        return
      }
      this.settle()
    }
    this.takeEndpoints(feed, batch)
  }

  /** The load balancer takes a batch of Endpoints writes (OnEndpointsAdd/Update/Delete). */
  private takeEndpoints(feed: EndpointsFeed, batch: EndpointsBatch): void {
    const seen = this.endpointsSeen
    const learnt = this.endpointsLearnt
    let deleted: number[] | null = null
    const keys = batch.keys
    const indexes = batch.indexes
    const portsOf = batch.ports
    for (let i = 0; i < keys.length; i++) {
      const k = indexes[i]
      while (seen.length <= k) {
        seen.push(undefined)
        learnt.push(-1)
      }
      const ports = portsOf[i]
      if (ports === undefined) {
        if (seen[k] !== undefined) (deleted ??= []).push(k)
        continue
      }
      const previous = seen[k]
      if (previous === undefined) {
        this.balancer.onEndpointsAdd(keys[i], ports)
        learnt[k] = this.endpointsLearntNext++
      } else if (previous !== ports && !samePorts(previous, ports))
        this.balancer.onEndpointsUpdate(keys[i], previous, ports)
      else continue
      seen[k] = ports
    }
    if (deleted === null) return
    // In the order this proxier learnt of them (the insertion order of the map this replaces).
    deleted.sort((a, b) => learnt[a] - learnt[b])
    for (const k of deleted) {
      this.balancer.onEndpointsDelete(feed.keyOf(k), seen[k] as PortsToEndpoints)
      seen[k] = undefined
      learnt[k] = -1
    }
  }

  // ------------------------------------------------------------------------------ sync

  /** syncProxyRules up to the kernel: merges the Service changes into a new service map. */
  plan(services: readonly Service[]): UserspacePlan {
    const at = this.at
    if (at !== null) {
      const network = this.network
      const range = this.config.proxyPortRange
      const step = (this.journal as UserspaceJournal<UserspacePlan, EndpointsBatch>).plan(at, services, (state, list) =>
        planShape(network, range, state, list),
      )
      if (step !== null && this.canTake(step)) {
        this.at = step
        return (step.shape as PlanShape<UserspacePlan>).plan
      }
      // Not shareable here: this node replays its path and plans on its own.
      this.settle()
    }
    return planSync(this.network, this.ownBase(), services, this)
  }

  /**
   * Whether this node gets exactly the step's shape: no portal it opens is on one of the node's
   * own addresses (claimed per node), its restore input holds no per-node line, and the random
   * allocator could not run out of ephemeral ports in this namespace.
   */
  private canTake(step: JournalStep<UserspacePlan, EndpointsBatch>): boolean {
    const shape = step.shape as PlanShape<UserspacePlan>
    if (!shape.shareable) return false
    for (const address of this.ns.localAddresses.keyList()) if (shape.portalAddrs.has(address)) return false
    if (this.config.proxyPortRange === null) {
      const params = this.network.params
      const ephemeral = params.ephemeralPortMax - params.ephemeralPortMin + 1
      if (this.socketsBefore + step.portsNeeded >= ephemeral) return false
    }
    return true
  }

  /**
   * The sync ends: sockets are closed and opened, the NAT parameters set, the load balancer told;
   * rules are written by the caller. Returns the plan that committed (a deferred node's sync
   * planned the shared shape; if the node replayed meanwhile, its own plan).
   */
  commit(plan: UserspacePlan, nowNs: number): UserspacePlan {
    const at = this.at
    if (at !== null) {
      if (at.state.pending !== plan) throw new Error(`userspace proxier ${this.node.name}: commit of another plan`)
      const next = (this.journal as UserspaceJournal<UserspacePlan, EndpointsBatch>).commit(at)
      if (next !== null) {
        this.at = next
        return plan
      }
      this.settle()
    }
    const own = this.ownPlan(plan)
    this.commitOwn(own, nowNs)
    return own
  }

  private ownPlan(plan: UserspacePlan): UserspacePlan {
    const replayed = this.replayed
    if (replayed === null || replayed.shape !== plan) return plan
    this.replayed = null
    return replayed.own
  }

  private commitOwn(plan: UserspacePlan, nowNs: number): void {
    for (const info of plan.closed) {
      info.closePort(this.rt)
      this.allocator.release(info.proxyPort)
    }
    for (const name of plan.deleted) if (!plan.serviceMap.has(name)) this.balancer.deleteService(name)
    for (const info of plan.opened) {
      this.reservedPorts.delete(info.proxyPort)
      // The port is bound now; its socket is made at the first packet (ProxyPort).
      info.openPort(this.rt, info.protocol, info.proxyPort)
      this.balancer.addServiceAt(info.portal.k, info.affinityType, info.stickyMaxAgeSeconds)
    }
    this.map = plan.serviceMap
    this.services = plan.services
    this.claims = plan.claims
    // Only a port with a sticky-session entry has anything to clean (and none has before a packet).
    if (this.balancer.hasAffinityEntries)
      for (const info of this.map.values()) this.balancer.cleanupStaleStickySessions(info.name, nowNs)
    // The node's proxy port of each service port, as its (shared) portal rules read it.
    const params = this.natParams
    if (params !== null) {
      for (const info of plan.closed) params.setPort(info.portal.k, 0)
      for (const info of plan.opened) params.setPort(info.portal.k, info.proxyPort)
    }
  }

  /** The sync's kernel write failed: nothing of the plan happened. */
  discard(plan: UserspacePlan): void {
    const at = this.at
    if (at !== null) {
      if (at.state.pending !== plan) throw new Error(`userspace proxier ${this.node.name}: discard of another plan`)
      const next = (this.journal as UserspaceJournal<UserspacePlan, EndpointsBatch>).discard(at)
      if (next !== null) {
        this.at = next
        return
      }
      this.settle()
    }
    this.discardOwn(this.ownPlan(plan))
  }

  private discardOwn(plan: UserspacePlan): void {
    for (const port of plan.allocated) {
      this.allocator.release(port)
      this.reservedPorts.delete(port)
    }
  }

  /**
   * The node's own plan for a journal step it took: planSync's service map operations repeated in
   * the same order with the node's own proxy ports (the same allocator calls, so the same draws and
   * kernel choices); the rest (Services, claims, counts, deletions) is the step's, which the node
   * shares (the step was taken with no portal on its own addresses). A plan the node would have
   * made differently is a bug: the allocation outcomes are checked.
   */
  private replayPlan(shape: UserspacePlan): UserspacePlan {
    const ops = shape.ops
    if (ops === null) throw new Error(`userspace proxier ${this.node.name}: a journal plan without its operations`)
    const serviceMap = new ServicePortMap(ServicePortNames.of(this.network), this.map)
    const opened: UserspaceServiceInfo[] = []
    const closed: UserspaceServiceInfo[] = []
    const allocated: number[] = []
    for (const op of ops) {
      if (op.info === undefined) {
        const info = serviceMap.get(op.name)
        if (info === undefined)
          throw new Error(`userspace proxier ${this.node.name}: replay closes ${op.name}, not open`)
        serviceMap.delete(op.name)
        closed.push(info)
        continue
      }
      const proxyPort = this.allocatePort(op.protocol)
      if (proxyPort < 0 !== (op.info === null))
        throw new Error(`userspace proxier ${this.node.name}: replay of ${op.name}'s proxy port diverged`)
      if (op.info === null) continue
      allocated.push(proxyPort)
      const made = new UserspaceServiceInfo(proxyPort, op.info.ruleCount, op.info.filterRuleCount, op.info.portal)
      serviceMap.set(op.name, made)
      opened.push(made)
    }
    return { ...shape, serviceMap, opened, closed, allocated, ops: null }
  }

  /**
   * A deferred proxier does its work now: it replays its path through the journal with its own
   * allocator, kernel ports and random streams, in the order the steps were taken (nothing else
   * drew from those streams or bound in its namespace meanwhile: those uses call this first), so
   * it holds what it would hold had it done each step then. A no-op once done.
   */
  settle(): void {
    const at = this.at
    if (at === null) return
    this.at = null
    if (this.ns.portsPending === this) this.ns.portsPending = null
    if (this.natParams !== null && this.natParams.pending === this) this.natParams.pending = null
    const journal = this.journal as UserspaceJournal<UserspacePlan, EndpointsBatch>
    const path = journal.path(at)
    // The port table grows to hold every proxy port at once rather than doubling its way there
    // (nothing iterates a namespace's port table, so its capacity changes no lookup or result).
    const ports = Math.max(at.state.serviceMap.size, at.state.pending?.serviceMap.size ?? 0)
    this.ns.udpSockets.reserve(this.ns.udpSockets.size + ports)
    journal.nodesReplayed++
    journal.stepsReplayed += path.length
    this.replaying = true
    let pending: { shape: UserspacePlan; own: UserspacePlan } | null = null
    try {
      for (const step of path) {
        switch (step.kind) {
          case StepKind.ENDPOINTS:
            this.takeEndpoints(step.feed as EndpointsFeed, step.batch as EndpointsBatch)
            break
          case StepKind.PLAN:
            pending = {
              shape: (step.shape as PlanShape<UserspacePlan>).plan,
              own: this.replayPlan((step.shape as PlanShape<UserspacePlan>).plan),
            }
            break
          case StepKind.COMMIT:
            // No affinity entry exists before a packet reached the node: the sticky-session
            // cleanup's time changes nothing.
            if (pending !== null) this.commitOwn(pending.own, 0)
            pending = null
            break
          case StepKind.DISCARD:
            if (pending !== null) this.discardOwn(pending.own)
            pending = null
            break
          default:
            break
        }
      }
    } finally {
      this.replaying = false
    }
    this.replayed = pending
  }

  /**
   * The proxier's chains as iptables-restore input lines (--noflush: only these chains are
   * rewritten). Its nat rules name the node's values as parameters (`{host}`, `{port:K}`: the
   * node's NatParams, which the backend keeps): nodes serving the same service ports, in the same
   * order and with the same rule counts, write the same lines, and take the same array (the rule
   * cache then parses each line once and shares the restored table, netfilter/rule-cache.ts). Only
   * the NodePort filter rules (their `--dport` match names the proxy port) are written per node.
   */
  restoreInput(serviceMap: ServicePortMap): readonly string[] {
    const share = PortalRuleShare.of(this.network)
    // A journal step's map (deferral.ts) is one object for every node on the step: its lines once.
    const memo = serviceMap.shared ? share.inputsByMap.get(serviceMap) : undefined
    if (memo !== undefined) {
      share.inputsTaken++
      return memo
    }
    const lines = this.assembleRestoreInput(share, serviceMap)
    if (serviceMap.shared) share.inputsByMap.set(serviceMap, lines)
    return lines
  }

  private assembleRestoreInput(share: PortalRuleShare, serviceMap: ServicePortMap): readonly string[] {
    const last = share.lastInput
    if (last !== null && last.infos === serviceMap.size) {
      let i = 0
      let same = true
      for (const info of serviceMap.values()) {
        if (info.portal !== last.portals[i] || info.ruleCount !== last.counts[i] || info.filterRuleCount !== 0) {
          same = false
          break
        }
        i++
      }
      if (same) {
        share.inputsTaken++
        return last.lines
      }
    }
    const out: string[] = []
    let perNode = false
    for (const table of ["nat", "filter"] as const) {
      out.push(`*${table}`)
      for (const c of USERSPACE_CHAINS) if (c.table === table) out.push(`:${c.chain} - [0:0]`)
      for (let c = 0; c < USERSPACE_CHAINS.length; c++) {
        if (USERSPACE_CHAINS[c].table !== table) continue
        for (const info of serviceMap.values()) {
          const portal = info.portal
          for (let j = 0; j < info.ruleCount; j++) {
            if (portal.chains[j] !== c) continue
            const line = portal.lines[j]
            if (line !== null) out.push(line)
            else {
              out.push(nodePortFilterLine(info))
              perNode = true
            }
          }
        }
      }
      out.push("COMMIT")
    }
    share.inputsAssembled++
    if (!perNode) {
      const portals: PortalRuleSet[] = []
      const counts: number[] = []
      for (const info of serviceMap.values()) {
        portals.push(info.portal)
        counts.push(info.ruleCount)
      }
      share.lastInput = { infos: serviceMap.size, portals, counts, lines: out }
    }
    return out
  }

  // ------------------------------------------------------------------------------ helpers

  /** proxyPorts.AllocateNext, or for the random allocator the port bind(0) would get. */
  allocatePort(protocol: "tcp" | "udp"): number {
    const port = this.allocator.allocateNext()
    if (port !== 0) return port
    const params = this.network.params
    const min = params.ephemeralPortMin
    const count = params.ephemeralPortMax - min + 1
    // inet_csk_find_open_port: a random start, odd ports first for bind() (even ones are left to
    // connect()), then the even ones.
    const start = this.ns.portRng.intBelow(count)
    for (let parity = 1; parity >= 0; parity--) {
      for (let i = 0; i < count; i++) {
        const candidate = min + ((start + i) % count)
        if ((candidate & 1) !== parity) continue
        if (this.reservedPorts.has(candidate)) continue
        if (protocol === "tcp" ? this.tcpPortInUse(candidate) : this.ns.udpSockets.has(candidate)) continue
        this.reservedPorts.add(candidate)
        return candidate
      }
    }
    return -1
  }

  private tcpPortInUse(port: number): boolean {
    if (this.ns.tcpListeners.has(port)) return true
    for (const key of this.ns.tcpConnections.keys()) if (key >>> 16 === port) return true
    return false
  }

  /**
   * PlanNode.isLocal. While replaying, false: every plan step it replays was taken with none of
   * its opened portals on the node's addresses (canTake), so each answer then was false.
   */
  isLocal(address: number | undefined): boolean {
    if (this.replaying) return false
    return address !== undefined && this.ns.localInterface(address) !== undefined
  }

  /** The proxy's ports as `rules` prints them after iptables-save. */
  listing(): string {
    const lines: string[] = ["# userspace proxy (service port -> proxy port -> endpoints, round-robin position)"]
    for (const info of [...this.serviceMap.values()].sort((a, b) => compare(a.name, b.name))) {
      const state = this.lb.services.get(info.name)
      const endpoints = state === undefined || state.endpoints.length === 0 ? "<none>" : state.endpoints.join(",")
      const next = state === undefined || state.endpoints.length === 0 ? "-" : String(state.index)
      const affinity =
        info.affinityType === AffinityType.CLIENT_IP
          ? ` affinity=ClientIP/${state?.ttlSeconds ?? info.stickyMaxAgeSeconds}s clients=${state?.affinityMap?.size ?? 0}`
          : ""
      const portal = `${info.clusterIP}:${info.port}/${info.protocol.toUpperCase()}`
      const nodePort = info.nodePort !== 0 ? ` nodePort=${info.nodePort}` : ""
      lines.push(`${info.name} ${portal}${nodePort} -> :${info.proxyPort} -> ${endpoints} next=${next}${affinity}`)
    }
    return lines.join("\n") + "\n"
  }
}

function newServiceInfo(
  network: object,
  node: PlanNode,
  spec: UserspaceServicePort,
  service: Service,
  port: ServicePort,
  proxyPort: number,
  claims: Map<string, string>,
): UserspaceServiceInfo {
  const portal = portalRuleSet(network, spec, service, port)
  const ruleCount = countPortals(node, spec, claims)
  // The NodePort's filter rule is openPortal's last: written only when no claim cut it off.
  const filterRuleCount = ruleCount > 0 && portal.chains[ruleCount - 1] === CHAIN_INDEX_NON_LOCAL ? 1 : 0
  return new UserspaceServiceInfo(proxyPort, ruleCount, filterRuleCount, portal)
}

/**
 * The shared portal rules of a service port (built once per Service object and port, whatever
 * the node count): openPortal's rules without claims, with the host IP and proxy port as node
 * parameters.
 */
function portalRuleSet(
  network: object,
  spec: UserspaceServicePort,
  service: Service,
  port: ServicePort,
): PortalRuleSet {
  const share = PortalRuleShare.of(network)
  let set = share.get(service, port)
  if (set === undefined) {
    const { name, protocol, clusterIP, externalIPs, loadBalancerIPs } = spec
    set = new PortalRuleSet(share.index(name), spec)
    openPortals(name, protocol, clusterIP, port.port, externalIPs, loadBalancerIPs, port.nodePort ?? 0, set)
    share.put(service, port, set)
  }
  return set
}

/**
 * openPortal's rules of a service port, in order, into the shared set `out` (every portal: a
 * node's claim conflicts only cut how many of them it holds, countPortals): each rule's chain and
 * line, with the node's host IP and proxy port as parameters (`{host}`, `{port:K}`), and the
 * NodePort filter rule (whose match names the proxy port) as null.
 */
function openPortals(
  name: string,
  protocol: "tcp" | "udp",
  clusterIP: string,
  port: number,
  externalIPs: readonly string[],
  loadBalancerIPs: readonly string[],
  nodePort: number,
  out: PortalRuleSet,
): void {
  const proxyPort = portParam(out.k)
  const hostPortal = (ip: string | null, dstLocal: boolean, p: number, chain: number): void => {
    out.add(
      chain,
      `-A ${USERSPACE_CHAINS[chain].chain} ${commonArgs(name, protocol, ip, false, dstLocal, p)} -j DNAT --to-destination ${HOST_PARAM}:${proxyPort}`,
    )
  }
  const containerPortal = (ip: string | null, physdev: boolean, dstLocal: boolean, p: number, chain: number): void => {
    out.add(
      chain,
      `-A ${USERSPACE_CHAINS[chain].chain} ${commonArgs(name, protocol, ip, physdev, dstLocal, p)} -j REDIRECT --to-ports ${proxyPort}`,
    )
  }
  const onePortal = (ip: string, isExternal: boolean): void => {
    containerPortal(ip, isExternal, false, port, CHAIN_INDEX_PORTALS_CONTAINER)
    if (isExternal) {
      containerPortal(ip, false, true, port, CHAIN_INDEX_PORTALS_CONTAINER)
      hostPortal(ip, true, port, CHAIN_INDEX_PORTALS_HOST)
    } else hostPortal(ip, false, port, CHAIN_INDEX_PORTALS_HOST)
  }
  onePortal(clusterIP, false)
  for (const ip of externalIPs) onePortal(ip, true)
  for (const ip of loadBalancerIPs) onePortal(ip, false)
  if (nodePort !== 0) {
    containerPortal(null, false, false, nodePort, CHAIN_INDEX_NODEPORT_CONTAINER)
    hostPortal(null, false, nodePort, CHAIN_INDEX_NODEPORT_HOST)
    out.add(CHAIN_INDEX_NON_LOCAL, null)
  }
}

/**
 * openPortal's rule count on this node (the rules themselves are the shared PortalRuleSet,
 * openPortals): its walk with this node's claims, stopping at the first conflict, per node and
 * port. The count of each portal kind matches what openPortals writes for it.
 */
function countPortals(node: PlanNode, spec: UserspaceServicePort, claims: Map<string, string>): number {
  const { name, protocol, port } = spec
  let count = 0
  // onePortal(clusterIP, false): a container and a host rule.
  if (node.isLocal(spec.clusterAddr) && !claim(claims, spec.clusterIP, port, protocol, name)) return count
  count += 2
  // onePortal(externalIP, true): two container rules and a host rule.
  for (let i = 0; i < spec.externalIPs.length; i++) {
    if (node.isLocal(spec.externalAddrs[i]) && !claim(claims, spec.externalIPs[i], port, protocol, name)) return count
    count += 3
  }
  for (let i = 0; i < spec.loadBalancerIPs.length; i++) {
    if (node.isLocal(spec.loadBalancerAddrs[i]) && !claim(claims, spec.loadBalancerIPs[i], port, protocol, name))
      return count
    count += 2
  }
  if (spec.nodePort !== 0) {
    if (!claim(claims, "", spec.nodePort, protocol, name)) return count
    count += 3 // container, host and the filter rule
  }
  return count
}

/** iptablesCommonPortalArgs. */
function commonArgs(
  name: string,
  protocol: "tcp" | "udp",
  ip: string | null,
  physdev: boolean,
  dstLocal: boolean,
  port: number,
): string {
  let args = `-m comment --comment ${quote(name)} -p ${protocol} -m ${protocol} --dport ${port}`
  if (ip !== null) args += ` -d ${ip}/32`
  if (physdev) args += " -m physdev ! --physdev-is-in"
  if (dstLocal) args += " -m addrtype --dst-type LOCAL"
  return args
}

/** The NodePort's filter rule of `info` on this node: ACCEPT new connections to its proxy port. */
function nodePortFilterLine(info: UserspaceServiceInfo): string {
  return `-A ${CHAIN_NODEPORT_NON_LOCAL} ${commonArgs(info.name, info.protocol, null, false, false, info.proxyPort)} -m state --state NEW -j ACCEPT`
}

/**
 * The portal rules of one service port as openPortal writes them on every node, in order, with the
 * node's values as parameters (netfilter/ext/xt_nat.ts): `{host}` for the host IP, `{port:K}` for
 * the node's proxy port of this service port (K: `k`, the same on every node). A node's
 * ServiceInfo points here and keeps how many of the rules it wrote (a claim conflict cuts openPortal
 * at a portal boundary).
 */
export class PortalRuleSet {
  /** Per rule: its chain (index into USERSPACE_CHAINS). */
  readonly chains: number[] = []
  /** Per rule: its `-A CHAIN ...` line, or null for the NodePort filter rule (written per node). */
  readonly lines: (string | null)[] = []

  constructor(
    /** Node parameter index of this service port's proxy port (NatParams.ports). */
    readonly k: number,
    /** What the Service object says of the port (the same for every node). */
    readonly spec: UserspaceServicePort,
  ) {}

  add(chain: number, line: string | null): void {
    this.chains.push(chain)
    this.lines.push(line)
  }
}

/**
 * What the userspace proxiers of one cluster (one Network) share: the parameter index of each
 * service port name, the portal rule sets (one per Service object and port: a Service write makes a
 * new object, hence new rules, as the proxier's mergeService reopens a changed port), and the last
 * restore input assembled without per-node lines (taken by every node that would assemble the same).
 */
export class PortalRuleShare {
  private static readonly shares = new WeakMap<object, PortalRuleShare>()
  private readonly sets = new WeakMap<Service, Map<ServicePort, PortalRuleSet>>()
  /** Portal rule sets built (once per Service object and port, whatever the node count). */
  built = 0
  /** The restore input of each journal step's service map (deferral.ts), assembled once. */
  readonly inputsByMap = new WeakMap<ServicePortMap, readonly string[]>()
  /** Restore inputs assembled, and taken as another node assembled them. */
  inputsAssembled = 0
  inputsTaken = 0
  lastInput: {
    readonly infos: number
    readonly portals: readonly PortalRuleSet[]
    readonly counts: readonly number[]
    readonly lines: readonly string[]
  } | null = null

  private constructor(private readonly names: ServicePortNames) {}

  static of(cluster: object): PortalRuleShare {
    let share = PortalRuleShare.shares.get(cluster)
    if (share === undefined) {
      share = new PortalRuleShare(ServicePortNames.of(cluster))
      PortalRuleShare.shares.set(cluster, share)
    }
    return share
  }

  /**
   * The node parameter index of a service port name (assigned on first use, kept): the cluster's
   * service port name index, which also indexes the load balancers' states and the service maps.
   */
  index(name: string): number {
    return this.names.index(name)
  }

  get(service: Service, port: ServicePort): PortalRuleSet | undefined {
    return this.sets.get(service)?.get(port)
  }

  put(service: Service, port: ServicePort, set: PortalRuleSet): void {
    let byPort = this.sets.get(service)
    if (byPort === undefined) {
      byPort = new Map()
      this.sets.set(service, byPort)
    }
    byPort.set(port, set)
    this.built++
  }
}

function quote(text: string): string {
  return /[\s"]/.test(text) ? `"${text.replace(/"/g, '\\"')}"` : text
}

/** claimNodePort: the (ip, port, protocol) is this owner's, or a conflict (false). */
function claim(claims: Map<string, string>, ip: string, port: number, protocol: string, owner: string): boolean {
  const key = `${ip}:${port}/${protocol.toUpperCase()}`
  const existing = claims.get(key)
  if (existing === undefined) {
    claims.set(key, owner)
    return true
  }
  return existing === owner
}

function releaseClaims(claims: Map<string, string>, owner: string): void {
  for (const [key, value] of [...claims]) if (value === owner) claims.delete(key)
}

/** sameConfig: protocol, port, nodePort, clusterIP, externalIPs, LB status and affinity type. */
function sameConfig(info: UserspaceServiceInfo, service: Service, port: ServicePort): boolean {
  const protocol = (port.protocol ?? "TCP").toLowerCase()
  if (info.protocol !== protocol || info.port !== port.port || info.nodePort !== (port.nodePort ?? 0)) return false
  if (info.clusterIP !== (service.spec.clusterIP ?? "")) return false
  const external = service.spec.externalIPs ?? []
  if (external.length !== info.externalIPs.length || external.some((ip, i) => ip !== info.externalIPs[i])) return false
  const lb: string[] = []
  for (const ingress of service.status?.loadBalancer?.ingress ?? [])
    if (ingress.ip !== undefined && ingress.ip !== "") lb.push(ingress.ip)
  if (lb.length !== info.loadBalancerIPs.length || lb.some((ip, i) => ip !== info.loadBalancerIPs[i])) return false
  const affinity = service.spec.sessionAffinity === "ClientIP" ? AffinityType.CLIENT_IP : AffinityType.NONE
  return info.affinityType === affinity
}

/** The watched Services by "ns/name", per `listAll` array (the store keeps one until a Service changes): shared by the nodes. */
const watchedServiceMaps = new WeakMap<readonly Service[], ReadonlyMap<string, Service>>()

function watchedServices(services: readonly Service[]): ReadonlyMap<string, Service> {
  let current = watchedServiceMaps.get(services)
  if (current === undefined) {
    const map = new Map<string, Service>()
    for (const service of services) {
      if (!watchedByKubeProxy(service.metadata.labels)) continue
      map.set(nsName(service.metadata), service)
    }
    watchedServiceMaps.set(services, map)
    current = map
  }
  return current
}

/** Each "ns/name" -> Service map's keys, sorted (the maps are shared: watchedServices). */
const sortedKeysOf = new WeakMap<ReadonlyMap<string, Service>, readonly string[]>()

function sortedKeys(map: ReadonlyMap<string, Service>): readonly string[] {
  let keys = sortedKeysOf.get(map)
  if (keys === undefined) {
    keys = [...map.keys()].sort(compare)
    sortedKeysOf.set(map, keys)
  }
  return keys
}

/** The union of two sorted lists of distinct keys, sorted (as sorting the set of both). */
function mergeSorted(a: readonly string[], b: readonly string[]): readonly string[] {
  if (a.length === 0) return b
  if (b.length === 0 || a === b) return a
  const out: string[] = []
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const c = compare(a[i], b[j])
    if (c <= 0) out.push(a[i++])
    else out.push(b[j++])
    if (c === 0) j++
  }
  while (i < a.length) out.push(a[i++])
  while (j < b.length) out.push(b[j++])
  return out
}

/**
 * Each Service object's ports as the proxier keeps them, in spec.ports order, or null for a Service
 * the proxier skips (shouldSkipService): built once, shared by the nodes.
 */
const servicePortsOf = new WeakMap<Service, readonly UserspaceServicePort[] | null>()

function servicePorts(key: string, service: Service): readonly UserspaceServicePort[] | null {
  let ports = servicePortsOf.get(service)
  if (ports !== undefined) return ports
  if (shouldSkipService(service)) {
    servicePortsOf.set(service, null)
    return null
  }
  const clusterIP = service.spec.clusterIP ?? ""
  const externalIPs = service.spec.externalIPs ?? []
  const loadBalancerIPs: string[] = []
  for (const ingress of service.status?.loadBalancer?.ingress ?? [])
    if (ingress.ip !== undefined && ingress.ip !== "") loadBalancerIPs.push(ingress.ip)
  const affinityType = service.spec.sessionAffinity === "ClientIP" ? AffinityType.CLIENT_IP : AffinityType.NONE
  const stickyMaxAgeSeconds =
    affinityType === AffinityType.CLIENT_IP
      ? (service.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800)
      : 0
  const clusterAddr = parseIpv4(clusterIP)
  const externalAddrs = externalIPs.map((ip) => parseIpv4(ip))
  const loadBalancerAddrs = loadBalancerIPs.map((ip) => parseIpv4(ip))
  ports = (service.spec.ports ?? []).map((port) => ({
    name: servicePortName(key, port.name ?? ""),
    protocol: (port.protocol ?? "TCP").toLowerCase() === "udp" ? ("udp" as const) : ("tcp" as const),
    proxyable: SERVICE_CHANGE_PROTOCOLS.has((port.protocol ?? "TCP").toUpperCase()),
    clusterIP,
    port: port.port,
    nodePort: port.nodePort ?? 0,
    externalIPs,
    loadBalancerIPs,
    affinityType,
    stickyMaxAgeSeconds,
    clusterAddr,
    externalAddrs,
    loadBalancerAddrs,
  }))
  servicePortsOf.set(service, ports)
  return ports
}

/** util.BuildPortsToEndpointsMap: port name -> "ip:port" of every ready address. */
export function buildPortsToEndpointsMap(endpoints: Endpoints): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const subset of endpoints.subsets ?? []) {
    for (const port of subset.ports ?? []) {
      for (const address of subset.addresses ?? []) {
        if (address.ip === "" || !(port.port > 0)) continue
        // The simulated proxier is IPv4 only: an address that is not IPv4 is not dialled.
        if (parseIpv4(address.ip) === undefined) continue
        const name = port.name ?? ""
        let list = out.get(name)
        if (list === undefined) {
          list = []
          out.set(name, list)
        }
        list.push(`${address.ip}:${port.port}`)
      }
    }
  }
  return out
}

/**
 * The cluster's Endpoints writes ("ns/name" per write, in order), one per API store, read by every
 * node's proxier from its own position; and each Endpoints object's ports map, built once and
 * shared by the nodes (the load balancer copies what it keeps: roundrobin.ts shuffles a copy).
 */
export class EndpointsFeed implements ApiListener {
  private static readonly feeds = new WeakMap<ApiStore, EndpointsFeed>()
  readonly keys: string[] = []
  /** Each "ns/name"'s index (in the order first written), and the names by index. */
  private readonly indexes = new Map<string, number>()
  private readonly names: string[] = []
  private readonly parsed = new WeakMap<Endpoints, PortsToEndpoints>()
  /** Ports maps built (once per Endpoints object, whatever the node count). */
  built = 0

  private constructor(store: ApiStore) {
    // The Endpoints written before the feed existed (the informer's initial list).
    for (const endpoints of store.listAll("Endpoints")) this.push(nsName(endpoints.metadata))
    store.addListener(this)
  }

  private push(key: string): void {
    this.keys.push(key)
    if (!this.indexes.has(key)) {
      this.indexes.set(key, this.names.length)
      this.names.push(key)
    }
  }

  /** The index of an "ns/name" in the feed (every key read from `keys` has one). */
  index(key: string): number {
    const k = this.indexes.get(key)
    if (k === undefined) throw new Error(`EndpointsFeed: ${key} was never written`)
    return k
  }

  keyOf(index: number): string {
    return this.names[index]
  }

  static of(store: ApiStore): EndpointsFeed {
    let feed = EndpointsFeed.feeds.get(store)
    if (feed === undefined) {
      feed = new EndpointsFeed(store)
      EndpointsFeed.feeds.set(store, feed)
    }
    return feed
  }

  onEndpointsChanged(namespace: string, name: string): void {
    this.push(`${namespace}/${name}`)
  }

  private lastBatch: EndpointsBatch | null = null

  /**
   * The Endpoints written at positions [from, end) of the feed, each once, in namespace/name order,
   * with their key index and the ports map of the object the store holds now (undefined: deleted or
   * not watched by kube-proxy). Kept for the next node reading the same writes at the same store
   * revision (the nodes woken by one write read it at one instant).
   */
  batch(store: ApiStore, from: number, end: number): EndpointsBatch {
    const last = this.lastBatch
    if (last !== null && last.from === from && last.end === end && last.revision === store.resourceVersion) return last
    const unique = new Set<string>()
    for (let i = from; i < end; i++) unique.add(this.keys[i])
    const keys = [...unique].sort(compare)
    const indexes: number[] = []
    const ports: (PortsToEndpoints | undefined)[] = []
    for (const key of keys) {
      indexes.push(this.index(key))
      const slash = key.indexOf("/")
      const endpoints = store.get("Endpoints", key.slice(0, slash), key.slice(slash + 1))
      ports.push(
        endpoints === undefined || !watchedByKubeProxy(endpoints.metadata.labels) ? undefined : this.ports(endpoints),
      )
    }
    const batch = { from, end, revision: store.resourceVersion, keys, indexes, ports }
    this.lastBatch = batch
    return batch
  }

  /** buildPortsToEndpointsMap of this Endpoints object, shared. */
  ports(endpoints: Endpoints): PortsToEndpoints {
    let ports = this.parsed.get(endpoints)
    if (ports === undefined) {
      ports = buildPortsToEndpointsMap(endpoints)
      this.parsed.set(endpoints, ports)
      this.built++
    }
    return ports
  }
}

/** EndpointsFeed.batch: the writes of a feed range, in order, as the store holds them at `revision`. */
export interface EndpointsBatch {
  readonly from: number
  readonly end: number
  readonly revision: number
  readonly keys: readonly string[]
  readonly indexes: readonly number[]
  readonly ports: readonly (PortsToEndpoints | undefined)[]
}

function samePorts(a: PortsToEndpoints, b: PortsToEndpoints): boolean {
  if (a.size !== b.size) return false
  for (const [name, list] of a) {
    const other = b.get(name)
    if (other === undefined || other.length !== list.length || other.some((e, i) => e !== list[i])) return false
  }
  return true
}

function nsName(meta: { readonly namespace?: string; readonly name: string }): string {
  return `${meta.namespace ?? "default"}/${meta.name}`
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
