/**
 * `--runs R`: aggregate R results documents (same scenario, different run numbers/seeds) into one
 * figure per numeric metric: mean, 95 % confidence interval for the mean (Student's t with R - 1
 * degrees of freedom, t * s / sqrt(R)) and the per-run values.
 *
 * Metrics are named by JSON Pointer (RFC 6901) into the results document, e.g.
 * `/workloads/wget/latencyNs/p99` or `/workloads/wget/distribution/byEndpoint/http-go-abc12`
 * (pod names may contain dots, never "/"; "~" and "/" in keys are escaped as ~0 and ~1).
 * Not aggregated: `schemaVersion`, `seed` (listed in `seeds`), `steps` (the timeline is an input).
 * A metric missing from some runs counts 0 there: count maps only list endpoints and reasons that
 * occurred. With R = 1 the interval is [mean, mean] (no spread can be estimated).
 * Means and bounds are rounded to 6 significant digits (document.ts) so aggregates are byte-stable.
 */
import { assert } from "../sim/assert.ts"
import { formatNs } from "./format.ts"
import { roundSignificant } from "./document.ts"
import type { ResultsDocument } from "./results.ts"
import { studentTQuantile } from "./special.ts"

export interface MetricAggregate {
  mean: number
  ci95: [number, number]
  values: number[]
}

export interface AggregateDocument {
  schemaVersion: 1
  scenario: string
  runs: number
  seeds: number[]
  fingerprints: string[]
  /** By JSON Pointer into the results document, sorted. */
  metrics: Record<string, MetricAggregate>
}

const SKIPPED = new Set(["/schemaVersion", "/seed", "/steps"])

/** Two-sided 95 % Student's t critical value for `degreesOfFreedom` (>= 1). */
export function tCritical95(degreesOfFreedom: number): number {
  return studentTQuantile(0.975, degreesOfFreedom)
}

/** Mean and 95 % confidence interval of the mean of `values` (at least one). */
export function meanConfidence95(values: readonly number[]): MetricAggregate {
  assert(values.length > 0, "no values to aggregate")
  const n = values.length
  let sum = 0
  for (const value of values) sum += value
  const mean = sum / n
  if (n === 1)
    return { mean: roundSignificant(mean), ci95: [roundSignificant(mean), roundSignificant(mean)], values: [...values] }
  let squares = 0
  for (const value of values) squares += (value - mean) * (value - mean)
  const halfWidth = (tCritical95(n - 1) * Math.sqrt(squares / (n - 1))) / Math.sqrt(n)
  return {
    mean: roundSignificant(mean),
    ci95: [roundSignificant(mean - halfWidth), roundSignificant(mean + halfWidth)],
    values: [...values],
  }
}

export function aggregateRuns(docs: readonly ResultsDocument[]): AggregateDocument {
  assert(docs.length > 0, "aggregateRuns needs at least one results document")
  const scenario = (docs[0] as ResultsDocument).scenario
  for (const doc of docs)
    assert(doc.scenario === scenario, `cannot aggregate scenario ${doc.scenario} with ${scenario}`)
  const perRun = docs.map((doc) => numericLeaves(doc))
  const paths = new Set<string>()
  for (const leaves of perRun) for (const path of leaves.keys()) paths.add(path)
  const metrics: Record<string, MetricAggregate> = {}
  for (const path of [...paths].sort()) metrics[path] = meanConfidence95(perRun.map((leaves) => leaves.get(path) ?? 0))
  return {
    schemaVersion: 1,
    scenario,
    runs: docs.length,
    seeds: docs.map((doc) => doc.seed),
    fingerprints: docs.map((doc) => doc.fingerprint),
    metrics,
  }
}

function numericLeaves(doc: ResultsDocument): Map<string, number> {
  const leaves = new Map<string, number>()
  const walk = (value: unknown, path: string): void => {
    if (SKIPPED.has(path)) return
    if (typeof value === "number") leaves.set(path, value)
    else if (Array.isArray(value)) value.forEach((item, index) => walk(item, `${path}/${index}`))
    else if (typeof value === "object" && value !== null) {
      for (const key of Object.keys(value).sort())
        walk((value as Record<string, unknown>)[key], `${path}/${escapePointer(key)}`)
    }
  }
  walk(doc, "")
  return leaves
}

function escapePointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1")
}

/** Human rendering: one line per metric, nanosecond metrics in human units. */
export function renderAggregate(aggregate: AggregateDocument): string {
  const lines = [
    `scenario ${aggregate.scenario}  runs ${aggregate.runs}  seeds ${aggregate.seeds.join(", ")}`,
    `mean and 95% confidence interval (Student's t, ${aggregate.runs - 1} degrees of freedom)`,
  ]
  const rows: string[][] = []
  for (const path of Object.keys(aggregate.metrics)) {
    const metric = aggregate.metrics[path] as MetricAggregate
    const format = isNanoseconds(path) ? formatNs : formatPlain
    rows.push([path.slice(1), format(metric.mean), `[${format(metric.ci95[0])}, ${format(metric.ci95[1])}]`])
  }
  const widths = [0, 0]
  for (const row of rows) {
    widths[0] = Math.max(widths[0] as number, (row[0] as string).length)
    widths[1] = Math.max(widths[1] as number, (row[1] as string).length)
  }
  for (const row of rows)
    lines.push(
      `  ${(row[0] as string).padEnd(widths[0] as number)}  ${(row[1] as string).padStart(widths[1] as number)}  ${row[2] as string}`,
    )
  return `${lines.join("\n")}\n`
}

/** A leaf named ...Ns, or a field of a summary named ...Ns (latencyNs, durationNs, lagNs) but its count. */
function isNanoseconds(path: string): boolean {
  return /Ns$/.test(path) || (/Ns\//.test(path) && !path.endsWith("/count"))
}

function formatPlain(value: number): string {
  return Number.isInteger(value) ? String(value) : String(roundSignificant(value, 4))
}
