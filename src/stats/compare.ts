/**
 * `kube-netsim compare`: one scenario run under several kube-proxy modes, side by side.
 *
 * The compare document (`--json`) keeps every results document as `run` writes it, one list per
 * mode (one document per seed with `--runs R`):
 *   { compareVersion: 1, scenario, seed, runs, modes: [ { mode, results: [ <results document> ] } ] }
 * The table puts one column per mode and one row per figure: requests, latency percentiles, the
 * per-endpoint split and its fairness (stats/fairness.ts figures as the documents carry them),
 * failures by reason, conntrack (and IPVS connection table) peaks, kube-proxy syncs (count,
 * duration p50/max, change-to-programmed lag max), kernel objects per node and drops by reason.
 * With several runs a cell is the mean over the seeds ± the half-width of its 95 % confidence
 * interval (Student's t, as `run --runs`), so modes are compared with their spread.
 *
 * Nothing here knows a mode: rows are read from the documents, so a mode registered later (its
 * documents carry the same fields) is compared without change here.
 */
import { meanConfidence95 } from "./aggregate.ts"
import { canonicalResults } from "./document.ts"
import { formatCount, formatNs, table } from "./format.ts"
import type { ResultsDocument, WorkloadResults } from "./results.ts"

export const COMPARE_VERSION = 1

export interface ModeResults {
  readonly mode: string
  /** One results document per seed, in seed order. */
  readonly results: readonly ResultsDocument[]
}

export interface CompareDocument {
  readonly compareVersion: typeof COMPARE_VERSION
  readonly scenario: string
  /** First seed; run i used seed + i. */
  readonly seed: number
  readonly runs: number
  readonly modes: readonly ModeResults[]
}

/** The document as `compare --json` prints it: each results document canonical, 2-space indent. */
export function stringifyCompare(doc: CompareDocument): string {
  const out = {
    compareVersion: doc.compareVersion,
    scenario: doc.scenario,
    seed: doc.seed,
    runs: doc.runs,
    modes: doc.modes.map((m) => ({ mode: m.mode, results: m.results.map(canonicalResults) })),
  }
  return `${JSON.stringify(out, null, 2)}\n`
}

type Unit = "ns" | "count" | "ratio" | "share"

/** One figure of one document; undefined when the document does not carry it. */
type Extract = (doc: ResultsDocument) => number | undefined

interface Row {
  readonly label: string
  readonly unit: Unit
  readonly extract: Extract
}

interface Section {
  readonly title: string
  readonly rows: readonly Row[]
}

/** The IPVS connection table peak, in documents of modes that have one (`ipvs`, results.ts). */
function ipvsPeak(doc: ResultsDocument): number | undefined {
  return doc.ipvs?.peakConnections
}

function workload(doc: ResultsDocument, name: string): WorkloadResults | undefined {
  return doc.workloads[name]
}

function union(docs: readonly ResultsDocument[], keys: (doc: ResultsDocument) => readonly string[]): string[] {
  const all = new Set<string>()
  for (const doc of docs) for (const key of keys(doc)) all.add(key)
  return [...all].sort()
}

/**
 * Endpoint rows of a workload. When every document names the same endpoints (one seed, or pod
 * names that do not depend on the seed), one row per endpoint; otherwise (pod names differ between
 * seeds) endpoints are ranked by their share in each document and row k is the k-th busiest.
 */
function endpointRows(docs: readonly ResultsDocument[], name: string): Row[] {
  const sets = docs.map((doc) => Object.keys(workload(doc, name)?.distribution.byEndpoint ?? {}).sort())
  const first = JSON.stringify(sets[0] ?? [])
  const sameNames = sets.every((set) => JSON.stringify(set) === first)
  const completed = (doc: ResultsDocument): number => {
    const w = workload(doc, name)
    if (w === undefined) return 0
    let sum = 0
    for (const count of Object.values(w.distribution.byEndpoint)) sum += count
    return sum
  }
  if (sameNames) {
    return (sets[0] ?? []).map((endpoint) => ({
      label: `  ${endpoint}`,
      unit: "share" as const,
      extract: (doc: ResultsDocument) => {
        const w = workload(doc, name)
        if (w === undefined) return undefined
        const total = completed(doc)
        return total === 0 ? 0 : (w.distribution.byEndpoint[endpoint] ?? 0) / total
      },
    }))
  }
  const most = Math.max(0, ...sets.map((set) => set.length))
  const rows: Row[] = []
  for (let rank = 0; rank < most; rank++)
    rows.push({
      label: `  endpoint #${rank + 1} by share`,
      unit: "share",
      extract: (doc) => {
        const w = workload(doc, name)
        if (w === undefined) return undefined
        const counts = Object.values(w.distribution.byEndpoint).sort((a, b) => b - a)
        const total = completed(doc)
        return total === 0 ? 0 : (counts[rank] ?? 0) / total
      },
    })
  return rows
}

function sections(all: readonly ResultsDocument[]): Section[] {
  const out: Section[] = []
  for (const name of union(all, (doc) => Object.keys(doc.workloads))) {
    const w = (doc: ResultsDocument) => workload(doc, name)
    out.push({
      title: `workload ${name}`,
      rows: [
        { label: "sent", unit: "count", extract: (d) => w(d)?.requests.sent },
        { label: "completed", unit: "count", extract: (d) => w(d)?.requests.completed },
        { label: "failed", unit: "count", extract: (d) => w(d)?.requests.failed },
        ...union(all, (d) => Object.keys(w(d)?.requests.failedByReason ?? {})).map((reason) => ({
          label: `  failed ${reason}`,
          unit: "count" as const,
          extract: (d: ResultsDocument) => {
            const results = w(d)
            return results === undefined ? undefined : (results.requests.failedByReason[reason] ?? 0)
          },
        })),
        { label: "latency p50", unit: "ns", extract: (d) => w(d)?.latencyNs.p50 },
        { label: "latency p90", unit: "ns", extract: (d) => w(d)?.latencyNs.p90 },
        { label: "latency p99", unit: "ns", extract: (d) => w(d)?.latencyNs.p99 },
        { label: "latency p99.9", unit: "ns", extract: (d) => w(d)?.latencyNs.p999 },
        { label: "latency max", unit: "ns", extract: (d) => w(d)?.latencyNs.max },
        {
          label: "endpoints used",
          unit: "count",
          extract: (d) => {
            const results = w(d)
            return results === undefined
              ? undefined
              : Object.values(results.distribution.byEndpoint).filter((count) => count > 0).length
          },
        },
        ...endpointRows(all, name),
        { label: "fairness Jain", unit: "ratio", extract: (d) => w(d)?.distribution.jain },
        { label: "fairness max/mean", unit: "ratio", extract: (d) => w(d)?.distribution.maxOverMean },
        { label: "fairness CV", unit: "ratio", extract: (d) => w(d)?.distribution.cv },
        { label: "chi-square p", unit: "ratio", extract: (d) => w(d)?.distribution.chiSquareP },
      ],
    })
  }

  const kernel: Row[] = [
    { label: "conntrack peak entries", unit: "count", extract: (d) => d.conntrack.peakEntries },
    { label: "conntrack insert failed", unit: "count", extract: (d) => d.conntrack.insertFailed },
  ]
  if (all.some((d) => ipvsPeak(d) !== undefined))
    kernel.push({ label: "IPVS connections peak", unit: "count", extract: ipvsPeak })
  out.push({ title: "kernel", rows: kernel })

  const syncs = (d: ResultsDocument) => d.kubeProxy?.syncs
  const nodes = union(all, (d) => Object.keys(syncs(d)?.byNode ?? {}))
  out.push({
    title: "kube-proxy syncs",
    rows: [
      { label: "syncs", unit: "count", extract: (d) => syncs(d)?.count },
      { label: "failed syncs", unit: "count", extract: (d) => syncs(d)?.failed },
      { label: "duration p50", unit: "ns", extract: (d) => syncs(d)?.durationNs.p50 },
      { label: "duration max", unit: "ns", extract: (d) => syncs(d)?.durationNs.max },
      { label: "lag max", unit: "ns", extract: (d) => syncs(d)?.maxLagNs },
      // The sync cost model's input: iptables rules, nftables rules + chains + elements, IPVS
      // virtual + real servers, whatever the mode's kernel state is made of (CompiledSync).
      ...nodes.map((node) => ({
        label: `kernel objects ${node}`,
        unit: "count" as const,
        extract: (d: ResultsDocument) => syncs(d)?.byNode[node]?.tableRulesMax,
      })),
    ],
  })

  const drops = union(all, (d) => Object.keys(d.drops))
  out.push({
    title: "drops",
    rows:
      drops.length === 0
        ? [{ label: "total", unit: "count", extract: () => 0 }]
        : drops.map((reason) => ({
            label: reason,
            unit: "count" as const,
            extract: (d: ResultsDocument) => d.drops[reason] ?? 0,
          })),
  })
  return out
}

function formatValue(value: number, unit: Unit): string {
  switch (unit) {
    case "ns":
      return formatNs(value)
    case "count":
      return Number.isInteger(value) ? formatCount(value) : value.toFixed(1)
    case "ratio":
      // Chi-square p-values span many orders of magnitude: small ones keep their exponent.
      return value !== 0 && Math.abs(value) < 0.001 ? value.toExponential(2) : value.toFixed(4)
    case "share":
      return `${(value * 100).toFixed(1)}%`
  }
}

/** A cell: the value (one run), or mean ± 95 % CI half-width over the runs; "-" when not carried. */
function cell(docs: readonly ResultsDocument[], row: Row): string {
  const values = docs.map(row.extract)
  if (values.every((value) => value === undefined)) return "-"
  // A figure a document lacks while others carry it (a reason that did not occur) counts 0.
  const numbers = values.map((value) => value ?? 0)
  if (numbers.length === 1) return formatValue(numbers[0] as number, row.unit)
  const { mean, ci95 } = meanConfidence95(numbers)
  return `${formatValue(mean, row.unit)} ± ${formatValue((ci95[1] - ci95[0]) / 2, row.unit)}`
}

/** The side-by-side table `compare` prints. A pure function of the documents (no wall time). */
export function renderCompare(doc: CompareDocument): string {
  const seeds =
    doc.runs === 1 ? `seed ${doc.seed}` : `seeds ${doc.seed}..${doc.seed + doc.runs - 1} (mean ± 95% CI half-width)`
  const lines = [`scenario ${doc.scenario}  ${seeds}  modes ${doc.modes.map((m) => m.mode).join(", ")}`]
  const all = doc.modes.flatMap((m) => m.results)
  // Every column but the labels is right-aligned.
  const right = [false, ...doc.modes.map(() => true)]
  for (const section of sections(all)) {
    const rows: string[][] = [[section.title, ...doc.modes.map((m) => m.mode)]]
    for (const row of section.rows) rows.push([row.label, ...doc.modes.map((m) => cell(m.results, row))])
    lines.push("")
    lines.push(...table(rows, right, ""))
  }
  const fingerprints = doc.modes.map((m) => `${m.mode} ${m.results.map((r) => r.fingerprint).join(",")}`)
  lines.push("")
  lines.push(`fingerprints: ${fingerprints.join("  ")}`)
  return `${lines.join("\n")}\n`
}
