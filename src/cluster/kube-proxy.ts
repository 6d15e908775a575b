/**
 * kube-proxy on one node: watches Services and EndpointSlices (through the runtime's listener),
 * syncs on kube-proxy's BoundedFrequencyRunner schedule, compiles the iptables-restore input with
 * the iptables-mode compiler and restores it into the node's netfilter, then reconciles stale UDP
 * conntrack entries (pkg/proxy/conntrack/cleanup.go), all in simulated time.
 *
 * A failed iptables-restore takes upstream's path (pkg/proxy/iptables/proxier.go syncProxyRules:
 * the deferred `if !success` block): nothing of the sync is applied (iptables-restore is atomic),
 * the health check servers and the stale-conntrack cleanup are not updated (they follow the
 * restore), `proxier.syncRunner.RetryAfter(proxier.syncPeriod)` asks for a retry within syncPeriod,
 * and `needFullSync = true` makes that retry a full sync. Failures are injected (`failRestores`,
 * the scenario timeline's `failRestore` step); the cause of a real failure is not modelled.
 *
 * A sync takes simulated time (proxy/sync-cost.ts): it reads the Services and EndpointSlices and
 * compiles when it starts, and the kernel holds the new rules only when it ends (iptables-restore
 * commits the table at its end), so packets meanwhile meet the old rules. Every Service or
 * EndpointSlice write is timed from the store write to the end of the first successful sync that
 * started after it (the change-to-programmed lag, as network_programming_duration_seconds).
 */
import type { ApiStore } from "../k8s/store.ts"
import type { EndpointSlice, Service } from "../k8s/types.ts"
import type { Conntrack } from "../netfilter/conntrack.ts"
import { TableId } from "../netfilter/constants.ts"
import type { NetfilterStack } from "../netfilter/stack.ts"
import {
  cleanStaleConntrackEntries,
  type ConntrackEntryView,
  type ConntrackTableView,
} from "../proxy/conntrack-cleanup.ts"
import { iptablesConfigFrom, jumpRulesRestoreInput } from "../proxy/iptables/compile.ts"
import { IptablesProxier, type SharedIptablesCompile } from "../proxy/iptables/proxier.ts"
import { effectiveNodePortAddresses } from "../proxy/node-port-addresses.ts"
import { sortIptablesRules } from "../proxy/iptables/sort.ts"
import type { ProxyNode, ServicePortInfo } from "../proxy/service-port.ts"
import { SyncRunner, type TimedSyncTarget } from "../proxy/sync.ts"
import { IptablesSyncCostModel, iptablesSyncWork, type SyncCostModel } from "../proxy/sync-cost.ts"
import type { IptablesCompileResult } from "../proxy/iptables/compile.ts"
import { TABLE_NAMES } from "../netfilter/constants.ts"
import type { Scheduler } from "../sim/scheduler.ts"
import { bucketIndex, bucketLowest, type Histogram } from "../stats/histogram.ts"
import type { KubeProxySpec } from "./spec.ts"

const NO_HANDLES: readonly number[] = []

/** kube-proxy's runner allows a burst of 2 syncs (bounded_frequency_runner, kube-proxy.md §1.6). */
const SYNC_BURST = 2

export interface SyncRecord {
  /** When the sync started (it saw every object write before this instant). */
  readonly atNs: number
  /** When its rules took effect (atNs + durationNs). */
  readonly endNs: number
  readonly durationNs: number
  readonly fullSync: boolean
  readonly natRules: number
  readonly filterRules: number
  /** Rules in the tables the restore replaced, after it (the sync cost model's input). */
  readonly tableRules: number
  readonly staleUdpEntriesDeleted: number
  /** Change-to-programmed lag of each object write this sync programmed (ns). */
  readonly lagsNs: readonly number[]
  /** Records `lagsNs` into a histogram without listing them (ChangeLog.recordLags). */
  recordLags(histogram: Histogram): void
}

/** A failed sync: started at atNs, failed at endNs. */
export interface FailedSyncRecord {
  readonly atNs: number
  readonly endNs: number
}

/**
 * What a mode's proxier computed when its sync started (syncProxyRules up to the kernel write).
 * `B` is the mode's own payload (restore input, nft transaction, IPVS plan...), applied at the end.
 */
export interface CompiledSync<B = unknown> {
  readonly durationNs: number
  readonly fullSync: boolean
  /** Rules kube-proxy wrote to iptables' nat and filter tables (0 for modes that write none). */
  readonly natRules: number
  readonly filterRules: number
  /**
   * Objects of the mode's kernel state the sync replaces or reads back (SyncWork.objectsTotal:
   * iptables table rules, nftables rules + chains + elements, IPVS virtual + real servers).
   */
  readonly tableObjects: number
  /** The service ports of this sync, for the stale UDP conntrack cleanup every mode runs. */
  readonly services: readonly ServicePortInfo[]
  readonly payload: B
}

/**
 * One proxy mode's proxier and kernel programming on one node. KubeProxyNode drives it with the
 * runner, lag accounting and failure injection every mode shares; the backend owns what differs:
 * compiling, writing the kernel, and printing the node's state as the mode's real tools do.
 */
export interface ProxyBackend<B = unknown> {
  readonly mode: KubeProxySpec["mode"]
  /** The sync starts: read the objects and compile; the kernel is untouched until `apply`. */
  compile(nowNs: number, services: readonly Service[], slices: readonly EndpointSlice[]): CompiledSync<B>
  /** The sync ends successfully: the kernel holds the new state from now on. */
  apply(nowNs: number, sync: CompiledSync<B>): void
  /** The sync's kernel write failed (nothing applied): the next sync must be a full one. */
  failed(): void
  /** The node's state as the mode's tools print it; `sorted` as upstream's unit tests compare it. */
  rules(sorted: boolean): string
  /**
   * Optional, default true: the mode runs the service health check servers (healthCheckNodePort of
   * ETP-Local LoadBalancers). v1.25's userspace proxier had none (only the iptables and IPVS
   * proxiers created a ServiceHealthServer).
   */
  readonly serviceHealthServers?: boolean
  /** Optional: the API store, given once when the node's kube-proxy is built (watches beyond compile's). */
  watch?(store: ApiStore): void
  /**
   * Optional: a watched object changed (told at once, before any sync is scheduled), for modes
   * that act on watch events directly (userspace: the load balancer takes Endpoints updates).
   */
  onObjectsChanged?(nowNs: number): void
  /**
   * With onObjectsChanged: true while a call would do nothing (the watch's handling is already
   * scheduled); the backend calls `onObjectsTaken` when it turns false again. Lets the cluster
   * skip the node for writes until then (World.notifyProxies).
   */
  readonly objectsChangePending?: boolean
  onObjectsTaken?: (() => void) | null
  /**
   * Optional, default true: an EndpointSlice (or Endpoints) write asks for a sync. false for the
   * userspace proxier (v1.25 pkg/proxy/userspace/proxier.go): it embeds
   * `config.NoopEndpointSliceHandler`, and OnEndpointsAdd/Update/Delete only hand the object to
   * the load balancer; only `serviceChange` calls `syncRunner.Run()`.
   */
  readonly endpointWritesSync?: boolean
}

interface InFlightSync {
  readonly startNs: number
  readonly sync: CompiledSync
  /** The object writes this sync covers: entries [changesFrom, changesTo) of the change log. */
  readonly changesFrom: number
  readonly changesTo: number
}

/**
 * Times of the Service and EndpointSlice writes kube-proxies were told of, in order. Every node of
 * a cluster sees every write, so the cluster keeps one log and each node only the position up to
 * which its syncs programmed it (a write's time once, not once per node: at 5,000 nodes and
 * hundreds of thousands of writes, per-node copies are gigabytes).
 */
/** Syncs covering at most this many writes record their lags one by one. */
const SHORT_LAG_RUN = 16

export class ChangeLog {
  readonly timesNs: number[] = []
  /** sumsNs[i]: the exact sum of timesNs[0..i) (for the lags of many writes at once, `recordLags`). */
  private readonly sumsNs: bigint[] = [0n]

  push(nowNs: number): void {
    this.timesNs.push(nowNs)
    this.sumsNs.push(this.sumsNs[this.sumsNs.length - 1] + BigInt(nowNs))
  }

  /**
   * Records into `histogram` the lag `endNs - timesNs[i]` of every write i in [from, to), as
   * `to - from` calls of `histogram.record` would. Writes are logged in time order, so the lags
   * fall from `from` to `to`: each bucket's run of writes is found by binary search and recorded
   * at once (count, smallest and largest lag, exact sum from `sumsNs`). Reading the lags of a sync
   * costs the buckets they span, not the writes it covers (every node's first sync covers every
   * write of the cluster's start: at 5,000 nodes, per-write reading was nodes x writes).
   */
  recordLags(from: number, to: number, endNs: number, histogram: Histogram): void {
    const times = this.timesNs
    if (to - from <= SHORT_LAG_RUN) {
      for (let i = from; i < to; i++) histogram.record(endNs - times[i])
      return
    }
    const sums = this.sumsNs
    let i = from
    while (i < to) {
      const highNs = endNs - times[i]
      const limitNs = endNs - bucketLowest(bucketIndex(highNs))
      // The last write j in [i, to) whose lag is still in the bucket: times[j] <= limitNs.
      let lo = i
      let hi = to - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1
        if (times[mid] <= limitNs) lo = mid
        else hi = mid - 1
      }
      const n = lo - i + 1
      const sum = BigInt(n) * BigInt(endNs) - (sums[lo + 1] - sums[i])
      histogram.recordSameBucket(endNs - times[lo], highNs, n, sum)
      i = lo + 1
    }
  }

  get length(): number {
    return this.timesNs.length
  }
}

export class KubeProxyNode implements TimedSyncTarget {
  readonly runner: SyncRunner
  /** Syncs whose kernel write succeeded, in order of their end. */
  readonly syncs: SyncRecord[] = []
  /** Syncs whose kernel write failed (nothing applied, retried within syncPeriod). */
  readonly failedSyncs: FailedSyncRecord[] = []
  /** Object writes, this node's own log or the cluster's (see ChangeLog). */
  private readonly changes: ChangeLog
  /** Whether `changes` is this node's own (onChange records the write) or shared (the caller does). */
  private readonly ownsChangeLog: boolean
  /** Log entries from here on are writes no sync has started to program yet. */
  private pendingFrom: number
  private inFlight: InFlightSync | null = null
  /** Injected failures left: the next this many kernel writes of kube-proxy's state fail. */
  private restoreFailuresLeft = 0
  /** Told of each failed sync (the runtime records it as a step of the results). */
  onSyncFailed: ((nowNs: number) => void) | null = null
  /** Told after every successful sync is recorded in `syncs` (the runtime counts them). */
  onSyncRecorded: (() => void) | null = null
  /** Told after every sync (the runtime updates the node's health check servers from it). */
  syncListener: { onKubeProxySynced(nowNs: number): void } | null = null

  constructor(
    scheduler: Scheduler,
    private readonly store: ApiStore,
    readonly node: ProxyNode,
    private readonly stack: NetfilterStack,
    spec: KubeProxySpec,
    readonly backend: ProxyBackend,
    changeLog?: ChangeLog,
  ) {
    this.ownsChangeLog = changeLog === undefined
    this.changes = changeLog ?? new ChangeLog()
    this.pendingFrom = this.changes.length
    this.runner = new SyncRunner(
      scheduler,
      `kube-proxy/${node.name}`,
      spec.minSyncPeriodNs,
      spec.syncPeriodNs,
      SYNC_BURST,
      this,
    )
    backend.watch?.(store)
  }

  get mode(): KubeProxySpec["mode"] {
    return this.backend.mode
  }

  /**
   * kube-proxy start-up: once its Service and EndpointSlice informers have synced, the proxier
   * calls syncProxyRules directly (OnServiceSynced/OnEndpointSlicesSynced, not through the runner,
   * so no token is spent), then the runner's Loop arms the periodic timer.
   */
  start(nowNs: number): void {
    this.runner.runDirect(nowNs)
    this.runner.start(nowNs)
  }

  /**
   * A Service or EndpointSlice changed: ask for a sync (applied after the runner's lag), unless it
   * is an endpoints write and the mode's proxier syncs on Service changes only
   * (`endpointWritesSync` false: the write reaches the load balancer through onObjectsChanged and
   * is not logged). With a shared change log, the caller has logged the write already.
   */
  onChange(nowNs: number, endpointsWrite = false): void {
    this.backend.onObjectsChanged?.(nowNs)
    if (endpointsWrite && this.backend.endpointWritesSync === false) return
    if (this.ownsChangeLog) this.changes.push(nowNs)
    this.runner.requestSync(nowNs)
  }

  /**
   * Whether `onChange` would do nothing now: the write is logged by the caller (shared log), the
   * backend takes no watch events, and a run is already requested (the 1-slot channel is full).
   * The cluster skips such nodes (most of them, as writes come in bursts at one instant).
   */
  get changeIsNoop(): boolean {
    return this.changeIsNoopFor(false)
  }

  /**
   * `changeIsNoop` for a write of one kind: an endpoints write that syncs nothing in this mode
   * (`endpointWritesSync` false) is a no-op once the backend's watch handling is scheduled, whether
   * or not a run is requested. A no-op for a Service write is a no-op for an endpoints write.
   */
  changeIsNoopFor(endpointsWrite: boolean): boolean {
    if (this.ownsChangeLog) return false
    const backend = this.backend
    if (backend.onObjectsChanged !== undefined && backend.objectsChangePending !== true) return false
    if (endpointsWrite && backend.endpointWritesSync === false) return true
    return this.runner.runRequested
  }

  /** When the running sync ends (its rules take effect), or null when none runs. */
  get runningSyncEndNs(): number | null {
    return this.inFlight === null ? null : this.inFlight.startNs + this.inFlight.sync.durationNs
  }

  /** Times of syncs whose kernel write failed. */
  get failedSyncsNs(): number[] {
    return this.failedSyncs.map((f) => f.atNs)
  }

  /** Makes the next `count` kernel writes of kube-proxy's state fail (iptables-restore / nft -f exit non-zero). */
  failRestores(count: number): void {
    this.restoreFailuresLeft += count
  }

  /**
   * syncProxyRules starts: reads the objects and compiles now; returns how long the sync runs.
   * The kernel is untouched until endSync.
   */
  startSync(nowNs: number): number {
    if (this.inFlight !== null) throw new Error(`kube-proxy on ${this.node.name}: a sync is already running`)
    const services = this.store.listAll("Service") as readonly Service[]
    const slices = this.store.listAll("EndpointSlice") as readonly EndpointSlice[]
    const sync = this.backend.compile(nowNs, services, slices)
    const changesFrom = this.pendingFrom
    this.pendingFrom = this.changes.length
    this.inFlight = { startNs: nowNs, sync, changesFrom, changesTo: this.pendingFrom }
    return sync.durationNs
  }

  /** The sync ends: its state takes effect now, or nothing does (failure; false to the runner). */
  endSync(nowNs: number): boolean {
    const flight = this.inFlight
    if (flight === null) throw new Error(`kube-proxy on ${this.node.name}: no sync to end`)
    this.inFlight = null
    const sync = flight.sync
    // A kernel write our own compiler produced that the engine refuses is a bug and throws; only
    // injected failures are simulated outcomes.
    if (this.restoreFailuresLeft > 0) {
      this.restoreFailuresLeft--
      this.backend.failed()
      // Its changes are not programmed: the next sync covers them (they precede the pending ones).
      this.pendingFrom = flight.changesFrom
      this.failedSyncs.push({ atNs: flight.startNs, endNs: nowNs })
      this.onSyncFailed?.(nowNs)
      // kube-proxy's start-up sync is a direct call: the runner is not armed yet, and its Loop's
      // first timer (syncPeriod) is the retry. Later syncs return false to the runner (RetryAfter).
      return false
    }
    this.backend.apply(nowNs, sync)
    const { changesFrom, changesTo } = flight
    const changes = this.changes
    const timesNs = changes.timesNs
    // Every mode runs the same stale UDP conntrack cleanup after a successful sync
    // (pkg/proxy/conntrack/cleanup.go, called from each proxier's syncProxyRules).
    // An empty table has nothing to clean (the same empty result without reading the sync's
    // service ports, which a proxier may build only when read).
    const conntrack = this.stack.conntrack
    const deleted =
      conntrack.count === 0 ? NO_HANDLES : cleanStaleConntrackEntries(conntrackView(conntrack), sync.services)
    this.syncs.push({
      atNs: flight.startNs,
      endNs: nowNs,
      durationNs: sync.durationNs,
      fullSync: sync.fullSync,
      natRules: sync.natRules,
      filterRules: sync.filterRules,
      tableRules: sync.tableObjects,
      staleUdpEntriesDeleted: deleted.length,
      // Computed when read (the results read each once), from the shared log.
      get lagsNs(): readonly number[] {
        const lags = new Array<number>(changesTo - changesFrom)
        for (let i = changesFrom; i < changesTo; i++) lags[i - changesFrom] = nowNs - timesNs[i]
        return lags
      },
      recordLags: (histogram: Histogram): void => changes.recordLags(changesFrom, changesTo, nowNs, histogram),
    })
    this.onSyncRecorded?.()
    if (this.backend.serviceHealthServers !== false) this.syncListener?.onKubeProxySynced(nowNs)
    return true
  }

  /** The node's state as the mode's real tools print it (iptables mode: iptables-save). */
  rules(sorted: boolean): string {
    return this.backend.rules(sorted)
  }
}

/** iptables mode: iptables-restore of the compiled rules into the node's tables. */
export class IptablesBackend implements ProxyBackend<IptablesCompileResult> {
  readonly mode = "iptables"
  private readonly proxier: IptablesProxier
  private readonly costModel: SyncCostModel
  private jumpsInstalled = false

  constructor(
    node: ProxyNode,
    private readonly stack: NetfilterStack,
    spec: KubeProxySpec,
    costModel?: SyncCostModel,
    private readonly shared?: SharedIptablesCompile,
  ) {
    this.costModel = costModel ?? new IptablesSyncCostModel(spec.syncCost.iptables)
    const config = iptablesConfigFrom({
      ...spec,
      nodePortAddresses: effectiveNodePortAddresses("iptables", spec.nodePortAddresses),
      // NewProxier reads nf_conntrack_tcp_be_liberal, which kube-proxy set at start-up.
      conntrackTCPLiberal: spec.conntrack.tcpBeLiberal,
    })
    this.proxier = new IptablesProxier(node, config, {
      syncPeriodNs: spec.syncPeriodNs,
      ...(shared === undefined ? {} : { shared }),
    })
  }

  compile(
    nowNs: number,
    services: readonly Service[],
    slices: readonly EndpointSlice[],
  ): CompiledSync<IptablesCompileResult> {
    const result = this.proxier.sync(nowNs, services, slices)
    const stack = this.stack
    const filter = stack.table(TableId.FILTER)
    const nat = stack.table(TableId.NAT)
    // The same input (shared by nodes that assembled alike) onto the same tables: the same work.
    let work = this.shared?.syncWork.find(
      (w) => w.lines === result.restoreLines && w.filter === filter && w.nat === nat,
    )?.work
    if (work === undefined) {
      work = iptablesSyncWork(result.restoreLines, {
        tableRules: (table) => stack.table(tableIdOf(table)).ruleCount,
        chainRules: (table, chain) => stack.table(tableIdOf(table)).chain(chain)?.rules.length ?? 0,
      })
      const kept = this.shared?.syncWork
      if (kept !== undefined) {
        kept.push({ lines: result.restoreLines, filter, nat, work })
        if (kept.length > 16) kept.shift()
      }
    }
    return {
      durationNs: this.costModel.durationNs(work),
      fullSync: result.fullSync,
      natRules: result.natRuleCount,
      filterRules: result.filterRuleCount,
      tableObjects: work.objectsTotal,
      // Read only when the node's conntrack table has entries (endSync): built on demand.
      get services(): readonly ServicePortInfo[] {
        return result.services
      },
      payload: result,
    }
  }

  apply(_nowNs: number, sync: CompiledSync<IptablesCompileResult>): void {
    this.stack.restore(sync.payload.restoreLines, { noflush: true, counters: true })
    if (!this.jumpsInstalled) {
      // kube-proxy inserts its jump rules with `iptables -I` before the first restore; our engine
      // needs the target chains to exist first, so they go in right after it (same end state).
      // Chains that exist must not be declared again: with --noflush a declared chain is flushed.
      // Asked by name (a few jump targets), not a set of every chain of the table per node.
      const existing = (id: TableId): Pick<ReadonlySet<string>, "has"> => {
        const table = this.stack.table(id)
        return { has: (name) => table.chain(name) !== undefined }
      }
      this.stack.restore(jumpRulesRestoreInput({ filter: existing(TableId.FILTER), nat: existing(TableId.NAT) }), {
        noflush: true,
      })
      this.jumpsInstalled = true
    }
  }

  failed(): void {
    this.proxier.restoreFailed()
  }

  /** iptables-save of the node; `sorted` keeps kube-proxy's chains only, in upstream test order. */
  rules(sorted: boolean): string {
    const saved = this.stack.save()
    return sorted ? sortIptablesRules(kubeProxyChainsOnly(saved)) : saved
  }
}

export function tableIdOf(name: string): TableId {
  const index = (TABLE_NAMES as readonly string[]).indexOf(name)
  if (index < 0) throw new Error(`unknown iptables table ${name}`)
  return index as TableId
}

/** Drops built-in chains and tables kube-proxy does not write, as its restore input has none. */
export function kubeProxyChainsOnly(saved: string): string {
  const out: string[] = []
  let table = ""
  for (const line of saved.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1)
    if (table !== "filter" && table !== "nat") continue
    if (line.startsWith(":")) {
      if (!line.startsWith(":KUBE-")) continue
    } else if (line.startsWith("-A ")) {
      if (!line.startsWith("-A KUBE-")) continue
    } else if (line.startsWith("#") || line === "") continue
    out.push(line)
  }
  return out.join("\n") + "\n"
}

/** The conntrack table as kube-proxy's cleanup sees it (netlink dump of original/reply tuples). */
function conntrackView(conntrack: Conntrack): ConntrackTableView {
  return {
    listEntries(): Iterable<ConntrackEntryView> {
      return conntrack.ids().map((id) => ({
        handle: id,
        protocol: conntrack.proto[id],
        origDstAddr: conntrack.dstOf(id * 2),
        origDstPort: conntrack.dportOf(id * 2),
        replySrcAddr: conntrack.srcOf(id * 2 + 1),
      }))
    },
    deleteEntry(handle: number): void {
      conntrack.remove(handle)
    },
  }
}
