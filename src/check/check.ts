/**
 * `kube-netsim check`: fast-check generates the cases of a property (deterministic from its seed),
 * each case's scenario is decoded by the scenario loader and simulated by the runtime `run` uses,
 * the property's conditions are checked on its results document, and a failing case is shrunk
 * (fast-check's shrinker: integers toward min, choices toward the first, subsets toward fewer)
 * to the smallest failing scenario, which is returned as a runnable, standalone scenario file.
 */
import fc from "fast-check"
import type { RunOptions } from "../cluster/index.ts"
import { ScenarioIssues, type ScenarioSpec } from "../cluster/spec.ts"
import type { ResultsDocument } from "../stats/results.ts"
import { readFileUtf8, type ReadFile } from "../scenario/load.ts"
import { formatPath } from "../scenario/issues.ts"
import { checkHolds, describeCorrection, holdsAsExpectations, measureHold } from "./conditions.ts"
import {
  InvalidCase,
  culprits,
  decodeCase,
  formatValues,
  instantiate,
  scenarioText,
  valuesArbitrary,
  writtenValues,
  type CaseValues,
} from "./generate.ts"
import type { Property } from "./property.ts"

export type RunScenario = (spec: ScenarioSpec, options: RunOptions) => ResultsDocument

export interface CheckOptions {
  /** Cases to generate (default: the file's `runs:`). */
  readonly runs?: number
  /** fast-check seed (default: the file's `seed:`). */
  readonly seed?: number
  readonly runScenario: RunScenario
  readonly readFile?: ReadFile
  /** Called after each simulated case (progress). */
  readonly onCase?: (record: CaseRecord) => void
}

export interface CaseRecord {
  /** 1-based order of simulation over the whole check (generation, then shrinking). */
  readonly simulation: number
  readonly phase: "generate" | "shrink"
  /** The values written into the scenario, by variable. */
  readonly values: Readonly<Record<string, unknown>>
  /** The scenario's simulation seed (the `seed:` it ran with). */
  readonly scenarioSeed: number
  readonly fingerprint: string
  readonly failures: readonly string[]
  /** Each `holds:` condition's measured figure, in `holds` order (null: no results for the workload). */
  readonly observed: readonly (number | null)[]
}

export interface CheckReport {
  readonly checkVersion: 1
  readonly property: string
  readonly file: string
  readonly scenario: string
  readonly seed: number
  readonly plannedRuns: number
  /** Generated cases simulated (up to and including the first failure). */
  readonly casesRun: number
  /** Every simulation, shrinking included. */
  readonly simulations: number
  readonly correction: string | null
  readonly holds: boolean
  /** Every generated case (not the shrinking candidates), in order. */
  readonly cases: readonly CaseRecord[]
  /** Generated cases that failed (at most one: generation stops at the first failure). */
  readonly failedCases: readonly CaseRecord[]
  /** The first failing case, then each smaller failing case the shrinker moved to. */
  readonly shrinkPath: readonly CaseRecord[]
  readonly counterexample: (CaseRecord & { readonly scenarioText: string; readonly replayPath: string }) | null
  /** A case whose scenario the loader refused: the check stops there (exit 2). */
  readonly invalid: {
    readonly values: Readonly<Record<string, unknown>>
    readonly culprits: readonly string[]
    readonly issues: readonly string[]
  } | null
}

/** Runs the check; never throws for failing or invalid cases (they are in the report). */
export function checkProperty(property: Property, options: CheckOptions): CheckReport {
  const plannedRuns = options.runs ?? property.runs
  const seed = options.seed ?? property.seed
  const readFile = options.readFile ?? readFileUtf8
  const records: CaseRecord[] = []
  let invalid: CheckReport["invalid"] = null
  let failedOnce = false
  // An invalid scenario while generating stops the check (every later case passes unsimulated);
  // an invalid shrink candidate is rejected (not a smaller failure) and reported.
  let stopped = false
  let internalError: unknown

  const predicate = (values: CaseValues): boolean => {
    if (stopped) return true
    let decoded
    try {
      decoded = decodeCase(property, values, readFile)
    } catch (error) {
      if (!(error instanceof InvalidCase)) throw error
      invalid = {
        values: error.values,
        culprits: error.culprits,
        issues: error.issues.map(
          (issue) => `${issue.path.length > 0 ? `${formatPath(issue.path)}: ` : ""}${issue.message}`,
        ),
      }
      if (!failedOnce) stopped = true
      return true
    }
    const spec = decoded.loaded.spec
    let doc: ResultsDocument
    try {
      doc = options.runScenario(spec, { seed: spec.seed })
    } catch (error) {
      // Input errors found while running (a pod limit reached, a missing pod for a timeline step)
      // are invalid cases like the loader's; anything else is a bug, rethrown after fast-check
      // (which would otherwise shrink the exception as if it were a failing case).
      if (error instanceof ScenarioIssues) {
        const issues = error.issues.filter((issue) => issue.severity === "error")
        invalid = {
          values: writtenValues(property, values),
          culprits: culprits(property, issues),
          issues: issues.map(
            (issue) => `${issue.path.length > 0 ? `${formatPath(issue.path)}: ` : ""}${issue.message}`,
          ),
        }
        if (!failedOnce) stopped = true
        return true
      }
      internalError = error
      stopped = true
      return true
    }
    const failures = checkHolds(property, values, doc, spec.kubeProxy.mode, plannedRuns)
    const record: CaseRecord = {
      simulation: records.length + 1,
      phase: failedOnce ? "shrink" : "generate",
      values: writtenValues(property, values),
      scenarioSeed: spec.seed,
      fingerprint: doc.fingerprint,
      failures: failures.map((f) => f.message),
      observed: property.holds.map((hold) => measureHold(hold, doc) ?? null),
    }
    records.push(record)
    options.onCase?.(record)
    if (failures.length > 0) failedOnce = true
    return failures.length === 0
  }

  const details = fc.check(fc.property(valuesArbitrary(property), predicate), { seed, numRuns: plannedRuns })
  if (internalError !== undefined) throw internalError
  // fast-check may try a candidate equal to the current one (e.g. a record field already at its
  // minimum); the path lists each distinct failing case once.
  const shrinkPath = records
    .filter((r) => r.failures.length > 0)
    .filter((r, i, all) => i === 0 || JSON.stringify(r.values) !== JSON.stringify(all[i - 1].values))
  const generated = records.filter((r) => r.phase === "generate")
  let counterexample: CheckReport["counterexample"] = null
  if (details.failed && details.counterexample !== null && shrinkPath.length > 0) {
    const values = details.counterexample[0]
    const last = shrinkPath[shrinkPath.length - 1]
    const { expect, notExpressible } = holdsAsExpectations(property, values)
    const header = [
      `Counterexample to property ${property.name} (${property.file}), found by kube-netsim check`,
      `and shrunk by fast-check: the smallest failing case it reached (${shrinkPath.length - 1} shrink steps).`,
      `Values: ${formatValues(last.values)}`,
      `Simulation seed: ${last.scenarioSeed} (the seed: field below); fingerprint ${last.fingerprint}.`,
      `Reproduce the check: kube-netsim check ${property.file} --seed ${seed} --runs ${plannedRuns}`,
      `Run this scenario:   kube-netsim run <this file>   (exit 1: the expect: entries below fail)`,
      `Failed conditions:`,
      ...last.failures.map((f) => `  ${f}`),
      ...(notExpressible.length > 0
        ? [
            `Conditions with no expect: equivalent (read them in the run's summary):`,
            ...notExpressible.map((n) => `  ${n}`),
          ]
        : []),
    ]
    counterexample = {
      ...last,
      replayPath: details.counterexamplePath ?? "",
      scenarioText: scenarioText(instantiate(property, values), {
        header,
        expect,
        name: `${property.name}-counterexample`,
      }),
    }
  }
  return {
    checkVersion: 1,
    property: property.name,
    file: property.file,
    scenario: property.scenarioFile,
    seed,
    plannedRuns,
    casesRun: generated.length,
    simulations: records.length,
    correction: describeCorrection(property, plannedRuns) ?? null,
    holds: !details.failed && invalid === null,
    cases: generated,
    failedCases: generated.filter((r) => r.failures.length > 0),
    shrinkPath,
    counterexample,
    invalid,
  }
}
