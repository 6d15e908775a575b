/**
 * From generated values to a scenario: the values each variable writes (`plus:` sums, durations as
 * text), the inlined base scenario with them set at their paths, as YAML text that decodes through
 * the scenario loader (the same path as `kube-netsim run`), and the fast-check arbitrary of the
 * values.
 */
import fc from "fast-check"
import { Document } from "yaml"
import type { Issue } from "../cluster/spec.ts"
import { decodeScenarioText, readFileUtf8, type LoadedScenario, type ReadFile } from "../scenario/load.ts"
import { formatPath } from "../scenario/issues.ts"
import type { Path } from "../scenario/source.ts"
import type { Property, Variable } from "./property.ts"

/** Generated values by variable name, as fast-check produced them (durations in ns). */
export type CaseValues = Readonly<Record<string, unknown>>

/** The fast-check arbitrary of one case's values; shrinking moves each toward its first/min value. */
export function valuesArbitrary(property: Property): fc.Arbitrary<CaseValues> {
  const fields: Record<string, fc.Arbitrary<unknown>> = {}
  for (const variable of property.variables) fields[variable.name] = variableArbitrary(variable)
  return fc.record(fields)
}

function variableArbitrary(variable: Variable): fc.Arbitrary<unknown> {
  const domain = variable.domain
  switch (domain.kind) {
    case "int":
      return fc.integer({ min: domain.min, max: domain.max })
    case "oneOf":
      return fc.constantFrom(...domain.choices)
    case "subset":
      return fc.subarray([...domain.of], { minLength: domain.minSize, maxLength: domain.maxSize })
    case "duration": {
      const steps = (domain.maxNs - domain.minNs) / domain.stepNs
      return fc.integer({ min: 0, max: steps }).map(
        (k) => domain.minNs + k * domain.stepNs,
        (ns) => ((ns as number) - domain.minNs) / domain.stepNs,
      )
    }
  }
}

/** The value each variable writes into the scenario (`plus:` added, durations as text like 250ms). */
export function writtenValues(property: Property, values: CaseValues): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const variable of property.variables) {
    const value = values[variable.name]
    const domain = variable.domain
    if (domain.kind === "int" && domain.plus !== undefined)
      out[variable.name] = (value as number) + (out[domain.plus] as number)
    else if (domain.kind === "duration") out[variable.name] = durationText(value as number)
    else out[variable.name] = value
  }
  return out
}

/** The numeric value of a variable for condition bounds (`{ var: NAME }`): ints with `plus:`, ns. */
export function numericValue(property: Property, values: CaseValues, name: string): number {
  const variable = property.variables.find((v) => v.name === name)
  if (variable === undefined) throw new Error(`internal: no variable ${name}`)
  const domain = variable.domain
  const value = values[name] as number
  if (domain.kind === "int" && domain.plus !== undefined) return value + numericValue(property, values, domain.plus)
  return value
}

/** A whole number of the largest unit that divides it: 1500ms, 2s, 250us. */
export function durationText(ns: number): string {
  if (ns === 0) return "0s"
  for (const [unit, size] of [
    ["h", 3_600_000_000_000],
    ["m", 60_000_000_000],
    ["s", 1_000_000_000],
    ["ms", 1_000_000],
    ["us", 1_000],
  ] as const)
    if (ns % size === 0) return `${ns / size}${unit}`
  return `${ns}ns`
}

/** `replicas=3 connection=keepAlive seed=17` */
export function formatValues(values: Readonly<Record<string, unknown>>): string {
  return Object.entries(values)
    .map(([name, value]) => `${name}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ")
}

/** The inlined base scenario with the case's values written at their paths (a fresh tree). */
export function instantiate(property: Property, values: CaseValues): Record<string, unknown> {
  const tree = structuredClone(property.base) as Record<string, unknown>
  const written = writtenValues(property, values)
  for (const variable of property.variables)
    for (const path of variable.paths) setAt(tree, path, structuredClone(written[variable.name]))
  // The property's conditions are what a generated run is judged by; the base's own expectations
  // were written for its own values (endpointsAtLeast: 3 with 3 replicas) and are left out.
  delete tree.expect
  return tree
}

function setAt(tree: Record<string, unknown>, path: Path, value: unknown): void {
  let node: unknown = tree
  for (let i = 0; i < path.length - 1; i++) node = (node as Record<string | number, unknown>)[path[i]]
  ;(node as Record<string | number, unknown>)[path[path.length - 1]] = value
}

export interface ScenarioTextOptions {
  /** Comment lines at the top of the file (without `# `). */
  readonly header?: readonly string[]
  /** `expect:` entries to write (the property's conditions a scenario can state). */
  readonly expect?: readonly Record<string, unknown>[]
  /** Replaces `metadata.name`. */
  readonly name?: string
}

/** YAML text of a scenario tree (optionally with a header comment, expectations and a new name). */
export function scenarioText(tree: Record<string, unknown>, options: ScenarioTextOptions = {}): string {
  const out: Record<string, unknown> = { ...tree }
  if (options.name !== undefined) out.metadata = { ...(out.metadata as Record<string, unknown>), name: options.name }
  if (options.expect !== undefined && options.expect.length > 0) out.expect = options.expect
  const doc = new Document(out)
  if (options.header !== undefined && options.header.length > 0)
    doc.commentBefore = options.header.map((line) => ` ${line}`).join("\n")
  return doc.toString({ lineWidth: 0 })
}

/** A generated scenario the loader refused: the issues, and the variables whose paths they touch. */
export class InvalidCase extends Error {
  override readonly name = "InvalidCase"
  constructor(
    readonly values: Readonly<Record<string, unknown>>,
    readonly issues: readonly Issue[],
    /** Variables whose path is a prefix of an issue's path (or contains it); empty: not attributable. */
    readonly culprits: readonly string[],
  ) {
    super(issues.map((issue) => issue.message).join("; "))
  }
}

/** Decodes a case's scenario through the scenario loader; throws InvalidCase with the issues. */
export function decodeCase(
  property: Property,
  values: CaseValues,
  readFile: ReadFile = readFileUtf8,
): { loaded: LoadedScenario; text: string } {
  const text = scenarioText(instantiate(property, values))
  const result = decodeScenarioText(property.scenarioFile, text, readFile)
  if (result.ok) return { loaded: result.scenario, text }
  const errors = result.issues.filter((issue) => issue.severity === "error")
  throw new InvalidCase(writtenValues(property, values), errors, culprits(property, errors))
}

/** The variables an issue's path falls under (or whose path falls under the issue's). */
export function culprits(property: Property, issues: readonly Issue[]): string[] {
  const names = new Set<string>()
  for (const issue of issues)
    for (const variable of property.variables)
      for (const path of variable.paths)
        if (prefixOf(path, issue.path) || prefixOf(issue.path, path)) names.add(variable.name)
  return [...names]
}

function prefixOf(prefix: Path, path: Path): boolean {
  if (prefix.length === 0 || prefix.length > path.length) return false
  return prefix.every((segment, i) => String(segment) === String(path[i]))
}

/** `manifests[0].inline[1].spec.replicas` */
export function formatScenarioPath(path: Path): string {
  return formatPath(path)
}
