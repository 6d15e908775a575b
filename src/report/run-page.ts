/**
 * The `run --report` page: the scenario (name, cluster, proxy mode, the YAML), the summary
 * tables, latency CDFs per workload, per-endpoint bars, the time series (per-endpoint share over
 * time with the timeline's steps marked, request rates and latency, conntrack entries and drops
 * per interval) when the document has them, and the DNS panels in dns.mode packets.
 *
 * Everything drawn is read from the results document, except the latency CDFs, which need the
 * histograms' buckets (stats/run-detail.ts): the document carries only percentiles.
 */
import type { ScenarioSpec } from "../cluster/spec.ts"
import { formatDurationNs, NS_PER_MS, NS_PER_S } from "../sim/time.ts"
import { formatCount, formatNs } from "../stats/format.ts"
import type { LatencySummary, ResultsDocument, WorkloadResults } from "../stats/results.ts"
import { runDetail, type LatencyBucket } from "../stats/run-detail.ts"
import { barChart, cdfChart, timeChart, type ChartEvent } from "./charts.ts"
import type { Block, Cell, ReportPage, Section } from "./page.ts"
import { coarsenTimeSeries, readTimeSeries, topSeries, type TimeSeries } from "./timeseries.ts"

/** Points per time series the page draws at most (longer runs merge adjacent intervals). */
export const MAX_INTERVALS = 1000
/** Series per time chart at most: the largest, and the rest summed as "other (N)". */
export const MAX_SERIES = 20

/** What the page says about the scenario (a subset of ScenarioSpec, plus its file's text). */
export interface ScenarioInfo {
  readonly name: string
  readonly file: string
  readonly proxyMode: string
  readonly dnsMode: string
  readonly durationNs: number
  readonly nodes: readonly { readonly name: string; readonly zone: string }[]
  readonly cni: string
  readonly workloads: readonly string[]
  readonly timelineSteps: number
  /** The scenario file as written (absent: the page says so). */
  readonly yaml?: string
}

export function scenarioInfo(spec: ScenarioSpec, yaml: string | undefined): ScenarioInfo {
  return {
    name: spec.name,
    file: spec.file,
    proxyMode: spec.kubeProxy.mode,
    dnsMode: spec.dns.mode,
    durationNs: spec.durationNs,
    nodes: spec.cluster.nodes.map((n) => ({ name: n.name, zone: n.zone })),
    cni: spec.cluster.cni,
    workloads: spec.workloads.map((w) => w.name),
    timelineSteps: spec.timeline.length,
    ...(yaml === undefined ? {} : { yaml }),
  }
}

export interface RunReportInput {
  readonly scenario: ScenarioInfo
  /** One results document per seed (`run --runs R`); the page draws the first and lists the rest. */
  readonly documents: readonly ResultsDocument[]
  /** "kube-netsim 0.1.0" */
  readonly generator: string
}

export function runReportPage(input: RunReportInput): ReportPage {
  const doc = input.documents[0]
  if (doc === undefined) throw new Error("report: no results document")
  const s = input.scenario
  const sections: Section[] = [
    scenarioSection(s),
    runSection(input.documents),
    workloadsSection(doc),
    latencySection(doc),
    endpointsSection(doc),
    timeSeriesSection(doc),
    dataplaneSection(doc),
    dnsSection(doc),
    stepsSection(doc),
  ]
  return {
    kind: "run",
    title: `kube-netsim run: ${s.name}`,
    subtitle: `${s.proxyMode} mode, ${s.nodes.length} node${s.nodes.length === 1 ? "" : "s"}, seed ${doc.seed}, ${formatDurationNs(doc.simulatedNs)} simulated, fingerprint ${doc.fingerprint}`,
    sections,
    generator: input.generator,
  }
}

export function scenarioSection(s: ScenarioInfo): Section {
  const nodes = s.nodes.map((n) => `${n.name} (${n.zone})`).join(", ")
  const blocks: Block[] = [
    {
      kind: "keyValues",
      entries: [
        ["name", s.name],
        ["file", s.file],
        ["kube-proxy mode", s.proxyMode],
        ["DNS", s.dnsMode],
        ["CNI", s.cni],
        ["duration", formatDurationNs(s.durationNs)],
        [`nodes (${s.nodes.length})`, nodes],
        ["workloads", s.workloads.join(", ")],
        ["timeline steps", s.timelineSteps],
      ],
    },
  ]
  blocks.push(
    s.yaml === undefined
      ? { kind: "note", text: "The scenario file's text was not available." }
      : { kind: "pre", caption: s.file, text: s.yaml },
  )
  return { id: "scenario", title: "Scenario", blocks }
}

function runSection(docs: readonly ResultsDocument[]): Section {
  const doc = docs[0] as ResultsDocument
  const blocks: Block[] = [
    {
      kind: "keyValues",
      entries: [
        ["seed", doc.seed],
        ["fingerprint", doc.fingerprint],
        ["simulated", `${formatDurationNs(doc.simulatedNs)} (${formatCount(doc.simulatedNs)} ns)`],
        ["end", doc.endReason],
        ["events", formatCount(doc.wall.events)],
        ["wall", `${doc.wall.seconds.toFixed(2)} s (${formatCount(doc.wall.eventsPerSecond)} events/s)`],
      ],
    },
  ]
  if (docs.length > 1) {
    blocks.push({
      kind: "note",
      text: `${docs.length} runs (seeds ${docs.map((d) => d.seed).join(", ")}): the charts and tables below show the first; this table lists each.`,
    })
    const names = Object.keys(doc.workloads).sort()
    blocks.push({
      kind: "table",
      head: [
        "seed",
        "fingerprint",
        ...names.flatMap((n) => [`${n} completed`, `${n} failed`, `${n} p99`, `${n} Jain`]),
      ],
      numericColumns: names.flatMap((_, i) => [2 + 4 * i, 3 + 4 * i, 4 + 4 * i, 5 + 4 * i]).concat([0]),
      rows: docs.map((d) => [
        d.seed,
        d.fingerprint,
        ...names.flatMap((n) => {
          const w = d.workloads[n]
          return w === undefined
            ? ["", "", "", ""]
            : [w.requests.completed, w.requests.failed, formatNs(w.latencyNs.p99), w.distribution.jain]
        }),
      ]),
    })
  }
  return { id: "run", title: "Run", blocks }
}

function workloadEntries(doc: ResultsDocument): [string, WorkloadResults][] {
  return Object.keys(doc.workloads)
    .sort()
    .map((name) => [name, doc.workloads[name] as WorkloadResults])
}

export function latencyRow(label: string, l: LatencySummary): Cell[] {
  return [label, formatCount(l.count), ...[l.min, l.mean, l.p50, l.p90, l.p99, l.p999, l.max].map(formatNs)]
}

export const LATENCY_HEAD = ["", "count", "min", "mean", "p50", "p90", "p99", "p99.9", "max"]

function workloadsSection(doc: ResultsDocument): Section {
  const workloads = workloadEntries(doc)
  if (workloads.length === 0)
    return { id: "workloads", title: "Workloads", blocks: [{ kind: "note", text: "No workloads." }] }
  const reasons = [...new Set(workloads.flatMap(([, w]) => Object.keys(w.requests.failedByReason)))].sort()
  const blocks: Block[] = [
    {
      kind: "table",
      caption: "Requests",
      head: ["workload", "sent", "completed", "failed", ...reasons.map((r) => `failed: ${r}`)],
      rows: workloads.map(([name, w]) => [
        name,
        formatCount(w.requests.sent),
        formatCount(w.requests.completed),
        formatCount(w.requests.failed),
        ...reasons.map((r) => formatCount(w.requests.failedByReason[r] ?? 0)),
      ]),
    },
    {
      kind: "table",
      caption: "Latency (completed requests)",
      head: ["workload", ...LATENCY_HEAD.slice(1)],
      rows: workloads.map(([name, w]) => latencyRow(name, w.latencyNs)),
    },
    {
      kind: "table",
      caption: "Split over endpoints",
      head: ["workload", "endpoints", "Jain index", "max / mean", "CV", "χ² p-value"],
      rows: workloads.map(([name, w]) => [
        name,
        Object.keys(w.distribution.byEndpoint).length,
        w.distribution.jain,
        w.distribution.maxOverMean,
        w.distribution.cv,
        w.distribution.chiSquareP,
      ]),
    },
  ]
  return { id: "workloads", title: "Workloads", blocks }
}

/** CDF points from histogram buckets: (bucket value, fraction of samples at or below it). */
export function cdfPoints(buckets: readonly LatencyBucket[]): { valueMs: number; fraction: number }[] {
  let total = 0
  for (const b of buckets) total += b.count
  if (total === 0) return []
  const out: { valueMs: number; fraction: number }[] = []
  let seen = 0
  for (const b of buckets) {
    seen += b.count
    // A log axis cannot show 0 ns: such samples are drawn at 1 ns.
    out.push({ valueMs: Math.max(b.valueNs, 1) / NS_PER_MS, fraction: seen / total })
  }
  return out
}

function latencySection(doc: ResultsDocument): Section {
  const detail = runDetail(doc)
  const blocks: Block[] = []
  if (detail === undefined) {
    blocks.push({
      kind: "note",
      text: "Latency CDFs need the run's histograms, which the results document does not carry (the report was made from a document read back, not from a run).",
    })
    return { id: "latency", title: "Latency", blocks }
  }
  const rows = Object.keys(detail.latencyByWorkload)
    .sort()
    .flatMap((name) => cdfPoints(detail.latencyByWorkload[name] ?? []).map((p) => ({ series: name, ...p })))
  if (rows.length === 0) blocks.push({ kind: "note", text: "No request completed: no latency to draw." })
  else
    blocks.push({
      kind: "chart",
      id: "latency-cdf",
      title: "Request latency CDF per workload",
      spec: cdfChart(rows, { seriesTitle: "workload", xTitle: "latency (ms, log scale)" }),
      caption:
        "From each workload's latency histogram (log-linear buckets, ≤ 0.78 % relative error): request start to reply, DNS lookup included in dns.mode packets.",
    })
  return { id: "latency", title: "Latency", blocks }
}

function endpointsSection(doc: ResultsDocument): Section {
  const blocks: Block[] = []
  for (const [name, w] of workloadEntries(doc)) {
    const entries = Object.entries(w.distribution.byEndpoint)
    if (entries.length === 0 || entries.every(([, c]) => c === 0)) {
      blocks.push({ kind: "note", text: `${name}: no request reached an endpoint.` })
      continue
    }
    const total = entries.reduce((sum, [, c]) => sum + c, 0)
    blocks.push({
      kind: "chart",
      id: `endpoints-${slug(name)}`,
      title: `${name}: completed requests per endpoint`,
      spec: barChart(
        entries.map(([label, value]) => ({ label, value })),
        {
          labelTitle: "endpoint",
          valueTitle: "completed requests",
          reference: { value: total / entries.length, title: "equal share" },
        },
      ),
      caption: `Dashed line: the equal share (${formatCount(Math.round(total / entries.length))}). Jain ${w.distribution.jain}, max/mean ${w.distribution.maxOverMean}, χ² p ${w.distribution.chiSquareP}.`,
    })
  }
  if (blocks.length === 0) blocks.push({ kind: "note", text: "No workloads." })
  return { id: "endpoints", title: "Endpoints", blocks }
}

function events(series: TimeSeries): ChartEvent[] {
  return series.events.map((e, i) => ({ tS: e.atNs / NS_PER_S, label: String(i + 1), step: e.step }))
}

function timeSeriesSection(doc: ResultsDocument): Section {
  const read = readTimeSeries(doc)
  const id = "timeseries"
  const title = "Over time"
  if (read.kind === "absent")
    return {
      id,
      title,
      blocks: [
        {
          kind: "note",
          text: "This results document has no time series (the `timeseries` key): the per-endpoint share over time, rates, conntrack and drops over time are not drawn.",
        },
      ],
    }
  if (read.kind === "invalid")
    return {
      id,
      title,
      blocks: [{ kind: "note", text: `The time series are malformed and not drawn: ${read.reason}.` }],
    }
  // Bounded work for the browser: at most MAX_INTERVALS points per series, MAX_SERIES series.
  const factor = Math.ceil(read.series.startNs.length / MAX_INTERVALS)
  const ts = coarsenTimeSeries(read.series, factor)
  const marks = events(ts)
  const t = ts.startNs.map((ns) => ns / NS_PER_S)
  const perSecond = NS_PER_S / ts.intervalNs
  const lastStartNs = ts.startNs.length === 0 ? 0 : (ts.startNs[ts.startNs.length - 1] as number)
  const domain: [number, number] = [0, Math.max(doc.simulatedNs, lastStartNs + ts.intervalNs) / NS_PER_S]
  const blocks: Block[] = [
    {
      kind: "note",
      text: `Intervals of ${formatDurationNs(ts.intervalNs)}${factor > 1 ? ` (${factor} recorded intervals of ${formatDurationNs(read.series.intervalNs)} merged: counts summed, conntrack entries and latency percentiles the maximum over them)` : ""}; numbered dashed lines are the timeline's steps (table at the end).`,
    },
  ]
  for (const name of Object.keys(ts.workloads).sort()) {
    const w = ts.workloads[name] as TimeSeries["workloads"][string]
    const key = slug(name)
    const byEndpoint = topSeries(w.byEndpoint, MAX_SERIES)
    const endpoints = Object.keys(byEndpoint)
    const shareRows: { tS: number; series: string; value: number }[] = []
    for (let i = 0; i < t.length; i++) {
      let total = 0
      for (const e of endpoints) total += (byEndpoint[e] as readonly number[])[i] as number
      if (total === 0) continue
      for (const e of endpoints)
        shareRows.push({
          tS: t[i] as number,
          series: e,
          value: ((byEndpoint[e] as readonly number[])[i] as number) / total,
        })
    }
    if (shareRows.length > 0)
      blocks.push({
        kind: "chart",
        id: `share-${key}`,
        title: `${name}: share of completions per endpoint`,
        spec: timeChart(shareRows, marks, {
          seriesTitle: "endpoint",
          valueTitle: "share of the interval's completions",
          mark: "area",
          domain: [0, 1],
          timeDomainS: domain,
          format: ".3f",
        }),
      })
    else blocks.push({ kind: "note", text: `${name}: no completion in any interval.` })
    const rateRows: { tS: number; series: string; value: number }[] = []
    const rates: [string, readonly number[]][] = [
      ["sent", w.requests],
      ["completed", w.completed],
      ...Object.keys(w.failedByReason)
        .sort()
        .map((r): [string, readonly number[]] => [`failed: ${r}`, w.failedByReason[r] as readonly number[]]),
    ]
    if (Object.keys(w.failedByReason).length === 0) rates.push(["failed", w.failed])
    for (const [series, values] of rates)
      for (let i = 0; i < t.length; i++)
        rateRows.push({ tS: t[i] as number, series, value: (values[i] as number) * perSecond })
    if (rateRows.some((r) => r.value > 0))
      blocks.push({
        kind: "chart",
        id: `rates-${key}`,
        title: `${name}: requests per second`,
        spec: timeChart(rateRows, marks, { seriesTitle: "", valueTitle: "per second", timeDomainS: domain }),
      })
    const latencyRows: { tS: number; series: string; value: number }[] = []
    for (let i = 0; i < t.length; i++) {
      // Intervals without a completion carry no latency (0): not drawn.
      if ((w.completed[i] as number) === 0) continue
      latencyRows.push({ tS: t[i] as number, series: "p50", value: (w.latencyP50Ns[i] as number) / NS_PER_MS })
      latencyRows.push({ tS: t[i] as number, series: "p99", value: (w.latencyP99Ns[i] as number) / NS_PER_MS })
    }
    if (latencyRows.length > 0)
      blocks.push({
        kind: "chart",
        id: `latency-time-${key}`,
        title: `${name}: latency per interval`,
        spec: timeChart(latencyRows, marks, {
          seriesTitle: "percentile",
          valueTitle: "latency (ms)",
          format: ".3f",
          timeDomainS: domain,
        }),
      })
  }
  const conntrackRows = seriesRows(topSeries(ts.conntrack, MAX_SERIES), t, 1)
  blocks.push(
    conntrackRows.length > 0
      ? {
          kind: "chart",
          id: "conntrack-time",
          title: "Conntrack entries per node",
          spec: timeChart(conntrackRows, marks, { seriesTitle: "node", valueTitle: "entries", timeDomainS: domain }),
        }
      : { kind: "note", text: "No conntrack series." },
  )
  const dropRows = seriesRows(ts.drops, t, 1)
  blocks.push(
    dropRows.some((r) => r.value > 0)
      ? {
          kind: "chart",
          id: "drops-time",
          title: "Drops per interval by reason",
          spec: timeChart(
            dropRows.filter((r) => r.value > 0),
            marks,
            {
              seriesTitle: "reason",
              valueTitle: "packets dropped",
              mark: "bar",
              intervalS: ts.intervalNs / NS_PER_S,
              timeDomainS: domain,
            },
          ),
        }
      : { kind: "note", text: "No packet was dropped." },
  )
  return { id, title, blocks }
}

function seriesRows(
  record: Readonly<Record<string, readonly number[]>>,
  t: readonly number[],
  scale: number,
): { tS: number; series: string; value: number }[] {
  const rows: { tS: number; series: string; value: number }[] = []
  for (const series of Object.keys(record).sort()) {
    const values = record[series] as readonly number[]
    for (let i = 0; i < t.length; i++) rows.push({ tS: t[i] as number, series, value: (values[i] as number) * scale })
  }
  return rows
}

function countsTable(caption: string, head: string, record: Readonly<Record<string, number>>): Block {
  const keys = Object.keys(record).sort()
  if (keys.length === 0) return { kind: "note", text: `${caption}: none.` }
  return { kind: "table", caption, head: [head, "count"], rows: keys.map((k) => [k, formatCount(record[k] as number)]) }
}

function dataplaneSection(doc: ResultsDocument): Section {
  const c = doc.conntrack
  const blocks: Block[] = [countsTable("Drops by reason", "reason", doc.drops)]
  const nodes = Object.keys(c.peakEntriesByNode).sort()
  blocks.push({
    kind: "table",
    caption: "Conntrack",
    head: ["node", "peak entries", "insert failed"],
    rows: [
      ...nodes.map((n) => [n, formatCount(c.peakEntriesByNode[n] ?? 0), formatCount(c.insertFailedByNode?.[n] ?? 0)]),
      ["all (peak of one node)", formatCount(c.peakEntries), formatCount(c.insertFailed)],
    ],
  })
  blocks.push({
    kind: "keyValues",
    entries: [
      ["drops (table full)", formatCount(c.dropsTableFull)],
      ["UDP clashes resolved", formatCount(c.clashResolved ?? 0)],
      [
        "entries by state at the end",
        Object.keys(c.entriesByState)
          .sort()
          .map((s) => `${s} ${formatCount(c.entriesByState[s] as number)}`)
          .join(", ") || "none",
      ],
    ],
  })
  const syncs = doc.kubeProxy?.syncs
  if (syncs !== undefined) {
    const syncNodes = Object.keys(syncs.byNode).sort()
    blocks.push({
      kind: "table",
      caption: "kube-proxy syncs",
      head: ["node", "syncs", "full", "partial", "failed", "duration p50", "duration max", "lag max", "rules max"],
      rows: [...syncNodes.map((n) => [n, syncs.byNode[n]] as const), ["all", syncs] as const].map(([n, s]) => [
        n,
        formatCount(s.count),
        formatCount(s.full),
        formatCount(s.partial),
        formatCount(s.failed),
        formatNs(s.durationNs.p50),
        formatNs(s.durationNs.max),
        formatNs(s.maxLagNs),
        formatCount(s.tableRulesMax),
      ]),
    })
  }
  if (doc.pods !== undefined)
    blocks.push({
      kind: "table",
      caption: "Pods at the end",
      head: ["total", "running", "pending", "unschedulable", "terminating", "failed"],
      numericColumns: [0, 1, 2, 3, 4, 5],
      rows: [
        [
          doc.pods.total,
          doc.pods.running,
          doc.pods.pending,
          doc.pods.unschedulable,
          doc.pods.terminating,
          doc.pods.failed,
        ],
      ],
    })
  if (doc.ipvs !== undefined) {
    const ipvs = doc.ipvs
    blocks.push({
      kind: "table",
      caption: `IPVS virtual servers (peak connections ${formatCount(ipvs.peakConnections)}, created ${formatCount(ipvs.connectionsCreated)})`,
      head: ["virtual server", "conns", "in packets", "out packets", "real servers (conns)"],
      numericColumns: [1, 2, 3],
      rows: Object.keys(ipvs.virtualServers)
        .sort()
        .map((k) => {
          const vs = ipvs.virtualServers[k] as NonNullable<(typeof ipvs.virtualServers)[string]>
          return [
            k,
            formatCount(vs.conns),
            formatCount(vs.inPkts),
            formatCount(vs.outPkts),
            Object.keys(vs.realServers)
              .sort()
              .map((rs) => `${rs} ${vs.realServers[rs]}`)
              .join(", "),
          ]
        }),
    })
  }
  return { id: "dataplane", title: "Data plane", blocks }
}

function dnsSection(doc: ResultsDocument): Section {
  const dns = doc.dns
  const id = "dns"
  const title = "DNS"
  if (dns.lookups === undefined || dns.queries === undefined)
    return {
      id,
      title,
      blocks: [
        {
          kind: "note",
          text: "dns.mode static: names were answered without DNS packets, so there is nothing to draw.",
        },
      ],
    }
  const blocks: Block[] = []
  const workloads = workloadEntries(doc).filter(([, w]) => w.dns !== undefined)
  const reasons = [
    ...new Set([
      ...Object.keys(dns.lookups.failedByReason),
      ...workloads.flatMap(([, w]) => Object.keys(w.dns?.lookups.failedByReason ?? {})),
    ]),
  ].sort()
  const lookupRow = (label: string, l: NonNullable<typeof dns.lookups>): Cell[] => [
    label,
    formatCount(l.started),
    formatCount(l.answered),
    formatCount(l.failed),
    ...reasons.map((r) => formatCount(l.failedByReason[r] ?? 0)),
  ]
  blocks.push({
    kind: "table",
    caption: "Lookups (getaddrinfo calls)",
    head: ["workload", "started", "answered", "failed", ...reasons.map((r) => `failed: ${r}`)],
    rows: [
      ...workloads.map(([n, w]) => lookupRow(n, (w.dns as NonNullable<typeof w.dns>).lookups)),
      lookupRow("all", dns.lookups),
    ],
  })
  if (dns.latencyNs !== undefined)
    blocks.push({
      kind: "table",
      caption: "Lookup latency (answered lookups)",
      head: ["workload", ...LATENCY_HEAD.slice(1)],
      rows: [
        ...workloads.map(([n, w]) => latencyRow(n, (w.dns as NonNullable<typeof w.dns>).latencyNs)),
        latencyRow("all", dns.latencyNs),
      ],
    })
  const detail = runDetail(doc)?.dnsLatencyByWorkload
  if (detail !== undefined) {
    const rows = Object.keys(detail)
      .sort()
      .flatMap((name) => cdfPoints(detail[name] ?? []).map((p) => ({ series: name, ...p })))
    if (rows.length > 0)
      blocks.push({
        kind: "chart",
        id: "dns-lookup-cdf",
        title: "Lookup latency CDF per workload",
        spec: cdfChart(rows, { seriesTitle: "workload", xTitle: "lookup latency (ms, log scale)" }),
      })
  }
  const q = dns.queries
  blocks.push({
    kind: "keyValues",
    entries: [
      ["queries sent", formatCount(q.sent)],
      ["queries timed out", formatCount(q.timedOut)],
    ],
  })
  for (const [key, label, record] of [
    ["qtype", "Queries by type", q.byQtype],
    ["rcode", "Replies by rcode", q.byRcode],
  ] as const) {
    const entries = Object.keys(record).sort()
    if (entries.length === 0) {
      blocks.push({ kind: "note", text: `${label}: none.` })
      continue
    }
    blocks.push({
      kind: "chart",
      id: `dns-${key}`,
      title: label,
      spec: barChart(
        entries.map((k) => ({ label: k, value: record[k] as number })),
        { labelTitle: key, valueTitle: "queries" },
      ),
    })
  }
  const servers = dns.servers ?? {}
  const names = Object.keys(servers).sort()
  if (names.length === 0) blocks.push({ kind: "note", text: "No DNS server pod received a query." })
  else {
    const fields = ["received", "answered", "cacheHits", "cacheMisses", "forwarded", "refused", "dropped"] as const
    blocks.push({
      kind: "table",
      caption: "Servers",
      head: ["server", "received", "answered", "cache hits", "cache misses", "forwarded", "refused", "dropped"],
      rows: names.map((n) => [
        n,
        ...fields.map((f) => formatCount((servers[n] as NonNullable<(typeof servers)[string]>)[f])),
      ]),
    })
    blocks.push({
      kind: "chart",
      id: "dns-servers",
      title: "Queries received per DNS server",
      spec: barChart(
        names.map((n) => ({ label: n, value: (servers[n] as NonNullable<(typeof servers)[string]>).received })),
        { labelTitle: "server", valueTitle: "queries received" },
      ),
    })
  }
  return { id, title, blocks }
}

function stepsSection(doc: ResultsDocument): Section {
  const ts = readTimeSeries(doc)
  const source =
    ts.kind === "ok" && ts.series.events.length > 0
      ? ts.series.events.map((e) => ({ atNs: e.atNs, description: e.step }))
      : doc.steps
  if (source.length === 0)
    return { id: "steps", title: "Timeline", blocks: [{ kind: "note", text: "No timeline step ran." }] }
  return {
    id: "steps",
    title: "Timeline",
    blocks: [
      {
        kind: "table",
        head: ["#", "at", "step"],
        numericColumns: [0, 1],
        rows: source.map((s, i) => [i + 1, formatDurationNs(s.atNs), s.description]),
      },
    ],
  }
}

/** A chart id fragment from a name (workload names are DNS-1123 labels already; be safe anyway). */
export function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, "_")
}
