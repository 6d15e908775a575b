/**
 * A property's conditions on one run's results document: the scenario expectation vocabulary
 * (scenario/expect.ts, checked by the same code) plus `maxOverMeanAtMost` and `chiSquarePAtLeast`,
 * with bounds that may name a generated value (`endpointsAtLeast: { var: replicas }`).
 *
 * Multiple testing: `chiSquarePAtLeast: α` is a family-wise level over the planned cases. With the
 * Bonferroni correction (the default) a case fails when its p-value is below α / N, N the planned
 * number of cases (`--runs`), so that a property whose null hypothesis (uniform spread) is true
 * is reported as failing with probability at most α over the whole check (Bonferroni's inequality:
 * P(any of N tests rejects) <= Σ α/N = α; no independence needed). Shrinking candidates are judged
 * by the same per-case threshold. `correction: none` compares each p-value with α itself.
 */
import {
  checkExpectations,
  formatNs,
  measure,
  type Expectation,
  type ExpectationCondition,
} from "../scenario/expect.ts"
import type { ResultsDocument } from "../stats/results.ts"
import type { KubeProxySpec } from "../cluster/spec.ts"
import { numericValue, type CaseValues } from "./generate.ts"
import { DURATION_CONDITIONS, type Hold, type Property } from "./property.ts"

export interface HoldFailure {
  readonly hold: Hold
  /** `wget: expected endpointsAtLeast 5, got 2` */
  readonly message: string
}

/** The per-case p-value threshold of `chiSquarePAtLeast: alpha` over `plannedRuns` cases. */
export function perCaseAlpha(property: Property, alpha: number, plannedRuns: number): number {
  return property.correction === "bonferroni" ? alpha / plannedRuns : alpha
}

/** One line naming the correction, for the summary and the JSON report. */
export function describeCorrection(property: Property, plannedRuns: number): string | undefined {
  const alphas = property.holds.filter((h) => h.condition === "chiSquarePAtLeast")
  if (alphas.length === 0) return undefined
  if (property.correction === "none")
    return "none: each case's chi-square p-value is compared with the level as written (false alarms add up over cases)"
  const levels = alphas.map((h) => ("value" in h.bound ? h.bound.value : NaN))
  return `Bonferroni over ${plannedRuns} planned cases: a case fails chiSquarePAtLeast α when p < α/${plannedRuns} (${levels
    .map((a) => `${a} -> ${round(a / plannedRuns)}`)
    .join(", ")}); family-wise false-alarm rate <= α`
}

function round(value: number): string {
  return Number(value.toPrecision(3)).toString()
}

/** The conditions that fail on `doc` (a run in kube-proxy mode `mode`) for the case `values`. */
export function checkHolds(
  property: Property,
  values: CaseValues,
  doc: ResultsDocument,
  mode: KubeProxySpec["mode"],
  plannedRuns: number,
): HoldFailure[] {
  const failures: HoldFailure[] = []
  for (const hold of property.holds) {
    if (hold.modes !== undefined && !hold.modes.includes(mode)) continue
    const bound = "value" in hold.bound ? hold.bound.value : numericValue(property, values, hold.bound.variable)
    const boundText = boundDescription(hold, bound)
    const results = doc.workloads[hold.workload]
    if (results === undefined) {
      failures.push({ hold, message: `workload ${hold.workload} has no results` })
      continue
    }
    if (hold.condition === "maxOverMeanAtMost") {
      const actual = results.distribution.maxOverMean
      if (!(actual <= bound))
        failures.push({ hold, message: `${hold.workload}: expected maxOverMeanAtMost: ${boundText}, got ${actual}` })
      continue
    }
    if (hold.condition === "chiSquarePAtLeast") {
      const threshold = perCaseAlpha(property, bound, plannedRuns)
      const actual = results.distribution.chiSquareP
      if (!(actual >= threshold))
        failures.push({
          hold,
          message: `${hold.workload}: expected chiSquarePAtLeast: ${boundText}${
            property.correction === "bonferroni" ? ` (Bonferroni: p >= ${round(threshold)} per case)` : ""
          }, got p = ${actual}`,
        })
      continue
    }
    const expectation: Expectation = {
      workload: hold.workload,
      condition: hold.condition as ExpectationCondition,
      value: bound,
      text: `${hold.condition}: ${boundText}`,
      position: null,
    }
    for (const failure of checkExpectations([expectation], doc, mode)) failures.push({ hold, message: failure.message })
  }
  return failures
}

function boundDescription(hold: Hold, bound: number): string {
  const text = DURATION_CONDITIONS.includes(hold.condition) ? formatNs(bound) : String(bound)
  return "variable" in hold.bound ? `${text} (= ${hold.bound.variable})` : text
}

/**
 * The conditions as `expect:` entries of a scenario, for a counterexample file: those the scenario
 * vocabulary has (bounds of variables resolved); the rest are listed in its header.
 */
export function holdsAsExpectations(
  property: Property,
  values: CaseValues,
): { expect: Record<string, unknown>[]; notExpressible: string[] } {
  const expect: Record<string, unknown>[] = []
  const notExpressible: string[] = []
  for (const hold of property.holds) {
    const bound = "value" in hold.bound ? hold.bound.value : numericValue(property, values, hold.bound.variable)
    if (hold.condition === "maxOverMeanAtMost" || hold.condition === "chiSquarePAtLeast") {
      notExpressible.push(
        `${hold.workload}: ${hold.condition} ${bound}${hold.modes === undefined ? "" : ` (modes ${hold.modes.join(", ")})`}`,
      )
      continue
    }
    expect.push({
      workload: hold.workload,
      ...(hold.modes === undefined ? {} : { modes: [...hold.modes] }),
      [hold.condition]: DURATION_CONDITIONS.includes(hold.condition) ? `${bound}ns` : bound,
    })
  }
  return { expect, notExpressible }
}

/** The figure a condition bounds, measured on one run (undefined when the workload has no results). */
export function measureHold(hold: Hold, doc: ResultsDocument): number | undefined {
  const results = doc.workloads[hold.workload]
  if (results === undefined) return undefined
  switch (hold.condition) {
    case "maxOverMeanAtMost":
      return results.distribution.maxOverMean
    case "chiSquarePAtLeast":
      return results.distribution.chiSquareP
    default:
      // Every other condition is one of the scenario's expectations: measured the same way.
      return measure(hold.condition, results)
  }
}

/** Whether a larger measured figure is closer to failing the condition (AtMost, Below). */
export function largerIsWorse(hold: Hold): boolean {
  return hold.condition.endsWith("AtMost") || hold.condition.endsWith("Below")
}
