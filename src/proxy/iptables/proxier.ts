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
import { NO_NODE_SERVICE_PORTS, SharedServicePorts } from "../shared-service-ports.ts"
import type { NodeServicePorts } from "../shared-service-ports.ts"
import { IptablesFragments } from "./compile.ts"
import type { SyncWork } from "../sync-cost.ts"
import { compileIptablesServicePorts, totalEndpointsOf } from "./compile.ts"
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
    // Nodes restoring the same (shared) input from the same set: a pointer compare each, not a
    // walk over every declared chain per node.
    for (let k = this.kept.length - 1; k >= 0; k--) {
      const kept = this.kept[k]
      if (kept.before === before && kept.declared === declared && kept.deleted === deleted) return kept.after
    }
    let after: ReadonlySet<string> | null = null
    if (deleted.length === 0) {
      let all = true
      for (let i = 0; i < declared.length && all; i++) all = before.has(declared[i])
      if (all) after = before
    }
    if (after === null) {
      for (const k of this.kept) {
        if (k.before !== before || !sameStrings(k.declared, declared) || !sameStrings(k.deleted, deleted)) continue
        after = k.after
        break
      }
    }
    if (after === null) {
      this.made++
      const set = new Set(before)
      for (const chain of declared) set.add(chain)
      for (const chain of deleted) set.delete(chain)
      after = set
    }
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
  /** The ports of the last sync: the shared list plus this node's own variants. */
  private previous: NodeServicePorts = NO_NODE_SERVICE_PORTS
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
    // The node's ports as the shared list plus its own variants: no per-node copy or walk of
    // every port (what buildServicePorts would return for the node, shared-service-ports.ts).
    const nodePorts = this.shared.servicePorts.nodePorts(services, slices, this.node.name)
    // A full sync writes every service: which changed is not needed.
    const changed = fullSync ? null : this.changedSince(this.previous, nodePorts)
    const totalEndpoints = totalEndpointsOf(nodePorts.base, nodePorts)
    const largeClusterMode = totalEndpoints > this.config.largeClusterEndpointsThreshold
    const cleanup = !largeClusterMode || nowNs - this.lastCleanupNs > this.syncPeriodNs
    const result = compileIptablesServicePorts(nodePorts.base, this.node, this.config, {
      fragments: this.shared.fragments,
      changedServices: changed,
      nodeVariants: nodePorts,
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
    this.previous = nodePorts
    this.needFullSync = false
    if (fullSync) this.lastFullSyncNs = nowNs
    return result
  }

  /**
   * The changed Services between two of this node's syncs, as changedServices over the two whole
   * lists would find them: the shared lists' set (ChangeSets, once per pair of states for every
   * node), corrected only for the Services whose variants differ on this node (those it hosts
   * endpoints of, before or now). Nodes whose correction is empty share the set.
   */
  private changedSince(previous: NodeServicePorts, now: NodeServicePorts): ReadonlySet<string> {
    const sharedPorts = this.shared.servicePorts
    const changed = this.shared.changeSets.between(previous.base, now.base, sharedPorts)
    if (previous.hosted.length === 0 && now.hosted.length === 0) return changed
    const before = new Map<string, readonly ServicePortInfo[]>()
    for (const h of previous.hosted) before.set(h.namespacedName, h.local)
    const after = new Map<string, readonly ServicePortInfo[]>()
    for (const h of now.hosted) after.set(h.namespacedName, h.local)
    let corrected: Set<string> | null = null
    const check = (name: string): void => {
      const a = before.get(name) ?? previous.remoteOf(name) ?? NO_PORTS
      const b = after.get(name) ?? now.remoteOf(name) ?? NO_PORTS
      // The same variant both times (its Service and slices unchanged): unchanged in both sets.
      if (a === b) return
      const differs = portsDiffer(a, b, sharedPorts)
      if (differs === changed.has(name)) return
      if (corrected === null) corrected = new Set(changed)
      if (differs) corrected.add(name)
      else corrected.delete(name)
    }
    for (const name of before.keys()) check(name)
    for (const name of after.keys()) if (!before.has(name)) check(name)
    return corrected ?? changed
  }

  /** The last restore failed: nothing was applied, and the next sync must be full. */
  restoreFailed(): void {
    this.existingNatChains = this.existingBeforeLastSync
    this.needFullSync = true
  }
}

const NO_PORTS: readonly ServicePortInfo[] = []

/**
 * Whether one Service's ports differ between two syncs, as the merge walk of changedServices
 * decides it for that Service: a port on one side only, or a pair that is not samePort.
 */
function portsDiffer(
  before: readonly ServicePortInfo[],
  after: readonly ServicePortInfo[],
  shared: SharedServicePorts,
): boolean {
  if (before.length !== after.length) return true
  const a = before.length > 1 ? before.slice().sort(compareServicePorts) : before
  const b = after.length > 1 ? after.slice().sort(compareServicePorts) : after
  for (let i = 0; i < a.length; i++)
    if (compareServicePorts(a[i], b[i]) !== 0 || !shared.samePort(a[i], b[i])) return true
  return false
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
