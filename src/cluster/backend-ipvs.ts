/**
 * kube-proxy's IPVS mode on one node: the IPVS proxier (proxy/ipvs/compile.ts) compiled when a sync
 * starts, and at its end the kernel programmed as upstream's syncProxyRules does it
 * (pkg/proxy/ipvs/proxier.go): virtual and real servers over netlink (proxy/ipvs/reconcile.ts
 * gives the operations, executed here on the kernel model netfilter/ipvs/ipvs.ts), the service
 * addresses bound to the dummy interface kube-ipvs0, the ipsets (`ipset` commands), then one
 * `iptables-restore --noflush --counters` of the rules IPVS mode still writes.
 *
 * Graceful termination (pkg/proxy/ipvs/graceful_termination.go): a real server that leaves the
 * desired set while it has connections is set to weight 0 (new connections skip it, established
 * ones continue) and deleted by the manager's sweep (`tryDeleteRs`, every rsCheckDeleteInterval =
 * 1 minute) once its active + inactive connection counts (the kernel model's) reach 0. The sweep
 * runs outside syncs and is not charged to the sync cost.
 *
 * A failed sync (an injected `failRestore`): upstream programs the virtual/real servers and the
 * ipsets during syncProxyRules and only then runs iptables-restore; when that fails it returns
 * before unbinding stale addresses and before cleanLegacyService. The same here: failed() applies
 * the server and ipset part of the sync whose restore failed, nothing else. Every IPVS sync is a
 * full one (it diffs every virtual server against the kernel), so the retry needs no flag.
 *
 * Sync cost (proxy/sync-cost.ts): the IPVS model charges each netlink operation (virtual/real
 * server add/edit/delete, kube-ipvs0 address add/delete, ipset entry add/delete) and each virtual +
 * real server listed back; the iptables-restore of IPVS mode's rules is charged with the iptables
 * model and added.
 */
import { Rng } from "../sim/rng.ts"
import { effectiveNodePortAddresses } from "../proxy/node-port-addresses.ts"
import type { EndpointSlice, Service } from "../k8s/types.ts"
import { AddressBlock, type NetInterface } from "../net/netns.ts"
import { IntMap } from "../sim/int-map.ts"
import type { NetNs } from "../net/netns.ts"
import type { Network } from "../net/network.ts"
import { ConntrackDropLink } from "../netfilter/ipvs/conntrack-link.ts"
import { STAT_CONNS, STAT_IN_BYTES, STAT_IN_PKTS, STAT_OUT_BYTES, STAT_OUT_PKTS } from "../netfilter/ipvs/dest.ts"
import { IpvsHooks } from "../netfilter/ipvs/hooks.ts"
import { Ipvs, IpvsTables, LINUX_IPVS_TIMEOUTS, withIpvsTimeouts } from "../netfilter/ipvs/ipvs.ts"
import { DestColumns } from "../netfilter/ipvs/dest.ts"
import type { IpSet } from "../netfilter/ipset.ts"
import { schedulerByName } from "../netfilter/ipvs/schedulers.ts"
import type { NetfilterStack } from "../netfilter/stack.ts"
import {
  compileIpvs,
  DEFAULT_IPVS_CONFIG,
  ipvsJumpRules,
  ipvsSysctls,
  ipvsTimeouts,
  type IpvsCompileResult,
  type IpvsConfig,
  type IpvsProtocol,
} from "../proxy/ipvs/compile.ts"
import { DUMMY_DEVICE } from "../proxy/ipvs/names.ts"
import { ipvsadmFromNodeState, printIpsetSave, printIpvsadm, ZERO_STATS } from "../proxy/ipvs/print.ts"
import type { IpvsCounterSource, IpvsStats as PrintedStats } from "../proxy/ipvs/print.ts"
import {
  EMPTY_IPVS_NODE_STATE,
  planIpsetSyncFrom,
  planIpvsSync,
  sweepGracefulDeletes,
  type IpvsConnectionCounts,
  withConnectionCounts,
  type IpvsNodeState,
  type IpvsOperation,
  type IpvsSyncPlan,
} from "../proxy/ipvs/reconcile.ts"
import type { ProxyNode } from "../proxy/service-port.ts"
import { IpvsSharedCompile } from "../proxy/ipvs/shared.ts"
import type { SharedServicePorts } from "../proxy/shared-service-ports.ts"
import {
  DEFAULT_IPVS_SYNC_COST,
  IptablesSyncCostModel,
  iptablesSyncWork,
  IpvsSyncCostModel,
  ipvsSyncWork,
  type IpvsServiceChange,
} from "../proxy/sync-cost.ts"
import type { EventHandler, Scheduler } from "../sim/scheduler.ts"
import { NS_PER_S } from "../sim/time.ts"
import { formatIpv4, parseIpv4 } from "../wire/ipv4.ts"
import type { IpvsVirtualServerResults } from "../stats/results.ts"
import type { CompiledSync, ProxyBackend } from "./kube-proxy.ts"
import { kubeProxyChainsOnly, tableIdOf } from "./kube-proxy.ts"
import type { IpvsProxySpec, KubeProxySpec } from "./spec.ts"

/** graceful_termination.go rsCheckDeleteInterval. */
export const RS_CHECK_DELETE_INTERVAL_NS = 60 * NS_PER_S

/**
 * The kernel the node runs, for the version-dependent IPVS behaviour kube-proxy checks
 * (conn_reuse_mode, IPVSConnReuseModeFixedKernelVersion "5.9") and the 5.9 kernel fixes the model
 * has flags for. A recent kernel: kube-proxy leaves conn_reuse_mode at 1.
 */
const NODE_KERNEL = { major: 6, minor: 1 } as const

const PROTOCOL_NUMBER: Record<IpvsProtocol, number> = { TCP: 6, UDP: 17, SCTP: 132 }

export const DEFAULT_IPVS_PROXY_SPEC: IpvsProxySpec = {
  scheduler: "rr",
  strictARP: false,
  tcpTimeoutS: 0,
  tcpFinTimeoutS: 0,
  udpTimeoutS: 0,
  excludeCIDRs: [],
  syncCost: DEFAULT_IPVS_SYNC_COST,
}

/** What the backend uses on its node (cluster/proxy-backends.ts ProxyBackendContext provides it). */
export interface IpvsBackendContext {
  readonly scheduler: Scheduler
  readonly node: ProxyNode
  readonly ns: NetNs
  readonly network: Network
  readonly stack: NetfilterStack
  readonly spec: KubeProxySpec
  /** Seed of the run: sync durations drawn from a profile use "node/<name>/kube-proxy/sync-cost". */
  readonly seed?: number
  /**
   * What the cluster's nodes share (proxy-backends.ts SharedProxyState; absent: this node compiles
   * on its own, same output).
   */
  readonly shared?: IpvsSharedState
}

/** The part of the cluster's shared proxy state IPVS mode uses (one object per cluster). */
export interface IpvsSharedState {
  readonly servicePorts: SharedServicePorts
}

/** The shared IPVS compiles of a cluster, one per distinct proxier configuration. */
const sharedCompiles = new WeakMap<IpvsSharedState, Map<string, IpvsSharedCompile>>()

function sharedCompileOf(shared: IpvsSharedState | undefined, config: IpvsConfig): IpvsSharedCompile | null {
  if (shared === undefined) return null
  let byConfig = sharedCompiles.get(shared)
  if (byConfig === undefined) {
    byConfig = new Map()
    sharedCompiles.set(shared, byConfig)
  }
  const key = JSON.stringify(config)
  let compile = byConfig.get(key)
  if (compile === undefined) {
    compile = new IpvsSharedCompile(config, shared.servicePorts)
    byConfig.set(key, compile)
  }
  return compile
}

/** What a sync carries from its start to its end. */
export interface IpvsSyncPayload {
  readonly result: IpvsCompileResult
  readonly netlinkOperations: number
}

/** IPVS state of one node for the results document. */
export interface IpvsNodeResults {
  /** Most IPVS connections (templates included) the node held at once. */
  peakConnections: number
  connectionsCreated: number
  /** Virtual servers that scheduled at least one connection, by VirtualServer.String(). */
  virtualServers: Record<string, IpvsVirtualServerResults>
}

export function ipvsConfigFrom(spec: KubeProxySpec): IpvsConfig {
  const ipvs = spec.ipvs ?? DEFAULT_IPVS_PROXY_SPEC
  return {
    ...DEFAULT_IPVS_CONFIG,
    scheduler: ipvs.scheduler === "rr" ? "" : ipvs.scheduler,
    masqueradeAll: spec.masqueradeAll,
    masqueradeBit: spec.masqueradeBit,
    clusterCIDR: spec.clusterCIDR,
    randomFully: spec.randomFully,
    strictARP: ipvs.strictARP,
    tcpTimeoutSeconds: ipvs.tcpTimeoutS,
    tcpFinTimeoutSeconds: ipvs.tcpFinTimeoutS,
    udpTimeoutSeconds: ipvs.udpTimeoutS,
    excludeCIDRs: ipvs.excludeCIDRs,
    nodePortAddresses: effectiveNodePortAddresses("ipvs", spec.nodePortAddresses),
  }
}

export class IpvsBackend implements ProxyBackend<IpvsSyncPayload>, EventHandler {
  readonly mode = "ipvs"
  /** The node's kernel IPVS (net.ipv4.vs.* as kube-proxy's NewProxier sets them). */
  readonly ipvs: Ipvs
  readonly hooks: IpvsHooks
  readonly dummy: NetInterface
  readonly config: IpvsConfig
  /** Netlink operations executed on the kernel (syncs, failed syncs' partial writes and sweeps). */
  operationsApplied = 0
  private state: IpvsNodeState = EMPTY_IPVS_NODE_STATE
  /** The set contents the last sync applied (shared with other nodes where equal). */
  private ipsetState: IpvsCompileResult["ipsets"] = NO_IPSETS
  /** The kernel's connection counts of a programmed real server (GetRealServers). */
  private readonly counts: IpvsConnectionCounts = (key, dest) => {
    const id = this.destId(key, dest)
    if (id < 0) return undefined
    return { activeConns: this.ipvs.counts.active(id), inactiveConns: this.ipvs.counts.inactive(id) }
  }
  /**
   * VirtualServer.String() -> kernel service id; shared with the nodes whose kernel tables are
   * shared (copied before a write while `serviceIdsShared`).
   */
  private serviceIds = new Map<string, number>()
  private serviceIdsShared = false
  private initialSync = true
  private jumpsInstalled = false
  private pending: IpvsCompileResult | null = null
  private readonly settings: IpvsProxySpec
  /** The cluster's shared compile (null: compile on this node alone). */
  readonly sharedCompile: IpvsSharedCompile | null
  private readonly ipvsCost: IpvsSyncCostModel
  private readonly iptablesCost: IptablesSyncCostModel
  private readonly node: ProxyNode
  private readonly ns: NetNs
  private readonly network: Network
  private readonly stack: NetfilterStack
  private readonly scheduler: Scheduler
  private readonly sweepKind: number
  private readonly startNs: number
  private sweepArmed = false

  constructor(c: IpvsBackendContext) {
    this.node = c.node
    this.ns = c.ns
    this.network = c.network
    this.stack = c.stack
    this.scheduler = c.scheduler
    this.settings = c.spec.ipvs ?? DEFAULT_IPVS_PROXY_SPEC
    this.config = ipvsConfigFrom(c.spec)
    this.sharedCompile = sharedCompileOf(c.shared, this.config)
    this.ipvsCost = new IpvsSyncCostModel(this.settings.syncCost)
    this.iptablesCost = new IptablesSyncCostModel(
      c.spec.syncCost.iptables,
      c.seed === undefined ? undefined : Rng.stream(c.seed, `node/${c.node.name}/kube-proxy/sync-cost`),
    )
    // NewProxier: conntrack=1, expire_nodest_conn=1, expire_quiescent_template=1 (conn_reuse_mode
    // stays 1 on kernels >= 5.9), then `ipvsadm --set` when a timeout is configured.
    const sysctls = new Map(ipvsSysctls(this.config, NODE_KERNEL).map((s) => [s.path, s.value]))
    const timeouts = ipvsTimeouts(this.config)
    this.ipvs = new Ipvs(
      {
        conntrack: sysctls.get("net/ipv4/vs/conntrack") === 1,
        connReuseMode: sysctls.get("net/ipv4/vs/conn_reuse_mode") ?? 1,
        expireNodestConn: sysctls.get("net/ipv4/vs/expire_nodest_conn") === 1,
        expireQuiescentTemplate: sysctls.get("net/ipv4/vs/expire_quiescent_template") === 1,
        timeouts:
          timeouts === null
            ? LINUX_IPVS_TIMEOUTS
            : withIpvsTimeouts(LINUX_IPVS_TIMEOUTS, timeouts.tcp, timeouts.tcpFin, timeouts.udp),
      },
      new ConntrackDropLink(c.stack.conntrack),
    )
    const ns = c.ns
    const network = c.network
    this.hooks = new IpvsHooks(this.ipvs, c.stack, {
      resumeStolen: (handle, readyNs) => network.resumeStolen(ns, handle, readyNs),
      dropStolen: (handle, reason) => network.dropStolen(ns, handle, reason),
      isLocalAddress: (address) => ns.isLocalAddress(address),
    })
    this.hooks.register()
    // Nodes of one proxier configuration start from one empty table object and share each table
    // state their syncs reach together (execute).
    if (this.sharedCompile !== null) this.ipvs.adoptTables(emptyTablesOf(this.sharedCompile))
    // ensureDummyDevice: `ip link add kube-ipvs0 type dummy` (left down).
    this.dummy = ns.interfaceByName(DUMMY_DEVICE) ?? network.addDummy(ns, DUMMY_DEVICE)
    this.sweepKind = c.scheduler.registerKind(`kube-proxy/${c.node.name}/ipvs-graceful-termination`, this)
    this.startNs = c.scheduler.nowNs
  }

  compile(
    nowNs: number,
    services: readonly Service[],
    slices: readonly EndpointSlice[],
  ): CompiledSync<IpvsSyncPayload> {
    const result =
      this.sharedCompile?.compile(services, slices, this.node) ?? compileIpvs(services, slices, this.node, this.config)
    this.pending = result
    const plan = this.plan(nowNs, result)
    const ipsetEntryOps = ipsetSyncOf(this.ipsetState, result.ipsets).entryOperations
    const ipvsWork = ipvsWorkOf(serversOf(this.state), plan.operations, ipsetEntryOps)
    const servers = ipvsWork.objectsTotal
    const stack = this.stack
    const iptablesWork = iptablesSyncWork(result.restoreInput, {
      tableRules: (table) => {
        let rules = 0
        for (const chain of stack.table(tableIdOf(table)).chains) rules += chain.rules.length
        return rules
      },
      chainRules: (table, chain) => stack.table(tableIdOf(table)).chain(chain)?.rules.length ?? 0,
    })
    let natRules = 0
    let filterRules = 0
    for (const rule of result.rules) {
      if (rule.table === "nat") natRules++
      else filterRules++
    }
    return {
      durationNs: this.ipvsCost.durationNs(ipvsWork) + this.iptablesCost.durationNs(iptablesWork),
      fullSync: true,
      natRules,
      filterRules,
      tableObjects: servers,
      services: result.services,
      payload: { result, netlinkOperations: ipvsWork.netlinkOperations },
    }
  }

  apply(nowNs: number, sync: CompiledSync<IpvsSyncPayload>): void {
    const result = sync.payload.result
    this.pending = null
    this.execute(this.plan(nowNs, result))
    this.syncIpsets(result)
    this.stack.restore(result.restoreInput, { noflush: true, counters: true })
    if (!this.jumpsInstalled) {
      // createAndLinkKubeChain: EnsureRule(Prepend) = `iptables -I` of each jump, in upstream order;
      // our engine needs the target chains first, so they go in right after the first restore.
      const lines: string[] = []
      for (const table of ["nat", "filter"] as const) {
        lines.push(`*${table}`)
        for (const jump of ipvsJumpRules()) if (jump.table === table) lines.push(`-I ${jump.chain} ${jump.spec}`)
        lines.push("COMMIT")
      }
      this.stack.restore(`${lines.join("\n")}\n`, { noflush: true })
      this.jumpsInstalled = true
    }
    this.initialSync = false
    this.armSweep(nowNs)
  }

  /**
   * The restore failed: the servers and ipsets of this sync were programmed before it (upstream
   * order), the stale addresses and virtual servers stay (the sync returned before unbinding and
   * cleanLegacyService).
   */
  failed(): void {
    const result = this.pending
    this.pending = null
    if (result === null) return
    const nowNs = this.scheduler.nowNs
    const kept = new Set([...this.state.dummyAddresses, ...result.dummyAddresses])
    this.ipvs.advance(nowNs)
    const plan = planIpvsSync(
      this.state,
      { virtualServers: result.virtualServers, dummyAddresses: [...kept] },
      { initialSync: this.initialSync, excludeCIDRs: ["0.0.0.0/0"], counts: this.counts },
    )
    this.execute(plan)
    this.syncIpsets(result)
    this.initialSync = false
    this.armSweep(nowNs)
  }

  /** GracefulTerminationManager's periodic tryDeleteRs. */
  handleEvent(_kind: number, _a: number, _b: number, nowNs: number): void {
    this.sweepArmed = false
    this.ipvs.advance(nowNs)
    this.execute(sweepGracefulDeletes(this.state, this.counts))
    this.armSweep(nowNs)
  }

  /** The programmed virtual and real servers (objects shared with other nodes where equal). */
  get programmedState(): IpvsNodeState {
    return this.state
  }

  /** The ipset contents the last sync applied (objects shared with other nodes where equal). */
  get appliedIpsets(): IpvsCompileResult["ipsets"] {
    return this.ipsetState
  }

  /** Real servers waiting for their connections to drain (VirtualServer/RealServer strings). */
  get gracefulDeletes(): readonly string[] {
    return [...this.state.gracefulDeletes].sort()
  }

  /**
   * syncProxyRules' diff of the desired servers against the kernel's (with the kernel's connection
   * counts where a graceful deletion reads them): nodes in the same state syncing the same servers
   * share the plan and the next state (reconcile.ts IpvsPlanMemo).
   */
  private plan(nowNs: number, result: IpvsCompileResult): IpvsSyncPlan {
    this.ipvs.advance(nowNs)
    const shared = this.sharedCompile
    if (shared === null)
      return planIpvsSync(this.state, result, {
        initialSync: this.initialSync,
        excludeCIDRs: this.config.excludeCIDRs,
        counts: this.counts,
      })
    return shared.plans.plan(this.state, result, {
      initialSync: this.initialSync,
      excludeCIDRs: shared.config.excludeCIDRs,
      counts: this.counts,
    })
  }

  /** The programmed state with the kernel's current connection counts. */
  liveState(nowNs: number): IpvsNodeState {
    this.ipvs.advance(nowNs)
    return withConnectionCounts(this.state, (key, dest) => {
      const id = this.destId(key, dest)
      if (id < 0) return undefined
      return { activeConns: this.ipvs.counts.active(id), inactiveConns: this.ipvs.counts.inactive(id) }
    })
  }

  private destId(key: string, dest: string): number {
    const svcId = this.serviceIds.get(key)
    if (svcId === undefined) return -1
    const colon = dest.lastIndexOf(":")
    const addr = parseIpv4(dest.slice(0, colon))
    if (addr === undefined) return -1
    return this.ipvs.findDest(this.ipvs.services[svcId], addr, Number(dest.slice(colon + 1)))
  }

  /** The sweep runs on the manager's one-minute ticks from kube-proxy's start, while it has work. */
  private armSweep(nowNs: number): void {
    if (this.sweepArmed || this.state.gracefulDeletes.size === 0) return
    const ticks = Math.floor((nowNs - this.startNs) / RS_CHECK_DELETE_INTERVAL_NS) + 1
    this.scheduler.schedule(this.startNs + ticks * RS_CHECK_DELETE_INTERVAL_NS, this.sweepKind, 0, 0)
    this.sweepArmed = true
  }

  /**
   * The plan's netlink operations on the kernel model and kube-ipvs0, in order. Where the node's
   * kernel tables are shared (no packet was ever scheduled here) and another node already applied
   * the same operations to the same tables, the node takes the resulting tables (and id map) and
   * binds or unbinds its own kube-ipvs0 addresses: the same kernel state, built once.
   */
  private execute(plan: IpvsSyncPlan): void {
    const before =
      this.sharedCompile === null || this.changesTrafficState(plan.operations) ? null : this.ipvs.shareTables()
    if (before !== null) {
      const known = tableTransitions.get(before)?.get(plan.operations)
      if (known !== undefined) {
        this.ipvs.adoptTables(known.tables)
        this.serviceIds = known.serviceIds
        this.serviceIdsShared = true
        this.operationsApplied += plan.operations.length
        this.applyAddressOperations(plan.operations)
        this.state = plan.state
        ipvsTableSharing.reused++
        return
      }
    }
    // Address operations touch only kube-ipvs0 and the namespace's local addresses, independent of
    // the kernel tables: all of them at once, in their order, is the same as interleaved.
    const addressesDone = this.applySharedAddressOperations(plan.operations)
    for (const op of plan.operations) {
      this.operationsApplied++
      if (addressesDone && (op.op === "bindAddress" || op.op === "unbindAddress")) continue
      this.executeOne(op, plan)
    }
    this.state = plan.state
    if (before !== null) {
      const after = this.ipvs.shareTables() as IpvsTables
      this.serviceIdsShared = true
      let byOperations = tableTransitions.get(before)
      if (byOperations === undefined) tableTransitions.set(before, (byOperations = new WeakMap()))
      byOperations.set(plan.operations, { tables: after, serviceIds: this.serviceIds })
      ipvsTableSharing.built++
    }
  }

  /**
   * Some of `operations` change a virtual service this node's IPVS holds traffic state of (it
   * scheduled a connection to it): their result depends on the node's connections (Ipvs.shareTables),
   * so the node executes them on tables of its own, neither adopting nor publishing the result.
   */
  private changesTrafficState(operations: readonly IpvsOperation[]): boolean {
    if (this.ipvs.servicesWithState === 0) return false
    for (const op of operations) {
      if (!("key" in op)) continue // kube-ipvs0 address binds
      const id = this.serviceIds.get(op.key)
      if (id !== undefined && this.ipvs.hasTrafficState(id)) return true
    }
    return false
  }

  /** The id map to write (this node's own copy of a shared one first). */
  private ownServiceIds(): Map<string, number> {
    if (this.serviceIdsShared) {
      this.serviceIds = new Map(this.serviceIds)
      this.serviceIdsShared = false
    }
    return this.serviceIds
  }

  /** One netlink operation (or kube-ipvs0 address change) of `plan`. */
  private executeOne(op: IpvsOperation, plan: IpvsSyncPlan): void {
    const ipvs = this.ipvs
    switch (op.op) {
      case "addVirtualServer":
      case "updateVirtualServer": {
        const vs = plan.state.virtualServers.get(op.key)
        if (vs === undefined) throw new Error(`ipvs: ${op.op} of unknown ${op.key}`)
        const scheduler = schedulerByName(vs.scheduler)
        if (scheduler === undefined) throw new Error(`ipvs: scheduler ${vs.scheduler} is not modelled`)
        const spec = {
          scheduler,
          flags: vs.flags,
          ...(vs.timeoutSeconds > 0 ? { timeoutS: vs.timeoutSeconds } : {}),
        }
        const id = this.serviceIds.get(op.key)
        if (op.op === "updateVirtualServer" && id !== undefined) ipvs.editService(id, spec)
        else {
          const addr = parseIpv4(vs.address)
          if (addr === undefined) throw new Error(`ipvs: bad address ${vs.address}`)
          this.ownServiceIds().set(
            op.key,
            ipvs.addService({ protocol: PROTOCOL_NUMBER[vs.protocol], addr, port: vs.port, ...spec }),
          )
        }
        break
      }
      case "deleteVirtualServer": {
        const id = this.serviceIds.get(op.key)
        if (id !== undefined) ipvs.deleteService(id)
        this.ownServiceIds().delete(op.key)
        break
      }
      case "addRealServer":
      case "updateRealServer":
      case "deleteRealServer": {
        const svcId = this.serviceIds.get(op.key)
        if (svcId === undefined) throw new Error(`ipvs: ${op.op} on unknown ${op.key}`)
        const { addr, port } = destOf(op)
        if (op.op === "addRealServer") ipvs.addDest(svcId, addr, port, op.weight)
        else if (op.op === "updateRealServer") ipvs.editDest(svcId, addr, port, op.weight)
        else ipvs.deleteDest(svcId, addr, port)
        break
      }
      case "bindAddress":
      case "unbindAddress":
        this.bindOrUnbind(op.op === "bindAddress", parseIpv4(op.address) as number)
        break
    }
  }

  /** The operations' kube-ipvs0 address binds and unbinds, in order. */
  private applyAddressOperations(operations: readonly IpvsOperation[]): void {
    if (this.applySharedAddressOperations(operations)) return
    const addresses = addressOperationsOf(operations)
    for (let i = 0; i < addresses.bind.length; i++) this.bindOrUnbind(addresses.bind[i] === 1, addresses.address[i])
  }

  /**
   * The operations' address binds and unbinds as a shared kube-ipvs0 address block (net/netns.ts
   * AddressBlock): where kube-ipvs0 holds a shared block (or nothing yet) and no address the
   * operations touch is local on another interface of this node, binding and unbinding one by one
   * (bindOrUnbind) gives the same addresses in the same order on every node starting from the same
   * block, so the first node computes the next block and the others adopt it. False: nothing done
   * (no shared compile, kube-ipvs0 has its own copy, or an address collides), bind one by one.
   */
  private applySharedAddressOperations(operations: readonly IpvsOperation[]): boolean {
    if (this.sharedCompile === null) return false
    const ns = this.ns
    const dummy = this.dummy
    const current =
      ns.sharedAddressesIface === dummy
        ? (ns.sharedAddresses as AddressBlock)
        : ns.sharedAddressesIface === null && dummy.ownAddresses.length === 0
          ? AddressBlock.EMPTY
          : null
    if (current === null) return false
    const addresses = addressOperationsOf(operations)
    if (addresses.bind.length === 0) return true
    const touched = touchedAddressesOf(operations, addresses)
    // The node's other local addresses (kube-ipvs0 holds only the block): a few per node.
    for (const iface of ns.interfaces)
      if (iface !== null) for (const a of iface.ownAddresses) if (touched.has(a)) return false
    let byOperations = addressBlockTransitions.get(current)
    if (byOperations === undefined) addressBlockTransitions.set(current, (byOperations = new WeakMap()))
    let next = byOperations.get(operations)
    if (next === undefined) {
      next = nextAddressBlock(current, addresses)
      byOperations.set(operations, next)
      ipvsAddressBlocks.built++
    } else ipvsAddressBlocks.reused++
    ns.adoptSharedAddresses(dummy, next)
    return true
  }

  /**
   * netlink.EnsureAddressBind ("file exists" when already bound is not an error) or
   * UnbindAddress of a kube-ipvs0 address.
   */
  private bindOrUnbind(bind: boolean, addr: number): void {
    if (bind) {
      if (this.ns.localInterface(addr) === undefined) this.network.addAddress(this.dummy, addr, 32)
    } else if (this.ns.localInterface(addr) === this.dummy) this.network.removeAddress(this.dummy, addr)
  }

  /**
   * ensureIPSet + syncIPSetEntries for every set: `ipset create -exist`, then del/add of entries.
   * The entries' restore is one text per (applied, desired) pair of set contents, and what it does
   * to each set (its elements before and after) is recorded by the first node that runs it: a node
   * whose sets hold the same elements objects before takes the same objects after (what the restore
   * would compute, ipset.ts shares its transitions the same way) without parsing the text again.
   */
  private syncIpsets(result: IpvsCompileResult): void {
    const ipsets = this.stack.ipsets
    this.stack.ipsetRestore(ensureSetsText(result.ipsets), { exist: true })
    const sync = ipsetSyncOf(this.ipsetState, result.ipsets)
    this.ipsetState = result.ipsets
    if (sync.text === "") return
    const effects = sync.effects
    if (effects !== null && effects.every((e) => ipsets.get(e.name)?.elements() === e.before)) {
      for (const e of effects) (ipsets.get(e.name) as IpSet).adopt(e.after)
      return
    }
    const before = result.ipsets.map((set) => ipsets.get(set.info.name)?.elements())
    this.stack.ipsetRestore(sync.text, { exist: true })
    if (effects === null && before.every((b) => b !== undefined))
      sync.effects = result.ipsets.map((set, i) => ({
        name: set.info.name,
        before: before[i] as IpSetData,
        after: (ipsets.get(set.info.name) as IpSet).elements(),
      }))
  }

  private counters(): IpvsCounterSource {
    const ipvs = this.ipvs
    const stats = (s: { conns: number; inPkts: number; outPkts: number; inBytes: number; outBytes: number }) =>
      ({
        ...ZERO_STATS,
        conns: s.conns,
        inPackets: s.inPkts,
        outPackets: s.outPkts,
        inBytes: s.inBytes,
        outBytes: s.outBytes,
      }) satisfies PrintedStats
    return {
      service: (key) => {
        const id = this.serviceIds.get(key)
        return id === undefined ? undefined : stats(ipvs.serviceStats(id))
      },
      dest: (key, dest) => {
        const id = this.destId(key, dest)
        if (id < 0) return undefined
        const d = ipvs.counts
        return {
          activeConns: d.active(id),
          inactiveConns: d.inactive(id),
          stats: stats({
            conns: d.stat(id, STAT_CONNS),
            inPkts: d.stat(id, STAT_IN_PKTS),
            outPkts: d.stat(id, STAT_OUT_PKTS),
            inBytes: d.stat(id, STAT_IN_BYTES),
            outBytes: d.stat(id, STAT_OUT_BYTES),
          }),
        }
      },
    }
  }

  /**
   * The node as its tools print it: kube-ipvs0's addresses (`ip -4 addr show kube-ipvs0`),
   * `ipvsadm -Ln`, `ipvsadm -Ln --stats`, `ipset list`, `iptables-save`, and the sysctls kube-proxy
   * set. `sorted`: addresses numerically, ipsets sorted, iptables-save of kube-proxy's chains only.
   */
  rules(sorted: boolean): string {
    const nowNs = this.scheduler.nowNs
    const services = ipvsadmFromNodeState(this.liveState(nowNs), this.counters())
    const addresses = [...this.dummy.assignedAddresses]
    if (sorted) addresses.sort((a, b) => a - b)
    const flags = this.dummy.up ? "BROADCAST,NOARP,UP,LOWER_UP" : "BROADCAST,NOARP"
    const state = this.dummy.up ? "UNKNOWN" : "DOWN"
    const qdisc = this.dummy.up ? "noqueue" : "noop"
    const ip = [
      `${this.dummy.ifIndex + 1}: ${DUMMY_DEVICE}: <${flags}> mtu ${this.dummy.mtuBytes} qdisc ${qdisc} state ${state} group default`,
      ...addresses.map(
        (a) =>
          `    inet ${formatIpv4(a)}/32 scope global ${DUMMY_DEVICE}\n       valid_lft forever preferred_lft forever`,
      ),
    ].join("\n")
    const saved = this.stack.save()
    const timeouts = this.ipvs.timeouts
    const sysctl = [
      ...ipvsSysctls(this.config, NODE_KERNEL).map((s) => `${s.path.replaceAll("/", ".")} = ${s.value}`),
      `# ipvsadm --set ${timeouts.tcpNs[1] / NS_PER_S} ${timeouts.tcpNs[4] / NS_PER_S} ${timeouts.udpNs / NS_PER_S}` +
        (ipvsTimeouts(this.config) === null ? " (kernel defaults, not set by kube-proxy)" : ""),
    ]
    return [
      `# ip -4 addr show ${DUMMY_DEVICE}\n${ip}\n`,
      `# ipvsadm -Ln\n${printIpvsadm(services)}`,
      `# ipvsadm -Ln --stats\n${printIpvsadm(services, { format: "stats" })}`,
      `# ipset list\n${this.stack.ipsetList({ sorted })}`,
      `# iptables-save\n${sorted ? kubeProxyChainsOnly(saved) : saved}`,
      `# sysctl (set by kube-proxy at start)\n${sysctl.join("\n")}\n`,
    ].join("\n")
  }

  /** The node's IPVS figures for the results document. */
  results(): IpvsNodeResults {
    const virtualServers: Record<string, IpvsVirtualServerResults> = {}
    const ipvs = this.ipvs
    const keys = [...this.serviceIds.keys()].sort()
    for (const key of keys) {
      const svc = ipvs.serviceStats(this.serviceIds.get(key) as number)
      if (svc.conns === 0) continue
      const realServers: Record<string, number> = {}
      const vs = this.state.virtualServers.get(key)
      for (const rs of vs?.realServers ?? []) {
        const id = this.destId(key, `${rs.address}:${rs.port}`)
        if (id >= 0) realServers[`${rs.address}:${rs.port}`] = ipvs.counts.stat(id, STAT_CONNS)
      }
      virtualServers[key] = {
        conns: svc.conns,
        inPkts: svc.inPkts,
        outPkts: svc.outPkts,
        inBytes: svc.inBytes,
        outBytes: svc.outBytes,
        realServers: Object.fromEntries(Object.entries(realServers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      }
    }
    return { peakConnections: ipvs.peakConnections, connectionsCreated: ipvs.connsCreated, virtualServers }
  }
}

/** Kernel table states built (a plan applied to tables no node had applied it to) and reused. */
export const ipvsTableSharing = { built: 0, reused: 0 }

/** What the kernel tables (and the backend's id map) became by a plan's operations, per tables. */
interface TablesTransition {
  readonly tables: IpvsTables
  readonly serviceIds: Map<string, number>
}

/**
 * Weak both ways: an entry lives while its tables and its operations list do (nodes in that state,
 * the shared plan), and does not keep them alive.
 */
const tableTransitions = new WeakMap<IpvsTables, WeakMap<readonly IpvsOperation[], TablesTransition>>()

/** The empty tables every node of a proxier configuration starts from. */
const emptyTables = new WeakMap<IpvsSharedCompile, IpvsTables>()

function emptyTablesOf(compile: IpvsSharedCompile): IpvsTables {
  let tables = emptyTables.get(compile)
  if (tables === undefined) emptyTables.set(compile, (tables = new IpvsTables([], new Map(), new DestColumns())))
  return tables
}

/** A plan's kube-ipvs0 address operations in order: 1 = bind, 0 = unbind, and the address. */
interface AddressOperations {
  readonly bind: Uint8Array
  readonly address: Uint32Array
}

/** Every node performs its own address operations: parsed once per operation list. */
const addressOperations = new WeakMap<readonly IpvsOperation[], AddressOperations>()

function addressOperationsOf(operations: readonly IpvsOperation[]): AddressOperations {
  let parsed = addressOperations.get(operations)
  if (parsed === undefined) {
    const ops = operations.filter((op) => op.op === "bindAddress" || op.op === "unbindAddress")
    parsed = { bind: new Uint8Array(ops.length), address: new Uint32Array(ops.length) }
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]
      if (op.op !== "bindAddress" && op.op !== "unbindAddress") continue
      parsed.bind[i] = op.op === "bindAddress" ? 1 : 0
      parsed.address[i] = parseIpv4(op.address) as number
    }
    addressOperations.set(operations, parsed)
  }
  return parsed
}

/** kube-ipvs0 address blocks computed from a previous block and an operation list, and adopted. */
export const ipvsAddressBlocks = { built: 0, reused: 0 }

/** Weak both ways, like tableTransitions: (previous block, operation list) -> next block. */
const addressBlockTransitions = new WeakMap<AddressBlock, WeakMap<readonly IpvsOperation[], AddressBlock>>()

/** Every address an operation list binds or unbinds, once per list. */
const touchedAddresses = new WeakMap<readonly IpvsOperation[], IntMap<true>>()

function touchedAddressesOf(operations: readonly IpvsOperation[], addresses: AddressOperations): IntMap<true> {
  let touched = touchedAddresses.get(operations)
  if (touched === undefined) {
    touched = new IntMap<true>(addresses.address.length)
    for (const a of addresses.address) touched.set(a, true)
    touchedAddresses.set(operations, touched)
  }
  return touched
}

/**
 * What bindOrUnbind does to kube-ipvs0's list, one operation after the other (no address of them
 * local elsewhere): a bind appends an address not yet held, an unbind removes one held.
 */
function nextAddressBlock(current: AddressBlock, addresses: AddressOperations): AddressBlock {
  const list = [...current.addresses]
  const held = new IntMap<true>(list.length + addresses.address.length)
  for (const a of list) held.set(a, true)
  let removed = false
  for (let i = 0; i < addresses.bind.length; i++) {
    const a = addresses.address[i]
    if (addresses.bind[i] === 1) {
      if (!held.has(a)) {
        held.set(a, true)
        list.push(a)
      }
    } else if (held.has(a)) {
      held.delete(a)
      list[list.indexOf(a)] = -1
      removed = true
    }
  }
  return new AddressBlock(removed ? list.filter((a) => a !== -1) : list)
}

/** A real-server operation's address and port, parsed once per operation (nodes share plans). */
const destMemo = new WeakMap<IpvsOperation, { readonly addr: number; readonly port: number }>()

function destOf(op: IpvsOperation & { readonly dest: string }): { readonly addr: number; readonly port: number } {
  let dest = destMemo.get(op)
  if (dest === undefined) {
    const colon = op.dest.lastIndexOf(":")
    dest = { addr: parseIpv4(op.dest.slice(0, colon)) as number, port: Number(op.dest.slice(colon + 1)) }
    destMemo.set(op, dest)
  }
  return dest
}

/** A set's elements object (shared, immutable once committed: ipset.ts). */
type IpSetData = ReturnType<IpSet["elements"]>

/** The ipsets a node applied before its first sync. */
const NO_IPSETS: IpvsCompileResult["ipsets"] = []

/** The entries' part of a sync from one applied contents to the desired ones (syncIpsets). */
interface IpsetSync {
  /** add/del operations (charged to the sync). */
  readonly entryOperations: number
  /** The `ipset restore` lines of those operations. */
  readonly text: string
  /** What the text did to each set on the first node that ran it (null: not yet recorded). */
  effects: { readonly name: string; readonly before: IpSetData; readonly after: IpSetData }[] | null
}

const ipsetSyncs = new WeakMap<IpvsCompileResult["ipsets"], WeakMap<IpvsCompileResult["ipsets"], IpsetSync>>()

function ipsetSyncOf(applied: IpvsCompileResult["ipsets"], desired: IpvsCompileResult["ipsets"]): IpsetSync {
  let byDesired = ipsetSyncs.get(applied)
  if (byDesired === undefined) ipsetSyncs.set(applied, (byDesired = new WeakMap()))
  let sync = byDesired.get(desired)
  if (sync === undefined) {
    const lines: string[] = []
    for (const op of planIpsetSyncFrom(applied, desired))
      if (op.op === "add" || op.op === "del") lines.push(`${op.op} ${op.set} ${op.entry as string}\n`)
    sync = { entryOperations: lines.length, text: lines.join(""), effects: null }
    byDesired.set(desired, sync)
  }
  return sync
}

/** `ipset create ... -exist` of every set (the same text for every node and sync with the same sets). */
let ensureSetsMemo: { readonly infos: readonly unknown[]; readonly text: string } | null = null

function ensureSetsText(ipsets: IpvsCompileResult["ipsets"]): string {
  const memo = ensureSetsMemo
  if (memo !== null && memo.infos.length === ipsets.length && ipsets.every((set, i) => set.info === memo.infos[i]))
    return memo.text
  const text = printIpsetSave(ipsets.map((set) => ({ info: set.info, entries: [] })))
  ensureSetsMemo = { infos: ipsets.map((set) => set.info), text }
  return text
}

/** Virtual + real servers a state holds (what a sync lists back), once per state object. */
const serversMemo = new WeakMap<IpvsNodeState, number>()

function serversOf(state: IpvsNodeState): number {
  let servers = serversMemo.get(state)
  if (servers === undefined) {
    servers = 0
    for (const vs of state.virtualServers.values()) servers += 1 + vs.realServers.length
    serversMemo.set(state, servers)
  }
  return servers
}

/**
 * ipvsSyncWork of a sync: the servers listed back, the plan's operations grouped per virtual
 * server, and the ipset entries' operations as one more change; once per (operation list, servers,
 * ipset operations), as nodes sharing a plan mostly share the rest.
 */
const ipvsWorkMemo = new WeakMap<readonly IpvsOperation[], Map<string, ReturnType<typeof ipvsSyncWork>>>()

function ipvsWorkOf(
  servers: number,
  operations: readonly IpvsOperation[],
  ipsetEntryOps: number,
): ReturnType<typeof ipvsSyncWork> {
  let byCounts = ipvsWorkMemo.get(operations)
  if (byCounts === undefined) ipvsWorkMemo.set(operations, (byCounts = new Map()))
  const key = `${servers}/${ipsetEntryOps}`
  let work = byCounts.get(key)
  if (work === undefined) {
    const changes = [...serviceChangesOf(operations)]
    if (ipsetEntryOps > 0) changes.push({ virtualServerOps: 0, realServerOps: 0, addressOps: 0, ipsetEntryOps })
    work = ipvsSyncWork(servers, changes)
    byCounts.set(key, work)
  }
  return work
}

/** serviceChanges once per operation list (nodes sharing a plan share it). */
const changesMemo = new WeakMap<readonly IpvsOperation[], readonly IpvsServiceChange[]>()

function serviceChangesOf(operations: readonly IpvsOperation[]): readonly IpvsServiceChange[] {
  let changes = changesMemo.get(operations)
  if (changes === undefined) {
    changes = serviceChanges(operations)
    changesMemo.set(operations, changes)
  }
  return changes
}

/** The netlink operations of a plan grouped per virtual server (address operations per address). */
function serviceChanges(operations: readonly IpvsOperation[]): IpvsServiceChange[] {
  const byKey = new Map<
    string,
    { virtualServerOps: number; realServerOps: number; addressOps: number; ipsetEntryOps: number }
  >()
  const entry = (key: string) => {
    let e = byKey.get(key)
    if (e === undefined) {
      e = { virtualServerOps: 0, realServerOps: 0, addressOps: 0, ipsetEntryOps: 0 }
      byKey.set(key, e)
    }
    return e
  }
  for (const op of operations) {
    switch (op.op) {
      case "addVirtualServer":
      case "updateVirtualServer":
      case "deleteVirtualServer":
        entry(op.key).virtualServerOps++
        break
      case "addRealServer":
      case "updateRealServer":
      case "deleteRealServer":
        entry(op.key).realServerOps++
        break
      case "bindAddress":
      case "unbindAddress":
        entry(`address ${op.address}`).addressOps++
        break
    }
  }
  return [...byKey.values()]
}
