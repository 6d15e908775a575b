/**
 * The stateful side of kube-proxy's nftables proxier around the pure compiler: which services
 * changed since the last sync, full vs partial syncs, the stale chains waiting to be deleted, and
 * the node's `kube-proxy` table itself (an NftTable the transactions are applied to).
 *
 * Upstream: pkg/proxy/nftables/proxier.go `syncProxyRules` preamble and epilogue (proxy-modes.md
 * §1.4): stale chains older than 1 s are deleted in a separate transaction before the main one;
 * the main transaction's stale chains are flushed and timestamped; a failed transaction clears
 * `staleChains` and forces a full sync; a full sync on the first sync, after a failure, after a
 * topology change and when FullSyncPeriod has passed.
 */
import type { EndpointSlice, Service } from "../../k8s/types.ts"
import { buildServicePorts, compareStrings, nodeZone } from "../service-port.ts"
import type { ProxyNode, ServicePortInfo } from "../service-port.ts"
import { servicePortView } from "../view.ts"
import type { ServicePortView } from "../view.ts"
import type { TopologyOptions } from "../topology.ts"
import { DEFAULT_FULL_SYNC_PERIOD_NS } from "../iptables/proxier.ts"
import type { SharedServicePorts } from "../shared-service-ports.ts"
import { compileNftables } from "./compile.ts"
import type { NftablesCompileResult, NftablesConfig, NftablesExistingState } from "./compile.ts"
import {
  CLUSTER_IPS_SET,
  FIREWALL_IPS_MAP,
  isAffinitySetName,
  KUBE_PROXY_TABLE,
  NO_ENDPOINT_NODEPORTS_MAP,
  NO_ENDPOINT_SERVICES_MAP,
  SERVICE_IPS_MAP,
  SERVICE_NODEPORTS_MAP,
} from "./names.ts"
import { formatTransaction, NftTable, NftTableError } from "./table.ts"
import type { NftOperation, NftSpecPool } from "./table.ts"

/** Stale chains are deleted once they have been stale for longer than this (`oneSecondAgo`). */
export const STALE_CHAIN_DELETE_AFTER_NS = 1_000_000_000

const MANAGED_CONTAINERS = [
  CLUSTER_IPS_SET,
  SERVICE_IPS_MAP,
  FIREWALL_IPS_MAP,
  NO_ENDPOINT_SERVICES_MAP,
  NO_ENDPOINT_NODEPORTS_MAP,
  SERVICE_NODEPORTS_MAP,
]

export interface NftablesProxierOptions {
  readonly fullSyncPeriodNs?: number
  /**
   * The cluster's service-port view, shared between nodes (shared-service-ports.ts): the same
   * lists `buildServicePorts` returns, built once per Service instead of once per node and sync.
   */
  readonly servicePorts?: SharedServicePorts
  /** The cluster's pool of rule and element specs (table.ts NftSpecPool); absent: the table's own. */
  readonly specs?: NftSpecPool
}

export interface NftablesSyncResult {
  /** The stale-chain deletion transaction run first (empty when nothing was old enough). */
  readonly cleanupOps: readonly NftOperation[]
  readonly compile: NftablesCompileResult
  /** `nft -f` text of the main transaction. */
  readonly transaction: string
  /** knftables `NumOperations()` of the main transaction. */
  readonly numOperations: number
  /** The service ports this sync saw (for the stale UDP conntrack cleanup). */
  readonly servicePorts: readonly ServicePortInfo[]
  /** Error text when the main transaction failed (nothing applied). */
  readonly error: string | null
}

export class NftablesProxier {
  readonly table: NftTable
  /** Stale chain -> time (ns) it was last found stale. */
  readonly staleChains = new Map<string, number>()
  private previous = new Map<string, string>()
  private needFullSync = true
  private recreatedBaseChains = false
  private lastFullSyncNs = Number.NEGATIVE_INFINITY
  private lastZone: string | null = null
  private readonly fullSyncPeriodNs: number
  private readonly sharedPorts: SharedServicePorts | null

  constructor(
    private node: ProxyNode,
    private readonly config: NftablesConfig,
    options: NftablesProxierOptions = {},
    table?: NftTable,
  ) {
    this.table = table ?? new NftTable("ip", KUBE_PROXY_TABLE)
    this.fullSyncPeriodNs = options.fullSyncPeriodNs ?? DEFAULT_FULL_SYNC_PERIOD_NS
    this.sharedPorts = options.servicePorts ?? null
    if (options.specs !== undefined) this.table.pool = options.specs
  }

  get nodeName(): string {
    return this.node.name
  }

  setNode(node: ProxyNode): void {
    if (nodeZone(node) !== nodeZone(this.node)) this.needFullSync = true
    this.node = node
  }

  forceFullSync(): void {
    this.needFullSync = true
  }

  /**
   * The state just before the last sync's main transaction (for `mainTransactionFailed`), kept
   * until the transaction is committed (`mainTransactionCommitted`) or failed.
   */
  private beforeMain: ProxierSnapshot | null = null

  /** The last sync's main transaction reached the kernel: its before-state is no longer needed. */
  mainTransactionCommitted(): void {
    this.beforeMain = null
  }

  /**
   * The last sync's main transaction, which `sync` applied to `table`, failed in the kernel
   * (`nft -f` exited non-zero; e.g. an injected failure): nothing of it is applied, and upstream's
   * failure path runs (syncProxyRules: `proxier.staleChains` cleared, `needFullSync = true`).
   * The cleanup transaction that ran before it stays applied (it was a transaction of its own).
   */
  mainTransactionFailed(): void {
    const before = this.beforeMain
    if (before === null) throw new Error("nftables proxier: no sync to fail")
    this.beforeMain = null
    this.table.restoreFrom(before.table)
    this.previous = before.previous
    this.lastFullSyncNs = before.lastFullSyncNs
    this.recreatedBaseChains = before.recreatedBaseChains
    this.staleChains.clear()
    this.needFullSync = true
  }

  /** What knftables' ListAll / ListElements would return now. */
  private existingState(): NftablesExistingState {
    const chains = new Set(this.table.exists ? this.table.chainNames() : [])
    const affinitySets = new Set<string>()
    const elements = new Map<string, Map<string, string>>()
    if (this.table.exists) {
      for (const set of this.table.setNames()) if (isAffinitySetName(set)) affinitySets.add(set)
      for (const container of MANAGED_CONTAINERS) {
        const list = this.table.elements(container)
        if (list === undefined) continue
        const map = new Map<string, string>()
        for (const e of list) map.set(e.key.join(" . "), e.value.join(" . "))
        elements.set(container, map)
      }
    }
    return { chains, affinitySets, elements }
  }

  /** One `syncProxyRules` at `nowNs`: runs the cleanup and main transactions against `table`. */
  sync(nowNs: number, services: readonly Service[], slices: readonly EndpointSlice[]): NftablesSyncResult {
    const zone = nodeZone(this.node)
    if (this.lastZone !== null && this.lastZone !== zone) this.needFullSync = true
    this.lastZone = zone
    let fullSync = this.needFullSync || nowNs - this.lastFullSyncNs > this.fullSyncPeriodNs

    const servicePorts =
      this.sharedPorts?.servicePorts(services, slices, this.node.name) ?? buildServicePorts(services, slices, this.node)
    const current = fingerprintByService(servicePorts)
    const changed = new Set<string>()
    for (const [name, print] of current) if (this.previous.get(name) !== print) changed.add(name)
    for (const name of this.previous.keys()) if (!current.has(name)) changed.add(name)

    // Stale chains older than one second go first, in their own transaction.
    const cleanupOps: NftOperation[] = []
    for (const [chain, sinceNs] of [...this.staleChains].sort((a, b) => compareStrings(a[0], b[0]))) {
      if (sinceNs < nowNs - STALE_CHAIN_DELETE_AFTER_NS) {
        cleanupOps.push({ verb: "delete", kind: "chain", chain: { name: chain } })
        this.staleChains.delete(chain)
      }
    }
    if (cleanupOps.length > 0) {
      try {
        this.table.apply(cleanupOps)
      } catch (error) {
        // The chains stay; they are found stale again (with a later time) at the end of this sync.
        if (!(error instanceof NftTableError)) throw error
        fullSync = true
      }
    }

    const topology = { preferSameTrafficDistribution: this.config.preferSameTrafficDistribution }
    const views = servicePorts.map((svc) => viewOf(svc, this.node.name, zone, topology))
    const existing = this.existingState()
    const compile = compileNftables(views, this.node, this.config, {
      fullSync,
      changedServices: changed,
      recreateBaseChains: fullSync && !this.recreatedBaseChains,
      existing,
    })
    const transaction = formatTransaction(compile.ops, this.table.family, this.table.name)
    this.beforeMain = {
      table: this.table.snapshot(),
      previous: this.previous,
      lastFullSyncNs: this.lastFullSyncNs,
      recreatedBaseChains: this.recreatedBaseChains,
    }
    try {
      this.table.apply(compile.ops)
    } catch (error) {
      if (!(error instanceof NftTableError)) throw error
      this.staleChains.clear()
      this.needFullSync = true
      return {
        cleanupOps,
        compile,
        transaction,
        numOperations: compile.ops.length,
        servicePorts,
        error: error.message,
      }
    }
    if (fullSync) {
      this.recreatedBaseChains = true
      this.lastFullSyncNs = nowNs
    }
    const stale = new Set(compile.staleChains)
    for (const chain of existing.chains) {
      if (stale.has(chain)) this.staleChains.set(chain, nowNs)
      else this.staleChains.delete(chain)
    }
    this.previous = current
    this.needFullSync = false
    return { cleanupOps, compile, transaction, numOperations: compile.ops.length, servicePorts, error: null }
  }
}

interface ProxierSnapshot {
  readonly table: NftTable
  readonly previous: Map<string, string>
  readonly lastFullSyncNs: number
  readonly recreatedBaseChains: boolean
}

/**
 * Views of service ports whose endpoints carry no topology hints: then `servicePortView` reads
 * neither the node name nor the zone (topologyModeFromHints is "" for every node), so the view of
 * a (shared, immutable) port object is the same on every node and is built once.
 */
const nodeIndependentViews = new WeakMap<ServicePortInfo, ServicePortView>()

function viewOf(svc: ServicePortInfo, nodeName: string, zone: string, topology: TopologyOptions): ServicePortView {
  const cached = nodeIndependentViews.get(svc)
  if (cached !== undefined) return cached
  const view = servicePortView(svc, nodeName, zone, topology)
  let hinted = false
  for (const ep of svc.endpoints)
    if (ep.nodeHints.length > 0 || ep.zoneHints.length > 0) {
      hinted = true
      break
    }
  if (!hinted) nodeIndependentViews.set(svc, view)
  return view
}

/** JSON of a service port, once per object (ports are immutable; shared ones serve every node). */
const portJson = new WeakMap<ServicePortInfo, string>()

function jsonOfPort(svc: ServicePortInfo): string {
  let json = portJson.get(svc)
  if (json === undefined) {
    json = JSON.stringify(svc)
    portJson.set(svc, json)
  }
  return json
}

function fingerprintByService(servicePorts: readonly ServicePortInfo[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const svc of servicePorts) out.set(svc.namespacedName, (out.get(svc.namespacedName) ?? "") + jsonOfPort(svc))
  return out
}
