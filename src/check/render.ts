/** The human summary of a check report (`kube-netsim check` without `--json`). */
import { formatValues } from "./generate.ts"
import type { CheckReport } from "./check.ts"
import { DURATION_CONDITIONS, type Property } from "./property.ts"
import { largerIsWorse } from "./conditions.ts"
import { formatNs } from "../scenario/expect.ts"

export function describeDomain(property: Property): string[] {
  return property.variables.map((v) => {
    const d = v.domain
    const where = v.pathTexts.length === 0 ? "" : `  (${v.pathTexts.join(", ")})`
    switch (d.kind) {
      case "int":
        return `${v.name} ${d.min}..${d.max}${d.plus === undefined ? "" : ` + ${d.plus}`}${where}`
      case "oneOf":
        return `${v.name} one of ${d.choices.map((c) => JSON.stringify(c)).join(", ")}${where}`
      case "subset":
        return `${v.name} subset of ${d.of.length} (${d.minSize}..${d.maxSize})${where}`
      case "duration":
        return `${v.name} ${d.minNs / 1e6}ms..${d.maxNs / 1e6}ms step ${d.stepNs / 1e6}ms${where}`
    }
  })
}

export function renderCheck(report: CheckReport, property: Property, outFile: string | undefined): string {
  const lines: string[] = []
  lines.push(`property ${report.property}  (${report.file})`)
  lines.push(`  scenario    ${report.scenario}`)
  const domains = describeDomain(property)
  domains.forEach((d, i) => lines.push(`  ${i === 0 ? "varies     " : "           "} ${d}`))
  property.holds.forEach((h, i) =>
    lines.push(
      `  ${i === 0 ? "holds      " : "           "} ${h.workload}: ${h.condition} ${"value" in h.bound ? h.bound.value : `{ var: ${h.bound.variable} }`}${
        h.modes === undefined ? "" : ` (modes ${h.modes.join(", ")})`
      }`,
    ),
  )
  if (report.correction !== null) lines.push(`  correction  ${report.correction}`)
  lines.push(
    `cases       ${report.casesRun} of ${report.plannedRuns} run, ${report.failedCases.length} failed  (fast-check seed ${report.seed}; ${report.simulations} simulations in all)`,
  )
  const coverage = describeCoverage(report)
  if (coverage !== "") lines.push(`  covered     ${coverage}`)
  if (report.invalid !== null) {
    lines.push(
      `INVALID: the values ${formatValues(report.invalid.values)} generate an invalid scenario${
        report.invalid.culprits.length > 0 ? ` (from ${report.invalid.culprits.join(", ")})` : ""
      }:`,
    )
    for (const issue of report.invalid.issues) lines.push(`  ${issue}`)
  }
  const worst = describeWorst(report, property)
  if (worst.length > 0) {
    lines.push(`  closest     (the case nearest each bound)`)
    for (const line of worst) lines.push(`              ${line}`)
  }
  if (report.holds) {
    lines.push(`OK: the property held on all ${report.casesRun} cases`)
    return `${lines.join("\n")}\n`
  }
  if (report.shrinkPath.length === 0) return `${lines.join("\n")}\n`
  const first = report.shrinkPath[0]
  lines.push(`FAILED on case ${report.casesRun}: ${formatValues(first.values)}`)
  for (const f of first.failures) lines.push(`  ${f}`)
  lines.push(
    `shrink path (${report.shrinkPath.length - 1} step${report.shrinkPath.length === 2 ? "" : "s"}, ${
      report.simulations - report.casesRun
    } candidates simulated):`,
  )
  report.shrinkPath.forEach((r, i) => lines.push(`  ${String(i).padStart(3)}  ${formatValues(r.values)}`))
  const ce = report.counterexample
  if (ce !== null) {
    lines.push(`smallest counterexample: ${formatValues(ce.values)}  (simulation seed ${ce.scenarioSeed})`)
    for (const f of ce.failures) lines.push(`  ${f}`)
    if (outFile !== undefined) lines.push(`written to ${outFile}; run it: kube-netsim run ${outFile}`)
    else lines.push("(give --out DIR to write it as a runnable scenario)")
  }
  return `${lines.join("\n")}\n`
}

/** What the generated cases covered: `replicas 1..30 (19 distinct), connection new x7 keepAlive x3`. */
function describeCoverage(report: CheckReport): string {
  if (report.cases.length === 0) return ""
  const names = Object.keys(report.cases[0].values).filter((name) => name !== "seed")
  const parts: string[] = []
  for (const name of names) {
    const values = report.cases.map((c) => c.values[name])
    if (values.every((v) => typeof v === "number")) {
      const numbers = values as number[]
      parts.push(`${name} ${Math.min(...numbers)}..${Math.max(...numbers)} (${new Set(numbers).size} distinct)`)
    } else {
      const counts = new Map<string, number>()
      for (const v of values) counts.set(JSON.stringify(v), (counts.get(JSON.stringify(v)) ?? 0) + 1)
      parts.push(`${name} ${[...counts].map(([v, n]) => `${v} x${n}`).join(" ")}`)
    }
  }
  return parts.join(", ")
}

/** Per condition, the generated case whose figure came nearest the bound: `requests: chiSquareP 0.0123 (case 17)`. */
function describeWorst(report: CheckReport, property: Property): string[] {
  const out: string[] = []
  property.holds.forEach((hold, index) => {
    // A bound that is a generated value differs per case: the figures are not comparable.
    if ("variable" in hold.bound) return
    let best: { value: number; case: number } | undefined
    report.cases.forEach((c, caseIndex) => {
      const value = c.observed[index]
      if (value === null || value === undefined) return
      const worse = best === undefined || (largerIsWorse(hold) ? value > best.value : value < best.value)
      if (worse) best = { value, case: caseIndex + 1 }
    })
    if (best === undefined) return
    const text = DURATION_CONDITIONS.includes(hold.condition) ? formatNs(best.value) : String(best.value)
    out.push(`${hold.workload}: ${FIGURE[hold.condition]} ${text} (case ${best.case})`)
  })
  return out
}

const FIGURE: Record<Property["holds"][number]["condition"], string> = {
  completedAtLeast: "completed",
  completedAtMost: "completed",
  failedAtMost: "failed",
  failedAtLeast: "failed",
  sentAtLeast: "sent",
  p50Below: "p50",
  p99Below: "p99",
  p99AtLeast: "p99",
  meanBelow: "mean",
  maxBelow: "max",
  maxAtLeast: "max",
  jainAtLeast: "jain",
  endpointsAtLeast: "endpoints",
  endpointsAtMost: "endpoints",
  maxOverMeanAtMost: "max/mean",
  chiSquarePAtLeast: "chi-square p",
}
