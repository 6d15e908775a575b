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
import type { NodeServicePorts, SharedServicePorts } from "../shared-service-ports.ts"
import { rulesMayDiffer } from "../iptables/compile.ts"
import { compileNftables, nftablesSetupOps, nodePortIPs } from "./compile.ts"
import type { NftablesCompileResult, NftablesConfig, NftablesExistingState } from "./compile.ts"
import {
  CLUSTER_IPS_SET,
  FIREWALL_IPS_MAP,
  isAffinitySetName,
  KUBE_PROXY_TABLE,
  NODEPORT_IPS_SET,
  NO_ENDPOINT_NODEPORTS_MAP,
  NO_ENDPOINT_SERVICES_MAP,
  SERVICE_IPS_MAP,
  SERVICE_NODEPORTS_MAP,
} from "./names.ts"
import { formatTransaction, NftTable, NftTableError, NftTableTransitions } from "./table.ts"
import type { NftOperation, NftSpecPool } from "./table.ts"

/** A full sync's changed set in the shared compile's key (a full sync is keyed without it). */
const NO_CHANGES: ReadonlySet<string> = new Set()

/** The proxier table's sets whose elements are the node's own (see NftTable.localSetNames). */
const LOCAL_SET_NAMES: ReadonlySet<string> = new Set([NODEPORT_IPS_SET])

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
  /**
   * The cluster's shared compile (NftSharedSync; needs `servicePorts`): nodes whose view of every
   * service port compiles alike take one node's transaction. Absent: each node compiles its own
   * (same transactions).
   */
  readonly sharedSync?: NftSharedSync
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
  /**
   * The main transaction in the parts a shared compile is made of (absent: compiled by the node
   * alone): `transaction` is `setup + shared`; `setupShared` is `setup` without the operations on
   * the node's own `nodeport-ips` elements, which are `local`. Applying `setupShared`, `shared`,
   * then `local` gives the state `transaction` gives (the local operations touch only
   * `nodeport-ips` elements, which nothing else reads or writes), and lets nodes in the same
   * state share the first two (texts shared between nodes, NftSharedSync).
   */
  readonly parts?: NftablesTransactionParts | undefined
}

export interface NftablesTransactionParts {
  /** The setup of a full sync ("" for a partial sync), as in `transaction`. */
  readonly setup: string
  readonly setupShared: string
  readonly shared: string
  readonly local: string
}

/** Whether a setup operation writes the node's own `nodeport-ips` elements (a flush or an element). */
function isLocalOp(op: NftOperation): boolean {
  return (
    (op.kind === "element" && op.element.container === NODEPORT_IPS_SET) ||
    (op.kind === "set" && op.verb === "flush" && op.set.name === NODEPORT_IPS_SET)
  )
}

export class NftablesProxier {
  readonly table: NftTable
  /** Stale chain -> time (ns) it was last found stale. */
  readonly staleChains = new Map<string, number>()
  /**
   * What the last sync's change tracking compared against: its per-Service prints (own list), or
   * the shared list it synced plus the prints of the Services the node hosted (shared compile).
   */
  private previous: PreviousPorts = { own: new Map<string, string>() }
  /**
   * Identity of what the compile reads of `table` (chain names, affinity sets, managed elements):
   * equal ids, equal state (NftSharedSync). 0: no table yet.
   */
  private stateId = 0
  private needFullSync = true
  private recreatedBaseChains = false
  private lastFullSyncNs = Number.NEGATIVE_INFINITY
  private lastZone: string | null = null
  private readonly fullSyncPeriodNs: number
  private readonly sharedPorts: SharedServicePorts | null
  private readonly sharedSync: NftSharedSync | null
  /** The config as text: nodes share compiles only under equal configs. */
  private readonly configKey: string

  constructor(
    private node: ProxyNode,
    private readonly config: NftablesConfig,
    options: NftablesProxierOptions = {},
    table?: NftTable,
  ) {
    this.table = table ?? new NftTable("ip", KUBE_PROXY_TABLE)
    this.fullSyncPeriodNs = options.fullSyncPeriodNs ?? DEFAULT_FULL_SYNC_PERIOD_NS
    this.sharedPorts = options.servicePorts ?? null
    this.sharedSync = this.sharedPorts === null ? null : (options.sharedSync ?? null)
    this.configKey = this.sharedSync === null ? "" : JSON.stringify(config)
    if (options.specs !== undefined) this.table.pool = options.specs
    // With the shared compile, `nodeport-ips` elements (the node's IPs) are kept beside the
    // shared maps, so that nodes in the same state hold the same maps (table.ts applyShared).
    if (this.sharedSync !== null) this.table.localSetNames = LOCAL_SET_NAMES
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
    this.stateId = before.stateId
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

    if (this.sharedSync !== null && this.sharedPorts !== null) {
      const nodePorts = this.sharedPorts.nodePorts(services, slices, this.node.name)
      if (this.sharedSync.sharable(nodePorts)) return this.syncShared(nowNs, fullSync, nodePorts, this.sharedSync)
    }

    const servicePorts =
      this.sharedPorts?.servicePorts(services, slices, this.node.name) ?? buildServicePorts(services, slices, this.node)
    const current = fingerprintByService(servicePorts)
    const previous = this.previousPrints()
    const changed = new Set<string>()
    for (const [name, print] of current) if (previous.get(name) !== print) changed.add(name)
    for (const name of previous.keys()) if (!current.has(name)) changed.add(name)

    const cleanup = this.cleanup(nowNs)
    const cleanupOps = cleanup.ops
    if (cleanup.failed) fullSync = true

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
    const error = this.applyMain(compile.ops)
    if (error !== null)
      return { cleanupOps, compile, transaction, numOperations: compile.ops.length, servicePorts, error }
    if (fullSync) {
      this.recreatedBaseChains = true
      this.lastFullSyncNs = nowNs
    }
    const stale = new Set(compile.staleChains)
    for (const chain of existing.chains) {
      if (stale.has(chain)) this.staleChains.set(chain, nowNs)
      else this.staleChains.delete(chain)
    }
    this.previous = { own: current }
    this.stateId = this.sharedSync?.uniqueState() ?? 0
    this.needFullSync = false
    return { cleanupOps, compile, transaction, numOperations: compile.ops.length, servicePorts, error: null }
  }

  /**
   * Applies a sync's main transaction to the table, remembering the state before it (beforeMain).
   * A transaction the table refuses (nft's atomic commit fails) leaves the table as it was, forgets
   * the stale-chain times and asks for a full sync; the refusal's message is returned, else null.
   * `main`: the node's whole operation list, or a shared sync's parts (SplitOps), applied in their
   * order without building the whole list (a copy of every operation per node and full sync: at
   * 5,000 nodes the largest allocation of the first sync, issue 10).
   */
  private applyMain(main: readonly NftOperation[] | SplitOps): string | null {
    this.beforeMain = {
      table: this.table.snapshot(),
      previous: this.previous,
      stateId: this.stateId,
      lastFullSyncNs: this.lastFullSyncNs,
      recreatedBaseChains: this.recreatedBaseChains,
    }
    try {
      if (isOpsList(main)) this.table.apply(main)
      else {
        const split = main
        // The same end state as applying `ops` (see NftablesSyncResult.parts), all or nothing.
        try {
          if (split.setupShared.length > 0) this.table.applyShared(split.setupShared, split.transitions)
          this.table.applyShared(split.shared, split.transitions)
          if (split.local.length > 0) this.table.apply(split.local)
        } catch (error) {
          this.table.restoreFrom(this.beforeMain.table)
          throw error
        }
      }
    } catch (error) {
      if (!(error instanceof NftTableError)) throw error
      this.staleChains.clear()
      this.needFullSync = true
      return error.message
    }
    return null
  }

  /** Stale chains older than one second go first, in their own transaction (applied to `table`). */
  private cleanup(nowNs: number): { ops: NftOperation[]; failed: boolean } {
    const ops: NftOperation[] = []
    for (const [chain, sinceNs] of [...this.staleChains].sort((a, b) => compareStrings(a[0], b[0]))) {
      if (sinceNs < nowNs - STALE_CHAIN_DELETE_AFTER_NS) {
        ops.push({ verb: "delete", kind: "chain", chain: { name: chain } })
        this.staleChains.delete(chain)
      }
    }
    if (ops.length === 0) return { ops, failed: false }
    try {
      this.table.apply(ops)
    } catch (error) {
      // The chains stay; they are found stale again (with a later time) at the end of this sync.
      if (!(error instanceof NftTableError)) throw error
      this.stateId = this.sharedSync?.uniqueState() ?? 0
      return { ops, failed: true }
    }
    if (this.sharedSync !== null) this.stateId = this.sharedSync.afterCleanup(this.stateId, ops)
    return { ops, failed: false }
  }

  /** The last sync's per-Service prints, whichever way it tracked them. */
  private previousPrints(): Map<string, string> {
    const previous = this.previous
    if ("own" in previous) return previous.own
    const prints = new Map(printsOf(previous.base))
    for (const [name, ports] of previous.hosted) prints.set(name, printOfPorts(ports))
    return prints
  }

  /** The Services whose prints changed since the last sync, on this node (see syncShared). */
  private changedServices(
    previous: PreviousPorts,
    base: readonly ServicePortInfo[],
    hosted: ReadonlyMap<string, readonly ServicePortInfo[]>,
    shared: NftSharedSync,
  ): ReadonlySet<string> {
    let changed: ReadonlySet<string>
    if ("own" in previous) {
      const prev = previous.own
      const current = new Map(printsOf(base))
      for (const [name, ports] of hosted) current.set(name, printOfPorts(ports))
      const set = new Set<string>()
      for (const [name, print] of current) if (prev.get(name) !== print) set.add(name)
      for (const name of prev.keys()) if (!current.has(name)) set.add(name)
      changed = set
    } else {
      changed = shared.changedBetween(previous.base, base)
      // Services the node hosts (now or before) differ from the shared list only in its prints.
      let own: Set<string> | null = null
      const check = (name: string): void => {
        const before = previous.hosted.get(name) ?? portsOf(previous.base).get(name)
        const now = hosted.get(name) ?? portsOf(base).get(name)
        const isChanged = !samePrints(before, now)
        if (isChanged === changed.has(name)) return
        own ??= new Set(changed)
        if (isChanged) own.add(name)
        else own.delete(name)
      }
      for (const name of hosted.keys()) check(name)
      for (const name of previous.hosted.keys()) if (!hosted.has(name)) check(name)
      if (own !== null) changed = own
    }
    return changed
  }

  /**
   * A sync whose every service port compiles as the shared (remote) list's does (no Local-policy
   * endpoints on this node, no hints, see NftSharedSync.sharable): the transaction after setup is
   * the one any node compiles from the same list, table state, changed Services and sync kind, so
   * the first such node's compile (ops and text) serves the others. The node's own part is the
   * setup of a full sync (its IPs in `nodeport-ips`), put in front as compileNftables would.
   */
  private syncShared(
    nowNs: number,
    fullSyncIn: boolean,
    nodePorts: NodeServicePorts,
    shared: NftSharedSync,
  ): NftablesSyncResult {
    let fullSync = fullSyncIn
    const base = nodePorts.base
    // The node's prints of the Services it hosts (its list is `base` elsewhere).
    const hosted = hostedPorts(nodePorts)
    const previous = this.previous
    // The changed Services, computed when read: a full sync's shared compile is keyed without them
    // (so a node taking a kept full compile never walks its list), only a miss compiles with them.
    let changedMemo: ReadonlySet<string> | null = null
    const changedOf = (): ReadonlySet<string> => {
      changedMemo ??= this.changedServices(previous, base, hosted, shared)
      return changedMemo
    }

    const cleanup = this.cleanup(nowNs)
    if (cleanup.failed) fullSync = true
    const recreateBaseChains = fullSync && !this.recreatedBaseChains
    const nodePortsMatchAll = fullSync && nodePortIPs(this.config.nodePortAddresses, this.node).matchAll
    const entry = shared.compiled(
      base,
      this.stateId,
      fullSync ? NO_CHANGES : changedOf(),
      fullSync,
      recreateBaseChains,
      nodePortsMatchAll,
      this.node,
      this.configKey,
      () => {
        const zone = nodeZone(this.node)
        const topology = { preferSameTrafficDistribution: this.config.preferSameTrafficDistribution }
        const views = base.map((svc) => viewOf(svc, this.node.name, zone, topology))
        return compileNftables(views, this.node, this.config, {
          fullSync,
          changedServices: changedOf(),
          recreateBaseChains,
          existing: this.existingState(),
          setup: false,
        })
      },
      (ops) => formatTransaction(ops, this.table.family, this.table.name),
    )
    let compile = entry.compile
    let transaction = entry.transaction
    let numOperations = compile.ops.length
    let parts: NftablesTransactionParts = { setup: "", setupShared: "", shared: entry.transaction, local: "" }
    const split: SplitOps = { setupShared: [], shared: entry.compile.ops, local: [], transitions: shared.transitions }
    if (fullSync) {
      const setupOps = nftablesSetupOps(this.node, this.config, recreateBaseChains)
      const shareable = compile
      let ops: readonly NftOperation[] | null = null
      // The node's whole operation list, built only when read (the setup is in front).
      compile = {
        ...shareable,
        get ops(): readonly NftOperation[] {
          if (ops === null) {
            shared.wholeListsBuilt++
            ops = [...setupOps, ...shareable.ops]
          }
          return ops
        },
      }
      numOperations = setupOps.length + shareable.ops.length
      const setup = formatTransaction(setupOps, this.table.family, this.table.name)
      transaction = setup + transaction
      const setupShared = shared.setupShared(
        setupOps.filter((op) => !isLocalOp(op)),
        `${this.configKey}|${recreateBaseChains ? 1 : 0}${nodePortsMatchAll ? 1 : 0}`,
        (list) => formatTransaction(list, this.table.family, this.table.name),
      )
      split.setupShared = setupShared.ops
      split.local = setupOps.filter(isLocalOp)
      parts = {
        setup,
        setupShared: setupShared.text,
        shared: entry.transaction,
        local: formatTransaction(split.local, this.table.family, this.table.name),
      }
    }
    let servicePorts: readonly ServicePortInfo[] | null = null
    const result = (error: string | null): NftablesSyncResult => ({
      cleanupOps: cleanup.ops,
      compile,
      transaction,
      numOperations,
      parts,
      // The node's whole list, built only when read (the stale conntrack cleanup reads it when
      // the node's conntrack table holds entries).
      get servicePorts(): readonly ServicePortInfo[] {
        servicePorts ??= nodePorts.list()
        return servicePorts
      },
      error,
    })
    // The parts, not `compile.ops`: a full sync's whole list is built only if something reads it.
    const error = this.applyMain(split)
    if (error !== null) {
      this.stateId = shared.uniqueState()
      return result(error)
    }
    if (fullSync) {
      this.recreatedBaseChains = true
      this.lastFullSyncNs = nowNs
    }
    // As the unshared path: the existing chains the compile found stale get this sync's time, the
    // others leave the map (every chain in the map exists: only a delete, which takes it out of
    // the map, or a failure, which clears the map, removes one).
    const stale = entry.staleSet
    for (const chain of [...this.staleChains.keys()]) if (!stale.has(chain)) this.staleChains.delete(chain)
    for (const chain of compile.staleChains) this.staleChains.set(chain, nowNs)
    this.previous = { base, hosted }
    this.stateId = entry.stateAfter
    this.needFullSync = false
    return result(null)
  }
}

function isOpsList(main: readonly NftOperation[] | SplitOps): main is readonly NftOperation[] {
  return Array.isArray(main)
}

/** A shared sync's operations in the order applyMain applies them (NftablesSyncResult.parts). */
interface SplitOps {
  setupShared: readonly NftOperation[]
  readonly shared: readonly NftOperation[]
  local: readonly NftOperation[]
  readonly transitions: NftTableTransitions
}

type PreviousPorts =
  | { readonly own: Map<string, string> }
  | {
      readonly base: readonly ServicePortInfo[]
      /** The node's own variants of the Services it hosts (their prints are computed when compared). */
      readonly hosted: ReadonlyMap<string, readonly ServicePortInfo[]>
    }

/** Per-Service prints of a shared list, once per list (the lists are immutable and shared). */
const listPrints = new WeakMap<readonly ServicePortInfo[], Map<string, string>>()

function printsOf(list: readonly ServicePortInfo[]): Map<string, string> {
  let prints = listPrints.get(list)
  if (prints === undefined) {
    prints = fingerprintByService(list)
    listPrints.set(list, prints)
  }
  return prints
}

/**
 * The ports of the Services the node hosts, its own variants in the node's list order, by Service.
 * Kept between syncs as objects, not prints: a node's variants are its own, and their prints
 * (about 3 KB per port at the large point, 30 Services per node) kept per node were a copy of
 * every hosted Service per node. A print is computed when two different objects are compared.
 */
function hostedPorts(nodePorts: NodeServicePorts): Map<string, ServicePortInfo[]> {
  const out = new Map<string, ServicePortInfo[]>()
  if (nodePorts.hosted.length === 0) return out
  // The node's list holds the hosted Services' variants at their positions in `base`.
  const order: number[] = nodePorts.positions.map((_, k) => k)
  order.sort((a, b) => nodePorts.positions[a] - nodePorts.positions[b])
  for (const k of order) {
    const port = nodePorts.variants[k]
    const list = out.get(port.namespacedName)
    if (list === undefined) out.set(port.namespacedName, [port])
    else list.push(port)
  }
  return out
}

/** A shared list's ports by Service, in list order (once per list). */
const listPorts = new WeakMap<readonly ServicePortInfo[], Map<string, ServicePortInfo[]>>()

function portsOf(list: readonly ServicePortInfo[]): Map<string, ServicePortInfo[]> {
  let ports = listPorts.get(list)
  if (ports === undefined) {
    ports = new Map()
    for (const svc of list) {
      const entry = ports.get(svc.namespacedName)
      if (entry === undefined) ports.set(svc.namespacedName, [svc])
      else entry.push(svc)
    }
    listPorts.set(list, ports)
  }
  return ports
}

/** A port's JSON, from the shared cache when it is there, else computed and not kept (a node's own variant). */
function jsonOfPortUncached(svc: ServicePortInfo): string {
  const json = portJson.get(svc)
  if (json !== undefined) return json
  nftPrintStats.nodePortsPrinted++
  return JSON.stringify(svc)
}

/** JSON texts of a node's own port variants built by the change tracking (shape tests read it). */
export const nftPrintStats = { nodePortsPrinted: 0 }

/** The print `fingerprintByService` gives a Service with these ports. */
function printOfPorts(ports: readonly ServicePortInfo[]): string {
  let print = ""
  for (const port of ports) print += jsonOfPortUncached(port)
  return print
}

/**
 * Whether two Services' ports have the same print (fingerprintByService): the same objects, or
 * the same concatenated JSON (ports are immutable). Undefined: the Service is absent. Ports of
 * equal count are compared one by one with jsonEqual (a concatenation of JSON objects splits into
 * its objects one way only, so equal prints are equal ports pairwise): no print is built. Each
 * node compares the variants of the Services it hosts at every partial sync; their JSON (about
 * 5 KB per port with 15 endpoints) was the largest per-node allocation at the large point.
 */
function samePrints(a: readonly ServicePortInfo[] | undefined, b: readonly ServicePortInfo[] | undefined): boolean {
  if (a === b) return true
  if (a === undefined || b === undefined) return false
  if (a.length !== b.length) return printOfPorts(a) === printOfPorts(b)
  for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false
  return true
}

/** An array JSON prints item by item: no `toJSON` of its own or inherited, the plain prototype. */
function plainArray(a: readonly unknown[]): boolean {
  return Object.getPrototypeOf(a) === Array.prototype && !("toJSON" in a)
}

/** Whether a value is left out of an object's JSON (and written `null` in an array's). */
function jsonSkipped(v: unknown): boolean {
  return v === undefined || typeof v === "function" || typeof v === "symbol"
}

/**
 * `JSON.stringify(a) === JSON.stringify(b)` without building either text, for the plain data a
 * service port is (strings, finite numbers, booleans, arrays, plain objects); anything else (a
 * `toJSON`, another prototype, a non-finite number, a skipped value in an array, mixed types) is
 * compared by its JSON, so the answer is JSON equality in every case.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  const ta = typeof a
  if (ta !== typeof b) return JSON.stringify(a) === JSON.stringify(b)
  if (ta === "string" || ta === "boolean") return false
  if (ta === "number") return !Number.isFinite(a as number) && !Number.isFinite(b as number)
  if (ta !== "object" || a === null || b === null) return JSON.stringify(a) === JSON.stringify(b)
  if (Array.isArray(a)) {
    if (!Array.isArray(b)) return false
    // JSON writes one item per index (a skipped value as `null`), so plain arrays of different
    // lengths never print alike: no text is built (an endpoint list that grew, at every partial
    // sync of every node hosting the Service: most of the change tracking's time at 5,000 nodes).
    if (a.length !== b.length) return plainArray(a) && plainArray(b) ? false : JSON.stringify(a) === JSON.stringify(b)
    for (let i = 0; i < a.length; i++) {
      const x: unknown = a[i]
      const y: unknown = b[i]
      if (jsonSkipped(x) || jsonSkipped(y)) return JSON.stringify(a) === JSON.stringify(b)
      if (!jsonEqual(x, y)) return false
    }
    return true
  }
  if (Array.isArray(b)) return false
  const oa = a as Record<string, unknown>
  const ob = b as Record<string, unknown>
  if (
    Object.getPrototypeOf(oa) !== Object.prototype ||
    Object.getPrototypeOf(ob) !== Object.prototype ||
    "toJSON" in oa ||
    "toJSON" in ob
  )
    return JSON.stringify(a) === JSON.stringify(b)
  const ka = Object.keys(oa)
  const kb = Object.keys(ob)
  let i = 0
  let j = 0
  for (;;) {
    while (i < ka.length && jsonSkipped(oa[ka[i]])) i++
    while (j < kb.length && jsonSkipped(ob[kb[j]])) j++
    if (i === ka.length || j === kb.length) return i === ka.length && j === kb.length
    if (ka[i] !== kb[j] || !jsonEqual(oa[ka[i]], ob[kb[j]])) return false
    i++
    j++
  }
}

/** A compile kept for other nodes (see NftSharedSync.compiled). */
interface SharedCompileEntry {
  readonly compile: NftablesCompileResult
  readonly transaction: string
  readonly staleSet: ReadonlySet<string>
  /** The compile-relevant state of a table this transaction was applied to. */
  readonly stateAfter: number
}

/** How many compiles NftSharedSync keeps (nodes of one state sync around the same time). */
const SHARED_COMPILES_KEPT = 16

/**
 * The nftables proxiers' shared compile (issue 10, "share what nodes share"). Every node's
 * transaction is computed from its service-port views, the compile-relevant state of its table
 * (chain names, affinity sets, the managed sets' and maps' elements), the changed Services, and
 * the sync kind; of the node itself only the setup of a full sync reads its IPs, and rules for
 * loadBalancerSourceRanges its primary IP. Nodes whose views are the shared list's (they host no
 * endpoint whose variant compiles otherwise: shared-service-ports.ts, iptables `rulesMayDiffer`)
 * in the same table state therefore get the same transaction after setup: it is compiled and
 * formatted once. Table states are named by ids: the state after applying a kept compile to state
 * s is the same id on every node (nodes start from 0, the empty table); a state reached otherwise
 * gets a fresh id (never shared).
 */
export class NftSharedSync {
  /** The proxier tables' shared transitions (table.ts applyShared). */
  readonly transitions = new NftTableTransitions()
  /** The node-independent part of a full sync's setup, by config and sync kind (see setupShared). */
  private readonly setups = new Map<string, { readonly ops: readonly NftOperation[]; readonly text: string }>()
  private readonly kept = new Map<string, SharedCompileEntry>()
  private readonly listIds = new WeakMap<readonly ServicePortInfo[], number>()
  private readonly changedIds = new WeakMap<ReadonlySet<string>, number>()
  private readonly cleanups = new Map<string, number>()
  private readonly changedKept: {
    before: readonly ServicePortInfo[]
    after: readonly ServicePortInfo[]
    changed: ReadonlySet<string>
  }[] = []
  /** Per shared list: 1 = an endpoint carries hints, 2 = a port has loadBalancerSourceRanges. */
  private readonly listNeeds = new WeakMap<readonly ServicePortInfo[], number>()
  private nextId = 1
  /** Transactions compiled (after setup), and taken from another node's compile. */
  compiledCount = 0
  sharedCount = 0
  /** Syncs that compiled on their own (the node's views differ from the shared list's). */
  ownCount = 0
  /**
   * A shared full sync's whole operation list (setup + shared compile) built for a node: only when
   * something reads `compile.ops` (nothing in a run; a copy of every operation per node and sync).
   */
  wholeListsBuilt = 0

  private readonly configIds = new Map<string, number>()

  private idOfText(text: string): number {
    let id = this.configIds.get(text)
    if (id === undefined) {
      id = this.nextId++
      this.configIds.set(text, id)
    }
    return id
  }

  /** A table state no other node is known to share. */
  uniqueState(): number {
    return this.nextId++
  }

  private idOf<K extends object>(ids: WeakMap<K, number>, key: K): number {
    let id = ids.get(key)
    if (id === undefined) {
      id = this.nextId++
      ids.set(key, id)
    }
    return id
  }

  private needsOf(base: readonly ServicePortInfo[]): number {
    let needs = this.listNeeds.get(base)
    if (needs === undefined) {
      needs = 0
      for (const svc of base) {
        for (const ep of svc.endpoints) if (ep.zoneHints.length > 0 || ep.nodeHints.length > 0) needs |= 1
        if (svc.loadBalancerSourceRanges.length > 0) needs |= 2
      }
      this.listNeeds.set(base, needs)
    }
    return needs
  }

  /**
   * Whether the node's transaction is the shared list's: no hints anywhere (views would read the
   * node's name and zone) and none of the node's variants compiles otherwise than the shared port.
   */
  sharable(nodePorts: NodeServicePorts): boolean {
    if ((this.needsOf(nodePorts.base) & 1) !== 0) {
      this.ownCount++
      return false
    }
    const { positions, variants, base } = nodePorts
    for (let k = 0; k < positions.length; k++)
      if (rulesMayDiffer(variants[k], base[positions[k]])) {
        this.ownCount++
        return false
      }
    return true
  }

  /**
   * The setup operations of a full sync other than the node's own `nodeport-ips` elements: they
   * read the node only through whether NodePorts match every address (in `key` with the config
   * and recreate-base-chains), so the first node's list and text serve the others (same objects,
   * so the transitions they cause are shared). `ops` is this node's list, checked against the kept
   * one so a difference can never pass unnoticed.
   */
  setupShared(
    ops: readonly NftOperation[],
    key: string,
    format: (ops: readonly NftOperation[]) => string,
  ): { readonly ops: readonly NftOperation[]; readonly text: string } {
    const text = format(ops)
    const kept = this.setups.get(key)
    if (kept !== undefined && kept.text === text) return kept
    const entry = { ops, text }
    if (this.setups.size >= SHARED_COMPILES_KEPT) this.setups.delete(this.setups.keys().next().value as string)
    this.setups.set(key, entry)
    return entry
  }

  /** The Services whose prints differ between two shared lists (once per pair). */
  changedBetween(before: readonly ServicePortInfo[], after: readonly ServicePortInfo[]): ReadonlySet<string> {
    for (const kept of this.changedKept) if (kept.before === before && kept.after === after) return kept.changed
    const prev = printsOf(before)
    const current = printsOf(after)
    const changed = new Set<string>()
    for (const [name, print] of current) if (prev.get(name) !== print) changed.add(name)
    for (const name of prev.keys()) if (!current.has(name)) changed.add(name)
    this.changedKept.push({ before, after, changed })
    if (this.changedKept.length > SHARED_COMPILES_KEPT) this.changedKept.shift()
    return changed
  }

  /** The state after the stale-chain cleanup `ops` ran on state `stateId`. */
  afterCleanup(stateId: number, ops: readonly NftOperation[]): number {
    let key = String(stateId)
    for (const op of ops) key += `|${op.kind === "chain" ? op.chain.name : ""}`
    let id = this.cleanups.get(key)
    if (id === undefined) {
      id = this.nextId++
      if (this.cleanups.size >= 1024) this.cleanups.clear()
      this.cleanups.set(key, id)
    }
    return id
  }

  /** The transaction (after setup) for this input, compiled by the first node that asked. */
  compiled(
    base: readonly ServicePortInfo[],
    stateId: number,
    changed: ReadonlySet<string>,
    fullSync: boolean,
    recreateBaseChains: boolean,
    nodePortsMatchAll: boolean,
    node: ProxyNode,
    configKey: string,
    compile: () => NftablesCompileResult,
    format: (ops: readonly NftOperation[]) => string,
  ): SharedCompileEntry {
    let key = `${this.idOf(this.listIds, base)}|${stateId}|${fullSync ? 1 : 0}${recreateBaseChains ? 1 : 0}${nodePortsMatchAll ? 1 : 0}`
    // A partial sync's transaction holds only the changed Services: key it by the set's identity
    // when it is the shared one, else by its names.
    key += fullSync
      ? "|"
      : this.changedIds.has(changed) || changed.size > 64
        ? `|#${this.idOf(this.changedIds, changed)}`
        : `|${[...changed].sort(compareStrings).join(",")}`
    if ((this.needsOf(base) & 2) !== 0) key += `|ip:${node.ips[0] ?? ""}`
    key += `|${this.idOfText(configKey)}`
    const hit = this.kept.get(key)
    if (hit !== undefined) {
      this.sharedCount++
      return hit
    }
    this.compiledCount++
    const result = compile()
    const entry: SharedCompileEntry = {
      compile: result,
      transaction: format(result.ops),
      staleSet: new Set(result.staleChains),
      stateAfter: this.nextId++,
    }
    if (this.kept.size >= SHARED_COMPILES_KEPT) this.kept.delete(this.kept.keys().next().value as string)
    this.kept.set(key, entry)
    return entry
  }
}

interface ProxierSnapshot {
  readonly table: NftTable
  readonly previous: PreviousPorts
  readonly stateId: number
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
