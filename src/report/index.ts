/**
 * The HTML report (`--report FILE.html`): one self-contained page per command. A command builds
 * its page from its documents (run-page.ts, compare-page.ts; `check` and `sweep` add their own
 * page builders on the same blocks) and `renderReportHtml` writes it with the charting libraries
 * inlined. docs/report.md describes the pages.
 */
import { readFileSync } from "node:fs"

export { renderReportHtml, pageCharts, type Block, type ChartSpec, type ReportPage, type Section } from "./page.ts"
export { runReportPage, scenarioInfo, scenarioSection, type RunReportInput, type ScenarioInfo } from "./run-page.ts"
export { compareReportPage, type CompareReportInput } from "./compare-page.ts"
export { barChart, cdfChart, groupedBarChart, timeChart } from "./charts.ts"
export { readTimeSeries, type TimeSeries } from "./timeseries.ts"

let generatorCached: string | undefined

/** "kube-netsim VERSION", for the page footer. */
export function reportGenerator(): string {
  if (generatorCached !== undefined) return generatorCached
  let version = "0.0.0"
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
    if (typeof pkg === "object" && pkg !== null && "version" in pkg && typeof pkg.version === "string")
      version = pkg.version
  } catch {
    // The version is cosmetic.
  }
  generatorCached = `kube-netsim ${version}`
  return generatorCached
}
