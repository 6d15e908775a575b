/**
 * The human summary `kube-netsim run` prints. Everything except the final `wall` line is a pure
 * function of the document, so golden tests can compare it (drop the last line).
 */
import { formatDurationNs } from "../sim/time.ts"
import { bar, downsample, formatCount, formatNs, formatRate, sparkline, table } from "./format.ts"
import type {
  DistributionSummary,
  DnsClientResults,
  DnsServerResults,
  KubeProxySyncResults,
  KubeProxySyncStats,
  LatencyHistogram,
  LatencySummary,
  ResultsDocument,
  SyncsByTableRules,
  TimeSeriesDocument,
  WorkloadResults,
} from "./results.ts"

const BAR_WIDTH = 24
/** Widest over-time sparkline: longer series are grouped into this many columns. */
const SPARK_COLUMNS = 60

export function renderSummary(doc: ResultsDocument): string {
  const lines: string[] = []
  lines.push(`scenario ${doc.scenario}  seed ${doc.seed}  fingerprint ${doc.fingerprint}`)
  lines.push(
    `simulated ${formatDurationNs(doc.simulatedNs)} (${formatCount(doc.simulatedNs)} ns)  end ${doc.endReason}`,
  )
  for (const name of Object.keys(doc.workloads).sort()) {
    lines.push("")
    lines.push(...renderWorkload(name, doc.workloads[name] as WorkloadResults, doc.timeseries))
  }
  lines.push("")
  lines.push(...renderCounts("drops", doc.drops))
  const conntrack = doc.conntrack
  lines.push("")
  lines.push(
    `conntrack  peak ${formatCount(conntrack.peakEntries)} entries  insert failed ${formatCount(conntrack.insertFailed)}  drops (table full) ${formatCount(conntrack.dropsTableFull)}`,
  )
  const byNode = Object.keys(conntrack.peakEntriesByNode).sort()
  if (byNode.length > 0)
    lines.push(
      `  peak by node: ${byNode.map((node) => `${node} ${formatCount(conntrack.peakEntriesByNode[node] as number)}`).join(", ")}`,
    )
  // The UDP clash race (netfilter/conntrack.ts): shown only when it happened.
  const failedByNode = conntrack.insertFailedByNode ?? {}
  const failedNodes = Object.keys(failedByNode)
    .filter((node) => (failedByNode[node] as number) > 0)
    .sort()
  if (failedNodes.length > 0)
    lines.push(
      `  insert failed by node: ${failedNodes.map((node) => `${node} ${formatCount(failedByNode[node] as number)}`).join(", ")}`,
    )
  if ((conntrack.clashResolved ?? 0) > 0)
    lines.push(`  UDP clashes resolved at confirm: ${formatCount(conntrack.clashResolved as number)}`)
  const byState = Object.keys(conntrack.entriesByState).sort()
  if (byState.length > 0)
    lines.push(
      `  entries by state: ${byState.map((state) => `${state} ${formatCount(conntrack.entriesByState[state] as number)}`).join(", ")}`,
    )
  if (doc.dns.lookups !== undefined && doc.dns.queries !== undefined && doc.dns.latencyNs !== undefined) {
    lines.push("")
    lines.push(
      ...renderDns("dns", { lookups: doc.dns.lookups, queries: doc.dns.queries, latencyNs: doc.dns.latencyNs }),
    )
    const servers = doc.dns.servers ?? {}
    const names = Object.keys(servers).sort()
    if (names.length > 0) {
      const rows = [["  server", "received", "answered", "cache hits", "misses", "forwarded", "refused", "dropped"]]
      for (const name of names) {
        const s = servers[name] as DnsServerResults
        rows.push([
          `  ${name}`,
          ...[s.received, s.answered, s.cacheHits, s.cacheMisses, s.forwarded, s.refused, s.dropped].map(formatCount),
        ])
      }
      lines.push(...table(rows, [false, true, true, true, true, true, true, true]))
    }
  }
  const pods = doc.pods
  if (pods !== undefined && (pods.pending > 0 || pods.failed > 0)) {
    lines.push("")
    lines.push(
      `pods  ${formatCount(pods.total)}  running ${formatCount(pods.running)}  pending ${formatCount(pods.pending)} (unschedulable ${formatCount(pods.unschedulable)})  terminating ${formatCount(pods.terminating)}  failed ${formatCount(pods.failed)}`,
    )
  }
  if (doc.ipvs !== undefined) {
    lines.push("")
    lines.push(
      `ipvs  peak ${formatCount(doc.ipvs.peakConnections)} connections  created ${formatCount(doc.ipvs.connectionsCreated)}  virtual servers used ${formatCount(Object.keys(doc.ipvs.virtualServers).length)}`,
    )
    const byNode = Object.keys(doc.ipvs.peakConnectionsByNode).sort()
    if (byNode.length > 1)
      lines.push(
        `  peak by node: ${byNode.map((node) => `${node} ${formatCount(doc.ipvs?.peakConnectionsByNode[node] as number)}`).join(", ")}`,
      )
  }
  if (doc.kubeProxy !== undefined && doc.kubeProxy.syncs.count + doc.kubeProxy.syncs.failed > 0) {
    lines.push("")
    lines.push(...renderSyncs(doc.kubeProxy.syncs))
  }
  if (doc.steps.length > 0) {
    lines.push("")
    lines.push("timeline")
    for (const step of doc.steps) lines.push(`  ${formatDurationNs(step.atNs).padStart(8)}  ${step.description}`)
  }
  lines.push("")
  lines.push(
    `wall ${doc.wall.seconds.toFixed(3)}s  ${formatCount(doc.wall.events)} events  ${formatRate(doc.wall.eventsPerSecond)} events/s`,
  )
  return `${lines.join("\n")}\n`
}

function renderWorkload(name: string, workload: WorkloadResults, timeseries?: TimeSeriesDocument): string[] {
  const lines: string[] = [`workload ${name}`]
  const requests = workload.requests
  const reasons = Object.keys(requests.failedByReason).sort()
  const failedDetail =
    reasons.length > 0
      ? ` (${reasons.map((reason) => `${reason} ${formatCount(requests.failedByReason[reason] as number)}`).join(", ")})`
      : ""
  lines.push(
    `  requests  sent ${formatCount(requests.sent)}  completed ${formatCount(requests.completed)}  failed ${formatCount(requests.failed)}${failedDetail}`,
  )
  const latency = workload.latencyNs
  if (latency.count > 0) {
    lines.push(
      ...table(
        [
          ["latency", "p50", "p90", "p99", "p99.9", "max", "mean", "n"],
          [
            "",
            formatNs(latency.p50),
            formatNs(latency.p90),
            formatNs(latency.p99),
            formatNs(latency.p999),
            formatNs(latency.max),
            formatNs(latency.mean),
            formatCount(latency.count),
          ],
        ],
        [false, true, true, true, true, true, true, true],
      ),
    )
    if (workload.latencyHistogram !== undefined) lines.push(...renderHistogram(workload.latencyHistogram))
    const series = timeseries?.workloads[name]
    if (timeseries !== undefined && series !== undefined) lines.push(...renderOverTime(timeseries, series))
  } else {
    lines.push("  latency   no completed requests")
  }
  lines.push(...renderDistribution(workload.distribution))
  if (workload.byNode !== undefined && Object.keys(workload.byNode).length > 0)
    lines.push(...renderCounts("  by node", workload.byNode))
  if (workload.dns !== undefined)
    lines.push(...renderDns("  dns", workload.dns).map((line, i) => (i === 0 ? line : `  ${line}`)))
  if (workload.clientAddressesSeen !== undefined && Object.keys(workload.clientAddressesSeen).length > 0)
    lines.push(...renderCounts("  client addresses seen", workload.clientAddressesSeen))
  return lines
}

/** The latency distribution as one sparkline over log-spaced bins, from the lowest to the highest latency. */
function renderHistogram(histogram: LatencyHistogram): string[] {
  const edges = histogram.edgesNs
  if (histogram.counts.length < 2) return []
  return [
    `  histogram ${formatNs(edges[0] as number)} ${sparkline(histogram.counts)} ${formatNs(edges[edges.length - 1] as number)}  (log bins)`,
  ]
}

/**
 * Completions (from zero) and p99 latency (from its lowest to its highest interval) over the run,
 * one column per interval, grouped past SPARK_COLUMNS (sum of completions, max of p99).
 */
function renderOverTime(ts: TimeSeriesDocument, series: TimeSeriesDocument["workloads"][string]): string[] {
  if (ts.startNs.length < 2) return []
  const group = Math.max(1, Math.ceil(ts.startNs.length / SPARK_COLUMNS))
  const span = `per ${formatDurationNs(ts.intervalNs * group)}`
  const completed = downsample(series.completed, SPARK_COLUMNS, true)
  // Intervals without completions have p99 0: left blank, not drawn as the lowest latency.
  const p99 = downsample(
    series.latencyP99Ns.map((v, i) => (series.completed[i] === 0 ? null : v)),
    SPARK_COLUMNS,
    false,
  )
  let p99Max = 0
  let p99Min = Number.POSITIVE_INFINITY
  for (const v of p99) {
    if (v === null) continue
    if (v > p99Max) p99Max = v
    if (v < p99Min) p99Min = v
  }
  let completedMax = 0
  for (const v of completed) if (v !== null && v > completedMax) completedMax = v
  return [
    `  completed |${sparkline(completed)}| max ${formatCount(completedMax)} ${span}`,
    `  p99       |${sparkline(p99, false)}| ${p99Max === 0 ? "none" : `${formatNs(p99Min)}..${formatNs(p99Max)}`}`,
  ]
}

function summaryRow(label: string, summary: LatencySummary): string[] {
  return [
    label,
    formatNs(summary.p50),
    formatNs(summary.p90),
    formatNs(summary.p99),
    formatNs(summary.max),
    formatNs(summary.mean),
    formatCount(summary.count),
  ]
}

function syncCounts(stats: KubeProxySyncStats): string {
  return `${formatCount(stats.count)} (full ${formatCount(stats.full)}, partial ${formatCount(stats.partial)}, failed ${formatCount(stats.failed)})`
}

/** kube-proxy's syncs: durations and change-to-programmed lag, by table size and by node. */
function renderSyncs(syncs: KubeProxySyncResults): string[] {
  const lines = [`kube-proxy syncs  ${syncCounts(syncs)}  table rules max ${formatCount(syncs.tableRulesMax)}`]
  const rows = [["", "p50", "p90", "p99", "max", "mean", "n"], summaryRow("duration", syncs.durationNs)]
  if (syncs.lagNs.count > 0) rows.push(summaryRow("lag", syncs.lagNs))
  lines.push(...table(rows, [false, true, true, true, true, true, true]))
  const bins = Object.keys(syncs.byTableRules)
    .map(Number)
    .sort((a, b) => a - b)
  if (bins.length > 0) {
    const binRows = [["table rules", "syncs", "mean", "max"]]
    for (const bin of bins) {
      const b = syncs.byTableRules[String(bin)] as SyncsByTableRules
      const label = bin === 0 ? "0" : `${formatCount(bin)}-${formatCount(bin * 2 - 1)}`
      binRows.push([label, formatCount(b.syncs), formatNs(b.meanDurationNs), formatNs(b.maxDurationNs)])
    }
    lines.push("  duration by table size")
    lines.push(...table(binRows, [false, true, true, true], "    "))
  }
  const nodes = Object.keys(syncs.byNode).sort()
  if (nodes.length > 1) {
    const nodeRows = [["node", "syncs", "duration p99", "max", "lag max"]]
    for (const node of nodes) {
      const stats = syncs.byNode[node] as KubeProxySyncStats
      nodeRows.push([
        node,
        syncCounts(stats),
        formatNs(stats.durationNs.p99),
        formatNs(stats.durationNs.max),
        formatNs(stats.maxLagNs),
      ])
    }
    lines.push("  by node")
    lines.push(...table(nodeRows, [false, false, true, true, true], "    "))
  }
  return lines
}

function renderDistribution(distribution: DistributionSummary): string[] {
  const names = Object.keys(distribution.byEndpoint).sort()
  if (names.length === 0) return ["  endpoints none"]
  let total = 0
  let max = 0
  for (const name of names) {
    const count = distribution.byEndpoint[name] as number
    total += count
    if (count > max) max = count
  }
  const rows = names.map((name) => {
    const count = distribution.byEndpoint[name] as number
    return [
      name,
      formatCount(count),
      `${total > 0 ? ((100 * count) / total).toFixed(1) : "0.0"}%`,
      bar(count, max, BAR_WIDTH),
    ]
  })
  const lines = ["  endpoints", ...table(rows, [false, true, true, false], "    ")]
  lines.push(
    `  fairness  jain ${distribution.jain.toFixed(4)}  max/mean ${distribution.maxOverMean.toFixed(3)}  cv ${distribution.cv.toFixed(3)}  chi-square p ${formatP(distribution.chiSquareP)}`,
  )
  return lines
}

function formatP(p: number): string {
  return p !== 0 && p < 0.001 ? p.toExponential(2) : p.toFixed(3)
}

/** DNS lookups and queries (dns.mode packets): totals or one workload's. */
function renderDns(title: string, dns: DnsClientResults): string[] {
  const l = dns.lookups
  const q = dns.queries
  const reasons = Object.keys(l.failedByReason).sort()
  const failedDetail =
    reasons.length > 0
      ? ` (${reasons.map((r) => `${r} ${formatCount(l.failedByReason[r] as number)}`).join(", ")})`
      : ""
  const by = (record: Record<string, number>): string =>
    Object.keys(record)
      .sort()
      .map((k) => `${k} ${formatCount(record[k] as number)}`)
      .join(", ")
  const lat = dns.latencyNs
  return [
    `${title}  lookups ${formatCount(l.started)}  answered ${formatCount(l.answered)}  failed ${formatCount(l.failed)}${failedDetail}`,
    `  queries ${formatCount(q.sent)} (${by(q.byQtype)})  timed out ${formatCount(q.timedOut)}  replies ${by(q.byRcode)}`,
    lat.count > 0
      ? `  lookup latency p50 ${formatNs(lat.p50)}  p99 ${formatNs(lat.p99)}  max ${formatNs(lat.max)}  mean ${formatNs(lat.mean)}`
      : "  lookup latency no answered lookups",
  ]
}

function renderCounts(title: string, counts: Readonly<Record<string, number>>): string[] {
  const names = Object.keys(counts).sort()
  if (names.length === 0) return [`${title} none`]
  const rows = names.map((name) => [name, formatCount(counts[name] as number)])
  return [title, ...table(rows, [false, true], title.startsWith("  ") ? "    " : "  ")]
}
