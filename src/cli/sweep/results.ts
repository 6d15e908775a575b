/**
 * A sweep's outputs (docs/sweep.md "Outputs"), all pure functions of the per-point documents so
 * that `merge` rebuilds from shards exactly what a single-machine sweep writes:
 *
 * - `point-NNNN.json` per point: the sweep header, the point's overrides, the chosen metrics'
 *   mean and 95 % confidence interval across seeds (Student's t with seeds - 1 degrees of freedom,
 *   stats/aggregate.ts), and every seed's results document;
 * - `sweep.json`: the header and every point's overrides and metrics;
 * - `sweep.csv`: one row per point, the overrides then each metric's mean, ci95 low and high;
 * - the human table (stdout, `summary.txt`): mean ± half-width of the interval per metric.
 *
 * A metric path names a number in the results document (`workloads.wget.latencyNs.p99`); one that
 * is absent from a run counts 0 there, as in `run --runs` aggregates (count maps list only what
 * occurred); one that names a map, list or string is an input error.
 */
import { meanConfidence95, type MetricAggregate } from "../../stats/aggregate.ts"
import { canonicalResults } from "../../stats/document.ts"
import { formatNs } from "../../stats/format.ts"
import { roundSignificant } from "../../stats/document.ts"
import type { ResultsDocument } from "../../stats/results.ts"
import type { Path } from "../../scenario/source.ts"
import { parsePathSegments } from "./overrides.ts"

export const SWEEP_VERSION = 1

export interface SweepHeader {
  readonly name: string
  readonly digest: string
  /** The base scenario as the sweep file names it. */
  readonly scenario: string
  readonly seeds: readonly number[]
  readonly axes: readonly string[]
  readonly metrics: readonly string[]
  readonly points: number
}

export interface PointDocument {
  readonly sweepVersion: 1
  readonly sweep: SweepHeader
  readonly point: number
  readonly overrides: Record<string, unknown>
  readonly metrics: Record<string, MetricAggregate>
  readonly results: readonly ResultsDocument[]
}

export interface SweepDocument {
  readonly sweepVersion: 1
  readonly sweep: SweepHeader
  readonly points: readonly {
    readonly point: number
    readonly overrides: Record<string, unknown>
    readonly metrics: Record<string, MetricAggregate>
  }[]
}

/** A metric path that names something other than a number in some run. */
export class MetricNotNumber extends Error {
  constructor(
    readonly metric: string,
    readonly found: string,
  ) {
    super(`${metric}: names ${found} in the results document, not a number`)
  }
}

/** The number at `path` in `doc`; undefined when absent. Throws MetricNotNumber. */
export function metricValue(doc: unknown, metric: string, path: Path): number | undefined {
  let node: unknown = doc
  for (const segment of path) {
    if (node === null || typeof node !== "object") return undefined
    node = (node as Record<string | number, unknown>)[segment]
  }
  if (node === undefined) return undefined
  if (typeof node === "number") return node
  throw new MetricNotNumber(
    metric,
    Array.isArray(node) ? "a list" : node === null ? "null" : typeof node === "object" ? "a map" : `a ${typeof node}`,
  )
}

export function pointDocument(
  header: SweepHeader,
  point: number,
  overrides: readonly { readonly path: string; readonly value: unknown }[],
  results: readonly ResultsDocument[],
): PointDocument {
  const canonical = results.map(canonicalResults)
  const metrics: Record<string, MetricAggregate> = {}
  for (const metric of header.metrics) {
    const path = parsePathSegments(metric)
    if (typeof path === "string") throw new Error(`metric ${metric}: ${path}`)
    metrics[metric] = meanConfidence95(canonical.map((doc) => metricValue(doc, metric, path) ?? 0))
  }
  const record: Record<string, unknown> = {}
  for (const o of overrides) record[o.path] = o.value
  return { sweepVersion: SWEEP_VERSION, sweep: header, point, overrides: record, metrics, results: canonical }
}

/** Metrics of `header` that no results document of `points` holds (reported as a warning). */
export function absentMetrics(header: SweepHeader, points: readonly PointDocument[]): string[] {
  return header.metrics.filter((metric) => {
    const path = parsePathSegments(metric)
    if (typeof path === "string") return false
    return !points.some((p) => p.results.some((doc) => metricValue(doc, metric, path) !== undefined))
  })
}

export function sweepDocument(header: SweepHeader, points: readonly PointDocument[]): SweepDocument {
  return {
    sweepVersion: SWEEP_VERSION,
    sweep: header,
    points: [...points]
      .sort((a, b) => a.point - b.point)
      .map((p) => ({ point: p.point, overrides: p.overrides, metrics: p.metrics })),
  }
}

export function stringifyJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`
}

/** `point-0007.json` (4 digits at least, so that listings sort). */
export function pointFileName(point: number): string {
  return `point-${String(point).padStart(4, "0")}.json`
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

function valueText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value)
}

export function renderCsv(doc: SweepDocument): string {
  const header = ["point", ...doc.sweep.axes]
  for (const metric of doc.sweep.metrics) header.push(`${metric} mean`, `${metric} ci95 low`, `${metric} ci95 high`)
  const lines = [header.map(csvField).join(",")]
  for (const p of doc.points) {
    const row = [
      String(p.point),
      ...doc.sweep.axes.map((axis) => (axis in p.overrides ? valueText(p.overrides[axis]) : "")),
    ]
    for (const metric of doc.sweep.metrics) {
      const m = p.metrics[metric] as MetricAggregate
      row.push(String(m.mean), String(m.ci95[0]), String(m.ci95[1]))
    }
    lines.push(row.map(csvField).join(","))
  }
  return `${lines.join("\n")}\n`
}

function isNanoseconds(metric: string): boolean {
  return /Ns$/.test(metric) || (/Ns\./.test(metric) && !metric.endsWith(".count"))
}

function formatValue(metric: string, value: number): string {
  if (isNanoseconds(metric)) return formatNs(value)
  return Number.isInteger(value) ? String(value) : String(roundSignificant(value, 4))
}

/** The human table: one row per point, mean ± half-width of the 95 % interval per metric. */
export function renderSummary(doc: SweepDocument, shard?: { readonly index: number; readonly count: number }): string {
  const seeds = doc.sweep.seeds.length
  const lines = [
    `sweep ${doc.sweep.name}  ${doc.sweep.points} points x ${seeds} seed${seeds === 1 ? "" : "s"} (${doc.sweep.seeds.join(", ")})  scenario ${doc.sweep.scenario}` +
      (shard === undefined ? "" : `  shard ${shard.index}/${shard.count}: ${doc.points.length} points`),
    seeds > 1
      ? `mean ± half-width of the 95% confidence interval across seeds (Student's t, ${seeds - 1} degree${seeds === 2 ? "" : "s"} of freedom)`
      : "one seed per point: no confidence interval (give seeds: { count: N } for one)",
    "",
  ]
  const header = ["point", ...doc.sweep.axes, ...doc.sweep.metrics]
  const rows = doc.points.map((p) => [
    String(p.point),
    ...doc.sweep.axes.map((axis) => (axis in p.overrides ? valueText(p.overrides[axis]) : "-")),
    ...doc.sweep.metrics.map((metric) => {
      const m = p.metrics[metric] as MetricAggregate
      const half = (m.ci95[1] - m.ci95[0]) / 2
      return seeds > 1
        ? `${formatValue(metric, m.mean)} ± ${formatValue(metric, roundSignificant(half))}`
        : formatValue(metric, m.mean)
    }),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)))
  const axesEnd = 1 + doc.sweep.axes.length
  const format = (row: readonly string[]): string =>
    row
      .map((cell, i) =>
        i === 0 || i >= axesEnd ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number),
      )
      .join("  ")
      .trimEnd()
  lines.push(format(header), ...rows.map(format))
  return `${lines.join("\n")}\n`
}
