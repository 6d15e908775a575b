/**
 * `kube-netsim check PROPERTY [--runs N] [--seed S] [--out DIR] [--json]`: a property over
 * generated variants of a scenario (src/check/). Exit 0 when it holds on every case, 1 with a
 * shrunk counterexample (written to `--out` as a runnable scenario), 2 for an invalid property
 * file or a range that generates an invalid scenario, 3 for an internal error.
 */
import { join } from "node:path"
import { checkProperty, type CaseRecord } from "../check/check.ts"
import { loadProperty } from "../check/property.ts"
import { describeDomain, renderCheck } from "../check/render.ts"
import { checkReportPage } from "../report/check-page.ts"
import { renderReportHtml } from "../report/page.ts"
import { reportGenerator } from "../report/vendor.ts"
import { formatValues } from "../check/generate.ts"
import { formatIssue } from "../scenario/issues.ts"
import {
  EXIT_EXPECTATION_FAILED,
  EXIT_INVALID_INPUT,
  EXIT_OK,
  guarded,
  printIssues,
  writeReport,
  type CliIo,
  type Runtime,
} from "./commands.ts"

export interface CheckCommandOptions {
  readonly property: string
  readonly runs: number | undefined
  readonly seed: number | undefined
  readonly out: string | undefined
  readonly json: boolean
  /** `--report FILE.html`: the check's HTML page (src/report/check-page.ts). */
  readonly report?: string | undefined
}

export function checkCommand(io: CliIo, runtime: Runtime, options: CheckCommandOptions): number {
  return guarded(
    io,
    () => undefined,
    () => {
      if (
        options.seed !== undefined &&
        !(Number.isSafeInteger(options.seed) && options.seed >= 0 && options.seed <= 0x7fffffff)
      ) {
        io.stderr(`kube-netsim check: --seed: must be an integer between 0 and 2147483647, got ${options.seed}\n`)
        return EXIT_INVALID_INPUT
      }
      if (
        options.runs !== undefined &&
        !(Number.isSafeInteger(options.runs) && options.runs >= 1 && options.runs <= 100_000)
      ) {
        io.stderr(`kube-netsim check: --runs: must be an integer between 1 and 100000, got ${options.runs}\n`)
        return EXIT_INVALID_INPUT
      }
      const loaded = loadProperty(options.property, io.readFile)
      if (!loaded.ok) {
        printIssues(io, loaded.issues, undefined)
        return EXIT_INVALID_INPUT
      }
      const property = loaded.property
      const startMs = io.wallClockMs()
      const progress = io.stderrIsTTY && !options.json
      const report = checkProperty(property, {
        ...(options.runs === undefined ? {} : { runs: options.runs }),
        ...(options.seed === undefined ? {} : { seed: options.seed }),
        runScenario: runtime.runScenario,
        readFile: io.readFile,
        onCase: (record: CaseRecord) => {
          if (progress)
            io.stderr(
              `\r\x1b[K${record.phase === "generate" ? "case" : "shrink"} ${record.simulation}: ${formatValues(record.values)} ${record.failures.length > 0 ? "FAIL" : "ok"}`,
            )
        },
      })
      if (progress) io.stderr("\r\x1b[K")
      const wallSeconds = (io.wallClockMs() - startMs) / 1000

      let outFile: string | undefined
      if (options.out !== undefined) {
        io.mkdir(options.out)
        io.writeFile(join(options.out, "check.json"), `${JSON.stringify(report, null, 2)}\n`)
        if (report.counterexample !== null) {
          outFile = join(options.out, "counterexample.yaml")
          io.writeFile(outFile, report.counterexample.scenarioText)
        }
      }
      if (options.report !== undefined)
        writeReport(
          io,
          options.report,
          renderReportHtml(
            checkReportPage({
              report,
              holds: property.holds,
              varies: describeDomain(property),
              generator: reportGenerator(),
            }),
          ),
        )
      if (options.json) io.stdout(`${JSON.stringify({ ...report, wall: { seconds: wallSeconds } }, null, 2)}\n`)
      else io.stdout(`${renderCheck(report, property, outFile)}wall ${wallSeconds.toFixed(1)}s\n`)

      if (report.invalid !== null) {
        // Which vary entries made the scenario invalid, at their place in the property file.
        const culprits = property.variables.filter((v) => report.invalid?.culprits.includes(v.name))
        for (const variable of culprits.length > 0 ? culprits : property.variables)
          io.stderr(
            `${formatIssue({
              severity: "error",
              path: variable.at,
              message: `${variable.name} = ${JSON.stringify(report.invalid.values[variable.name])} generates an invalid scenario: ${report.invalid.issues.join("; ")}`,
              position: property.locate(variable.at),
            })}\n`,
          )
        // A counterexample found before a shrink candidate was invalid is still a counterexample.
        if (report.counterexample === null) return EXIT_INVALID_INPUT
      }
      return report.holds ? EXIT_OK : EXIT_EXPECTATION_FAILED
    },
  )
}
