/**
 * Helpers that make results documents byte-stable: keys sorted by UTF-16 code units (never
 * localeCompare, which depends on the ICU build), integers kept as integers, and floats derived
 * through Math.log/exp (fairness, confidence intervals) rounded to 6 significant digits.
 */
import type {
  DistributionSummary,
  DnsClientResults,
  DnsResults,
  DnsServerResults,
  IpvsResults,
  IpvsVirtualServerResults,
  KubeProxySyncResults,
  KubeProxySyncStats,
  SyncsByTableRules,
  LatencySummary,
  ResultsDocument,
  WorkloadResults,
} from "./results.ts"

export const SIGNIFICANT_DIGITS = 6

/**
 * Rounds to `digits` significant digits. Number#toPrecision is exactly specified by ECMAScript
 * (nearest, ties to the larger), so the result is the same on every engine. Integers of up to
 * `digits` digits and non-finite values are returned unchanged.
 */
export function roundSignificant(value: number, digits = SIGNIFICANT_DIGITS): number {
  if (!Number.isFinite(value) || value === 0) return value
  return Number(value.toPrecision(digits))
}

/** A copy of `record` with its keys in sorted (UTF-16 code unit) order. */
export function sortedRecord<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {}
  for (const key of Object.keys(record).sort()) out[key] = record[key] as T
  return out
}

/** A record from a Map, keys sorted. */
export function recordFromMap<T>(map: ReadonlyMap<string, T>): Record<string, T> {
  const out: Record<string, T> = {}
  for (const key of [...map.keys()].sort()) out[key] = map.get(key) as T
  return out
}

export function emptyLatencySummary(): LatencySummary {
  return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 }
}

export function emptyDistributionSummary(): DistributionSummary {
  return { byEndpoint: {}, jain: 1, maxOverMean: 1, cv: 0, chiSquareP: 1 }
}

function canonicalDistribution(distribution: DistributionSummary): DistributionSummary {
  return {
    byEndpoint: sortedRecord(distribution.byEndpoint),
    jain: roundSignificant(distribution.jain),
    maxOverMean: roundSignificant(distribution.maxOverMean),
    cv: roundSignificant(distribution.cv),
    chiSquareP: roundSignificant(distribution.chiSquareP),
  }
}

function canonicalWorkload(workload: WorkloadResults): WorkloadResults {
  const out: WorkloadResults = {
    requests: {
      sent: workload.requests.sent,
      completed: workload.requests.completed,
      failed: workload.requests.failed,
      failedByReason: sortedRecord(workload.requests.failedByReason),
    },
    latencyNs: { ...workload.latencyNs },
    ...(workload.latencyHistogram === undefined
      ? {}
      : {
          latencyHistogram: {
            edgesNs: [...workload.latencyHistogram.edgesNs],
            counts: [...workload.latencyHistogram.counts],
          },
        }),
    distribution: canonicalDistribution(workload.distribution),
  }
  if (workload.clientAddressesSeen !== undefined) out.clientAddressesSeen = sortedRecord(workload.clientAddressesSeen)
  if (workload.byNode !== undefined) out.byNode = sortedRecord(workload.byNode)
  if (workload.dns !== undefined) out.dns = canonicalDnsClient(workload.dns)
  return out
}

function canonicalDnsClient(dns: DnsClientResults): DnsClientResults {
  return {
    lookups: { ...dns.lookups, failedByReason: sortedRecord(dns.lookups.failedByReason) },
    queries: {
      ...dns.queries,
      byQtype: sortedRecord(dns.queries.byQtype),
      byRcode: sortedRecord(dns.queries.byRcode),
    },
    latencyNs: { ...dns.latencyNs },
  }
}

function canonicalDns(dns: DnsResults): DnsResults {
  if (dns.lookups === undefined || dns.queries === undefined || dns.latencyNs === undefined) return {}
  const servers: Record<string, DnsServerResults> = {}
  for (const name of Object.keys(dns.servers ?? {}).sort()) servers[name] = { ...(dns.servers ?? {})[name] }
  return { ...canonicalDnsClient({ lookups: dns.lookups, queries: dns.queries, latencyNs: dns.latencyNs }), servers }
}

function canonicalSyncStats(stats: KubeProxySyncStats): KubeProxySyncStats {
  return {
    count: stats.count,
    full: stats.full,
    partial: stats.partial,
    failed: stats.failed,
    durationNs: { ...stats.durationNs },
    lagNs: { ...stats.lagNs },
    maxLagNs: stats.maxLagNs,
    tableRulesMax: stats.tableRulesMax,
  }
}

function canonicalSyncResults(syncs: KubeProxySyncResults): KubeProxySyncResults {
  const byNode: Record<string, KubeProxySyncStats> = {}
  for (const node of Object.keys(syncs.byNode).sort())
    byNode[node] = canonicalSyncStats(syncs.byNode[node] as KubeProxySyncStats)
  const byTableRules: Record<string, SyncsByTableRules> = {}
  for (const key of Object.keys(syncs.byTableRules).sort()) {
    const bin = syncs.byTableRules[key] as SyncsByTableRules
    byTableRules[key] = { syncs: bin.syncs, meanDurationNs: bin.meanDurationNs, maxDurationNs: bin.maxDurationNs }
  }
  return { ...canonicalSyncStats(syncs), byNode, byTableRules }
}

function canonicalIpvs(ipvs: IpvsResults): IpvsResults {
  const virtualServers: Record<string, IpvsVirtualServerResults> = {}
  for (const key of Object.keys(ipvs.virtualServers).sort()) {
    const vs = ipvs.virtualServers[key] as IpvsVirtualServerResults
    virtualServers[key] = {
      conns: vs.conns,
      inPkts: vs.inPkts,
      outPkts: vs.outPkts,
      inBytes: vs.inBytes,
      outBytes: vs.outBytes,
      realServers: sortedRecord(vs.realServers),
    }
  }
  return {
    peakConnections: ipvs.peakConnections,
    peakConnectionsByNode: sortedRecord(ipvs.peakConnectionsByNode),
    connectionsCreated: ipvs.connectionsCreated,
    virtualServers,
  }
}

/**
 * The canonical form of a document: every record sorted by key, fairness floats rounded, field
 * order as in DESIGN.md. Two runs with the same (scenario, seed, version) give byte-identical
 * `JSON.stringify(canonicalResults(doc))` outside `wall`.
 */
export function canonicalResults(doc: ResultsDocument): ResultsDocument {
  const workloads: Record<string, WorkloadResults> = {}
  for (const name of Object.keys(doc.workloads).sort())
    workloads[name] = canonicalWorkload(doc.workloads[name] as WorkloadResults)
  const out: ResultsDocument = {
    schemaVersion: doc.schemaVersion,
    scenario: doc.scenario,
    seed: doc.seed,
    fingerprint: doc.fingerprint,
    simulatedNs: doc.simulatedNs,
    workloads,
    drops: sortedRecord(doc.drops),
    conntrack: {
      peakEntries: doc.conntrack.peakEntries,
      peakEntriesByNode: sortedRecord(doc.conntrack.peakEntriesByNode),
      entriesByState: sortedRecord(doc.conntrack.entriesByState),
      insertFailed: doc.conntrack.insertFailed,
      ...(doc.conntrack.insertFailedByNode === undefined
        ? {}
        : { insertFailedByNode: sortedRecord(doc.conntrack.insertFailedByNode) }),
      ...(doc.conntrack.clashResolved === undefined ? {} : { clashResolved: doc.conntrack.clashResolved }),
      dropsTableFull: doc.conntrack.dropsTableFull,
    },
    dns: canonicalDns(doc.dns),
    ...(doc.pods === undefined
      ? {}
      : {
          pods: {
            total: doc.pods.total,
            running: doc.pods.running,
            pending: doc.pods.pending,
            unschedulable: doc.pods.unschedulable,
            terminating: doc.pods.terminating,
            failed: doc.pods.failed,
          },
        }),
    ...(doc.kubeProxy === undefined ? {} : { kubeProxy: { syncs: canonicalSyncResults(doc.kubeProxy.syncs) } }),
    ...(doc.ipvs === undefined ? {} : { ipvs: canonicalIpvs(doc.ipvs) }),
    steps: doc.steps.map((step) => ({ atNs: step.atNs, description: step.description })),
    // Built with sorted keys and integer (or null) cells: copied as is.
    ...(doc.timeseries === undefined ? {} : { timeseries: doc.timeseries }),
    endReason: doc.endReason,
    wall: { seconds: doc.wall.seconds, events: doc.wall.events, eventsPerSecond: doc.wall.eventsPerSecond },
  }
  return out
}

/** The document as `--json` / results.json print it: canonical form, 2-space indent, final newline. */
export function stringifyResults(doc: ResultsDocument): string {
  return `${JSON.stringify(canonicalResults(doc), null, 2)}\n`
}
