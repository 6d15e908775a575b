/**
 * Scenario expectations (`expect:`): conditions on the results document checked after a run. A
 * failed expectation makes `kube-netsim run` exit with code 1.
 */
import type { KubeProxySpec, SourcePosition } from "../cluster/spec.ts"
import type { ResultsDocument } from "../stats/results.ts"

export type ExpectationCondition =
  | "completedAtLeast"
  | "failedAtMost"
  | "sentAtLeast"
  | "p50Below"
  | "p99Below"
  | "meanBelow"
  | "maxBelow"
  | "jainAtLeast"
  | "endpointsAtLeast"
  | "endpointsAtMost"
  | "completedAtMost"
  | "failedAtLeast"
  | "p99AtLeast"
  | "maxAtLeast"

export interface Expectation {
  readonly workload: string
  readonly condition: ExpectationCondition
  /** Counts, nanoseconds (the *Below and latency *AtLeast conditions) or a ratio (jainAtLeast). */
  readonly value: number
  /** The condition as written in the scenario, for messages (`p99Below: 5ms`). */
  readonly text: string
  readonly position: SourcePosition | null
  /**
   * The kube-proxy modes the expectation applies to (`modes: [ipvs]`); absent = every mode. A
   * mode's real behaviour can differ (IPVS round-robin is even per node, iptables is random), so
   * one scenario can state what each mode should give and `compare` checks each against its own.
   */
  readonly modes?: readonly KubeProxySpec["mode"][]
}

export interface ExpectationFailure {
  readonly expectation: Expectation
  readonly message: string
}

/** Whether `expectation` applies to a run in kube-proxy mode `mode` (its `modes:` filter). */
export function expectationApplies(expectation: Expectation, mode: KubeProxySpec["mode"]): boolean {
  return expectation.modes === undefined || expectation.modes.includes(mode)
}

/**
 * Checks the expectations that apply to `mode` (the mode the document was simulated in) against
 * one results document; returns the failed ones.
 */
export function checkExpectations(
  expectations: readonly Expectation[],
  doc: ResultsDocument,
  mode: KubeProxySpec["mode"],
): ExpectationFailure[] {
  const failures: ExpectationFailure[] = []
  for (const expectation of expectations) {
    if (!expectationApplies(expectation, mode)) continue
    const results = doc.workloads[expectation.workload]
    if (results === undefined) {
      failures.push({ expectation, message: `workload ${expectation.workload} has no results` })
      continue
    }
    const actual = measure(expectation.condition, results)
    const ok = holds(expectation.condition, actual, expectation.value)
    if (!ok)
      failures.push({
        expectation,
        message: `${expectation.workload}: expected ${expectation.text}, got ${describe(expectation.condition, actual)}`,
      })
  }
  return failures
}

/** The figure an expectation condition bounds, in a workload's results (also `check`'s conditions). */
export function measure(condition: ExpectationCondition, results: ResultsDocument["workloads"][string]): number {
  switch (condition) {
    case "completedAtLeast":
      return results.requests.completed
    case "failedAtMost":
    case "failedAtLeast":
      return results.requests.failed
    case "sentAtLeast":
      return results.requests.sent
    case "p50Below":
      return results.latencyNs.p50
    case "p99Below":
    case "p99AtLeast":
      return results.latencyNs.p99
    case "meanBelow":
      return results.latencyNs.mean
    case "maxBelow":
    case "maxAtLeast":
      return results.latencyNs.max
    case "jainAtLeast":
      return results.distribution.jain
    case "completedAtMost":
      return results.requests.completed
    case "endpointsAtLeast":
    case "endpointsAtMost":
      return Object.values(results.distribution.byEndpoint).filter((count) => count > 0).length
  }
}

function holds(condition: ExpectationCondition, actual: number, bound: number): boolean {
  switch (condition) {
    case "failedAtMost":
    case "completedAtMost":
    case "endpointsAtMost":
      return actual <= bound
    case "p50Below":
    case "p99Below":
    case "meanBelow":
    case "maxBelow":
      return actual < bound
    default:
      return actual >= bound
  }
}

function describe(condition: ExpectationCondition, actual: number): string {
  if (condition.endsWith("Below") || condition === "p99AtLeast" || condition === "maxAtLeast") return formatNs(actual)
  return String(actual)
}

/** Nanoseconds for messages: 1.234ms, 250us, 3s. */
export function formatNs(ns: number): string {
  if (ns >= 1e9) return `${round3(ns / 1e9)}s`
  if (ns >= 1e6) return `${round3(ns / 1e6)}ms`
  if (ns >= 1e3) return `${round3(ns / 1e3)}us`
  return `${round3(ns)}ns`
}

function round3(value: number): string {
  return String(Math.round(value * 1000) / 1000)
}
