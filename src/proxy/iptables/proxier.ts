/**
 * The stateful side of kube-proxy's iptables proxier around the pure compiler: which services
 * changed since the last sync (ServiceChangeTracker / EndpointsChangeTracker, compared on the
 * processed service-port view as upstream compares processed maps), full vs partial syncs, the nat
 * chains the node has (for `-X` of stale chains) and the large-cluster cleanup throttle.
 *
 * Upstream: pkg/proxy/iptables/proxier.go `syncProxyRules` preamble/epilogue: full sync on the
 * first sync, after a failed restore, after a topology (node label) change, and when
 * `FullSyncPeriod` has passed since the last full sync; in large-cluster mode stale chains are
 * deleted at most once per syncPeriod.
 */
import type { EndpointSlice, Service } from "../../k8s/types.ts"
import { compareServicePorts, nodeZone } from "../service-port.ts"
import type { ProxyNode, ServicePortInfo } from "../service-port.ts"
import { SharedServicePorts } from "../shared-service-ports.ts"
import { IptablesFragments } from "./compile.ts"
import type { SyncWork } from "../sync-cost.ts"
import { compileIptablesServicePorts } from "./compile.ts"
import type { IptablesCompileResult, IptablesConfig } from "./compile.ts"

/** proxyutil.FullSyncPeriod: 1 h in upstream source as remembered, not re-verified (kube-proxy.md §8). */
export const DEFAULT_FULL_SYNC_PERIOD_NS = 3600 * 1_000_000_000

export interface IptablesProxierOptions {
  /** iptables.syncPeriod: the large-cluster stale-chain cleanup interval. Default 30 s. */
  readonly syncPeriodNs?: number
  readonly fullSyncPeriodNs?: number
  /** Disable MinimizeIPTablesRestore (every sync is full). Default false (feature GA). */
  readonly alwaysFullSync?: boolean
  /**
   * The cluster's shared service-port view and compiled per-Service fragments (one per cluster and
   * config; see shared-service-ports.ts). Omitted: this proxier's own (nothing shared).
   */
  readonly shared?: SharedIptablesCompile
}

/** What the iptables proxiers of one cluster (same config) share. */
export interface SharedIptablesCompile {
  readonly servicePorts: SharedServicePorts
  readonly fragments: IptablesFragments
  readonly natChainSets: NatChainSets
  /** Changed-service sets between two service-port lists, kept for the other nodes (see ChangeSets). */
  readonly changeSets: ChangeSets
  /** Sync work of the last inputs restored onto given tables (cluster/kube-proxy.ts; small, most recent last). */
  readonly syncWork: { lines: readonly string[]; filter: object; nat: object; work: SyncWork }[]
}

export function sharedIptablesCompile(): SharedIptablesCompile {
  return {
    servicePorts: new SharedServicePorts(),
    fragments: new IptablesFragments(),
    natChainSets: new NatChainSets(),
    changeSets: new ChangeSets(),
    syncWork: [],
  }
}

const NO_CHAINS: ReadonlySet<string> = new Set()

/**
 * The sets of nat chains the proxiers believe their nodes have, shared: nodes that start from the
 * same set and restore the same chains end with the same set, so a cluster holds a few sets, not
 * one per node (each the size of the table). Immutable once made.
 */
export class NatChainSets {
  private readonly kept: {
    before: ReadonlySet<string>
    declared: readonly string[]
    deleted: readonly string[]
    after: ReadonlySet<string>
  }[] = []
  /** Sets made (not found among the kept ones). */
  made = 0

  /** `before` plus `declared` minus `deleted`. */
  after(before: ReadonlySet<string>, declared: readonly string[], deleted: readonly string[]): ReadonlySet<string> {
    if (deleted.length === 0) {
      let all = true
      for (let i = 0; i < declared.length && all; i++) all = before.has(declared[i])
      if (all) return before
    }
    for (const k of this.kept) {
      if (k.before !== before || !sameStrings(k.declared, declared) || !sameStrings(k.deleted, deleted)) continue
      return k.after
    }
    this.made++
    const after = new Set(before)
    for (const chain of declared) after.add(chain)
    for (const chain of deleted) after.delete(chain)
    this.kept.push({ before, declared, deleted, after })
    if (this.kept.length > 16) this.kept.shift()
    return after
  }
}

/**
 * The changed services between two (shared, immutable) service-port lists, computed once: nodes
 * that synced the same list before and sync the same list now get the same set (never changed in
 * place), so their fragment selections can be shared too (compile.ts `select`).
 */
export class ChangeSets {
  private readonly kept: {
    before: readonly ServicePortInfo[]
    after: readonly ServicePortInfo[]
    changed: ReadonlySet<string>
  }[] = []

  between(
    before: readonly ServicePortInfo[],
    after: readonly ServicePortInfo[],
    shared: SharedServicePorts,
  ): ReadonlySet<string> {
    for (let k = this.kept.length - 1; k >= 0; k--) {
      const kept = this.kept[k]
      if (kept.before === before && kept.after === after) return kept.changed
    }
    const changed = changedServices(before, after, shared)
    this.kept.push({ before, after, changed })
    if (this.kept.length > 16) this.kept.shift()
    return changed
  }
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export class IptablesProxier {
  private previous: readonly ServicePortInfo[] = []
  /** Shared between proxiers (NatChainSets): never changed in place. */
  private existingNatChains: ReadonlySet<string> = NO_CHAINS
  private existingBeforeLastSync: ReadonlySet<string> = NO_CHAINS
  private needFullSync = true
  private lastFullSyncNs = Number.NEGATIVE_INFINITY
  private lastCleanupNs = Number.NEGATIVE_INFINITY
  private lastZone: string | null = null
  private readonly syncPeriodNs: number
  private readonly fullSyncPeriodNs: number
  private readonly alwaysFullSync: boolean
  private readonly shared: SharedIptablesCompile

  constructor(
    private node: ProxyNode,
    private readonly config: IptablesConfig,
    options: IptablesProxierOptions = {},
  ) {
    this.syncPeriodNs = options.syncPeriodNs ?? 30_000_000_000
    this.fullSyncPeriodNs = options.fullSyncPeriodNs ?? DEFAULT_FULL_SYNC_PERIOD_NS
    this.alwaysFullSync = options.alwaysFullSync ?? false
    this.shared = options.shared ?? sharedIptablesCompile()
  }

  /** Node label changes force a full sync (OnTopologyChange). */
  setNode(node: ProxyNode): void {
    if (nodeZone(node) !== nodeZone(this.node)) this.needFullSync = true
    this.node = node
  }

  /** Forces the next sync to be full (the canary chain vanished, iptables was flushed...). */
  forceFullSync(): void {
    this.needFullSync = true
  }

  /** The nat chains the node has after the last restore (as this proxier believes). */
  natChains(): ReadonlySet<string> {
    return this.existingNatChains
  }

  /**
   * One `syncProxyRules`: compiles against the current objects. The caller restores
   * `restoreInput` (after installing `jumpRules` on full syncs) and reports a failure with
   * `restoreFailed()`.
   */
  sync(nowNs: number, services: readonly Service[], slices: readonly EndpointSlice[]): IptablesCompileResult {
    const zone = nodeZone(this.node)
    if (this.lastZone !== null && this.lastZone !== zone) this.needFullSync = true
    this.lastZone = zone
    const fullSync = this.alwaysFullSync || this.needFullSync || nowNs - this.lastFullSyncNs > this.fullSyncPeriodNs
    const servicePorts = this.shared.servicePorts.servicePorts(services, slices, this.node.name)
    // A full sync writes every service: which changed is not needed.
    const changed = fullSync
      ? null
      : this.shared.changeSets.between(this.previous, servicePorts, this.shared.servicePorts)
    let totalEndpoints = 0
    for (const svc of servicePorts) totalEndpoints += svc.endpoints.length
    const largeClusterMode = totalEndpoints > this.config.largeClusterEndpointsThreshold
    const cleanup = !largeClusterMode || nowNs - this.lastCleanupNs > this.syncPeriodNs
    const result = compileIptablesServicePorts(servicePorts, this.node, this.config, {
      fragments: this.shared.fragments,
      changedServices: changed,
      ...(cleanup ? { existingNatChains: this.existingNatChains } : {}),
    })
    if (cleanup) this.lastCleanupNs = nowNs
    this.existingBeforeLastSync = this.existingNatChains
    // natChainsAfterRestore(existing, result.restoreInput), from the chain lists (no text scan).
    this.existingNatChains = this.shared.natChainSets.after(
      this.existingNatChains,
      result.declaredNatChains,
      result.deletedChains,
    )
    this.previous = servicePorts
    this.needFullSync = false
    if (fullSync) this.lastFullSyncNs = nowNs
    return result
  }

  /** The last restore failed: nothing was applied, and the next sync must be full. */
  restoreFailed(): void {
    this.existingNatChains = this.existingBeforeLastSync
    this.needFullSync = true
  }
}

/**
 * The "namespace/name" of every Service whose ports differ between two syncs (ServiceChangeTracker
 * and EndpointsChangeTracker compare the processed maps): both lists are in buildServicePorts
 * order, so one merge walk pairs them up.
 */
function changedServices(
  before: readonly ServicePortInfo[],
  after: readonly ServicePortInfo[],
  shared: SharedServicePorts,
): Set<string> {
  const changed = new Set<string>()
  let i = 0
  let j = 0
  while (i < before.length || j < after.length) {
    const order = i === before.length ? 1 : j === after.length ? -1 : compareServicePorts(before[i], after[j])
    if (order < 0) changed.add(before[i++].namespacedName)
    else if (order > 0) changed.add(after[j++].namespacedName)
    else {
      if (!shared.samePort(before[i], after[j])) changed.add(after[j].namespacedName)
      i++
      j++
    }
  }
  return changed
}
