/**
 * The IPVS proxier's compile shared between the nodes of a cluster (issue 10, "share what nodes
 * share"): what `compileIpvs` returns for a node, computed from the cluster's shared service-port
 * view (shared-service-ports.ts) and per-service-port fragments (compile.ts `compileIpvsPort`)
 * that nodes with the same view of a port share, instead of per node and sync.
 *
 * A node's sync reads the node in three ways (upstream pkg/proxy/ipvs/proxier.go `syncProxyRules`):
 * which endpoints are local (`isLocal`: KUBE-LOOP-BACK entries, and the real servers of ports with
 * a Local policy), its addresses (external IPs and load-balancer VIPs that are node addresses are
 * not bound to kube-ipvs0, NodePort virtual servers per node IP) and its primary IP
 * (loadBalancerSourceRanges), plus the zone / node name for ports whose endpoints carry topology
 * hints. So:
 *
 * - the shared list of remote variants (every node that hosts none of a Service's endpoints sees
 *   them) is assembled once per cluster state (`base`), and once per node only when one of its
 *   ports reads the node's addresses (NodePorts, external IPs, load-balancer VIPs);
 * - a node hosting endpoints looks only at its own variants: when they differ from the remote ones
 *   only in KUBE-LOOP-BACK entries (Cluster policies), the node's result is the base one with its
 *   own KUBE-LOOP-BACK set (and the iptables rule that set's non-emptiness adds): every virtual
 *   server, real server and other set is the base's object;
 * - otherwise (a Local policy with local endpoints, hinted endpoints) the node assembles its own
 *   result from fragments, still sharing the fragments of every port that does not differ.
 *
 * The result is the same as `compileIpvs(services, slices, node, config)` (checked by
 * test/proxy/ipvs/shared.test.ts); nodes get the same objects where the contents are equal, and
 * the objects are never modified.
 */
import type { EndpointSlice, Service } from "../../k8s/types.ts"
import { nodeZone } from "../service-port.ts"
import type { ProxyNode, ServicePortInfo } from "../service-port.ts"
import type { NodeServicePorts, SharedServicePorts } from "../shared-service-ports.ts"
import { servicePortView } from "../view.ts"
import type { ServicePortView } from "../view.ts"
import {
  assembleIpvs,
  compileIpvsPort,
  ipvsIptablesRules,
  ipvsNodeContext,
  ipvsPortReadsNode,
  type IpsetContents,
  type IpvsCompileResult,
  type IpvsConfig,
  type IpvsNodeContext,
  type IpvsPortFragment,
  type IpvsVirtualServer,
} from "./compile.ts"
import { KUBE_LOOP_BACK } from "./names.ts"
import { IpvsPlanMemo } from "./reconcile.ts"

/** The shared list's assembly in one cluster state (and node context, when a port reads it). */
interface BaseAssembly {
  readonly fragments: readonly IpvsPortFragment[]
  readonly result: IpvsCompileResult
  /** The rules and restore input when KUBE-LOOP-BACK is not empty (built on first need). */
  withLoopback: { readonly rules: IpvsCompileResult["rules"]; readonly restoreInput: string } | null
}

/** The views of a port list, and what the list reads of the node. */
interface ListViews {
  /** null: a port's endpoints carry topology hints (its view depends on the node). */
  readonly views: readonly ServicePortView[] | null
  readonly hasNodePort: boolean
  readonly readsNode: boolean
}

export class IpvsSharedCompile {
  readonly config: IpvsConfig
  private readonly ports: SharedServicePorts
  /** Sync plans of nodes in the same state syncing the same servers (reconcile.ts). */
  readonly plans: IpvsPlanMemo
  /** View of each port object whose endpoints carry no hints (then it does not depend on the node). */
  private readonly views = new WeakMap<ServicePortInfo, ServicePortView>()
  private readonly lists = new WeakMap<readonly ServicePortInfo[], ListViews>()
  /** Fragments of views that read nothing of the node. */
  private readonly fragments = new WeakMap<ServicePortView, IpvsPortFragment>()
  /** Fragments of views that read the node's addresses, by node context key. */
  private readonly nodeFragments = new WeakMap<ServicePortView, Map<string, IpvsPortFragment>>()
  /** Local fragments equal to their remote one but for KUBE-LOOP-BACK, merged (assembleNode). */
  private readonly merged = new WeakMap<IpvsPortFragment, IpvsPortFragment>()
  /** Base assemblies of the shared lists that read nothing of the node. */
  private readonly bases = new WeakMap<readonly ServicePortInfo[], BaseAssembly>()
  /** Fragments compiled (per distinct view and node context, not per node and sync). */
  fragmentsCompiled = 0
  /** Shared lists assembled (once per cluster state when no port reads the node). */
  basesAssembled = 0
  /** Syncs answered with the base result itself (the node hosts no endpoint). */
  resultsShared = 0
  /** Syncs answered with the base result and the node's own KUBE-LOOP-BACK set. */
  resultsPatched = 0
  /** Syncs that assembled the node's own result (Local policies with local endpoints, hints, node reads). */
  nodesAssembled = 0

  constructor(config: IpvsConfig, ports: SharedServicePorts) {
    this.config = config
    this.ports = ports
    this.plans = new IpvsPlanMemo(config.excludeCIDRs)
  }

  /** What `compileIpvs(services, slices, node, config)` returns, shared where equal. */
  compile(services: readonly Service[], slices: readonly EndpointSlice[], node: ProxyNode): IpvsCompileResult {
    const np = this.ports.nodePorts(services, slices, node.name)
    const list = this.listViews(np.base, node)
    if (list.views === null || list.readsNode) return this.assembleNode(np, node)
    const base = this.baseOf(np.base, list.views, node)
    if (np.variants.length === 0) {
      this.resultsShared++
      return base.result
    }
    const context = this.contextOf(list, node)
    const loopback: string[] = []
    const variantViews: ServicePortView[] = []
    for (let k = 0; k < np.variants.length; k++) {
      const view = this.sharedView(np.variants[k])
      const remote = base.fragments[np.positions[k]]
      if (view === undefined || remote.loopback.length > 0) return this.assembleNode(np, node)
      const local = this.fragmentOf(view, context)
      if (!sameExceptLoopback(local, remote)) return this.assembleNode(np, node)
      for (const entry of local.loopback) loopback.push(entry)
      variantViews.push(view)
    }
    this.resultsPatched++
    const baseResult = base.result
    const positions = np.positions
    // The node's views: read only by the stale-UDP conntrack cleanup, on nodes with conntrack entries.
    let nodeViews: readonly ServicePortView[] | null = null
    const servicesOf = (): readonly ServicePortView[] => {
      if (nodeViews === null) {
        const copy = baseResult.services.slice()
        for (let k = 0; k < positions.length; k++) copy[positions[k]] = variantViews[k]
        nodeViews = copy
      }
      return nodeViews
    }
    if (loopback.length === 0) {
      return {
        ...baseResult,
        get services() {
          return servicesOf()
        },
      }
    }
    const ipsets: IpsetContents[] = baseResult.ipsets.map((set) =>
      set.info.name === KUBE_LOOP_BACK
        ? { info: set.info, entries: [...new Set([...set.entries, ...loopback])].sort() }
        : set,
    )
    base.withLoopback ??= this.rulesWithLoopback(baseResult)
    return {
      ...baseResult,
      ipsets,
      rules: base.withLoopback.rules,
      restoreInput: base.withLoopback.restoreInput,
      get services() {
        return servicesOf()
      },
    }
  }

  /** The view of a port, shared when its endpoints carry no hints; undefined otherwise. */
  private sharedView(svc: ServicePortInfo): ServicePortView | undefined {
    const cached = this.views.get(svc)
    if (cached !== undefined) return cached
    for (const endpoint of svc.endpoints) if (endpoint.nodeHints.length > 0 || endpoint.zoneHints.length > 0) return
    // Without hints the view reads neither the node name nor the zone.
    const view = servicePortView(svc, "", "", {
      preferSameTrafficDistribution: this.config.preferSameTrafficDistribution,
    })
    this.views.set(svc, view)
    return view
  }

  private viewOf(svc: ServicePortInfo, node: ProxyNode, zone: string): ServicePortView {
    return (
      this.sharedView(svc) ??
      servicePortView(svc, node.name, zone, {
        preferSameTrafficDistribution: this.config.preferSameTrafficDistribution,
      })
    )
  }

  private listViews(ports: readonly ServicePortInfo[], node: ProxyNode): ListViews {
    let list = this.lists.get(ports)
    if (list === undefined) {
      let views: ServicePortView[] | null = []
      let hasNodePort = false
      let readsNode = false
      for (const svc of ports) {
        if (svc.nodePort !== 0) hasNodePort = true
        const view = this.sharedView(svc)
        if (view === undefined) {
          views = null
          break
        }
        if (ipvsPortReadsNode(view)) readsNode = true
        views.push(view)
      }
      list = { views, hasNodePort, readsNode }
      if (views !== null) this.lists.set(ports, list)
    }
    void node
    return list
  }

  private contextOf(list: ListViews, node: ProxyNode): IpvsNodeContext {
    return ipvsNodeContext(list.hasNodePort ? [{ nodePort: 1 }] : [], node, this.config)
  }

  private baseOf(ports: readonly ServicePortInfo[], views: readonly ServicePortView[], node: ProxyNode): BaseAssembly {
    let base = this.bases.get(ports)
    if (base === undefined) {
      // No port reads the node: the context's addresses are read by no fragment.
      const context = this.contextOf(this.listViews(ports, node), node)
      const fragments = views.map((view) => this.fragmentOf(view, context))
      this.basesAssembled++
      base = { fragments, result: assembleIpvs(views, fragments, this.config, context.nodeIPs), withLoopback: null }
      this.bases.set(ports, base)
    }
    return base
  }

  private fragmentOf(view: ServicePortView, context: IpvsNodeContext): IpvsPortFragment {
    if (!ipvsPortReadsNode(view)) {
      let fragment = this.fragments.get(view)
      if (fragment === undefined) {
        this.fragmentsCompiled++
        fragment = compileIpvsPort(view, context, this.config)
        this.fragments.set(view, fragment)
      }
      return fragment
    }
    let byNode = this.nodeFragments.get(view)
    if (byNode === undefined) {
      byNode = new Map()
      this.nodeFragments.set(view, byNode)
    }
    let fragment = byNode.get(context.key)
    if (fragment === undefined) {
      this.fragmentsCompiled++
      fragment = compileIpvsPort(view, context, this.config)
      byNode.set(context.key, fragment)
    }
    return fragment
  }

  /**
   * The node's own assembly from its whole port list. Fragments are still shared per view, and a
   * hosted port whose fragment differs from the remote one only in KUBE-LOOP-BACK entries takes the
   * remote fragment's virtual servers (so nodes share them whatever else differs).
   */
  private assembleNode(np: NodeServicePorts, node: ProxyNode): IpvsCompileResult {
    this.nodesAssembled++
    const zone = nodeZone(node)
    const baseViews = np.base.map((svc) => this.viewOf(svc, node, zone))
    const views = baseViews.slice()
    for (let k = 0; k < np.positions.length; k++) views[np.positions[k]] = this.viewOf(np.variants[k], node, zone)
    const context = ipvsNodeContext(views, node, this.config)
    const fragments = views.map((view) => this.fragmentOf(view, context))
    for (const p of np.positions) {
      const local = fragments[p]
      const remote = this.fragmentOf(baseViews[p], context)
      if (local !== remote && remote.loopback.length === 0 && sameExceptLoopback(local, remote))
        fragments[p] = this.mergedOf(local, remote)
    }
    return assembleIpvs(views, fragments, this.config, context.nodeIPs)
  }

  /** The remote fragment with the local one's KUBE-LOOP-BACK entries (once per local fragment). */
  private mergedOf(local: IpvsPortFragment, remote: IpvsPortFragment): IpvsPortFragment {
    let merged = this.merged.get(local)
    if (merged === undefined) {
      merged = { ...remote, loopback: local.loopback }
      this.merged.set(local, merged)
    }
    return merged
  }

  private rulesWithLoopback(base: IpvsCompileResult): {
    readonly rules: IpvsCompileResult["rules"]
    readonly restoreInput: string
  } {
    const nonEmpty = new Set<string>([KUBE_LOOP_BACK])
    for (const set of base.ipsets) if (set.entries.length > 0) nonEmpty.add(set.info.name)
    // The base's lbNoNodeAccess, in order (no fragment of a list that reads no node address has any).
    return ipvsIptablesRules(this.config, (name) => nonEmpty.has(name), [])
  }
}

function sameVirtualServer(a: IpvsVirtualServer, b: IpvsVirtualServer): boolean {
  if (a === b) return true
  if (
    a.key !== b.key ||
    a.scheduler !== b.scheduler ||
    a.flags !== b.flags ||
    a.timeoutSeconds !== b.timeoutSeconds ||
    a.kind !== b.kind ||
    a.servicePortName !== b.servicePortName ||
    a.bound !== b.bound ||
    a.onlyNodeLocal !== b.onlyNodeLocal ||
    a.realServers.length !== b.realServers.length
  )
    return false
  for (let i = 0; i < a.realServers.length; i++) {
    const x = a.realServers[i]
    const y = b.realServers[i]
    if (x.address !== y.address || x.port !== y.port || x.weight !== y.weight) return false
  }
  return true
}

/** The two fragments program the same servers, sets, addresses and rules but for KUBE-LOOP-BACK. */
function sameExceptLoopback(a: IpvsPortFragment, b: IpvsPortFragment): boolean {
  if (
    a.noLocalInternal !== b.noLocalInternal ||
    a.noLocalExternal !== b.noLocalExternal ||
    a.virtualServers.length !== b.virtualServers.length ||
    a.entries.length !== b.entries.length ||
    a.bindAddresses.length !== b.bindAddresses.length ||
    a.lbNoNodeAccess.length > 0 ||
    b.lbNoNodeAccess.length > 0
  )
    return false
  for (let i = 0; i < a.virtualServers.length; i++)
    if (!sameVirtualServer(a.virtualServers[i], b.virtualServers[i])) return false
  for (let i = 0; i < a.entries.length; i++)
    if (a.entries[i][0] !== b.entries[i][0] || a.entries[i][1] !== b.entries[i][1]) return false
  for (let i = 0; i < a.bindAddresses.length; i++) if (a.bindAddresses[i] !== b.bindAddresses[i]) return false
  return true
}
