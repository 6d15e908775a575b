/**
 * Vega-Lite specifications for the report's chart kinds, with their data inline. Each builder
 * takes plain rows (numbers already in display units) and returns a spec; pages decide what to
 * draw and skip a chart whose data is empty (a note says why), so every chart on a page has marks.
 */
import type { ChartSpec } from "./page.ts"

/** Default plot size (px); with axes and legend two charts fit side by side on a 1400 px page. */
export const CHART_WIDTH = 430
export const CHART_HEIGHT = 220

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"

/**
 * Categorical palette: tableau10 (distinct hues) up to 10 series, tableau20 (hue pairs) beyond, so
 * that the pods of a 20-replica Deployment stay distinct while two modes never get two blues.
 */
function categoryScheme(rows: readonly { series: string }[]): string {
  return new Set(rows.map((r) => r.series)).size <= 10 ? "tableau10" : "tableau20"
}

/** A timeline event drawn on time charts: a numbered rule (the steps table lists the numbers). */
export interface ChartEvent {
  readonly tS: number
  readonly label: string
  readonly step: string
}

/** Empirical CDF, one line per series, x on a log scale: rows are the points (value, fraction <= value). */
export function cdfChart(
  rows: readonly { series: string; valueMs: number; fraction: number }[],
  options: { seriesTitle: string; xTitle: string },
): ChartSpec {
  return {
    $schema: SCHEMA,
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    data: { values: rows },
    mark: { type: "line", interpolate: "step-after", clip: true },
    encoding: {
      x: { field: "valueMs", type: "quantitative", title: options.xTitle, scale: { type: "log" } },
      y: { field: "fraction", type: "quantitative", title: "fraction of requests ≤ x", scale: { domain: [0, 1] } },
      color: { field: "series", type: "nominal", title: options.seriesTitle, scale: { scheme: categoryScheme(rows) } },
      tooltip: [
        { field: "series", title: options.seriesTitle },
        { field: "valueMs", title: options.xTitle, format: ".3f" },
        { field: "fraction", format: ".4f" },
      ],
    },
  }
}

/**
 * Horizontal bars, one per label, with an optional dashed rule at `reference` (e.g. the equal
 * share a fair split would give).
 */
export function barChart(
  rows: readonly { label: string; value: number }[],
  options: { labelTitle: string; valueTitle: string; reference?: { value: number; title: string } },
): ChartSpec {
  const bars = {
    mark: { type: "bar" },
    encoding: {
      y: { field: "label", type: "nominal", title: options.labelTitle, sort: null },
      x: { field: "value", type: "quantitative", title: options.valueTitle },
      tooltip: [
        { field: "label", title: options.labelTitle },
        { field: "value", title: options.valueTitle },
      ],
    },
  }
  const height = Math.max(60, Math.min(18 * rows.length, 900))
  if (options.reference === undefined)
    return { $schema: SCHEMA, width: CHART_WIDTH, height, data: { values: rows }, ...bars }
  return {
    $schema: SCHEMA,
    width: CHART_WIDTH,
    height,
    data: { values: rows },
    layer: [
      bars,
      {
        data: { values: [{ reference: options.reference.value }] },
        mark: { type: "rule", strokeDash: [4, 3], color: "#cf222e" },
        encoding: {
          x: { field: "reference", type: "quantitative" },
          tooltip: [{ field: "reference", title: options.reference.title, format: ".1f" }],
        },
      },
    ],
  }
}

/** Bars grouped by `group`, one bar per `series` within a group (compare: one per mode). */
export function groupedBarChart(
  rows: readonly { group: string; series: string; value: number }[],
  options: { groupTitle: string; seriesTitle: string; valueTitle: string },
): ChartSpec {
  const groups = new Set(rows.map((r) => r.group)).size
  const series = new Set(rows.map((r) => r.series)).size
  return {
    $schema: SCHEMA,
    width: CHART_WIDTH,
    height: Math.max(60, Math.min(14 * groups * series + 6 * groups, 1000)),
    data: { values: rows },
    mark: { type: "bar" },
    encoding: {
      y: { field: "group", type: "nominal", title: options.groupTitle, sort: null },
      yOffset: { field: "series", type: "nominal", sort: null },
      x: { field: "value", type: "quantitative", title: options.valueTitle },
      color: { field: "series", type: "nominal", title: options.seriesTitle, scale: { scheme: categoryScheme(rows) } },
      tooltip: [
        { field: "group", title: options.groupTitle },
        { field: "series", title: options.seriesTitle },
        { field: "value", title: options.valueTitle },
      ],
    },
  }
}

/**
 * Values over simulated time, one line (or stacked area) per series, with the timeline's events as
 * numbered vertical rules.
 */
export function timeChart(
  rows: readonly { tS: number; series: string; value: number }[],
  events: readonly ChartEvent[],
  options: {
    seriesTitle: string
    valueTitle: string
    /** "line" (default), "area" stacked, or "bar" stacked per interval. */
    mark?: "line" | "area" | "bar"
    /** y axis domain, e.g. [0, 1] for shares. */
    domain?: readonly [number, number]
    /** d3 format of the value in tooltips. */
    format?: string
    /** Interval length (s): bars span [tS, tS + intervalS) (mark "bar"). */
    intervalS?: number
    /** The x axis' range (s): the whole run, so that every time chart of a page lines up. */
    timeDomainS?: readonly [number, number]
  },
): ChartSpec {
  const mark = options.mark ?? "line"
  const stacked = mark !== "line"
  const main = {
    data: { values: rows },
    mark:
      mark === "line"
        ? { type: "line", interpolate: "step-after", strokeWidth: 1.5 }
        : mark === "area"
          ? { type: "area", interpolate: "step-after" }
          : // Vertical: with x and x2 Vega-Lite would otherwise draw horizontal spans.
            { type: "bar", orient: "vertical" },
    ...(mark === "bar" && options.intervalS !== undefined
      ? { transform: [{ calculate: `datum.tS + ${options.intervalS}`, as: "tEndS" }] }
      : {}),
    encoding: {
      x: {
        field: "tS",
        type: "quantitative",
        title: "simulated time (s)",
        ...(options.timeDomainS === undefined ? {} : { scale: { domain: [...options.timeDomainS], nice: false } }),
      },
      ...(mark === "bar" && options.intervalS !== undefined ? { x2: { field: "tEndS" } } : {}),
      y: {
        field: "value",
        type: "quantitative",
        title: options.valueTitle,
        ...(stacked ? { stack: "zero" } : {}),
        ...(options.domain === undefined ? {} : { scale: { domain: [...options.domain] } }),
      },
      color: { field: "series", type: "nominal", title: options.seriesTitle, scale: { scheme: categoryScheme(rows) } },
      tooltip: [
        { field: "tS", title: "time (s)", format: ".3f" },
        { field: "series", title: options.seriesTitle },
        { field: "value", title: options.valueTitle, format: options.format ?? ",.4~f" },
      ],
    },
  }
  const layers: unknown[] = [main]
  if (events.length > 0) {
    layers.push({
      data: { values: events },
      mark: { type: "rule", color: "#57606a", strokeDash: [3, 3] },
      encoding: {
        x: { field: "tS", type: "quantitative" },
        tooltip: [
          { field: "label", title: "step" },
          { field: "tS", title: "at (s)", format: ".3f" },
          { field: "step", title: "what" },
        ],
      },
    })
    layers.push({
      data: { values: events },
      mark: { type: "text", align: "left", baseline: "top", dx: 3, dy: 2, color: "#57606a", fontSize: 11 },
      encoding: { x: { field: "tS", type: "quantitative" }, y: { value: 0 }, text: { field: "label" } },
    })
  }
  return { $schema: SCHEMA, width: CHART_WIDTH, height: CHART_HEIGHT, layer: layers }
}
