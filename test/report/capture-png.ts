/**
 * `npm run report:png [-- SCENARIO [OUT.png]]`: runs the scenario (default
 * scenarios/seed-001-http-go-scale.yaml) with `--report`, opens the page in headless Chromium and
 * saves a full-page PNG (default docs/report.png, the README's picture). Fails if the page logs an
 * error, fetches anything or leaves a chart undrawn, as the browser test does.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { defaultRuntime, runCli } from "../../src/cli/app.ts"
import { readFileUtf8 } from "../../src/scenario/load.ts"
import { findChromium, inspectReport, launch } from "./browser.ts"

async function main(): Promise<number> {
  const scenario = process.argv[2] ?? "scenarios/seed-001-http-go-scale.yaml"
  const png = process.argv[3] ?? "docs/report.png"
  const chromium = findChromium()
  if (chromium === undefined) {
    process.stderr.write("report:png: no Chromium (apt-get install chromium, or set KUBE_NETSIM_CHROMIUM)\n")
    return 2
  }
  const dir = mkdtempSync(join(tmpdir(), "kube-netsim-png-"))
  try {
    const html = join(dir, "report.html")
    const code = await runCli(
      ["run", scenario, "--quiet", "--report", html],
      {
        stdout: (text) => void process.stdout.write(text),
        stderr: (text) => void process.stderr.write(text),
        stderrIsTTY: false,
        env: process.env,
        readFile: readFileUtf8,
        writeFile: (path, text) => writeFileSync(path, text),
        mkdir: (path) => void mkdirSync(path, { recursive: true }),
        wallClockMs: () => Date.now(),
      },
      defaultRuntime,
    )
    if (code !== 0) return code
    const browser = await launch(chromium)
    try {
      const state = await inspectReport(browser, html, { png })
      const problems = [
        ...state.consoleErrors.map((e) => `console error: ${e}`),
        ...state.pageErrors.map((e) => `page error: ${e}`),
        ...state.requests.map((r) => `request: ${r}`),
        ...state.charts.filter((c) => !c.rendered || c.marks === 0).map((c) => `chart ${c.id} not drawn`),
      ]
      if (problems.length > 0) {
        process.stderr.write(`${problems.join("\n")}\n`)
        return 1
      }
      process.stdout.write(`${png}: ${state.charts.length} charts (${scenario})\n`)
      return 0
    } finally {
      await browser.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

process.exitCode = await main()
