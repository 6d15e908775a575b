/**
 * The runtime: compiles a decoded ScenarioSpec into a world (network, controllers, kube-proxy per
 * node, applications, statistics) and runs it. The functions cli/ calls.
 */
import type { ResultsDocument } from "../stats/results.ts"
import { ScenarioIssues, type Issue, type ScenarioSpec } from "./spec.ts"

export * from "./spec.ts"

export interface RunOptions {
  readonly seed: number
  /** Called now and then with progress (simulated ns done, of total); cli/ prints a progress line. */
  readonly onProgress?: (simulatedNs: number, totalNs: number) => void
  /** Wall-clock source for the `wall` section; injected by cli/ (model code reads no clock). */
  readonly wallClockMs?: () => number
}

/** Simulates the scenario and returns the results document. Throws ScenarioIssues on bad input. */
export function runScenario(spec: ScenarioSpec, options: RunOptions): ResultsDocument {
  void spec
  void options
  throw new ScenarioIssues([{ severity: "error", path: [], message: "runScenario: runtime not built yet" }])
}

/** Compiles the scenario without running traffic; returns warnings (errors are thrown). */
export function validateScenario(spec: ScenarioSpec): Issue[] {
  void spec
  return []
}

export interface RulesOptions {
  readonly node: string
  readonly atNs: number
  readonly sorted: boolean
}

/** The node's dataplane configuration at time atNs, as the real tool prints it (iptables-save). */
export function renderRules(spec: ScenarioSpec, options: RulesOptions): string {
  void spec
  void options
  throw new ScenarioIssues([{ severity: "error", path: [], message: "renderRules: runtime not built yet" }])
}
