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
import { IptablesProxier } from "../proxy/iptables/proxier.ts"
import { sortIptablesRules } from "../proxy/iptables/sort.ts"
import type { ProxyNode } from "../proxy/service-port.ts"
import { SyncRunner } from "../proxy/sync.ts"
import type { Scheduler } from "../sim/scheduler.ts"
import type { KubeProxySpec } from "./spec.ts"

/** kube-proxy's runner allows a burst of 2 syncs (bounded_frequency_runner, kube-proxy.md §1.6). */
const SYNC_BURST = 2

export interface SyncRecord {
  readonly atNs: number
  readonly fullSync: boolean
  readonly natRules: number
  readonly filterRules: number
  readonly staleUdpEntriesDeleted: number
}

export class KubeProxyNode {
  readonly runner: SyncRunner
  /** Syncs whose restore succeeded. */
  readonly syncs: SyncRecord[] = []
  /** Times of syncs whose iptables-restore failed (nothing applied, retried within syncPeriod). */
  readonly failedSyncsNs: number[] = []
  /** Injected failures left: the next this many restores of kube-proxy's rules fail. */
  private restoreFailuresLeft = 0
  /** Told of each failed sync (the runtime records it as a step of the results). */
  onSyncFailed: ((nowNs: number) => void) | null = null
  private readonly proxier: IptablesProxier
  private jumpsInstalled = false
  /** Told after every sync (the runtime updates the node's health check servers from it). */
  syncListener: { onKubeProxySynced(nowNs: number): void } | null = null

  constructor(
    scheduler: Scheduler,
    private readonly store: ApiStore,
    readonly node: ProxyNode,
    private readonly stack: NetfilterStack,
    spec: KubeProxySpec,
  ) {
    const config = iptablesConfigFrom(spec)
    this.proxier = new IptablesProxier(node, config, { syncPeriodNs: spec.syncPeriodNs })
    this.runner = new SyncRunner(
      scheduler,
      `kube-proxy/${node.name}`,
      spec.minSyncPeriodNs,
      spec.syncPeriodNs,
      SYNC_BURST,
      this,
    )
  }

  /**
   * kube-proxy start-up: once its Service and EndpointSlice informers have synced, the proxier
   * calls syncProxyRules directly (OnServiceSynced/OnEndpointSlicesSynced, not through the runner,
   * so no token is spent), then the runner's Loop arms the periodic timer.
   */
  start(nowNs: number): void {
    this.sync(nowNs)
    this.runner.start(nowNs)
  }

  /** A Service or EndpointSlice changed: ask for a sync (applied after the runner's lag). */
  onChange(nowNs: number): void {
    this.runner.requestSync(nowNs)
  }

  /** Makes the next `count` restores of kube-proxy's rules fail (iptables-restore exits non-zero). */
  failRestores(count: number): void {
    this.restoreFailuresLeft += count
  }

  /** One syncProxyRules; false when iptables-restore failed (the runner then retries). */
  sync(nowNs: number): boolean {
    const services = this.store.list("Service") as readonly Service[]
    const slices = this.store.list("EndpointSlice") as readonly EndpointSlice[]
    const result = this.proxier.sync(nowNs, services, slices)
    // A restore input our own compiler wrote that the engine refuses is a bug and throws; only
    // injected failures are simulated outcomes.
    if (this.restoreFailuresLeft > 0) {
      this.restoreFailuresLeft--
      this.proxier.restoreFailed()
      this.failedSyncsNs.push(nowNs)
      this.onSyncFailed?.(nowNs)
      // kube-proxy's start-up sync is a direct call: the runner is not armed yet, and its Loop's
      // first timer (syncPeriod) is the retry. Later syncs return false to the runner (RetryAfter).
      return false
    }
    this.stack.restore(result.restoreInput, { noflush: true, counters: true })
    if (!this.jumpsInstalled) {
      // kube-proxy inserts its jump rules with `iptables -I` before the first restore; our engine
      // needs the target chains to exist first, so they go in right after it (same end state).
      // Chains that exist must not be declared again: with --noflush a declared chain is flushed.
      const existing = (id: TableId): Set<string> => new Set(this.stack.table(id).chains.map((c) => c.name))
      this.stack.restore(jumpRulesRestoreInput({ filter: existing(TableId.FILTER), nat: existing(TableId.NAT) }), {
        noflush: true,
      })
      this.jumpsInstalled = true
    }
    const deleted = cleanStaleConntrackEntries(conntrackView(this.stack.conntrack), result.services)
    this.syncs.push({
      atNs: nowNs,
      fullSync: result.fullSync,
      natRules: result.natRuleCount,
      filterRules: result.filterRuleCount,
      staleUdpEntriesDeleted: deleted.length,
    })
    this.syncListener?.onKubeProxySynced(nowNs)
    return true
  }

  /** iptables-save of the node; `sorted` keeps kube-proxy's chains only, in upstream test order. */
  rules(sorted: boolean): string {
    const saved = this.stack.save()
    return sorted ? sortIptablesRules(kubeProxyChainsOnly(saved)) : saved
  }
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
        origDstAddr: conntrack.dst[id * 2],
        origDstPort: conntrack.dport[id * 2],
        replySrcAddr: conntrack.src[id * 2 + 1],
      }))
    },
    deleteEntry(handle: number): void {
      conntrack.remove(handle)
    },
  }
}
