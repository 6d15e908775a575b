/**
 * The HTML report drawn for real.
 *
 * 1. Extensive tier: every chart's Vega-Lite spec, compiled by vega-lite and run by Vega's headless
 *    renderer in Node, draws marks (fixture pages: run with time series, compare).
 * 2. In headless Chromium (Debian's `chromium`, driven by playwright-core; KUBE_NETSIM_CHROMIUM
 *    names another binary): the fixture page with time series (quick tier: no simulation, one
 *    page), and in the extensive tier the reports of a real `run`
 *    (scenarios/seed-001-http-go-scale.yaml) and a real `compare` (iptables, ipvs), load with no
 *    console error, no request beyond the file itself, and every chart drawn with its marks; a
 *    real `check --report` and `sweep --report` (quick tier: each takes about a second) likewise.
 * Skips with the reason when Chromium is missing, or when KUBE_NETSIM_BROWSER=0.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Browser } from "playwright-core"
import { runCli, defaultRuntime, type CliIo } from "../../src/cli/app.ts"
import { readFileUtf8 } from "../../src/scenario/load.ts"
import { compareReportPage } from "../../src/report/compare-page.ts"
import { pageCharts, renderReportHtml, type ChartSpec } from "../../src/report/page.ts"
import { runReportPage } from "../../src/report/run-page.ts"
import { sampleDocument } from "../stats/fixture.ts"
import { extensive, knobBool } from "../tier.ts"
import { findChromium, inspectReport, launch, type PageState } from "./browser.ts"
import { SCENARIO_INFO, documentWithTimeSeries, withLatencyDetail } from "./fixture.ts"

const GENERATOR = "kube-netsim test"

function fixtureRunPage() {
  return runReportPage({
    scenario: SCENARIO_INFO,
    documents: [withLatencyDetail(documentWithTimeSeries())],
    generator: GENERATOR,
  })
}

function fixtureComparePage() {
  return compareReportPage({
    scenario: SCENARIO_INFO,
    compare: {
      compareVersion: 1,
      scenario: "http-go-affinity",
      seed: 1,
      runs: 1,
      modes: [
        { mode: "iptables", results: [withLatencyDetail(sampleDocument(1))] },
        { mode: "ipvs", results: [withLatencyDetail(sampleDocument(1, 2))] },
      ],
    },
    generator: GENERATOR,
  })
}

/** Data marks Vega draws for `spec` (items of non-group marks with role "mark" in the scenegraph). */
async function markCount(spec: ChartSpec): Promise<number> {
  const vega = await import("vega")
  const { compile } = await import("vega-lite")
  const compiled = compile(spec as unknown as Parameters<typeof compile>[0]).spec
  const view = new vega.View(vega.parse(compiled), { renderer: "none" })
  await view.runAsync()
  let marks = 0
  const visit = (node: unknown): void => {
    if (typeof node !== "object" || node === null) return
    const n = node as { marktype?: string; role?: string; items?: unknown[] }
    if (n.marktype !== undefined && n.marktype !== "group" && n.role === "mark") marks += n.items?.length ?? 0
    for (const item of n.items ?? []) visit(item)
  }
  visit((view.scenegraph() as unknown as { root: unknown }).root)
  view.finalize()
  return marks
}

describe.skipIf(!extensive)("report charts drawn by Vega in Node (extensive tier)", () => {
  it("every chart of the run and compare pages compiles and draws marks", async () => {
    const charts = [...pageCharts(fixtureRunPage()), ...pageCharts(fixtureComparePage())]
    expect(charts.length).toBeGreaterThan(10)
    for (const chart of charts) expect(await markCount(chart.spec), chart.id).toBeGreaterThan(0)
  })
})

const chromiumPath = findChromium()
const skipReason = !knobBool("BROWSER", true)
  ? "KUBE_NETSIM_BROWSER=0"
  : chromiumPath === undefined
    ? "no Chromium (apt-get install chromium, or set KUBE_NETSIM_CHROMIUM)"
    : ""

function fileIo(): CliIo {
  return {
    stdout: () => undefined,
    stderr: (text) => void process.stderr.write(text),
    stderrIsTTY: false,
    env: {},
    readFile: readFileUtf8,
    writeFile: (path, text) => writeFileSync(path, text),
    mkdir: (path) => void mkdirSync(path, { recursive: true }),
    wallClockMs: () => Date.now(),
  }
}

/** The page opened cleanly and drew every chart. */
function expectClean(state: PageState): void {
  expect(state.pageErrors).toEqual([])
  expect(state.consoleErrors).toEqual([])
  expect(state.requests).toEqual([])
  expect(state.status).toBe("done")
  expect(state.charts.length).toBeGreaterThan(0)
  for (const chart of state.charts) {
    expect(chart.error, chart.id).toBeNull()
    expect(chart.rendered, chart.id).toBe(true)
    expect(chart.marks, chart.id).toBeGreaterThan(0)
  }
}

describe.skipIf(skipReason !== "")(
  `report in headless Chromium${skipReason === "" ? "" : ` (skipped: ${skipReason})`}`,
  () => {
    let browser: Browser | undefined
    let launchError = ""
    let dir = ""

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "kube-netsim-report-"))
      try {
        browser = await launch(chromiumPath as string)
      } catch (error) {
        launchError = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error)
      }
    })
    afterAll(async () => {
      await browser?.close()
      if (dir !== "") rmSync(dir, { recursive: true, force: true })
    })

    function opened(): Browser {
      if (browser === undefined) throw new Error(`Chromium did not start: ${launchError}`)
      return browser
    }

    it.skipIf(!extensive)(
      "run --report of seed-001-http-go-scale: every chart drawn, nothing fetched (extensive tier)",
      async () => {
        const file = join(dir, "run.html")
        const code = await runCli(
          ["run", "scenarios/seed-001-http-go-scale.yaml", "--quiet", "--report", file],
          fileIo(),
          defaultRuntime,
        )
        expect(code).toBe(0)
        const state = await inspectReport(opened(), file)
        expectClean(state)
        expect(state.kind).toBe("run")
        const byId = new Map(state.charts.map((c) => [c.id, c]))
        // One line per workload; one bar per endpoint (5 after the scale-up) plus the equal-share rule.
        expect(byId.get("latency-cdf")?.marks).toBe(1)
        expect(byId.get("endpoints-wget")?.marks).toBe(6)
        expect(readFileSync(file, "utf8")).toContain("scale: deployment/http-go")
      },
    )

    it("the fixture page with time series: share over time with the steps marked, conntrack, drops", async () => {
      const file = join(dir, "fixture.html")
      writeFileSync(file, renderReportHtml(fixtureRunPage()))
      const state = await inspectReport(opened(), file)
      expectClean(state)
      const byId = new Map(state.charts.map((c) => [c.id, c]))
      // 5 endpoint areas + 2 event rules + 2 event labels.
      expect(byId.get("share-wget")?.marks).toBe(9)
      // 2 node lines + 2 rules + 2 labels.
      expect(byId.get("conntrack-time")?.marks).toBe(6)
      // One bar (3 drops in interval 20) + 2 rules + 2 labels.
      expect(byId.get("drops-time")?.marks).toBe(5)
    })

    it("check --report of keepalive-after-scale: the conditions per case and the shrink path drawn", async () => {
      const file = join(dir, "check.html")
      const out = join(dir, "check-out")
      const code = await runCli(
        ["check", "properties/keepalive-after-scale.yaml", "--out", out, "--report", file],
        fileIo(),
        defaultRuntime,
      )
      expect(code).toBe(1)
      const state = await inspectReport(opened(), file)
      expectClean(state)
      expect(state.kind).toBe("check")
      const html = readFileSync(file, "utf8")
      expect(html).toContain("Shrink path")
      expect(html).toContain("Counterexample")
      // endpointsAtLeast { var: after }: one point per generated case and per failing case the
      // shrinker moved to (the report keeps those), no constant bound rule.
      const report = JSON.parse(readFileSync(join(out, "check.json"), "utf8")) as {
        cases: unknown[]
        shrinkPath: { phase: string }[]
      }
      const points = report.cases.length + report.shrinkPath.filter((c) => c.phase === "shrink").length
      expect(points).toBeGreaterThan(1)
      expect(state.charts.find((c) => c.id === "condition-0")?.marks).toBe(points)
    })

    it("sweep --report of the tiny sweep: one chart per metric, a point with its interval per sweep point", async () => {
      const file = join(dir, "sweep.html")
      const code = await runCli(
        ["sweep", "test/sweep/fixtures/tiny-sweep.yaml", "--quiet", "--report", file],
        fileIo(),
        defaultRuntime,
      )
      expect(code).toBe(0)
      const state = await inspectReport(opened(), file)
      expectClean(state)
      expect(state.kind).toBe("sweep")
      // 3 metrics; each chart: 2 points (replicas 1 and 2) and 2 error bars (with their ticks).
      expect(state.charts.length).toBe(3)
      for (const chart of state.charts) expect(chart.marks, chart.id).toBeGreaterThanOrEqual(4)
    })

    it.skipIf(!extensive)(
      "compare --report (iptables, ipvs): every chart drawn, nothing fetched (extensive tier)",
      async () => {
        const file = join(dir, "compare.html")
        const code = await runCli(
          ["compare", "scenarios/quickstart.yaml", "--modes", "iptables,ipvs", "--report", file],
          fileIo(),
          defaultRuntime,
        )
        expect(code).toBe(0)
        const state = await inspectReport(opened(), file)
        expectClean(state)
        expect(state.kind).toBe("compare")
        const byId = new Map(state.charts.map((c) => [c.id, c]))
        // One CDF line per mode; one bar per (endpoint, mode).
        expect(byId.get("latency-cdf-wget")?.marks).toBe(2)
        expect(byId.get("endpoints-wget")?.marks).toBe(6)
      },
    )
  },
)
