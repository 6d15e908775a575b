/**
 * The package's library entry (`import { scenarioArbitrary, simulate } from "kube-netsim"`), for
 * property tests in users' own suites (vitest, jest, node:test with fast-check):
 *
 *   const cases = scenarioArbitrary("properties/iptables-uniform.yaml")
 *   fc.assert(fc.property(cases, (c) => simulate(c).workloads.requests.distribution.chiSquareP > 1e-4))
 *
 * `scenarioArbitrary` generates scenarios from a property file's `vary:` (or the same fields as an
 * object), each decoded by the scenario loader; `simulate` runs one through the simulator `run`
 * uses and returns its results document. docs/properties.md has the reference.
 */
import { stringify } from "yaml"
import type fc from "fast-check"
import * as cluster from "./cluster/index.ts"
import type { ScenarioSpec } from "./cluster/spec.ts"
import type { ResultsDocument } from "./stats/results.ts"
import { loadScenario, readFileUtf8, type LoadedScenario } from "./scenario/load.ts"
import { formatIssue } from "./scenario/issues.ts"
import type { Issue } from "./cluster/spec.ts"
import { join } from "node:path"
import {
  decodePropertyText,
  loadProperty as loadPropertyFile,
  type Property,
  type PropertyLoadResult,
} from "./check/property.ts"
import { InvalidCase, decodeCase, valuesArbitrary, writtenValues, type CaseValues } from "./check/generate.ts"
import { checkHolds, type HoldFailure } from "./check/conditions.ts"
import { checkProperty as runCheck, type CheckReport } from "./check/check.ts"

export type { ResultsDocument } from "./stats/results.ts"
export type { ScenarioSpec } from "./cluster/spec.ts"
export type { Property } from "./check/property.ts"
export type { CheckReport, CaseRecord } from "./check/check.ts"
export type { HoldFailure } from "./check/conditions.ts"

/** Invalid input (a property or scenario file with errors): the issues, formatted one per line. */
export class KubeNetsimInputError extends Error {
  override readonly name = "KubeNetsimInputError"
  constructor(readonly issues: readonly Issue[]) {
    super(issues.map(formatIssue).join("\n"))
  }
}

/**
 * A property given inline: the fields of a property file (`scenario`, `vary`, optionally `holds`,
 * `runs`, `seed`, `correction`); `scenario` is relative to `baseDir` (default: the working directory).
 */
export interface PropertyInput {
  readonly scenario: string
  readonly vary: readonly Record<string, unknown>[]
  readonly holds?: readonly Record<string, unknown>[]
  readonly name?: string
  readonly runs?: number
  readonly seed?: number
  readonly correction?: "bonferroni" | "none"
  readonly baseDir?: string
}

/** Loads a property (a file path or an inline object); throws KubeNetsimInputError on bad input. */
export function loadProperty(property: string | PropertyInput | Property): Property {
  if (typeof property === "object" && "variables" in property) return property
  let result: PropertyLoadResult
  if (typeof property === "string") result = loadPropertyFile(property, readFileUtf8, { holdsRequired: false })
  else {
    const { baseDir, name, ...fields } = property
    const file = join(baseDir ?? process.cwd(), "inline-property.yaml")
    const text = stringify({
      apiVersion: "kube-netsim/v1",
      kind: "Property",
      metadata: { name: name ?? "inline" },
      ...fields,
    })
    result = decodePropertyText(file, text, readFileUtf8, { holdsRequired: false })
  }
  if (!result.ok) throw new KubeNetsimInputError(result.issues)
  return result.property
}

/** One generated scenario. */
export interface ScenarioCase {
  readonly property: Property
  /** fast-check's values, by variable name (durations in ns, `plus:` not yet added). */
  readonly generated: CaseValues
  /** The values written into the scenario (`plus:` added, durations as text). */
  readonly values: Readonly<Record<string, unknown>>
  /** The standalone scenario file (YAML, manifests inlined). */
  readonly scenarioText: string
  readonly loaded: LoadedScenario
  readonly spec: ScenarioSpec
}

/**
 * The fast-check arbitrary of a property's scenarios. Shrinking works on the variables (integers
 * toward min, choices toward the first, subsets toward fewer). A generated scenario the loader
 * refuses throws KubeNetsimInputError (naming the variables involved) when the case is drawn.
 */
export function scenarioArbitrary(property: string | PropertyInput | Property): fc.Arbitrary<ScenarioCase> {
  const loaded = loadProperty(property)
  return valuesArbitrary(loaded).map((generated) => {
    let decoded
    try {
      decoded = decodeCase(loaded, generated)
    } catch (error) {
      if (error instanceof InvalidCase) throw new KubeNetsimInputError(error.issues)
      throw error
    }
    return {
      property: loaded,
      generated,
      values: writtenValues(loaded, generated),
      scenarioText: decoded.text,
      loaded: decoded.loaded,
      spec: decoded.loaded.spec,
    }
  })
}

/**
 * Simulates a scenario (a generated case, a decoded spec, or a scenario file path) with the
 * simulator `kube-netsim run` uses; `seed` replaces the scenario's seed. Same input, same document.
 */
export function simulate(
  scenario: ScenarioCase | ScenarioSpec | string,
  options: { readonly seed?: number } = {},
): ResultsDocument {
  let spec: ScenarioSpec
  if (typeof scenario === "string") {
    const result = loadScenario(scenario)
    if (!result.ok) throw new KubeNetsimInputError(result.issues)
    spec = result.scenario.spec
  } else spec = "spec" in scenario ? scenario.spec : scenario
  const seed = options.seed ?? spec.seed
  return cluster.runScenario({ ...spec, seed }, { seed })
}

/** The property's `holds:` conditions that fail on a case's results (an empty list: it held). */
export function failedConditions(scenarioCase: ScenarioCase, doc: ResultsDocument, plannedRuns = 1): HoldFailure[] {
  return checkHolds(scenarioCase.property, scenarioCase.generated, doc, scenarioCase.spec.kubeProxy.mode, plannedRuns)
}

/** `kube-netsim check` as a function: generate, simulate, shrink; the report it prints. */
export function checkProperty(
  property: string | PropertyInput | Property,
  options: { readonly runs?: number; readonly seed?: number } = {},
): CheckReport {
  return runCheck(loadProperty(property), { ...options, runScenario: cluster.runScenario })
}
