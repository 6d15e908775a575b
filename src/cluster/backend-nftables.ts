/**
 * nftables mode (kube-proxy --proxy-mode=nftables, era A layout of v1.33-v1.35): the nftables
 * proxier (proxy/nftables/proxier.ts) compiles the node's `ip kube-proxy` table transaction when a
 * sync starts, and the transaction is committed into the node's nftables (netfilter/nftables/
 * hooks.ts: the rule engine, its base chains on the namespace's hook host, NAT through the shared
 * NAT core) when the sync ends, as `nft -f` commits atomically at its end.
 *
 * Upstream: pkg/proxy/nftables/proxier.go syncProxyRules. A sync first deletes the chains that have
 * been stale for over a second, in a transaction of its own (applied at the sync's start here, as
 * upstream runs it before computing the main one); then the main transaction (full when needed:
 * first sync, after a failure, after a topology change, or FullSyncPeriod after the last full one;
 * else partial: only the changed services' chains, plus element reconciliation). A failed main
 * transaction applies nothing, clears staleChains and forces a full sync (the deferred failure
 * block: `proxier.needFullSync = true`). Sync duration: the nftables sync cost model
 * (proxy/sync-cost.ts) over the transaction's commands and the objects the table held before it.
 */
import type { EndpointSlice, Service } from "../k8s/types.ts"
import { DEFAULT_FULL_SYNC_PERIOD_NS } from "../proxy/iptables/proxier.ts"
import { masqueradeMarkGo } from "../proxy/iptables/names.ts"
import type { NftablesConfig } from "../proxy/nftables/compile.ts"
import { effectiveNodePortAddresses } from "../proxy/node-port-addresses.ts"
import { DEFAULT_NFTABLES_CONFIG } from "../proxy/nftables/compile.ts"
import { NftablesProxier } from "../proxy/nftables/proxier.ts"
import type { NftablesSyncResult, NftablesTransactionParts, NftSharedSync } from "../proxy/nftables/proxier.ts"
import { NODEPORT_IPS_SET } from "../proxy/nftables/names.ts"
import { sortNftablesTransaction } from "../proxy/nftables/sort.ts"
import { formatTransaction } from "../proxy/nftables/table.ts"
import type { NftSpecPool } from "../proxy/nftables/table.ts"
import type { ProxyNode } from "../proxy/service-port.ts"
import type { SharedServicePorts } from "../proxy/shared-service-ports.ts"
import { DEFAULT_NFTABLES_SYNC_COST, NftablesSyncCostModel, nftablesSyncWork } from "../proxy/sync-cost.ts"
import type { SyncCostModel, SyncWork } from "../proxy/sync-cost.ts"
import { NftHooks } from "../netfilter/nftables/hooks.ts"
import type { NftInternPool } from "../netfilter/nftables/intern.ts"
import { listTable } from "../netfilter/nftables/print.ts"
import type { NetfilterStack } from "../netfilter/stack.ts"
import type { Rng } from "../sim/rng.ts"
import type { CompiledSync, ProxyBackend } from "./kube-proxy.ts"
import type { KubeProxySpec, NftablesModeSpec } from "./spec.ts"

/**
 * Defaults of kubeProxy.nftables, measured on this project's machine (MODEL.md "nftables mode",
 * bench/calibration/nft-expression-cost.sh: system CPU time of 20,000 packets through an output
 * chain of N never-matching rules, nft 1.0.6): a payload load or compare costs ~2.2 ns, a set or
 * verdict-map lookup ~51 ns (one-field hash set) to ~65 ns (kube-proxy's three-field
 * concatenated verdict map), whatever the set's size. fullSyncPeriodNs: proxyutil.FullSyncPeriod,
 * 1 h (reference/proxy-modes.md §1.4: value UNVERIFIED; v1.31/32 passed `time.Hour`).
 */
/** Kernel sets whose elements are the node's own when tables are shared (the node's IPs). */
const KERNEL_LOCAL_SETS: ReadonlySet<string> = new Set([NODEPORT_IPS_SET])

export const DEFAULT_NFTABLES_MODE: NftablesModeSpec = {
  expressionCostNs: 2,
  lookupCostNs: 60,
  fullSyncPeriodNs: DEFAULT_FULL_SYNC_PERIOD_NS,
}

/** What kube-proxy's nftables proxier is configured with on a node of this scenario. */
export function nftablesConfigFrom(spec: KubeProxySpec, serviceCIDRs: readonly string[]): NftablesConfig {
  return {
    ...DEFAULT_NFTABLES_CONFIG,
    clusterCIDR: spec.clusterCIDR,
    masqueradeAll: spec.masqueradeAll,
    masqueradeMark: masqueradeMarkGo(spec.masqueradeBit),
    serviceCIDRs,
    nodePortAddresses: effectiveNodePortAddresses("nftables", spec.nodePortAddresses),
  }
}

/**
 * nftablesSyncWork of the last transaction texts seen (nodes taking the cluster's shared
 * transaction pass the same string: its commands are counted once, not once per node). Several
 * are kept: while nodes move from one shared state to the next, their syncs alternate between
 * the texts of consecutive states (a recount of a 10,000-Service text at each alternation).
 */
const lastWorks: { transaction: string; work: SyncWork }[] = []
const WORKS_KEPT = 4

function sharedWorkOf(transaction: string): SyncWork {
  for (const kept of lastWorks) if (kept.transaction === transaction) return kept.work
  const work = nftablesSyncWork(transaction, 0)
  lastWorks.unshift({ transaction, work })
  if (lastWorks.length > WORKS_KEPT) lastWorks.pop()
  return work
}

/**
 * The sync's work: from its whole transaction, or, for a shared compile, from its parts (the
 * commands of `setup + shared` are those of `setup` plus those of `shared`: every command is one
 * line, so the node's own setup is counted per node and the shared text once).
 */
function syncWorkOf(result: NftablesSyncResult, objectsBefore: number): SyncWork {
  const parts = result.parts
  if (parts === undefined) return { ...sharedWorkOf(result.transaction), objectsTotal: objectsBefore }
  const shared = sharedWorkOf(parts.shared)
  const setup = nftablesSyncWork(parts.setup, 0)
  return {
    objectsTotal: objectsBefore,
    objectsChanged: shared.objectsChanged + setup.objectsChanged,
    transactionCommands: shared.transactionCommands + setup.transactionCommands,
    netlinkOperations: shared.netlinkOperations + setup.netlinkOperations,
  }
}

/**
 * What a sync carries from its start to its end: the transaction text only (every node may have a
 * sync in flight at once, so the compiled operations and views are not kept until the commit).
 */
interface NftablesPayload {
  readonly transaction: string
  /** The transaction in parts (shared compile), applied in their order (NftablesSyncResult.parts). */
  readonly parts: NftablesTransactionParts | undefined
}

export class NftablesBackend implements ProxyBackend<NftablesPayload> {
  readonly mode = "nftables"
  readonly proxier: NftablesProxier
  /** The node's nftables: the ruleset the kernel holds and its base chains on the hook host. */
  readonly nft: NftHooks
  private readonly costModel: SyncCostModel
  private lastApplyNs = 0

  constructor(
    node: ProxyNode,
    stack: NetfilterStack,
    spec: KubeProxySpec,
    rng: Rng,
    /** The cluster's ServiceCIDRs (the apiserver's default ServiceCIDR object). */
    serviceCIDRs: readonly string[],
    costModel?: SyncCostModel,
    /** The cluster's shared service-port view (absent: the proxier builds its own; same lists). */
    servicePorts?: SharedServicePorts,
    /** The cluster's pool of committed nftables objects (absent: this node's table is its own; same results). */
    pool?: NftInternPool,
    /** The cluster's pool of the proxier's rule and element specs (absent: the proxier's own). */
    specs?: NftSpecPool,
    /** The cluster's shared compile (absent: this node compiles every transaction; same transactions). */
    sharedSync?: NftSharedSync,
  ) {
    const mode = spec.nftables ?? DEFAULT_NFTABLES_MODE
    this.costModel = costModel ?? new NftablesSyncCostModel(spec.syncCost.nftables ?? DEFAULT_NFTABLES_SYNC_COST)
    this.proxier = new NftablesProxier(node, nftablesConfigFrom(spec, serviceCIDRs), {
      fullSyncPeriodNs: mode.fullSyncPeriodNs,
      ...(servicePorts === undefined ? {} : { servicePorts }),
      ...(specs === undefined ? {} : { specs }),
      ...(sharedSync === undefined ? {} : { sharedSync }),
    })
    this.nft = new NftHooks(stack, stack.host, rng, mode.expressionCostNs, mode.lookupCostNs)
    if (pool !== undefined) this.nft.ruleset.pool = pool
    // Nodes of the cluster share their committed tables; the node's IPs (`nodeport-ips`
    // elements) are kept per node beside them (ruleset.ts localSetNames).
    if (pool !== undefined && sharedSync !== undefined) this.nft.ruleset.localSetNames = KERNEL_LOCAL_SETS
  }

  compile(
    nowNs: number,
    services: readonly Service[],
    slices: readonly EndpointSlice[],
  ): CompiledSync<NftablesPayload> {
    const objectsBefore = this.proxier.table.objectCount()
    const result = this.proxier.sync(nowNs, services, slices)
    // A transaction our own compiler wrote that the table model refuses is a bug, not a result.
    if (result.error !== null) throw new Error(`nftables proxier on ${this.nodeName()}: ${result.error}`)
    // The stale-chain cleanup is a transaction of its own, run before the main one is computed.
    if (result.cleanupOps.length > 0)
      this.nft.applyText(
        formatTransaction(result.cleanupOps, this.proxier.table.family, this.proxier.table.name),
        nowNs,
        "cleanup.nft",
      )
    const work = syncWorkOf(result, objectsBefore)
    return {
      durationNs: this.costModel.durationNs(work),
      fullSync: result.compile.fullSync,
      natRules: 0,
      filterRules: 0,
      tableObjects: this.proxier.table.objectCount(),
      // Read only by the stale-conntrack cleanup of a node whose conntrack holds entries: a shared
      // sync builds the node's whole list then (a list per node and sync otherwise).
      get services() {
        return result.servicePorts
      },
      payload: { transaction: result.transaction, parts: result.parts },
    }
  }

  apply(nowNs: number, sync: CompiledSync<NftablesPayload>): void {
    const parts = sync.payload.parts
    if (parts === undefined) this.nft.applyText(sync.payload.transaction, nowNs, "kube-proxy.nft")
    else {
      // The same end state as the whole text (see NftablesSyncResult.parts); the first two parts
      // are the same strings on every node in the same state, so their tables are shared.
      if (parts.setupShared !== "") this.nft.applyText(parts.setupShared, nowNs, "kube-proxy.nft")
      if (parts.shared !== "") this.nft.applyText(parts.shared, nowNs, "kube-proxy.nft")
      if (parts.local !== "") this.nft.applyText(parts.local, nowNs, "kube-proxy.nft")
    }
    this.proxier.mainTransactionCommitted()
    this.lastApplyNs = nowNs
  }

  failed(): void {
    this.proxier.mainTransactionFailed()
  }

  /**
   * `nft list table ip kube-proxy` of the node's kernel state (affinity elements the packets added
   * included, with their remaining time at the last sync); `sorted`: the table as upstream's tests
   * compare it (sortNFTablesTransaction of knftables' Fake.Dump, proxier's view).
   */
  rules(sorted: boolean): string {
    if (sorted) return sortNftablesTransaction(this.proxier.table.dump()) + "\n"
    const table = this.nft.ruleset.viewTable()
    return table === null ? "" : listTable(table, this.lastApplyNs)
  }

  private nodeName(): string {
    return this.proxier.nodeName
  }
}
