/**
 * The `check --report` page: the property (scenario, varied fields, conditions, multiple-testing
 * correction, verdict), one chart per condition with the figure every simulated case measured
 * against its bound (generated cases and the shrinker's candidates told apart, failures marked),
 * the cases and the shrink path as tables, and the counterexample scenario when there is one.
 */
import type { CaseRecord, CheckReport } from "../check/check.ts"
import type { Hold } from "../check/property.ts"
import { CHART_HEIGHT, CHART_WIDTH } from "./charts.ts"
import type { Block, Cell, ChartSpec, ReportPage, Section } from "./page.ts"

export interface CheckReportInput {
  readonly report: CheckReport
  /** The property's conditions, in `holds` order (the report's `observed` follows it). */
  readonly holds: readonly Hold[]
  /** The varied fields as the summary describes them ("replicas 1..30 (manifests[...])"). */
  readonly varies: readonly string[]
  readonly generator: string
}

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"

function holdLabel(h: Hold): string {
  const bound = "value" in h.bound ? String(h.bound.value) : `{ var: ${h.bound.variable} }`
  return `${h.workload}: ${h.condition} ${bound}${h.modes === undefined ? "" : ` (modes ${h.modes.join(", ")})`}`
}

function valuesText(values: Readonly<Record<string, unknown>>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ")
}

function outcome(c: CaseRecord): string {
  return c.failures.length === 0 ? "holds" : "fails"
}

/** Observed figure per simulated case, coloured by outcome, shaped by phase, with the bound as a rule. */
function conditionChart(cases: readonly CaseRecord[], index: number, hold: Hold): ChartSpec | null {
  const rows = cases
    .filter((c) => c.observed[index] !== null && c.observed[index] !== undefined)
    .map((c) => ({
      simulation: c.simulation,
      observed: c.observed[index] as number,
      outcome: outcome(c),
      phase: c.phase,
    }))
  if (rows.length === 0) return null
  const points = {
    mark: { type: "point", filled: true, size: 60 },
    encoding: {
      x: { field: "simulation", type: "quantitative", title: "simulation (generation, then shrinking)" },
      y: { field: "observed", type: "quantitative", title: hold.condition },
      color: {
        field: "outcome",
        type: "nominal",
        title: "case",
        scale: { domain: ["holds", "fails"], range: ["#4c78a8", "#e45756"] },
      },
      shape: { field: "phase", type: "nominal", title: "phase" },
      tooltip: [
        { field: "simulation" },
        { field: "phase" },
        { field: "observed", format: ".6g" },
        { field: "outcome" },
      ],
    },
  }
  const layers: Record<string, unknown>[] = [points]
  if ("value" in hold.bound)
    layers.push({
      data: { values: [{ bound: hold.bound.value }] },
      mark: { type: "rule", strokeDash: [4, 4], color: "#888" },
      encoding: { y: { field: "bound", type: "quantitative" } },
    })
  return { $schema: SCHEMA, width: CHART_WIDTH, height: CHART_HEIGHT, data: { values: rows }, layer: layers }
}

function casesTable(caption: string, cases: readonly CaseRecord[], holds: readonly Hold[]): Block {
  return {
    kind: "table",
    caption,
    head: ["simulation", "phase", "values", "seed", ...holds.map(holdLabel), "outcome"],
    rows: cases.map((c): Cell[] => [
      c.simulation,
      c.phase,
      valuesText(c.values),
      c.scenarioSeed,
      ...c.observed.map((o): Cell => (o === null ? "–" : Number(o.toPrecision(6)))),
      c.failures.length === 0 ? "holds" : c.failures.join("; "),
    ]),
    numericColumns: [0, 3, ...holds.map((_, i) => 4 + i)],
  }
}

export function checkReportPage(input: CheckReportInput): ReportPage {
  const { report, holds } = input
  const sections: Section[] = []
  const verdict = report.invalid !== null ? "invalid" : report.holds ? "holds" : "fails (counterexample)"
  sections.push({
    id: "property",
    title: "Property",
    blocks: [
      {
        kind: "keyValues",
        entries: [
          ["property", report.property],
          ["file", report.file],
          ["scenario", report.scenario],
          ...input.varies.map((v, i): [string, Cell] => [i === 0 ? "varies" : "", v]),
          ...holds.map((h, i): [string, Cell] => [i === 0 ? "holds" : "", holdLabel(h)]),
          ["correction", report.correction ?? "none"],
          ["fast-check seed", report.seed],
          ["cases", `${report.casesRun} of ${report.plannedRuns} run, ${report.failedCases.length} failed`],
          ["simulations", report.simulations],
          ["verdict", verdict],
        ],
      },
    ],
  })
  const all = [...report.cases, ...report.shrinkPath.filter((c) => c.phase === "shrink")]
  const charts: Block[] = []
  holds.forEach((hold, i) => {
    const spec = conditionChart(all, i, hold)
    if (spec === null) charts.push({ kind: "note", text: `${holdLabel(hold)}: no case measured it.` })
    else
      charts.push({
        kind: "chart",
        id: `condition-${i}`,
        title: holdLabel(hold),
        spec,
        caption:
          "The figure each simulated case measured; the dashed line is the bound (a chi-square bound is applied after the correction above).",
      })
  })
  sections.push({ id: "conditions", title: "Conditions per case", blocks: charts })
  sections.push({ id: "cases", title: "Cases", blocks: [casesTable("generated cases, in order", report.cases, holds)] })
  if (report.shrinkPath.length > 0)
    sections.push({
      id: "shrink",
      title: "Shrink path",
      blocks: [casesTable("the first failing case, then each smaller failing case", report.shrinkPath, holds)],
    })
  if (report.counterexample !== null)
    sections.push({
      id: "counterexample",
      title: "Counterexample",
      blocks: [
        { kind: "note", text: `Runnable with kube-netsim run (written as ${report.counterexample.replayPath}).` },
        { kind: "pre", caption: "counterexample scenario", text: report.counterexample.scenarioText },
      ],
    })
  if (report.invalid !== null)
    sections.push({
      id: "invalid",
      title: "Invalid case",
      blocks: [
        { kind: "note", text: `The values ${valuesText(report.invalid.values)} generate an invalid scenario.` },
        { kind: "pre", text: report.invalid.issues.join("\n") },
      ],
    })
  return {
    kind: "check",
    title: `kube-netsim check: ${report.property}`,
    subtitle: verdict,
    sections,
    generator: input.generator,
  }
}
