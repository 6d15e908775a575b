/**
 * `kubeProxy.syncs` of the results document: per node and over all nodes, how many syncs ran
 * (full, partial, failed), how long they took in simulated time, and the lag from each
 * Service/EndpointSlice write to the end of the sync that programmed it (what kube-proxy's
 * network_programming_duration_seconds measures), plus durations grouped by the size of the tables
 * replaced, which shows the iptables cost growing with the rule count.
 */
import { Histogram } from "./histogram.ts"
import { sortedRecord } from "./document.ts"
import type { KubeProxySyncResults, KubeProxySyncStats, SyncsByTableRules } from "./results.ts"

/** One successful sync as the statistics read it. */
export interface SyncSample {
  readonly durationNs: number
  readonly fullSync: boolean
  readonly tableRules: number
  readonly lagsNs: readonly number[]
  /** Records `lagsNs` into `histogram` (same result as recording each; may cost less). */
  recordLags?(histogram: Histogram): void
}

export interface NodeSyncs {
  readonly node: string
  readonly syncs: readonly SyncSample[]
  readonly failed: number
}

class SyncAccumulator {
  readonly duration = new Histogram()
  readonly lag = new Histogram()
  full = 0
  partial = 0
  failed = 0
  tableRulesMax = 0

  add(sync: SyncSample): void {
    this.duration.record(sync.durationNs)
    if (sync.recordLags !== undefined) sync.recordLags(this.lag)
    else for (const lagNs of sync.lagsNs) this.lag.record(lagNs)
    if (sync.fullSync) this.full++
    else this.partial++
    if (sync.tableRules > this.tableRulesMax) this.tableRulesMax = sync.tableRules
  }

  merge(other: SyncAccumulator): void {
    this.duration.merge(other.duration)
    this.lag.merge(other.lag)
    this.full += other.full
    this.partial += other.partial
    this.failed += other.failed
    this.tableRulesMax = Math.max(this.tableRulesMax, other.tableRulesMax)
  }

  stats(): KubeProxySyncStats {
    return {
      count: this.duration.count,
      full: this.full,
      partial: this.partial,
      failed: this.failed,
      durationNs: this.duration.summary(),
      lagNs: this.lag.summary(),
      maxLagNs: this.lag.max,
      tableRulesMax: this.tableRulesMax,
    }
  }
}

/** Lower bound of the power-of-two bin holding `rules` (0 for 0). */
export function tableRulesBin(rules: number): number {
  if (rules < 1) return 0
  let bin = 1
  while (bin * 2 <= rules) bin *= 2
  return bin
}

export function kubeProxySyncResults(nodes: readonly NodeSyncs[]): KubeProxySyncResults {
  const total = new SyncAccumulator()
  const byNode: Record<string, KubeProxySyncStats> = {}
  const bins = new Map<number, { syncs: number; sum: number; max: number }>()
  for (const node of nodes) {
    const acc = new SyncAccumulator()
    acc.failed = node.failed
    for (const sync of node.syncs) {
      acc.add(sync)
      const key = tableRulesBin(sync.tableRules)
      const bin = bins.get(key) ?? { syncs: 0, sum: 0, max: 0 }
      bin.syncs++
      bin.sum += sync.durationNs
      if (sync.durationNs > bin.max) bin.max = sync.durationNs
      bins.set(key, bin)
    }
    byNode[node.node] = acc.stats()
    total.merge(acc)
  }
  const byTableRules: Record<string, SyncsByTableRules> = {}
  for (const key of [...bins.keys()].sort((a, b) => a - b)) {
    const bin = bins.get(key) as { syncs: number; sum: number; max: number }
    byTableRules[String(key)] = {
      syncs: bin.syncs,
      meanDurationNs: Math.round(bin.sum / bin.syncs),
      maxDurationNs: bin.max,
    }
  }
  return { ...total.stats(), byNode: sortedRecord(byNode), byTableRules: sortedRecord(byTableRules) }
}
