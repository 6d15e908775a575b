/**
 * Calibration profiles (profiles/NAME.yaml): the loader of the profile format shared with the
 * `calibrate` command, and the decoder of one distribution as written in a profile or a scenario.
 *
 *   apiVersion: kube-netsim/v1
 *   kind: CalibrationProfile
 *   metadata: { name, date, kernel, tools?, host? }
 *   parameters:
 *     <parameter>: { distribution: <distribution>, source: <string>, method?: <string> }
 *
 * A distribution is one of { fixed: D }, { exponential: { mean: D } }, { lognormal: { median: D,
 * p99: D } } or { empirical: { p0: D, pNN: D, ..., p100: D } }, durations D as human strings
 * (ns, us, ms, s; fractions allowed, rounded to whole ns when drawn). A scenario override may also
 * be a bare duration (a fixed value). Every issue carries the profile file's line and column.
 */
import { readFileSync } from "node:fs"
import { dirname, isAbsolute, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Issue } from "../cluster/spec.ts"
import { COST_PARAMETERS, isCostParameter, type CostParameter, type CostParameters } from "../sim/costs.ts"
import { distributionProblem, type DistributionSpec } from "../sim/distribution.ts"
import { parseYamlFile, type Path, type YamlDocument } from "./source.ts"

/** Folder of the profiles shipped with kube-netsim (`cluster.network.profile: default`). */
export const SHIPPED_PROFILES_DIR = fileURLToPath(new URL("../../profiles/", import.meta.url))

const DURATION_NS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 }

/** "2.5us" -> 2500; fractions of a ns are kept (draws round). A message when not a duration. */
export function parseProfileDurationNs(value: unknown): number | string {
  if (value === 0 || value === "0") return 0
  if (typeof value !== "string") return `expected a duration string such as 20us, got ${JSON.stringify(value)}`
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s)$/.exec(value)
  if (m === null) return `invalid duration "${value}": expected a number followed by ns, us, ms or s, e.g. 2.5us`
  return Number(m[1]) * DURATION_NS[m[2]]
}

export interface FieldProblem {
  readonly path: Path
  readonly message: string
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/**
 * A distribution as written at `path` (relative paths in the problems, from the value): a bare
 * duration (fixed, when `bareDuration`) or an object with exactly one of the four kinds.
 */
export function decodeDistribution(
  raw: unknown,
  bareDuration: boolean,
): { readonly spec: DistributionSpec } | FieldProblem {
  const KINDS = "one of fixed, exponential, lognormal, empirical"
  if (typeof raw === "string" || typeof raw === "number") {
    if (!bareDuration) return { path: [], message: `expected a distribution (${KINDS}), e.g. { fixed: 20us }` }
    const ns = parseProfileDurationNs(raw)
    return typeof ns === "string" ? { path: [], message: ns } : { spec: { kind: "fixed", valueNs: ns } }
  }
  if (!isRecord(raw)) return { path: [], message: `expected a distribution (${KINDS})` }
  const keys = Object.keys(raw)
  if (keys.length !== 1)
    return { path: [], message: `expected exactly one of fixed, exponential, lognormal, empirical` }
  const kind = keys[0]
  const body = raw[kind]
  const duration = (value: unknown, sub: Path): number | FieldProblem => {
    const ns = parseProfileDurationNs(value)
    return typeof ns === "string" ? { path: [kind, ...sub], message: ns } : ns
  }
  const fields = (names: readonly string[]): Record<string, number> | FieldProblem => {
    if (!isRecord(body))
      return { path: [kind], message: `expected { ${names.map((n) => `${n}: DURATION`).join(", ")} }` }
    for (const key of Object.keys(body))
      if (!names.includes(key))
        return { path: [kind, key], message: `unknown field ${key} (expected ${names.join(", ")})` }
    const out: Record<string, number> = {}
    for (const name of names) {
      if (!(name in body)) return { path: [kind], message: `${kind}: ${name} is required` }
      const ns = duration(body[name], [name])
      if (typeof ns !== "number") return ns
      out[name] = ns
    }
    return out
  }
  let spec: DistributionSpec
  switch (kind) {
    case "fixed": {
      const ns = duration(body, [])
      if (typeof ns !== "number") return ns
      spec = { kind: "fixed", valueNs: ns }
      break
    }
    case "exponential": {
      const f = fields(["mean"])
      if ("message" in f) return f as FieldProblem
      spec = { kind: "exponential", meanNs: f.mean }
      break
    }
    case "lognormal": {
      const f = fields(["median", "p99"])
      if ("message" in f) return f as FieldProblem
      spec = { kind: "lognormal", medianNs: f.median, p99Ns: f.p99 }
      break
    }
    case "empirical": {
      if (!isRecord(body)) return { path: [kind], message: "expected a quantile table { p0: D, p50: D, ..., p100: D }" }
      const quantiles: { p: number; ns: number }[] = []
      for (const [key, value] of Object.entries(body)) {
        const m = /^p(\d+)$/.exec(key)
        if (m === null)
          return {
            path: [kind, key],
            message: `unknown quantile ${key} (expected p0, pNN such as p50, p999, ..., p100)`,
          }
        // p0, p100 and pNN are percentiles; p999, p9999 ... are 99.9, 99.99 ... (digits after "99").
        const digits = m[1]
        const p = digits === "100" ? 1 : digits.length <= 2 ? Number(digits) / 100 : Number(`0.${digits}`)
        const ns = duration(value, [key])
        if (typeof ns !== "number") return ns
        quantiles.push({ p, ns })
      }
      quantiles.sort((a, b) => a.p - b.p)
      spec = { kind: "empirical", quantiles }
      break
    }
    default:
      return { path: [kind], message: `unknown distribution ${kind} (expected ${KINDS})` }
  }
  const problem = distributionProblem(spec)
  return problem === null ? { spec } : { path: [kind], message: problem }
}

/** A decoded profile: its name and the parameters it sets (the others take the default's). */
export interface CostProfile {
  readonly name: string
  readonly file: string
  readonly parameters: Partial<CostParameters>
  readonly sources: Readonly<Partial<Record<CostParameter, string>>>
}

export type ProfileResult =
  { readonly ok: true; readonly profile: CostProfile } | { readonly ok: false; readonly issues: readonly Issue[] }

/** Decodes a profile file's text; issues carry `file`'s line and column. */
export function decodeProfileText(file: string, text: string): ProfileResult {
  const yaml = parseYamlFile(file, text)
  if (yaml.issues.length > 0) return { ok: false, issues: yaml.issues }
  const doc = yaml.documents[0]
  const issues: Issue[] = []
  const error = (d: YamlDocument | undefined, path: Path, message: string, atKey = false): void => {
    issues.push({
      severity: "error",
      path: [...path],
      message: `profile: ${message}`,
      position: d === undefined ? { file, line: 1, column: 1 } : atKey ? d.locateKey(path) : d.locate(path),
    })
  }
  if (doc === undefined || !isRecord(doc.value)) {
    error(doc, [], "expected apiVersion: kube-netsim/v1, kind: CalibrationProfile, metadata and parameters")
    return { ok: false, issues }
  }
  const root = doc.value
  for (const key of Object.keys(root))
    if (!["apiVersion", "kind", "metadata", "parameters"].includes(key))
      error(doc, [key], `unknown field ${key} (expected apiVersion, kind, metadata, parameters)`, true)
  if (root.apiVersion !== "kube-netsim/v1") error(doc, ["apiVersion"], "apiVersion must be kube-netsim/v1")
  if (root.kind !== "CalibrationProfile") error(doc, ["kind"], "kind must be CalibrationProfile")
  let name = ""
  if (!isRecord(root.metadata)) error(doc, ["metadata"], "metadata (name, date, kernel) is required")
  else {
    const md = root.metadata
    if (typeof md.name !== "string" || md.name === "") error(doc, ["metadata", "name"], "metadata.name is required")
    else name = md.name
    const date = md.date instanceof Date ? md.date.toISOString().slice(0, 10) : md.date
    if (typeof date !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(date))
      error(doc, ["metadata", "date"], "metadata.date is required (YYYY-MM-DD)")
    if (typeof md.kernel !== "string" || md.kernel === "")
      error(doc, ["metadata", "kernel"], 'metadata.kernel is required (uname -r, or "published")')
  }
  const parameters: Partial<Record<CostParameter, DistributionSpec>> = {}
  const sources: Partial<Record<CostParameter, string>> = {}
  const params = root.parameters ?? {}
  if (!isRecord(params))
    error(doc, ["parameters"], "parameters must be a map of parameter name to { distribution, source }")
  else {
    for (const [key, entry] of Object.entries(params)) {
      const path = ["parameters", key]
      if (!isCostParameter(key)) {
        error(doc, path, `unknown parameter ${key} (expected one of ${COST_PARAMETERS.join(", ")})`, true)
        continue
      }
      if (!isRecord(entry)) {
        error(doc, path, "expected { distribution: ..., source: ... }")
        continue
      }
      for (const field of Object.keys(entry))
        if (!["distribution", "source", "method"].includes(field))
          error(doc, [...path, field], `unknown field ${field} (expected distribution, source, method)`, true)
      if (typeof entry.source !== "string" || entry.source === "")
        error(doc, path, `${key}: source is required (where the figure comes from)`)
      else sources[key] = entry.source
      if (!("distribution" in entry)) {
        error(doc, path, `${key}: distribution is required`)
        continue
      }
      const decoded = decodeDistribution(entry.distribution, false)
      if ("message" in decoded) error(doc, [...path, "distribution", ...decoded.path], `${key}: ${decoded.message}`)
      else parameters[key] = decoded.spec
    }
  }
  if (issues.length > 0) return { ok: false, issues }
  return { ok: true, profile: { name, file, parameters, sources } }
}

/**
 * The file a `cluster.network.profile` value names: a bare name (no slash, no .yaml) is a shipped
 * profile (profiles/NAME.yaml), anything else a path relative to the scenario file's folder.
 */
export function profilePath(reference: string, scenarioFile: string): string {
  if (!reference.includes("/") && !reference.endsWith(".yaml") && !reference.endsWith(".yml"))
    return join(SHIPPED_PROFILES_DIR, `${reference}.yaml`)
  return isAbsolute(reference) ? reference : join(dirname(scenarioFile), reference)
}

let defaultProfile: { readonly costs: CostParameters; readonly sources: CostProfile["sources"] } | undefined

/**
 * profiles/default.yaml, complete (every parameter set): the base every scenario starts from.
 * Read once per process; a broken shipped file is a bug (throws).
 */
export function defaultCosts(): {
  readonly costs: CostParameters
  readonly sources: CostProfile["sources"]
} {
  if (defaultProfile !== undefined) return defaultProfile
  const file = join(SHIPPED_PROFILES_DIR, "default.yaml")
  const result = decodeProfileText(file, readFileSync(file, "utf8"))
  if (!result.ok)
    throw new Error(`shipped profile ${file} is invalid: ${result.issues.map((i) => i.message).join("; ")}`)
  const missing = COST_PARAMETERS.filter((p) => result.profile.parameters[p] === undefined)
  if (missing.length > 0) throw new Error(`shipped profile ${file} lacks ${missing.join(", ")}`)
  defaultProfile = { costs: result.profile.parameters as CostParameters, sources: result.profile.sources }
  return defaultProfile
}
