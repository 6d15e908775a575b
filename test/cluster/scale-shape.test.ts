/**
 * The shape of the cost as the cluster grows (issue 10), with counts, not timings: kube-proxy's
 * per-Service work is shared between nodes (shared-service-ports.ts, IptablesFragments,
 * RuleParseCache), so what is compiled and parsed grows with Services and endpoints, not with
 * Services x nodes. The same scenario at 2 and 6 nodes (one replica per Service, so each Service
 * has exactly one hosting node whatever the node count) must compile about the same number of
 * fragments and per-Service views; without sharing both would triple. Likewise the rules and
 * chains the nodes' tables hold: one object each, shared (table.ts, rule-cache.ts), with only the
 * counters of the chains that carried traffic per node (counters.ts).
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { ChangeLog } from "../../src/cluster/kube-proxy.ts"
import { Histogram } from "../../src/stats/histogram.ts"
import { World } from "../../src/cluster/index.ts"
import { clusterScaleYaml } from "../../bench/cluster-scale.ts"
import { specFromText } from "./helpers.ts"
import { TableId } from "../../src/netfilter/constants.ts"
import { NftablesBackend } from "../../src/cluster/backend-nftables.ts"
import { nftPrintStats } from "../../src/proxy/nftables/proxier.ts"
import { SharedProxyState } from "../../src/cluster/proxy-backends.ts"
import { IpvsBackend, ipvsAddressBlocks, ipvsTableSharing } from "../../src/cluster/backend-ipvs.ts"
import { KUBE_LOOP_BACK } from "../../src/proxy/ipvs/names.ts"
import { sharedZeroStateIntact } from "../../src/netfilter/ipvs/dest.ts"
import { sharedIpvsStateIntact } from "../../src/netfilter/ipvs/ipvs.ts"
import { UserspaceBackend } from "../../src/cluster/backend-userspace.ts"
import { EndpointsFeed, PortalRuleShare, USERSPACE_CHAINS } from "../../src/proxy/userspace/proxier.ts"
import { ServicePortNames } from "../../src/proxy/userspace/roundrobin.ts"
import { initialSchedStatesIntact } from "../../src/netfilter/ipvs/schedulers.ts"

interface Shape {
  readonly nodes: number
  readonly fragmentsCompiled: number
  readonly selectionsMade: number
  /** Service ports walked to select fragments (IptablesFragments.portsWalked). */
  readonly portsWalked: number
  /** Node variants of service ports looked at (IptablesFragments.variantsVisited). */
  readonly variantsVisited: number
  /** Fragments compiled only for a node's per-port views. */
  readonly viewFragmentsCompiled: number
  /** Nodes' selections patched with fragments of their own. */
  readonly nodeSelectionsPatched: number
  readonly serviceBuilds: number
  readonly snapshots: number
  readonly nodeViews: number
  readonly linesShared: number
  readonly blocksShared: number
  readonly blocksRestored: number
  /** Distinct iptables chain objects over every node's tables (shared chains counted once). */
  readonly distinctChains: number
  /** Distinct rule objects over every node's tables. */
  readonly distinctRules: number
  /** Rules in the tables of one node (what it sees, shared or not). */
  readonly rulesPerNode: number
  /** Chains holding per-node counters, over all nodes. */
  readonly counterChains: number
  readonly syncs: number
  readonly completed: number
  /** Service/EndpointSlice writes announced, kube-proxies visited for them, and told (World.proxyNotices). */
  readonly proxyWrites: number
  readonly proxiesVisited: number
  readonly proxiesTold: number
}

function tableShape(world: World): Pick<Shape, "distinctChains" | "distinctRules" | "rulesPerNode" | "counterChains"> {
  const chains = new Set<object>()
  const rules = new Set<object>()
  let rulesSeen = 0
  let counterChains = 0
  for (const n of world.nodes.values()) {
    for (const t of [TableId.RAW, TableId.MANGLE, TableId.NAT, TableId.FILTER])
      for (const c of n.filter.table(t).chains) {
        chains.add(c)
        rulesSeen += c.rules.length
        for (const r of c.rules) rules.add(r)
      }
    counterChains += n.filter.counters.chains
  }
  return {
    distinctChains: chains.size,
    distinctRules: rules.size,
    rulesPerNode: rulesSeen / world.nodes.size,
    counterChains,
  }
}

/** The small generated cluster every shape here is measured on, at `nodes` nodes. */
/** The small cluster of `smallClusterSpec`, built and run to the end of its scenario. */
function runSmallCluster(nodes: number, mode?: "nftables" | "ipvs" | "userspace"): World {
  const spec = smallClusterSpec(nodes, mode)
  const world = new World(spec, spec.seed)
  world.scheduler.run({ timeNsMax: spec.durationNs, eventCountMax: Number.MAX_SAFE_INTEGER })
  return world
}

function smallClusterSpec(nodes: number, mode?: "nftables" | "ipvs" | "userspace") {
  return specFromText(
    clusterScaleYaml({
      nodes,
      services: 12,
      pods: 12,
      clients: 2,
      workloads: 2,
      count: 2,
      duration: "2s",
      ...(mode === undefined ? {} : { mode }),
    }),
  )
}

function shape(nodes: number): Shape {
  const world = runSmallCluster(nodes)
  const shared = world.sharedProxy.iptables
  let syncs = 0
  for (const n of world.nodes.values()) syncs += n.proxy.syncs.length
  let completed = 0
  for (const w of world.workloads) completed += world.collector.results(w.index, []).requests.completed
  return {
    nodes,
    fragmentsCompiled: shared.fragments.compiled,
    selectionsMade: shared.fragments.selectionsMade,
    portsWalked: shared.fragments.portsWalked,
    variantsVisited: shared.fragments.variantsVisited,
    viewFragmentsCompiled: shared.fragments.viewFragmentsCompiled,
    nodeSelectionsPatched: shared.fragments.nodeSelectionsPatched,
    serviceBuilds: shared.servicePorts.serviceBuilds,
    snapshots: shared.servicePorts.snapshotsBuilt,
    nodeViews: shared.servicePorts.nodeViews,
    linesShared: world.ruleCache.hits,
    blocksShared: world.ruleCache.blocksShared,
    blocksRestored: world.ruleCache.blocksRestored,
    ...tableShape(world),
    syncs,
    completed,
    proxyWrites: world.proxyNotices.writes,
    proxiesVisited: world.proxyNotices.visited,
    proxiesTold: world.proxyNotices.told,
  }
}

let shapes: { small: Shape; large: Shape } | null = null
/** The two runs, once for both tests (they cost most of this file's time). */
function shapes2and6(): { small: Shape; large: Shape } {
  shapes ??= { small: shape(2), large: shape(6) }
  return shapes
}

describe("cluster scale: per-Service work is shared between nodes", () => {
  it("compiles fragments and builds Service views per Service, not per node", () => {
    const { small, large } = shapes2and6()
    // The runs do real work: every node synced, requests were answered.
    expect(small.syncs).toBeGreaterThanOrEqual(2)
    expect(large.syncs).toBeGreaterThanOrEqual(6)
    expect(small.completed).toBeGreaterThan(0)
    expect(large.completed).toBe(small.completed)
    expect(small.fragmentsCompiled).toBeGreaterThanOrEqual(12)
    // Three times the nodes: about the same shared work (unshared, it would be ~3x).
    expect(large.fragmentsCompiled).toBeLessThanOrEqual(small.fragmentsCompiled * 1.5)
    expect(large.serviceBuilds).toBeLessThanOrEqual(small.serviceBuilds * 1.5)
    // The walk over the service ports (which fragment, which view) is made once per port list and
    // state; nodes syncing the same list (no local endpoints) take it (unshared: one per sync).
    expect(small.selectionsMade).toBeGreaterThan(0)
    expect(large.selectionsMade).toBeLessThan(large.syncs)
    // A node's whole port list is assembled at most once per state it syncs against (iptables
    // mode takes the shared list plus the node's variants instead: none).
    expect(large.nodeViews).toBeLessThanOrEqual(large.syncs)
    // Every node hosts endpoints here (12 Services, one pod each, spread over the nodes), and
    // none of them matter to its rules (Cluster policies): the walk over the service ports is
    // made once per cluster state, whatever the node count (a node list per hosting node made
    // it grow with the nodes: 4 selections at 2 nodes, 8 at 6, 20 at 18), and each node looks
    // only at its own variants (the ports of the Services it hosts endpoints of).
    expect(large.portsWalked).toBeGreaterThan(0)
    expect(large.portsWalked).toBeLessThanOrEqual(small.portsWalked)
    expect(large.selectionsMade).toBeLessThanOrEqual(small.selectionsMade)
    expect(large.variantsVisited).toBeGreaterThan(0)
    expect(large.variantsVisited).toBeLessThanOrEqual(small.variantsVisited * 1.5)
    expect(large.nodeSelectionsPatched).toBe(0)
    // The other nodes take the tables the first node restored from the same lines onto the same
    // table (RuleParseCache.restored), or at least its parsed lines.
    expect(large.blocksShared + large.linesShared).toBeGreaterThan(small.blocksShared + small.linesShared)
    // A write is announced only to the kube-proxies it changes anything for (no run requested
    // yet): visiting every node per write (writes x nodes, 150 million visits at 30,000 writes and
    // 5,000 nodes) would make visits exceed the calls made.
    expect(large.proxyWrites).toBeGreaterThan(12)
    expect(large.proxiesTold).toBeGreaterThanOrEqual(6)
    expect(large.proxiesVisited).toBe(large.proxiesTold)
    expect(large.proxiesVisited).toBeLessThan(large.proxyWrites * 6)
  })

  it("stores each rule once, not once per node (per-node storage is the node's counters)", () => {
    const { small, large } = shapes2and6()
    // Every node sees the whole table...
    expect(large.rulesPerNode).toBeGreaterThanOrEqual(small.rulesPerNode)
    expect(small.rulesPerNode).toBeGreaterThan(12 * 4)
    // ...but three times the nodes hold about the same rule and chain objects (one copy per node
    // would triple them: 6 x rulesPerNode), and restore about the same blocks.
    expect(large.distinctRules).toBeLessThanOrEqual(small.distinctRules * 1.5)
    expect(large.distinctRules).toBeLessThan(2 * large.rulesPerNode)
    expect(large.distinctChains).toBeLessThanOrEqual(small.distinctChains * 1.5)
    expect(large.blocksRestored).toBeLessThanOrEqual(small.blocksRestored * 1.5)
    // Counters are allocated for the chains that carried packets only.
    expect(large.counterChains).toBeGreaterThan(0)
    expect(large.counterChains).toBeLessThan(large.distinctChains)
  })
})

interface PodShape {
  readonly fingerprint: string
  readonly completed: number
  readonly pods: number
  readonly podNetworksBuilt: number
  readonly namespaces: number
  readonly nodeRoutes: number
  readonly nodesExamined: number
  readonly nodesListed: number
  /** Pods whose eth0 sent or received a packet (pods with a network of their own). */
  readonly podsReached: number
  /** Every node's `ip route` listing, in node order. */
  readonly routeListings: readonly (readonly string[])[]
}

/** Nodes, pods that carry no traffic (bare), a few clients: what gets built, scanned and routed. */
function podShape(nodes: number, lazyPods: boolean, cni: "bridge" | "aws-vpc" = "bridge"): PodShape {
  const spec = specFromText(
    clusterScaleYaml({
      nodes,
      services: 4,
      pods: 4,
      clients: 2,
      workloads: 2,
      count: 2,
      duration: "2s",
      barePods: 30,
      cni,
    }),
  )
  const world = new World(spec, spec.seed, { lazyPods })
  world.scheduler.run({ timeNsMax: spec.durationNs, eventCountMax: Number.MAX_SAFE_INTEGER })
  let completed = 0
  for (const w of world.workloads) completed += world.collector.results(w.index, []).requests.completed
  let namespaces = 0
  for (const ns of world.network.namespaces) if (ns !== undefined) namespaces++
  let nodeRoutes = 0
  for (const n of world.nodes.values()) nodeRoutes += n.net.ns.routes.routes.length
  return {
    fingerprint: world.scheduler.fingerprint(),
    completed,
    pods: world.controlPlane.store.count("Pod"),
    podNetworksBuilt: world.clusterNet.podsBuilt,
    namespaces,
    nodeRoutes,
    nodesExamined: world.controlPlane.schedulerNodesExamined,
    nodesListed: world.controlPlane.store.listedObjects.Node,
    podsReached: [...world.pods.values()].filter((p) => {
      const ns = p.builtNs
      if (p.net === null || ns === null) return false
      const eth0 = ns.interfaceByName("eth0")
      return eth0 !== null && eth0.rxPackets + eth0.txPackets > 0
    }).length,
    routeListings: [...world.nodes.values()].map((n) => n.net.ns.formatRoutes()),
  }
}

describe("cluster scale: pods, routes and placement cost what carries traffic", () => {
  it("builds only the pods packets reach, with the results of building all; routes and placement per node, per pod", () => {
    const lazy = podShape(6, true)
    const eager = podShape(6, false)
    // Same simulation either way (pod networks are built under reserved ids, servers at reserved indices).
    expect(lazy.fingerprint).toBe(eager.fingerprint)
    expect(lazy.completed).toBe(eager.completed)
    expect(lazy.completed).toBeGreaterThan(0)
    // 4 echo pods + 30 bare + 2 clients: eager builds all; lazy only the clients and the echo pods
    // the requests reached (the bare pods are never built).
    expect(eager.podNetworksBuilt).toBe(lazy.pods)
    expect(lazy.podNetworksBuilt).toBeLessThanOrEqual(2 + 4)
    expect(lazy.namespaces).toBe(eager.namespaces - (eager.podNetworksBuilt - lazy.podNetworksBuilt))
    // Each node holds its own few routes; the routes to the other nodes' pod CIDRs are shared
    // (nodes x nodes per-node copies would be 6 x 5 more).
    const perNode = lazy.nodeRoutes / 6
    expect(perNode).toBeLessThanOrEqual(4)
    // kube-scheduler: one node looked at per placement (the heap's top), the node list read once.
    expect(lazy.nodesExamined).toBe(lazy.pods)
    expect(lazy.nodesListed).toBe(6)
  })

  it("aws-vpc: builds the pods a packet reached, lists and routes as building all", () => {
    const lazy = podShape(6, true, "aws-vpc")
    const eager = podShape(6, false, "aws-vpc")
    expect(lazy.fingerprint).toBe(eager.fingerprint)
    expect(lazy.completed).toBe(eager.completed)
    expect(lazy.completed).toBeGreaterThan(0)
    // Eager builds all 36 pods; lazy exactly those packets reached (the clients and the echo pods
    // the requests went to: a node routing a packet to a pod's address builds it), no other.
    expect(eager.podNetworksBuilt).toBe(lazy.pods)
    expect(lazy.podsReached).toBe(eager.podsReached)
    expect(lazy.podNetworksBuilt).toBe(eager.podsReached)
    expect(lazy.podNetworksBuilt).toBeLessThanOrEqual(2 + 4)
    expect(lazy.namespaces).toBe(eager.namespaces - (eager.podNetworksBuilt - lazy.podNetworksBuilt))
    // Each node lists every pod's host route, built or not, in the order the pods got addresses.
    expect(lazy.routeListings).toEqual(eager.routeListings)
    expect(lazy.nodeRoutes).toBe(eager.nodeRoutes)
    expect(eager.nodeRoutes).toBe(6 * 2 + lazy.pods)
  })
})

interface NftShape {
  readonly nodes: number
  /** Distinct chain / rule objects over every node's committed `kube-proxy` table. */
  readonly distinctChains: number
  readonly distinctRules: number
  /** Chains and rules in one node's committed table (what it sees, shared or not). */
  readonly chainsPerNode: number
  readonly rulesPerNode: number
  /** Distinct rule specs over every node's proxier table, and per node. */
  readonly distinctSpecs: number
  readonly specsPerNode: number
  readonly syncs: number
  readonly completed: number
  /** Shared compile (NftSharedSync): transactions compiled, taken from another node, compiled by a node on its own. */
  readonly transactionsCompiled: number
  readonly transactionsShared: number
  readonly ownCompiles: number
  /** Shared full syncs' whole operation lists built for a node (NftSharedSync.wholeListsBuilt). */
  readonly wholeListsBuilt: number
  /** JSON texts of nodes' own port variants built by the change tracking (nftPrintStats). */
  readonly nodePortsPrinted: number
  /** Distinct committed kernel tables / proxier table states over every node (by identity). */
  readonly distinctKernelTables: number
  readonly distinctProxierStates: number
  /** Transactions applied to a kernel table / proxier table, and taken from another node's application. */
  readonly kernelTransitionsApplied: number
  readonly kernelTransitionsShared: number
  readonly proxierTransitionsApplied: number
  readonly proxierTransitionsShared: number
  /** Node-local set instances (`nodeport-ips`) over every node, and the distinct ones. */
  readonly localSets: number
  /** Every node's listed `nodeport-ips` holds one IP, a different one on every node (its own). */
  readonly listsOwnIp: boolean
  readonly fingerprint: string
}

/** The same scenario in nftables mode: what the nodes' tables hold, counted by object identity. */
function nftShape(nodes: number, shareTransactions = true): NftShape {
  const descriptor = Object.getOwnPropertyDescriptor(SharedProxyState.prototype, "nftablesSync")
  if (descriptor === undefined) throw new Error("SharedProxyState.nftablesSync")
  // Without the shared compile: every node compiles its own transactions (the reference).
  if (!shareTransactions)
    Object.defineProperty(SharedProxyState.prototype, "nftablesSync", { get: () => undefined, configurable: true })
  let world: World
  const printedBefore = nftPrintStats.nodePortsPrinted
  try {
    world = runSmallCluster(nodes, "nftables")
  } finally {
    Object.defineProperty(SharedProxyState.prototype, "nftablesSync", descriptor)
  }
  const chains = new Set<object>()
  const rules = new Set<object>()
  const specs = new Set<object>()
  let chainsSeen = 0
  let rulesSeen = 0
  let specsSeen = 0
  let syncs = 0
  const kernelTables = new Set<object>()
  const proxierStates = new Set<object>()
  let localSets = 0
  let listsOwnIp = true
  const listedIps = new Set<string>()
  for (const n of world.nodes.values()) {
    const backend = n.proxy.backend
    if (!(backend instanceof NftablesBackend)) throw new Error("expected nftables mode")
    syncs += n.proxy.syncs.length
    if (backend.nft.ruleset.table !== null) kernelTables.add(backend.nft.ruleset.table)
    proxierStates.add(backend.proxier.table.sharedState)
    localSets += backend.nft.ruleset.localSetCount
    const listed = /set nodeport-ips \{[^}]*elements = \{ ([^}]*) \}/.exec(backend.rules(false))
    if (listed === null || listedIps.has(listed[1])) listsOwnIp = false
    else listedIps.add(listed[1])
    const table = backend.nft.ruleset.table
    if (table === null) continue
    for (const c of table.chains.values()) {
      chains.add(c)
      chainsSeen++
      for (const r of c.rules) rules.add(r)
      rulesSeen += c.rules.length
    }
    const proxierTable = backend.proxier.table
    for (const name of proxierTable.chainNames())
      for (const r of proxierTable.rules(name)) {
        specs.add(r)
        specsSeen++
      }
  }
  let completed = 0
  for (const w of world.workloads) completed += world.collector.results(w.index, []).requests.completed
  return {
    nodes,
    distinctChains: chains.size,
    distinctRules: rules.size,
    chainsPerNode: chainsSeen / world.nodes.size,
    rulesPerNode: rulesSeen / world.nodes.size,
    distinctSpecs: specs.size,
    specsPerNode: specsSeen / world.nodes.size,
    syncs,
    completed,
    transactionsCompiled: shareTransactions ? world.sharedProxy.nftablesSync.compiledCount : 0,
    transactionsShared: shareTransactions ? world.sharedProxy.nftablesSync.sharedCount : 0,
    ownCompiles: shareTransactions ? world.sharedProxy.nftablesSync.ownCount : 0,
    wholeListsBuilt: shareTransactions ? world.sharedProxy.nftablesSync.wholeListsBuilt : 0,
    nodePortsPrinted: nftPrintStats.nodePortsPrinted - printedBefore,
    distinctKernelTables: kernelTables.size,
    distinctProxierStates: proxierStates.size,
    kernelTransitionsApplied: world.sharedProxy.nftables.transitionsApplied,
    kernelTransitionsShared: world.sharedProxy.nftables.transitionsShared,
    proxierTransitionsApplied: shareTransactions ? world.sharedProxy.nftablesSync.transitions.applied : 0,
    proxierTransitionsShared: shareTransactions ? world.sharedProxy.nftablesSync.transitions.shared : 0,
    localSets,
    listsOwnIp,
    fingerprint: world.scheduler.fingerprint(),
  }
}

const nftShapes = new Map<number, NftShape>()
/** nftShape(nodes), once per node count for the tests below (shared compile on). */
function nftShapeOf(nodes: number): NftShape {
  let shape = nftShapes.get(nodes)
  if (shape === undefined) {
    shape = nftShape(nodes)
    nftShapes.set(nodes, shape)
  }
  return shape
}

describe("cluster scale: nftables mode shares the kube-proxy table between nodes", () => {
  it("holds each chain, rule and rule spec once, not once per node", () => {
    const small = nftShapeOf(2)
    const large = nftShapeOf(6)
    expect(small.syncs).toBeGreaterThanOrEqual(2)
    expect(large.syncs).toBeGreaterThanOrEqual(6)
    expect(small.completed).toBeGreaterThan(0)
    expect(large.completed).toBe(small.completed)
    // Every node sees the whole table (12 Services: a service and an endpoint chain each at least)...
    expect(small.chainsPerNode).toBeGreaterThan(24)
    expect(large.chainsPerNode).toBe(small.chainsPerNode)
    expect(large.rulesPerNode).toBe(small.rulesPerNode)
    // ...but three times the nodes hold about the same objects: a node's own chains are the two
    // that read its `nodeport-ips` set (`services`, `nodeport-endpoints-check`); one copy per node
    // would be 6 x chainsPerNode.
    expect(large.distinctChains - small.distinctChains).toBeLessThanOrEqual(2 * (large.nodes - small.nodes))
    expect(large.distinctRules - small.distinctRules).toBeLessThanOrEqual(4 * (large.nodes - small.nodes))
    expect(large.distinctChains).toBeLessThan(1.5 * large.chainsPerNode)
    // The proxiers' own view of the table: one spec object per distinct rule.
    expect(large.distinctSpecs).toBeLessThanOrEqual(small.distinctSpecs + 2 * (large.nodes - small.nodes))
    expect(large.distinctSpecs).toBeLessThan(1.5 * large.specsPerNode)
  })

  it("compiles each transaction once for the nodes with the same view, with the results of compiling per node", () => {
    const small = nftShapeOf(2)
    const large = nftShapeOf(6)
    // Every node hosts endpoints of Cluster-policy Services only: its transactions are the shared
    // list's, compiled once per cluster state whatever the node count (per node: one per sync).
    expect(small.transactionsCompiled).toBeGreaterThan(0)
    expect(large.transactionsCompiled).toBe(small.transactionsCompiled)
    expect(large.ownCompiles).toBe(0)
    expect(large.transactionsShared).toBe(large.syncs - large.transactionsCompiled)
    // A node taking a shared full sync applies its parts: it never copies the whole operation list
    // (setup + every shared operation, per node and full sync: 512 MB of the 4.4 GB allocated at the
    // medium point, and held by every sync in flight until its end).
    expect(large.wholeListsBuilt).toBe(0)
    // Nor does its change tracking print the ports of the Services it hosts to compare them with
    // the last sync's (jsonEqual): 8 s of a large-point CPU profile and their garbage, per node.
    expect(large.nodePortsPrinted).toBe(0)
    // Same simulation as compiling on every node.
    expect(nftShape(6, false).fingerprint).toBe(large.fingerprint)
  })

  it("holds one table per cluster state, applied once per distinct transition; the node's IPs per node", () => {
    const small = nftShapeOf(2)
    const large = nftShapeOf(6)
    // Every node ends in the same state: one kernel table and one proxier state for all of them
    // (one copy per node would be 6).
    expect(large.distinctKernelTables).toBe(1)
    expect(large.distinctProxierStates).toBe(1)
    // Each transaction runs once per distinct (table, text), whatever the node count; every other
    // node's application takes the result.
    expect(large.kernelTransitionsApplied).toBe(small.kernelTransitionsApplied)
    expect(large.proxierTransitionsApplied).toBe(small.proxierTransitionsApplied)
    expect(large.kernelTransitionsShared).toBeGreaterThan(small.kernelTransitionsShared)
    expect(large.proxierTransitionsShared).toBeGreaterThan(small.proxierTransitionsShared)
    // Per node: its `nodeport-ips` instance (its IP), as `nft list table` prints it on that node.
    expect(large.localSets).toBe(large.nodes)
    expect(small.listsOwnIp && large.listsOwnIp).toBe(true)
  })
})

interface IpvsShape {
  readonly nodes: number
  /** Virtual servers (and real servers) each node's programmed state holds. */
  readonly virtualServersPerNode: number
  readonly realServersPerNode: number
  /** Distinct virtual / real server objects over every node's programmed state. */
  readonly distinctVirtualServers: number
  readonly distinctRealServers: number
  /** Distinct set contents over every node's applied ipsets (KUBE-LOOP-BACK apart: its local endpoints). */
  readonly distinctSetContents: number
  readonly setsPerNode: number
  /** Shared compile: fragments compiled, plans computed. */
  readonly fragmentsCompiled: number
  readonly plansMade: number
  /** Virtual servers in the nodes' kernel IPVS (one per node: kernel state is per node). */
  readonly kernelServicesPerNode: number
  /**
   * Kernel definition objects over every node (ipvs.ts, dest.ts, schedulers.ts, ipset.ts): distinct
   * dest lists and scheduler states of the kernel virtual services, distinct kernel ipset contents
   * (KUBE-LOOP-BACK apart), and nodes holding connection-count columns of their own.
   */
  readonly kernelDestLists: number
  readonly kernelSchedStates: number
  readonly kernelSetContents: number
  readonly kernelSetsPerNode: number
  readonly nodesWithDestState: number
  /** Nodes whose kernel IPVS created a connection. */
  readonly nodesWithConnections: number
  /** Of those, the nodes still holding shared kernel tables (no netlink change since their traffic). */
  readonly nodesWithConnectionsSharingTables: number
  /**
   * Over all nodes: virtual services and real servers their IPVS scheduled connections to (ipvsadm
   * --stats Conns > 0), and the per-node traffic records held (Ipvs.servicesWithState, counts.size).
   */
  readonly servicesScheduledTo: number
  readonly destsScheduledTo: number
  readonly serviceRecords: number
  readonly destRecords: number
  /**
   * Kernel control-plane tables (ipvs.ts IpvsTables): distinct VirtualService objects and dest
   * column objects over every node, nodes whose tables are shared, and the table states built by
   * applying a plan (the others adopted) during this run.
   */
  readonly kernelServiceObjects: number
  readonly kernelDestColumns: number
  readonly nodesSharingTables: number
  readonly tablesBuilt: number
  /**
   * kube-ipvs0 addresses (netns.ts AddressBlock): distinct block objects the nodes hold, nodes
   * holding a shared block, nodes with their own copy, and blocks computed during this run.
   */
  readonly distinctAddressBlocks: number
  readonly nodesSharingAddresses: number
  readonly nodesOwningAddresses: number
  readonly addressBlocksBuilt: number
  readonly addressesPerNode: number
  readonly syncs: number
  readonly completed: number
}

/** The same scenario in IPVS mode: the proxier's definitions over all nodes, by object identity. */
function ipvsShape(nodes: number): IpvsShape {
  const builtBefore = ipvsTableSharing.built
  const blocksBefore = ipvsAddressBlocks.built
  const addressBlocks = new Set<object>()
  let nodesSharingAddresses = 0
  let nodesOwningAddresses = 0
  let addressesSeen = 0
  const world = runSmallCluster(nodes, "ipvs")
  const serviceObjects = new Set<object>()
  const destColumns = new Set<object>()
  let nodesSharingTables = 0
  const vss = new Set<object>()
  const rss = new Set<object>()
  const sets = new Set<object>()
  let vsSeen = 0
  let rsSeen = 0
  let setsSeen = 0
  let kernelServices = 0
  const destLists = new Set<object>()
  const schedStates = new Set<object>()
  const kernelSets = new Set<object>()
  let kernelSetsSeen = 0
  let nodesWithDestState = 0
  let nodesWithConnections = 0
  let nodesWithConnectionsSharingTables = 0
  let servicesScheduledTo = 0
  let destsScheduledTo = 0
  let serviceRecords = 0
  let destRecords = 0
  let syncs = 0
  let fragmentsCompiled = 0
  let plansMade = 0
  for (const n of world.nodes.values()) {
    const backend = n.proxy.backend
    if (!(backend instanceof IpvsBackend) || backend.sharedCompile === null)
      throw new Error("expected shared IPVS mode")
    syncs += n.proxy.syncs.length
    for (const vs of backend.programmedState.virtualServers.values()) {
      vss.add(vs)
      vsSeen++
      for (const rs of vs.realServers) rss.add(rs)
      rsSeen += vs.realServers.length
    }
    for (const set of backend.appliedIpsets) {
      if (set.info.name === KUBE_LOOP_BACK) continue
      sets.add(set.entries)
      setsSeen++
    }
    const ns = backend.dummy.ns
    if (ns.sharedAddresses !== null && ns.sharedAddressesIface === backend.dummy) {
      addressBlocks.add(ns.sharedAddresses)
      nodesSharingAddresses++
    }
    if (backend.dummy.ownAddresses.length > 0) nodesOwningAddresses++
    addressesSeen += backend.dummy.assignedAddresses.length
    kernelServices += backend.ipvs.services.length
    for (const svc of backend.ipvs.services) {
      if (svc.deleted) continue
      destLists.add(svc.dests)
      schedStates.add(svc.sched)
    }
    for (const svc of backend.ipvs.services) serviceObjects.add(svc)
    destColumns.add(backend.ipvs.dests)
    if (backend.ipvs.tablesShared) nodesSharingTables++
    if (backend.ipvs.counts.size > 0) nodesWithDestState++
    if (backend.ipvs.connsCreated > 0) nodesWithConnections++
    if (backend.ipvs.connsCreated > 0 && backend.ipvs.tablesShared) nodesWithConnectionsSharingTables++
    // Per-node traffic state: records of the services and dests this node's connections went to.
    const scheduledTo = backend.ipvs.snapshot().filter((svc) => svc.conns > 0)
    servicesScheduledTo += scheduledTo.length
    destsScheduledTo += scheduledTo.reduce((k, svc) => k + svc.realServers.filter((rs) => rs.conns > 0).length, 0)
    serviceRecords += backend.ipvs.servicesWithState
    destRecords += backend.ipvs.counts.size
    for (const set of n.filter.ipsets.sets.values()) {
      if (set.name === KUBE_LOOP_BACK) continue
      kernelSets.add(set.contents)
      kernelSetsSeen++
    }
    fragmentsCompiled = backend.sharedCompile.fragmentsCompiled
    plansMade = backend.sharedCompile.plans.plansMade
  }
  let completed = 0
  for (const w of world.workloads) completed += world.collector.results(w.index, []).requests.completed
  return {
    nodes,
    virtualServersPerNode: vsSeen / nodes,
    realServersPerNode: rsSeen / nodes,
    distinctVirtualServers: vss.size,
    distinctRealServers: rss.size,
    distinctSetContents: sets.size,
    setsPerNode: setsSeen / nodes,
    fragmentsCompiled,
    plansMade,
    kernelServicesPerNode: kernelServices / nodes,
    kernelDestLists: destLists.size,
    kernelSchedStates: schedStates.size,
    kernelSetContents: kernelSets.size,
    kernelSetsPerNode: kernelSetsSeen / nodes,
    nodesWithDestState,
    nodesWithConnections,
    nodesWithConnectionsSharingTables,
    servicesScheduledTo,
    destsScheduledTo,
    serviceRecords,
    destRecords,
    kernelServiceObjects: serviceObjects.size,
    kernelDestColumns: destColumns.size,
    nodesSharingTables,
    tablesBuilt: ipvsTableSharing.built - builtBefore,
    distinctAddressBlocks: addressBlocks.size,
    nodesSharingAddresses,
    nodesOwningAddresses,
    addressBlocksBuilt: ipvsAddressBlocks.built - blocksBefore,
    addressesPerNode: addressesSeen / nodes,
    syncs,
    completed,
  }
}

describe("cluster scale: IPVS mode shares the proxier's servers and sets between nodes", () => {
  it("holds each virtual server, real server and set once, not once per node, in the proxier and the kernel", () => {
    const small = ipvsShape(2)
    const large = ipvsShape(6)
    expect(small.syncs).toBeGreaterThanOrEqual(2)
    expect(large.syncs).toBeGreaterThanOrEqual(6)
    expect(small.completed).toBeGreaterThan(0)
    expect(large.completed).toBe(small.completed)
    // Every node programs every Service (12 virtual servers, one real server each at least)...
    expect(small.virtualServersPerNode).toBeGreaterThanOrEqual(12)
    expect(large.virtualServersPerNode).toBe(small.virtualServersPerNode)
    expect(large.realServersPerNode).toBe(small.realServersPerNode)
    expect(large.kernelServicesPerNode).toBe(small.kernelServicesPerNode)
    // ...but three times the nodes hold the same definition objects (one copy per node would be
    // 6 x virtualServersPerNode), and compile and plan about as much.
    expect(large.distinctVirtualServers).toBe(small.distinctVirtualServers)
    expect(large.distinctVirtualServers).toBeLessThan(1.5 * large.virtualServersPerNode)
    expect(large.distinctRealServers).toBe(small.distinctRealServers)
    expect(large.distinctRealServers).toBeLessThan(1.5 * large.realServersPerNode)
    expect(large.distinctSetContents).toBe(small.distinctSetContents)
    expect(large.distinctSetContents).toBeLessThanOrEqual(large.setsPerNode)
    expect(large.fragmentsCompiled).toBeLessThanOrEqual(small.fragmentsCompiled * 1.5)
    expect(large.plansMade).toBeLessThanOrEqual(small.plansMade * 1.5)
    // The kernel side (same runs): every node's kernel lists every Service's real servers, but
    // nodes that made the same changes hold the same list objects (one copy per node would be
    // 6 x the Services).
    // (Memos of shared objects hold their results weakly: a collection between two nodes' syncs could
    // leave a node its own equal copy, so "about the same", not "exactly the same".)
    expect(large.kernelDestLists).toBeLessThanOrEqual(small.kernelDestLists + 4)
    expect(large.kernelDestLists).toBeLessThan(1.5 * large.kernelServicesPerNode)
    // rr: the tables hold the one shared initial scheduler state (positions are per node: below).
    expect(large.kernelSchedStates).toBeLessThanOrEqual(small.kernelSchedStates + 2)
    expect(large.kernelSchedStates).toBeLessThan(large.kernelServicesPerNode)
    // The kernel ipsets: one contents object per set over all nodes.
    expect(large.kernelSetsPerNode).toBe(small.kernelSetsPerNode)
    expect(large.kernelSetContents).toBeLessThanOrEqual(small.kernelSetContents + 4)
    expect(large.kernelSetContents).toBeLessThanOrEqual(large.kernelSetsPerNode)
    // Connection counts: only nodes whose IPVS created a connection hold any.
    expect(large.nodesWithDestState).toBe(large.nodesWithConnections)
    expect(large.nodesWithConnections).toBeGreaterThan(0)
    expect(large.nodesWithConnections).toBeLessThan(large.nodes)
    // Per-node traffic state is sparse: a node holds one record per virtual service and per real
    // server its connections went to (k of the N Services), not one per Service or dest it programs.
    expect(large.serviceRecords).toBe(large.servicesScheduledTo)
    expect(large.destRecords).toBe(large.destsScheduledTo)
    expect(large.servicesScheduledTo).toBeGreaterThan(0)
    expect(large.serviceRecords).toBeLessThan(large.nodesWithConnections * large.kernelServicesPerNode)
    expect(large.destRecords).toBeLessThan(large.nodesWithConnections * large.realServersPerNode)
    expect(large.serviceRecords).toBe(small.serviceRecords)
    // Kernel control-plane tables: a node holds the tables it reached with the other nodes that
    // made the same netlink changes (one VirtualService object per Service over all of them),
    // whether or not it carried connections since (its traffic state is beside them); only a
    // netlink change after traffic gives it a copy. The table states built grow with the distinct
    // syncs, not the nodes.
    expect(large.nodesSharingTables).toBe(large.nodes)
    expect(large.nodesWithConnectionsSharingTables).toBe(large.nodesWithConnections)
    expect(large.kernelDestColumns).toBeLessThanOrEqual(2)
    expect(large.kernelServiceObjects).toBeLessThanOrEqual(2 * large.kernelServicesPerNode)
    expect(large.tablesBuilt).toBeLessThanOrEqual(small.tablesBuilt + 2)
    // kube-ipvs0: every node binds every Service address, but the nodes that bound the same ones
    // hold one shared address block (not a copy per node), and the blocks computed grow with the
    // distinct syncs, not the nodes.
    expect(large.addressesPerNode).toBeGreaterThanOrEqual(12)
    expect(large.addressesPerNode).toBe(small.addressesPerNode)
    expect(large.nodesSharingAddresses).toBe(large.nodes)
    expect(large.nodesOwningAddresses).toBe(0)
    expect(large.distinctAddressBlocks).toBe(small.distinctAddressBlocks)
    expect(large.distinctAddressBlocks).toBeLessThanOrEqual(2)
    expect(large.addressBlocksBuilt).toBeLessThanOrEqual(small.addressBlocksBuilt + 2)
    // Nothing wrote to the shared zero columns or the shared initial scheduler states.
    expect(sharedZeroStateIntact()).toBe(true)
    expect(initialSchedStatesIntact()).toBe(true)
    expect(sharedIpvsStateIntact()).toBe(true)
  })
})

describe("cluster scale: sync lags are read per bucket, not per write and node", () => {
  /** A histogram that counts the calls that fill it. */
  class CountingHistogram extends Histogram {
    calls = 0
    override record(valueNs: number, times = 1): void {
      this.calls++
      super.record(valueNs, times)
    }
    override recordSameBucket(low: number, high: number, times: number, sum: bigint): void {
      this.calls++
      super.recordSameBucket(low, high, times, sum)
    }
  }

  it("records the same histogram as one record per write", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5_000_000_000 }), { minLength: 1, maxLength: 400 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 2_000_000_000 }),
        (gaps, a, b, afterNs) => {
          const log = new ChangeLog()
          let t = 0
          for (const gap of gaps) log.push((t += gap % 3 === 0 ? 0 : gap))
          const from = a % log.length
          const to = from + (b % (log.length - from + 1))
          const endNs = t + afterNs
          const fast = new Histogram()
          log.recordLags(from, to, endNs, fast)
          const slow = new Histogram()
          for (let i = from; i < to; i++) slow.record(endNs - log.timesNs[i])
          expect(fast.summary()).toEqual(slow.summary())
          expect(fast.bins()).toEqual(slow.bins())
          expect(fast.sum()).toBe(slow.sum())
        },
      ),
      { numRuns: 200 },
    )
  })

  it("a sync covering 100,000 writes costs the buckets its lags span", () => {
    const log = new ChangeLog()
    // 100,000 writes over 10 s of cluster start-up (one every 100 us), programmed 1 s later.
    for (let i = 0; i < 100_000; i++) log.push(i * 100_000)
    const histogram = new CountingHistogram()
    log.recordLags(0, log.length, 11_000_000_000, histogram)
    expect(histogram.count).toBe(100_000)
    // Lags from 1 s to 11 s: 4 powers of two, 128 buckets each (per write: 100,000 calls).
    expect(histogram.calls).toBeLessThanOrEqual(4 * 128 + 1)
  })
})

/** The small cluster in userspace mode: what each node's proxier did, summed, and the shared feed. */
function userspaceShape(nodes: number) {
  const world = runSmallCluster(nodes, "userspace")
  let syncs = 0
  let restores = 0
  let endpointsRead = 0
  let servicePorts = 0
  let socketsMade = 0
  let socketsLive = 0
  let socketsWithTraffic = 0
  let connectionsProxied = 0
  let separatePortRecords = 0
  let udpPorts = 0
  let portsHeld = 0
  let portsMaterialised = 0
  // Per node, the distinct objects its UDP port table holds for its UDP proxy ports.
  const portTableObjectsPerNode: number[] = []
  const specs = new Set<object>()
  for (const n of world.nodes.values()) {
    const backend = n.proxy.backend
    if (!(backend instanceof UserspaceBackend)) throw new Error("expected userspace mode")
    syncs += n.proxy.syncs.length
    restores += backend.restoresWritten
    endpointsRead += backend.proxier.endpointsRead
    servicePorts += backend.proxier.serviceMap.size
    socketsMade += backend.proxier.runtime.socketsMade
    portsHeld += backend.proxier.runtime.portsHeld
    portsMaterialised += backend.proxier.runtime.portsMaterialised
    const tableObjects = new Set<object>()
    for (const info of backend.proxier.serviceMap.values()) {
      if (info.protocol !== "udp") continue
      udpPorts++
      const entry = backend.proxier.ns.udpSockets.get(info.proxyPort)
      if (entry === undefined) throw new Error(`${n.name}: proxy port ${info.proxyPort} not bound`)
      tableObjects.add(entry)
    }
    portTableObjectsPerNode.push(tableObjects.size)
    for (const info of backend.proxier.serviceMap.values()) {
      specs.add(info.spec)
      if (info.proxy !== info) separatePortRecords++
      const socket = info.proxy?.socket ?? null
      if (socket === null) continue
      socketsLive++
      if (socket.stats.accepted + socket.stats.rejected > 0) socketsWithTraffic++
      connectionsProxied += socket.stats.accepted
    }
  }
  const feed = EndpointsFeed.of(world.controlPlane.store)
  let completed = 0
  for (const w of world.workloads) completed += world.collector.results(w.index, []).requests.completed
  // The portal rules: distinct parsed rule objects over every node's proxier chains, and per node.
  const portalRules = new Set<object>()
  let portalRulesSeen = 0
  for (const n of world.nodes.values())
    for (const c of USERSPACE_CHAINS) {
      const chain = n.filter.table(c.table === "nat" ? TableId.NAT : TableId.FILTER).chain(c.chain)
      for (const r of chain?.rules ?? []) portalRules.add(r)
      portalRulesSeen += chain?.rules.length ?? 0
    }
  const share = PortalRuleShare.of(world.network)
  return {
    nodes,
    syncs,
    restores,
    endpointsRead,
    servicePorts,
    writes: feed.keys.length,
    built: feed.built,
    completed,
    distinctPortalRules: portalRules.size,
    portalRulesPerNode: portalRulesSeen / nodes,
    portalSetsBuilt: share.built,
    inputsAssembled: share.inputsAssembled,
    linesParsed: world.ruleCache.parsed,
    world,
    distinctSpecs: specs.size,
    socketsMade,
    socketsLive,
    socketsWithTraffic,
    connectionsProxied,
    separatePortRecords,
    udpPorts,
    portsHeld,
    portsMaterialised,
    portTableObjectsPerNode,
    notices: { ...world.proxyNotices },
  }
}

describe("cluster scale: userspace mode", () => {
  it("syncs once per node for the start-up Services (Endpoints writes go to the load balancer), reads each Endpoints write once per node and parses it once", () => {
    const small = userspaceShape(2)
    const large = userspaceShape(6)
    for (const s of [small, large]) {
      // v1.25 proxier.go: only serviceChange calls syncRunner.Run(); the Endpoints the pods'
      // start-up writes change reach the load balancer from the watch.
      expect(s.syncs).toBe(s.nodes)
      expect(s.restores).toBe(s.nodes)
      // Every node serves every Service port: the 12 Services' and the system Services' 4.
      expect(s.servicePorts).toBe(16 * s.nodes)
      // What the Service says of each port is held once for all nodes (only the proxy port,
      // rule counts and socket are per node).
      expect(s.distinctSpecs).toBe(16)
      // Each write read once per node: writes x nodes, not writes x Endpoints objects x nodes.
      expect(s.endpointsRead).toBe(s.writes * s.nodes)
      // Ports maps built once per Endpoints object written, not per node.
      expect(s.built).toBeLessThanOrEqual(s.writes)
      expect(s.completed).toBe(2 * 2 * 2)
    }
    expect(large.built).toBe(small.built)
    expect(large.writes).toBe(small.writes)
  })

  it("holds one parsed portal rule object per rule whatever the node count; each node prints and uses its own proxy ports", () => {
    const small = userspaceShape(2)
    const large = userspaceShape(6)
    for (const s of [small, large]) {
      // 2 nat portal rules per ClusterIP service port (REDIRECT from containers, DNAT from the host).
      expect(s.portalRulesPerNode).toBe(2 * 16)
      // Every node's rules are the same objects: the node's proxy port and host IP are parameters.
      expect(s.distinctPortalRules).toBe(2 * 16)
    }
    // Built and parsed once per Service port and rule line, not per node (the shared restore input:
    // one assembled, the other nodes take it).
    expect(large.portalSetsBuilt).toBe(small.portalSetsBuilt)
    expect(large.portalSetsBuilt).toBe(16)
    expect(large.linesParsed).toBe(small.linesParsed)
    expect(large.inputsAssembled).toBe(small.inputsAssembled)
    // The values stay per node: proxy ports differ between nodes, and each node's iptables-save
    // prints its own (REDIRECT --to-ports <port>, DNAT --to-destination <hostIP>:<port>).
    const ports = new Set<number>()
    for (const n of large.world.nodes.values()) {
      const backend = n.proxy.backend as UserspaceBackend
      const saved = n.filter.save()
      for (const info of backend.proxier.serviceMap.values()) {
        ports.add(info.proxyPort)
        expect(saved).toContain(`-j REDIRECT --to-ports ${info.proxyPort}\n`)
        expect(saved).toContain(`-j DNAT --to-destination ${backend.proxier.hostIP}:${info.proxyPort}\n`)
      }
    }
    expect(ports.size).toBeGreaterThan(16)
  })

  it("visits a node for a write only when telling it does something (not writes x nodes)", () => {
    const visitsPerNode: number[] = []
    for (const nodes of [2, 6]) {
      const s = userspaceShape(nodes)
      // Every node is told of the start-up writes; after that a node whose watch handling (and,
      // for a Service write, sync) is already scheduled is not visited until it ran.
      expect(s.notices.told).toBeGreaterThanOrEqual(nodes)
      expect(s.notices.visited).toBe(s.notices.told)
      expect(s.notices.visited).toBeLessThan(s.notices.writes * nodes)
      // One visit per node and instant with writes, whatever the number of writes then: the same
      // at 2 and 6 nodes per node.
      visitsPerNode.push(s.notices.visited / nodes)
    }
    expect(visitsPerNode[1]).toBe(visitsPerNode[0])
  })

  it("makes a proxy socket only for a port that carried traffic, not one per node and service port", () => {
    for (const nodes of [2, 6]) {
      const s = userspaceShape(nodes)
      // Every node holds every service port (its port bound), as before, each as one object: the
      // ServiceInfo is its proxy port's record (no second object per node and service port).
      expect(s.servicePorts).toBe(16 * nodes)
      expect(s.separatePortRecords).toBe(0)
      expect(s.completed).toBe(2 * 2 * 2)
      // Each made socket is still open and carried connections; together they proxied every request.
      expect(s.socketsLive).toBe(s.socketsMade)
      expect(s.socketsWithTraffic).toBe(s.socketsMade)
      expect(s.connectionsProxied).toBe(s.completed)
      // 2 workloads x 2 clients: at most one socket per (client's node, Service), whatever the nodes.
      expect(s.socketsMade).toBeGreaterThan(0)
      expect(s.socketsMade).toBeLessThanOrEqual(2 * 2)
    }
  })

  it("binds every UDP proxy port in the node's port table, held by one object per node until the port's first datagram", () => {
    for (const nodes of [2, 6]) {
      const s = userspaceShape(nodes)
      // Every UDP service port's proxy port is bound on every node (the clashes and ephemeral
      // choices are as with a socket per port: same fingerprints), but only the ports that
      // received a datagram have a kernel socket of their own: the others share the node's holder.
      expect(s.udpPorts).toBeGreaterThan(0)
      expect(s.portsHeld).toBe(s.udpPorts)
      expect(s.portsMaterialised).toBeGreaterThan(0)
      expect(s.portsMaterialised).toBeLessThanOrEqual(s.socketsMade)
      const materialisedPerNode = s.portsMaterialised
      let objects = 0
      for (const n of s.portTableObjectsPerNode) objects += n
      // One holder per node, plus one socket per materialised port: not one object per port.
      expect(objects).toBe(nodes + materialisedPerNode)
      expect(objects).toBeLessThan(s.udpPorts)
      // A held port is in use: binding it again is refused, as with a socket on it.
      const n = [...s.world.nodes.values()][0]
      const backend = n.proxy.backend as UserspaceBackend
      const held = [...backend.proxier.serviceMap.values()].find(
        (info) => info.protocol === "udp" && info.proxy?.socket === null,
      )
      if (held === undefined) throw new Error("expected a held port")
      expect(() =>
        s.world.network.udpBind(backend.proxier.ns, 0, held.proxyPort, { onUdpMessage() {}, onUdpError() {} }),
      ).toThrow(/in use/)
    }
  })

  it("keeps each node's load balancer states and service map as columns by one cluster-wide port name index", () => {
    const sizes: number[] = []
    for (const nodes of [2, 6]) {
      const s = userspaceShape(nodes)
      const names = ServicePortNames.of(s.world.network)
      // One index entry per service port name of the cluster, not per node.
      sizes.push(names.size)
      expect(names.size).toBeGreaterThanOrEqual(16)
      for (const n of s.world.nodes.values()) {
        const proxier = (n.proxy.backend as UserspaceBackend).proxier
        for (const info of proxier.serviceMap.values()) {
          // Every served port has its state, with the Endpoints' addresses in this node's order.
          const state = proxier.lb.services.get(info.name)
          expect(state, `${n.name} ${info.name}`).toBeDefined()
          expect(state?.affinityType).toBe(info.affinityType)
          // The service map and the portal rules' node parameter use the same index.
          expect(info.portal.k).toBe(names.peek(info.name))
          expect(proxier.serviceMap.get(info.name)).toBe(info)
        }
        expect(proxier.lb.services.get("no-such/service")).toBeUndefined()
      }
    }
    expect(sizes[1]).toBe(sizes[0])
  })
})
