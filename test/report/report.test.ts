/**
 * The HTML report without a browser (quick tier): the page's structure (sections, one figure per
 * chart, the libraries inlined, nothing fetched from the network), the time-series panels drawn
 * from the `timeseries` key when present and replaced by a note when absent or malformed, the
 * latency CDF points, and `--report` on `run` and `compare` through the CLI. The extensive tier
 * (test/report/browser.test.ts) draws every chart with Vega in Node and opens the pages in Chromium.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { runCli, type CliIo, type Runtime } from "../../src/cli/app.ts"
import type { ScenarioSpec } from "../../src/cluster/spec.ts"
import { compareReportPage } from "../../src/report/compare-page.ts"
import { pageCharts, renderReportHtml, type ReportPage } from "../../src/report/page.ts"
import { MAX_INTERVALS, cdfPoints, runReportPage } from "../../src/report/run-page.ts"
import { coarsenTimeSeries, readTimeSeries, topSeries } from "../../src/report/timeseries.ts"
import { Histogram } from "../../src/stats/histogram.ts"
import type { ResultsDocument } from "../../src/stats/results.ts"
import { sampleDocument } from "../stats/fixture.ts"
import {
  INTERVALS,
  INTERVAL_NS,
  SCENARIO_INFO,
  documentWithTimeSeries,
  timeSeriesFixture,
  withLatencyDetail,
} from "./fixture.ts"

const GENERATOR = "kube-netsim test"

function runPage(doc: ResultsDocument, more: readonly ResultsDocument[] = []): ReportPage {
  return runReportPage({ scenario: SCENARIO_INFO, documents: [doc, ...more], generator: GENERATOR })
}

function chartIds(page: ReportPage): string[] {
  return pageCharts(page).map((c) => c.id)
}

describe("run report page", () => {
  it("is one self-contained page: libraries and chart specs inline, no external reference", () => {
    const html = renderReportHtml(runPage(withLatencyDetail(documentWithTimeSeries())))
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true)
    for (const name of ["vega", "vega-lite", "vega-embed"]) expect(html).toContain(`<script data-vendor="${name}">`)
    expect(html).not.toMatch(/<script[^>]+src=/i)
    expect(html).not.toMatch(/<link[^>]+href=/i)
    expect(html).not.toMatch(/sourceMappingURL/)
    // The scenario's text is escaped: its "</script>" is not markup.
    expect(html).toContain("# &lt;/script&gt; stays text")
    const specsJson = /<script type="application\/json" id="report-charts">([^<]*)<\/script>/.exec(html)?.[1]
    expect(specsJson).toBeDefined()
    const specs = JSON.parse(specsJson as string) as Record<string, unknown>
    const figures = [...html.matchAll(/<figure class="chart" data-chart="([^"]+)">/g)].map((m) => m[1])
    expect(figures.sort()).toEqual(Object.keys(specs).sort())
    for (const section of [
      "scenario",
      "run",
      "workloads",
      "latency",
      "endpoints",
      "timeseries",
      "dataplane",
      "dns",
      "steps",
    ])
      expect(html).toContain(`<section id="${section}">`)
  })

  it("draws the time series from the `timeseries` key, with the timeline's steps marked", () => {
    const page = runPage(withLatencyDetail(documentWithTimeSeries()))
    expect(chartIds(page)).toEqual([
      "latency-cdf",
      "endpoints-wget",
      "share-wget",
      "rates-wget",
      "latency-time-wget",
      "conntrack-time",
      "drops-time",
      "dns-lookup-cdf",
      "dns-qtype",
      "dns-rcode",
      "dns-servers",
    ])
    const share = pageCharts(page).find((c) => c.id === "share-wget")?.spec as {
      layer: { data: { values: unknown[] } }[]
    }
    // Main layer, event rules, event labels.
    expect(share.layer).toHaveLength(3)
    expect(share.layer[1]?.data.values).toEqual([
      { tS: 0.2, label: "1", step: "workload wget starts" },
      { tS: 1.5, label: "2", step: "scale deployment/http-go to 5" },
    ])
    // Shares per interval sum to 1; endpoints d and e appear only after the scale-up.
    const rows = share.layer[0]?.data.values as { tS: number; series: string; value: number }[]
    const byT = new Map<number, number>()
    for (const r of rows) byT.set(r.tS, (byT.get(r.tS) ?? 0) + r.value)
    for (const sum of byT.values()) expect(sum).toBeCloseTo(1, 12)
    expect(rows.filter((r) => r.series === "http-go-e" && r.value > 0).every((r) => r.tS >= 1.5)).toBe(true)
    expect(rows.some((r) => r.series === "http-go-e" && r.value > 0)).toBe(true)
  })

  it("says so instead of drawing when the time series are absent or malformed", () => {
    const absent = renderReportHtml(runPage(sampleDocument()))
    expect(absent).toContain("has no time series")
    expect(chartIds(runPage(sampleDocument())).filter((id) => id.includes("time") || id.startsWith("share"))).toEqual(
      [],
    )
    // Without the run's histograms (a document read back) the CDFs are a note too.
    expect(absent).toContain("Latency CDFs need the run&#39;s histograms".replace("&#39;", "'"))
    const bad = {
      ...sampleDocument(),
      timeseries: { ...timeSeriesFixture(), startNs: [0, 1] },
    } as unknown as ResultsDocument
    expect(renderReportHtml(runPage(bad))).toContain(
      "The time series are malformed and not drawn: timeseries.workloads.wget.requests: 30 values for 2 intervals",
    )
  })

  it("lists every seed of a multi-run report", () => {
    const html = renderReportHtml(runPage(sampleDocument(1), [sampleDocument(2), sampleDocument(3)]))
    expect(html).toContain("3 runs (seeds 1, 2, 3)")
  })
})

describe("latency CDF points", () => {
  it("rise to 1 at the histogram's maximum and match its quantiles", () => {
    const h = new Histogram()
    for (let i = 1; i <= 1000; i++) h.record(i * 1000)
    const points = cdfPoints(h.buckets())
    expect(points.at(-1)).toEqual({ valueMs: 1, fraction: 1 })
    for (let i = 1; i < points.length; i++) {
      expect((points[i] as { valueMs: number }).valueMs).toBeGreaterThan((points[i - 1] as { valueMs: number }).valueMs)
      expect((points[i] as { fraction: number }).fraction).toBeGreaterThan(
        (points[i - 1] as { fraction: number }).fraction,
      )
    }
    // The first point at or above 0.5 is the histogram's p50.
    const median = points.find((p) => p.fraction >= 0.5)
    expect(Math.round((median?.valueMs ?? 0) * 1e6)).toBe(h.valueAtQuantile(0.5))
    expect(cdfPoints([])).toEqual([])
  })
})

describe("compare report page", () => {
  it("puts the modes side by side: table columns, CDF and endpoint charts per workload", () => {
    const page = compareReportPage({
      scenario: SCENARIO_INFO,
      compare: {
        compareVersion: 1,
        scenario: "http-go-affinity",
        seed: 1,
        runs: 2,
        modes: [
          { mode: "iptables", results: [withLatencyDetail(sampleDocument(1)), sampleDocument(2)] },
          { mode: "ipvs", results: [withLatencyDetail(sampleDocument(1, 2)), sampleDocument(2, 2)] },
        ],
      },
      generator: GENERATOR,
    })
    expect(page.kind).toBe("compare")
    expect(chartIds(page)).toEqual([
      "latency-cdf-wget",
      "latency-pct-wget",
      "endpoints-wget",
      "drops",
      "conntrack-peak",
    ])
    const html = renderReportHtml(page)
    expect(html).toContain('<body data-report="compare"')
    expect(html).toContain("<th>iptables</th><th>ipvs</th>".replace(/<th>/g, '<th class="num">'))
    expect(html).toContain("Each cell is the mean over 2 seeds (1..2)")
    // http-go-b: 300 requests in iptables (scale 1), 600 in ipvs (scale 2).
    const endpoints = pageCharts(page).find((c) => c.id === "endpoints-wget")?.spec as { data: { values: unknown[] } }
    expect(endpoints.data.values).toContainEqual({ group: "http-go-b", series: "ipvs", value: 600 })
    expect(endpoints.data.values).toContainEqual({ group: "http-go-b", series: "iptables", value: 300 })
  })
})

/** The CLI with a stub runtime (documents of test/stats/fixture.ts) and files captured in memory. */
function captureCli(): { io: CliIo; files: Map<string, string>; err: () => string } {
  const files = new Map<string, string>()
  let err = ""
  const io: CliIo = {
    stdout: () => undefined,
    stderr: (text) => void (err += text),
    stderrIsTTY: false,
    env: {},
    readFile: (path) => readFileSync(path, "utf8"),
    writeFile: (path, text) => void files.set(path, text),
    mkdir: () => undefined,
    wallClockMs: () => 0,
  }
  return { io, files, err: () => err }
}

const stubRuntime: Runtime = {
  runScenario: (spec: ScenarioSpec, options) => ({
    ...documentWithTimeSeries(),
    scenario: spec.name,
    seed: options.seed,
  }),
  validateScenario: () => [],
  renderRules: () => "",
}

describe("--report on the command line", () => {
  it("run --report writes the run page with the scenario's file and mode", async () => {
    const cli = captureCli()
    const code = await runCli(
      ["run", "scenarios/quickstart.yaml", "--quiet", "--report", "/tmp/x/report.html"],
      cli.io,
      stubRuntime,
    )
    expect(cli.err()).toBe("")
    expect(code).toBe(0)
    const html = cli.files.get("/tmp/x/report.html") ?? ""
    expect(html).toContain('<body data-report="run"')
    expect(html).toContain("kube-netsim run: quickstart")
    expect(html).toContain(readFileSync("scenarios/quickstart.yaml", "utf8").split("\n")[0] as string)
    expect(html).toContain('data-chart="share-wget"')
  })

  it("compare --report writes the compare page", async () => {
    const cli = captureCli()
    const code = await runCli(
      ["compare", "scenarios/quickstart.yaml", "--modes", "iptables,ipvs", "--report", "/tmp/x/compare.html"],
      cli.io,
      stubRuntime,
    )
    expect(code).toBe(0)
    const html = cli.files.get("/tmp/x/compare.html") ?? ""
    expect(html).toContain('<body data-report="compare"')
    expect(html).toContain("modes iptables, ipvs")
  })
})

describe("time series kept drawable", () => {
  const read = readTimeSeries(documentWithTimeSeries())
  if (read.kind !== "ok") throw new Error("fixture time series unreadable")
  const series = read.series

  it("merging intervals sums counters and keeps the maximum of levels and percentiles", () => {
    const merged = coarsenTimeSeries(series, 4)
    expect(merged.intervalNs).toBe(4 * INTERVAL_NS)
    expect(merged.startNs).toEqual([0, 4, 8, 12, 16, 20, 24, 28].map((i) => i * INTERVAL_NS))
    const w = series.workloads.wget as NonNullable<(typeof series.workloads)["wget"]>
    const m = merged.workloads.wget as NonNullable<(typeof merged.workloads)["wget"]>
    const total = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0)
    expect(total(m.completed)).toBe(total(w.completed))
    expect(total(m.byEndpoint["http-go-e"] ?? [])).toBe(total(w.byEndpoint["http-go-e"] ?? []))
    expect(m.completed[7]).toBe((w.completed[28] as number) + (w.completed[29] as number))
    expect(merged.conntrack["node-1"]?.[0]).toBe(series.conntrack["node-1"]?.[3])
    expect(m.latencyP99Ns[0]).toBe(Math.max(...w.latencyP99Ns.slice(0, 4)))
    expect(total(merged.drops["conntrack-full"] ?? [])).toBe(3)
    expect(coarsenTimeSeries(series, 1)).toBe(series)
  })

  it("many series: the largest kept, the rest summed as other (N)", () => {
    const w = series.workloads.wget as NonNullable<(typeof series.workloads)["wget"]>
    const top = topSeries(w.byEndpoint, 3)
    expect(Object.keys(top)).toHaveLength(3)
    expect(Object.keys(top)).toContain("other (3)")
    for (let i = 0; i < INTERVALS; i++)
      expect(Object.values(top).reduce((sum, v) => sum + (v[i] as number), 0)).toBe(w.completed[i])
    expect(topSeries(w.byEndpoint, 5)).toBe(w.byEndpoint)
  })

  it("a long run is drawn with at most MAX_INTERVALS points per series, and says so", () => {
    const long = 2500
    const startNs = Array.from({ length: long }, (_, i) => i * INTERVAL_NS)
    const ones = startNs.map(() => 1)
    const doc = {
      ...sampleDocument(),
      simulatedNs: long * INTERVAL_NS,
      timeseries: {
        intervalNs: INTERVAL_NS,
        startNs,
        workloads: {
          wget: {
            requests: ones,
            completed: ones,
            failed: startNs.map(() => 0),
            failedByReason: {},
            byEndpoint: { a: ones },
            latencyP50Ns: ones,
            latencyP99Ns: ones,
          },
        },
        conntrack: { "node-1": ones },
        drops: {},
        events: [],
      },
    } as unknown as ResultsDocument
    const page = runPage(doc)
    const share = pageCharts(page).find((c) => c.id === "share-wget")?.spec as {
      layer: { data: { values: unknown[] } }[]
    }
    expect(share.layer[0]?.data.values.length).toBe(Math.ceil(long / 3))
    expect(MAX_INTERVALS).toBe(1000)
    expect(renderReportHtml(page)).toContain("3 recorded intervals of 100ms merged")
  })
})
