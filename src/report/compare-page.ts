/**
 * The `compare --report` page: the scenario, then one column (or colour) per kube-proxy mode:
 * requests and latency percentiles per mode, the latency CDFs of every mode per workload, the
 * per-endpoint split side by side, conntrack peaks, sync durations and drops. With `--runs R` the
 * tables give each mode's mean over its seeds and the charts draw each mode's first seed (the
 * note says so); per-seed figures are in the compare document (`--json`).
 */
import { formatDurationNs, NS_PER_MS } from "../sim/time.ts"
import type { CompareDocument } from "../stats/compare.ts"
import { formatCount, formatNs } from "../stats/format.ts"
import type { ResultsDocument } from "../stats/results.ts"
import { runDetail } from "../stats/run-detail.ts"
import { cdfChart, groupedBarChart } from "./charts.ts"
import type { Block, Cell, ReportPage, Section } from "./page.ts"
import { cdfPoints, scenarioSection, slug, type ScenarioInfo } from "./run-page.ts"

export interface CompareReportInput {
  readonly scenario: ScenarioInfo
  readonly compare: CompareDocument
  readonly generator: string
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length
}

/** A figure's mean over a mode's documents, formatted; "–" when no document carries it. */
function cellOf(
  docs: readonly ResultsDocument[],
  extract: (d: ResultsDocument) => number | undefined,
  format: (v: number) => string,
): Cell {
  const values = docs.map(extract).filter((v): v is number => v !== undefined)
  return values.length === 0 ? "–" : format(mean(values))
}

export function compareReportPage(input: CompareReportInput): ReportPage {
  const { compare, scenario } = input
  const modes = compare.modes.map((m) => m.mode)
  const all = compare.modes.flatMap((m) => m.results)
  const workloads = [...new Set(all.flatMap((d) => Object.keys(d.workloads)))].sort()
  const rounded = (v: number): string => formatCount(Math.round(v))
  const ns = (v: number): string => formatNs(Math.round(v))
  const ratio = (v: number): string => v.toPrecision(4)

  const tableBlocks: Block[] = []
  const rows: Cell[][] = []
  const row = (
    label: string,
    extract: (d: ResultsDocument) => number | undefined,
    format: (v: number) => string,
  ): void => {
    rows.push([label, ...compare.modes.map((m) => cellOf(m.results, extract, format))])
  }
  for (const w of workloads) {
    row(`${w}: sent`, (d) => d.workloads[w]?.requests.sent, rounded)
    row(`${w}: completed`, (d) => d.workloads[w]?.requests.completed, rounded)
    row(`${w}: failed`, (d) => d.workloads[w]?.requests.failed, rounded)
    for (const p of ["p50", "p90", "p99", "max"] as const)
      row(`${w}: latency ${p}`, (d) => d.workloads[w]?.latencyNs[p], ns)
    row(`${w}: Jain index`, (d) => d.workloads[w]?.distribution.jain, ratio)
    row(`${w}: max / mean`, (d) => d.workloads[w]?.distribution.maxOverMean, ratio)
    row(`${w}: χ² p-value`, (d) => d.workloads[w]?.distribution.chiSquareP, ratio)
  }
  row("conntrack peak entries", (d) => d.conntrack.peakEntries, rounded)
  row("IPVS connections peak", (d) => d.ipvs?.peakConnections, rounded)
  row("kube-proxy syncs", (d) => d.kubeProxy?.syncs.count, rounded)
  row("sync duration p50", (d) => d.kubeProxy?.syncs.durationNs.p50, ns)
  row("sync duration max", (d) => d.kubeProxy?.syncs.durationNs.max, ns)
  const dropReasons = [...new Set(all.flatMap((d) => Object.keys(d.drops)))].sort()
  for (const r of dropReasons) row(`drops: ${r}`, (d) => d.drops[r] ?? 0, rounded)
  tableBlocks.push({ kind: "table", head: ["", ...modes], rows })
  if (compare.runs > 1)
    tableBlocks.push({
      kind: "note",
      text: `Each cell is the mean over ${compare.runs} seeds (${compare.seed}..${compare.seed + compare.runs - 1}); \`compare\` without --report prints them with 95 % confidence intervals. Charts draw each mode's first seed.`,
    })

  const latencyBlocks: Block[] = []
  for (const w of workloads) {
    const cdfRows = compare.modes.flatMap((m) => {
      const first = m.results[0]
      const buckets = first === undefined ? undefined : runDetail(first)?.latencyByWorkload[w]
      return buckets === undefined ? [] : cdfPoints(buckets).map((p) => ({ series: m.mode, ...p }))
    })
    if (cdfRows.length === 0) {
      latencyBlocks.push({
        kind: "note",
        text: `${w}: no latency histogram to draw (no completion, or documents read back from JSON).`,
      })
      continue
    }
    latencyBlocks.push({
      kind: "chart",
      id: `latency-cdf-${slug(w)}`,
      title: `${w}: request latency CDF per mode`,
      spec: cdfChart(cdfRows, { seriesTitle: "mode", xTitle: "latency (ms, log scale)" }),
    })
    latencyBlocks.push({
      kind: "chart",
      id: `latency-pct-${slug(w)}`,
      title: `${w}: latency percentiles per mode`,
      spec: groupedBarChart(
        compare.modes.flatMap((m) =>
          (["p50", "p90", "p99"] as const).map((p) => ({
            group: p,
            series: m.mode,
            value: mean(m.results.map((d) => d.workloads[w]?.latencyNs[p] ?? 0)) / NS_PER_MS,
          })),
        ),
        { groupTitle: "percentile", seriesTitle: "mode", valueTitle: "latency (ms)" },
      ),
    })
  }

  const endpointBlocks: Block[] = []
  for (const w of workloads) {
    const endpoints = [
      ...new Set(all.flatMap((d) => Object.keys(d.workloads[w]?.distribution.byEndpoint ?? {}))),
    ].sort()
    const barRows = endpoints.flatMap((e) =>
      compare.modes.map((m) => ({
        group: e,
        series: m.mode,
        value: mean(m.results.map((d) => d.workloads[w]?.distribution.byEndpoint[e] ?? 0)),
      })),
    )
    if (barRows.every((r) => r.value === 0)) {
      endpointBlocks.push({ kind: "note", text: `${w}: no request reached an endpoint.` })
      continue
    }
    endpointBlocks.push({
      kind: "chart",
      id: `endpoints-${slug(w)}`,
      title: `${w}: completed requests per endpoint and mode`,
      spec: groupedBarChart(barRows, { groupTitle: "endpoint", seriesTitle: "mode", valueTitle: "completed requests" }),
    })
  }

  const dropRows = dropReasons.flatMap((r) =>
    compare.modes.map((m) => ({ group: r, series: m.mode, value: mean(m.results.map((d) => d.drops[r] ?? 0)) })),
  )
  const dataplaneBlocks: Block[] = [
    dropRows.some((r) => r.value > 0)
      ? {
          kind: "chart",
          id: "drops",
          title: "Drops by reason per mode",
          spec: groupedBarChart(dropRows, { groupTitle: "reason", seriesTitle: "mode", valueTitle: "packets dropped" }),
        }
      : { kind: "note", text: "No packet was dropped in any mode." },
  ]
  const peakRows = [...new Set(all.flatMap((d) => Object.keys(d.conntrack.peakEntriesByNode)))].sort().flatMap((n) =>
    compare.modes.map((m) => ({
      group: n,
      series: m.mode,
      value: mean(m.results.map((d) => d.conntrack.peakEntriesByNode[n] ?? 0)),
    })),
  )
  dataplaneBlocks.push(
    peakRows.some((r) => r.value > 0)
      ? {
          kind: "chart",
          id: "conntrack-peak",
          title: "Conntrack peak entries per node and mode",
          spec: groupedBarChart(peakRows, { groupTitle: "node", seriesTitle: "mode", valueTitle: "peak entries" }),
        }
      : { kind: "note", text: "No conntrack entry on any node." },
  )

  const sections: Section[] = [
    scenarioSection({ ...scenario, proxyMode: `${modes.join(", ")} (compared; the file says ${scenario.proxyMode})` }),
    { id: "summary", title: "Side by side", blocks: tableBlocks },
    {
      id: "latency",
      title: "Latency",
      blocks: latencyBlocks.length > 0 ? latencyBlocks : [{ kind: "note", text: "No workloads." }],
    },
    {
      id: "endpoints",
      title: "Endpoints",
      blocks: endpointBlocks.length > 0 ? endpointBlocks : [{ kind: "note", text: "No workloads." }],
    },
    { id: "dataplane", title: "Data plane", blocks: dataplaneBlocks },
  ]
  const first = all[0]
  return {
    kind: "compare",
    title: `kube-netsim compare: ${compare.scenario}`,
    subtitle: `modes ${modes.join(", ")}; seed ${compare.seed}${compare.runs > 1 ? `, ${compare.runs} runs each` : ""}${first === undefined ? "" : `; ${formatDurationNs(first.simulatedNs)} simulated`}`,
    sections,
    generator: input.generator,
  }
}
