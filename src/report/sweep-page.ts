/**
 * The `sweep --report` (and `merge --report`) page: the sweep (base scenario, axes, seeds), then
 * per metric a chart of every point's mean across seeds with its 95 % confidence interval (Student
 * t, as sweep.csv gives it) and the table of the same figures with the seeds' values.
 */
import { CHART_HEIGHT, CHART_WIDTH } from "./charts.ts"
import type { Block, Cell, ChartSpec, ReportPage, Section } from "./page.ts"
import { slug } from "./run-page.ts"

/** What the page needs of a sweep document (cli/sweep/results.ts SweepDocument has this shape). */
export interface SweepSummary {
  readonly sweep: {
    readonly name: string
    readonly scenario: string
    readonly seeds: readonly number[]
    readonly axes: readonly string[]
    readonly metrics: readonly string[]
    readonly points: number
  }
  readonly points: readonly {
    readonly point: number
    readonly overrides: Readonly<Record<string, unknown>>
    readonly metrics: Readonly<
      Record<
        string,
        { readonly mean: number; readonly ci95: readonly [number, number]; readonly values: readonly number[] }
      >
    >
  }[]
}

export interface SweepReportInput {
  readonly sweep: SweepSummary
  readonly generator: string
}

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"

function pointLabel(overrides: Readonly<Record<string, unknown>>, point: number): string {
  const parts = Object.entries(overrides).map(
    ([k, v]) => `${k.split(".").pop()}=${typeof v === "string" ? v : JSON.stringify(v)}`,
  )
  return parts.length === 0 ? `point ${point}` : `${point}: ${parts.join(" ")}`
}

/** Mean per point with its confidence interval as an error bar. */
function metricChart(
  rows: readonly { label: string; mean: number; low: number; high: number }[],
  metric: string,
): ChartSpec {
  const x = { field: "label", type: "nominal", title: "point", sort: null, axis: { labelAngle: -30, labelLimit: 220 } }
  return {
    $schema: SCHEMA,
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    data: { values: rows },
    layer: [
      {
        mark: { type: "errorbar", ticks: true },
        encoding: {
          x,
          y: { field: "low", type: "quantitative", title: metric, scale: { zero: false } },
          y2: { field: "high" },
        },
      },
      {
        mark: { type: "point", filled: true, size: 60 },
        encoding: {
          x,
          y: { field: "mean", type: "quantitative" },
          tooltip: [
            { field: "label" },
            { field: "mean", format: ".6g" },
            { field: "low", format: ".6g" },
            { field: "high", format: ".6g" },
          ],
        },
      },
    ],
  }
}

export function sweepReportPage(input: SweepReportInput): ReportPage {
  const { sweep } = input
  const sections: Section[] = [
    {
      id: "sweep",
      title: "Sweep",
      blocks: [
        {
          kind: "keyValues",
          entries: [
            ["sweep", sweep.sweep.name],
            ["base scenario", sweep.sweep.scenario],
            ["axes", sweep.sweep.axes.join(", ")],
            ["points", sweep.sweep.points],
            ["seeds", sweep.sweep.seeds.join(", ")],
            ["interval", "mean over the seeds, 95 % confidence interval (Student t)"],
          ],
        },
      ],
    },
  ]
  for (const metric of sweep.sweep.metrics) {
    const rows = sweep.points.map((p) => {
      const m = p.metrics[metric]
      return {
        label: pointLabel(p.overrides, p.point),
        mean: m?.mean ?? 0,
        low: m?.ci95[0] ?? 0,
        high: m?.ci95[1] ?? 0,
        values: m?.values ?? [],
      }
    })
    const blocks: Block[] = [
      {
        kind: "chart",
        id: `metric-${slug(metric)}`,
        title: metric,
        spec: metricChart(rows, metric),
        caption: "Each point's mean across the seeds, with its 95 % confidence interval.",
      },
      {
        kind: "table",
        head: ["point", "mean", "95 % CI low", "95 % CI high", "per seed"],
        rows: rows.map((r): Cell[] => [
          r.label,
          Number(r.mean.toPrecision(6)),
          Number(r.low.toPrecision(6)),
          Number(r.high.toPrecision(6)),
          r.values.map((v) => Number(v.toPrecision(6))).join(", "),
        ]),
        numericColumns: [1, 2, 3],
      },
    ]
    sections.push({ id: `metric-${slug(metric)}`, title: metric, blocks })
  }
  return {
    kind: "sweep",
    title: `kube-netsim sweep: ${sweep.sweep.name}`,
    subtitle: `${sweep.sweep.points} points x ${sweep.sweep.seeds.length} seeds`,
    sections,
    generator: input.generator,
  }
}
