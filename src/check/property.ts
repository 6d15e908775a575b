/**
 * Loading a property file: decode it (schema.ts), load its base scenario as YAML, inline the base
 * scenario's manifest files so that every generated scenario is one standalone file, and resolve
 * each variable's path (`manifests[Deployment/web].spec.replicas`, `workloads[clients].count`,
 * `kubeProxy.mode`, `seed`) to a concrete path in that tree. Every problem is an issue with
 * file:line:column and field path; nothing throws for bad input.
 */
import { dirname, join, normalize } from "node:path"
import type { Issue } from "../cluster/spec.ts"
import type { Path } from "../scenario/source.ts"
import { parseYamlFile, type YamlDocument } from "../scenario/source.ts"
import { decodeScenarioText, readFileUtf8, type ReadFile } from "../scenario/load.ts"
import { sortIssues } from "../scenario/issues.ts"
import { decodeAll, mustParse } from "../scenario/schema-util.ts"
import { parseDurationNs } from "../scenario/units.ts"
import {
  HOLD_CONDITIONS,
  PropertyFile,
  type HoldCondition,
  type HoldEntryValue,
  type VaryEntryValue,
} from "../scenario/property-schema.ts"

/** Cases generated when neither the file (`runs:`) nor `--runs` says. */
export const DEFAULT_RUNS = 30
/** fast-check seed when neither the file (`seed:`) nor `--seed` says. */
export const DEFAULT_CHECK_SEED = 1

export type Domain =
  | { readonly kind: "int"; readonly min: number; readonly max: number; readonly plus?: string }
  | { readonly kind: "oneOf"; readonly choices: readonly unknown[] }
  | { readonly kind: "subset"; readonly of: readonly unknown[]; readonly minSize: number; readonly maxSize: number }
  | { readonly kind: "duration"; readonly minNs: number; readonly maxNs: number; readonly stepNs: number }

export interface Variable {
  readonly name: string
  readonly domain: Domain
  /** The paths as written (for messages) and resolved into the inlined base scenario. */
  readonly pathTexts: readonly string[]
  readonly paths: readonly Path[]
  /** Path of the entry in the property file (`vary[2]`), for messages. */
  readonly at: Path
}

/** A bound: a number (ns for durations) or the value of a variable. */
export type Bound = { readonly value: number } | { readonly variable: string }

export interface Hold {
  readonly workload: string
  readonly condition: HoldCondition
  readonly bound: Bound
  readonly modes?: readonly string[]
  /** Path in the property file (`holds[0].jainAtLeast`). */
  readonly at: Path
}

export interface Property {
  readonly file: string
  readonly name: string
  readonly description?: string
  /** The base scenario path as resolved against the property file. */
  readonly scenarioFile: string
  /** The base scenario's YAML tree with every manifest file inlined. */
  readonly base: Readonly<Record<string, unknown>>
  readonly runs: number
  readonly seed: number
  readonly correction: "bonferroni" | "none"
  readonly variables: readonly Variable[]
  readonly holds: readonly Hold[]
  /** Position of a path in the property file. */
  readonly locate: (path: Path) => NonNullable<Issue["position"]>
}

export type PropertyLoadResult =
  { readonly ok: true; readonly property: Property } | { readonly ok: false; readonly issues: readonly Issue[] }

export const DURATION_CONDITIONS: readonly HoldCondition[] = [
  "p50Below",
  "p99Below",
  "meanBelow",
  "maxBelow",
  "p99AtLeast",
  "maxAtLeast",
]
const COUNT_CONDITIONS: readonly HoldCondition[] = [
  "completedAtLeast",
  "completedAtMost",
  "failedAtMost",
  "failedAtLeast",
  "sentAtLeast",
  "endpointsAtLeast",
  "endpointsAtMost",
]

export interface PropertyLoadOptions {
  /** `holds:` must list at least one condition (kube-netsim check); default true. */
  readonly holdsRequired?: boolean
}

export function loadProperty(
  file: string,
  readFile: ReadFile = readFileUtf8,
  options: PropertyLoadOptions = {},
): PropertyLoadResult {
  let text: string
  try {
    text = readFile(file)
  } catch (error) {
    return {
      ok: false,
      issues: [{ severity: "error", path: [], message: `cannot read property file ${file}: ${readError(error)}` }],
    }
  }
  return decodePropertyText(file, text, readFile, options)
}

function readError(error: unknown): string {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : ""
  if (code === "ENOENT") return "no such file"
  if (code === "EISDIR") return "is a directory"
  return error instanceof Error ? error.message : String(error)
}

/** Decodes property `text` as if read from `file`; the base scenario resolves against `file`'s folder. */
export function decodePropertyText(
  file: string,
  text: string,
  readFile: ReadFile = readFileUtf8,
  options: PropertyLoadOptions = {},
): PropertyLoadResult {
  const yaml = parseYamlFile(file, text)
  if (yaml.issues.length > 0) return { ok: false, issues: sortIssues(yaml.issues) }
  const doc = yaml.documents[0]
  if (doc === undefined || doc.value === null || doc.value === undefined)
    return {
      ok: false,
      issues: [
        {
          severity: "error",
          path: [],
          message: "empty property file: expected apiVersion: kube-netsim/v1, kind: Property",
          position: { file, line: 1, column: 1 },
        },
      ],
    }
  const issues: Issue[] = []
  const error = (path: Path, message: string, atKey = false): void => {
    issues.push({ severity: "error", path, message, position: atKey ? doc.locateKey(path) : doc.locate(path) })
  }
  if (yaml.documents.length > 1) error([], "a property file holds one YAML document")
  const decoded = decodeAll(PropertyFile, doc.value, true)
  if (!decoded.ok) {
    for (const issue of decoded.issues) error(issue.path, issue.message, issue.atKey)
    return { ok: false, issues: sortIssues(issues) }
  }
  const value = decoded.value
  if ((options.holdsRequired ?? true) && (value.holds === undefined || value.holds.length === 0))
    error(
      ["holds"],
      value.holds === undefined
        ? "missing required field (the conditions to check)"
        : "expected at least one condition (the property to check)",
    )

  // The base scenario: it must be valid as written (its own errors, at its own positions).
  const scenarioFile = normalize(join(dirname(file), value.scenario))
  let scenarioText: string
  try {
    scenarioText = readFile(scenarioFile)
  } catch (e) {
    error(["scenario"], `cannot read base scenario ${scenarioFile}: ${readError(e)}`)
    return { ok: false, issues }
  }
  const baseCheck = decodeScenarioText(scenarioFile, scenarioText, readFile)
  if (!baseCheck.ok) {
    error(["scenario"], `the base scenario ${scenarioFile} is invalid (its errors follow)`)
    return { ok: false, issues: sortIssues([...issues, ...baseCheck.issues]) }
  }
  const baseYaml = parseYamlFile(scenarioFile, scenarioText)
  const base = structuredClone(baseYaml.documents[0]?.value) as Record<string, unknown>
  inlineManifests(base, scenarioFile, readFile)

  const variables: Variable[] = []
  value.vary.forEach((entry, index) => {
    const variable = decodeVariable(entry, ["vary", index], base, variables, error)
    if (variable !== undefined) variables.push(variable)
  })
  const seen = new Set<string>()
  value.vary.forEach((entry, index) => {
    if (seen.has(entry.name)) error(["vary", index, "name"], `variable ${entry.name} is declared twice`)
    seen.add(entry.name)
  })

  const workloadNames = Array.isArray(base.workloads)
    ? base.workloads.map((w: unknown) => (isRecord(w) ? String(w.name) : ""))
    : []
  const holds: Hold[] = []
  ;(value.holds ?? []).forEach((entry, index) =>
    holds.push(...decodeHold(entry, ["holds", index], variables, workloadNames, error)),
  )

  if (issues.length > 0) return { ok: false, issues: sortIssues(issues) }
  return {
    ok: true,
    property: {
      file,
      name: value.metadata.name,
      ...(value.metadata.description === undefined ? {} : { description: value.metadata.description }),
      scenarioFile,
      base,
      runs: value.runs ?? DEFAULT_RUNS,
      seed: value.seed ?? DEFAULT_CHECK_SEED,
      correction: value.correction ?? "bonferroni",
      variables,
      holds,
      locate: (path) => doc.locate(path),
    },
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
}

/**
 * Replaces every `manifests[i].path` (and timeline `apply.path`) with `inline:` holding the file's
 * documents, so a generated scenario needs no file beside it. The base has already decoded, so
 * the files exist and parse.
 */
function inlineManifests(base: Record<string, unknown>, scenarioFile: string, readFile: ReadFile): void {
  const inline = (entry: unknown): void => {
    if (!isRecord(entry) || typeof entry.path !== "string") return
    const resolved = normalize(join(dirname(scenarioFile), entry.path))
    const yaml = parseYamlFile(resolved, readFile(resolved))
    const objects = yaml.documents.flatMap((d: YamlDocument) =>
      d.value === null || d.value === undefined ? [] : Array.isArray(d.value) ? d.value : [d.value],
    )
    delete entry.path
    entry.inline = objects
  }
  if (Array.isArray(base.manifests)) base.manifests.forEach(inline)
  if (Array.isArray(base.timeline)) for (const step of base.timeline) if (isRecord(step)) inline(step.apply)
}

type ErrorAt = (path: Path, message: string, atKey?: boolean) => void

function decodeVariable(
  entry: VaryEntryValue,
  at: Path,
  base: Record<string, unknown>,
  earlier: readonly Variable[],
  error: ErrorAt,
): Variable | undefined {
  let domain: Domain | undefined
  if (entry.int !== undefined) {
    domain = {
      kind: "int",
      min: entry.int.min,
      max: entry.int.max,
      ...(entry.plus === undefined ? {} : { plus: entry.plus }),
    }
    if (!Number.isSafeInteger(entry.int.min) || !Number.isSafeInteger(entry.int.max))
      error([...at, "int"], "bounds must be safe integers")
  } else if (entry.oneOf !== undefined) domain = { kind: "oneOf", choices: entry.oneOf }
  else if (entry.subset !== undefined) {
    const minSize = entry.subset.minSize ?? 0
    const maxSize = entry.subset.maxSize ?? entry.subset.of.length
    if (maxSize > entry.subset.of.length)
      error([...at, "subset", "maxSize"], `must be at most the ${entry.subset.of.length} elements of subset.of`)
    if (minSize > maxSize) error([...at, "subset", "minSize"], `must not be greater than maxSize (${maxSize})`)
    domain = { kind: "subset", of: entry.subset.of, minSize, maxSize }
  } else if (entry.duration !== undefined) {
    const minNs = mustParse(parseDurationNs(entry.duration.min))
    const maxNs = mustParse(parseDurationNs(entry.duration.max))
    const stepNs = entry.duration.step === undefined ? 1_000_000 : mustParse(parseDurationNs(entry.duration.step))
    if (minNs > maxNs)
      error([...at, "duration"], `min (${entry.duration.min}) must not be greater than max (${entry.duration.max})`)
    if (stepNs <= 0) error([...at, "duration", "step"], "must be greater than 0")
    else if ((maxNs - minNs) % stepNs !== 0 || minNs % stepNs !== 0)
      error([...at, "duration", "step"], `min and max must be multiples of the step (${entry.duration.step ?? "1ms"})`)
    domain = { kind: "duration", minNs, maxNs, stepNs: Math.max(1, stepNs) }
  }
  if (entry.plus !== undefined) {
    if (entry.int === undefined) error([...at, "plus"], "plus: is only for int variables", true)
    const target = earlier.find((v) => v.name === entry.plus)
    if (target === undefined || target.domain.kind !== "int")
      error([...at, "plus"], `plus: must name an int variable declared before this one, got ${entry.plus}`)
  }
  const pathTexts = entry.path === undefined ? [] : typeof entry.path === "string" ? [entry.path] : entry.path
  const paths: Path[] = []
  pathTexts.forEach((text, i) => {
    const where: Path = typeof entry.path === "string" ? [...at, "path"] : [...at, "path", i]
    const resolved = resolvePath(base, text)
    if (typeof resolved === "string") error(where, resolved)
    else paths.push(resolved)
  })
  if (domain === undefined) return undefined
  return { name: entry.name, domain, pathTexts, paths, at }
}

function decodeHold(
  entry: HoldEntryValue,
  at: Path,
  variables: readonly Variable[],
  workloads: readonly string[],
  error: ErrorAt,
): Hold[] {
  if (!workloads.includes(entry.workload))
    error(
      [...at, "workload"],
      `no workload ${entry.workload} in the base scenario (workloads: ${workloads.join(", ") || "none"})`,
    )
  const out: Hold[] = []
  const record = entry as Readonly<Record<string, unknown>>
  for (const condition of HOLD_CONDITIONS) {
    const raw = record[condition]
    if (raw === undefined) continue
    const where: Path = [...at, condition]
    const bound = decodeBound(condition, raw, variables, (message) => error(where, message))
    if (bound === undefined) continue
    out.push({
      workload: entry.workload,
      condition,
      bound,
      ...(entry.modes === undefined ? {} : { modes: entry.modes }),
      at: where,
    })
  }
  return out
}

function decodeBound(
  condition: HoldCondition,
  raw: unknown,
  variables: readonly Variable[],
  error: (message: string) => void,
): Bound | undefined {
  if (isRecord(raw) && typeof raw.var === "string") {
    const variable = variables.find((v) => v.name === raw.var)
    if (variable === undefined) {
      error(`no variable ${raw.var} (variables: ${variables.map((v) => v.name).join(", ") || "none"})`)
      return undefined
    }
    const wanted = DURATION_CONDITIONS.includes(condition) ? "duration" : "int"
    if (variable.domain.kind !== wanted && !(wanted === "int" && variable.domain.kind === "int")) {
      error(
        `${condition} needs a${wanted === "int" ? "n int" : " duration"} variable; ${raw.var} is ${variable.domain.kind}`,
      )
      return undefined
    }
    return { variable: raw.var }
  }
  if (DURATION_CONDITIONS.includes(condition)) {
    const parsed =
      typeof raw === "number" && raw !== 0 ? "a duration needs a unit, e.g. 5ms" : parseDurationNs(String(raw))
    if (typeof parsed === "string") {
      error(parsed)
      return undefined
    }
    return { value: parsed }
  }
  if (typeof raw !== "number") {
    error(`expected a number or { var: NAME }, got ${JSON.stringify(raw)}`)
    return undefined
  }
  if (COUNT_CONDITIONS.includes(condition) && !(Number.isSafeInteger(raw) && raw >= 0)) {
    error(`expected a non-negative integer, got ${raw}`)
    return undefined
  }
  if ((condition === "jainAtLeast" || condition === "chiSquarePAtLeast") && !(raw >= 0 && raw <= 1)) {
    error(`must be between 0 and 1, got ${raw}`)
    return undefined
  }
  if (condition === "maxOverMeanAtMost" && !(raw >= 1)) {
    error(`must be at least 1 (max/mean is never below 1), got ${raw}`)
    return undefined
  }
  return { value: raw }
}

/** One segment of a variable path: a mapping key or a list selector (`[3]`, `[wget]`, `[Deployment/web]`). */
type Segment = { readonly key: string } | { readonly select: string }

function parsePathText(text: string): Segment[] | string {
  const segments: Segment[] = []
  let i = 0
  const expectKey = (): string | undefined => {
    let key = ""
    while (i < text.length && text[i] !== "." && text[i] !== "[") key += text[i++]
    return key === "" ? undefined : key
  }
  if (text === "") return "empty path"
  while (i < text.length) {
    if (text[i] === "[") {
      const end = text.indexOf("]", i)
      if (end < 0) return `unclosed [ in path "${text}"`
      const select = text.slice(i + 1, end)
      if (select === "") return `empty [] in path "${text}"`
      segments.push({ select })
      i = end + 1
    } else {
      if (text[i] === ".") {
        if (segments.length === 0) return `path "${text}" starts with "."`
        i++
      }
      const key = expectKey()
      if (key === undefined) return `empty field name in path "${text}"`
      segments.push({ key })
    }
  }
  return segments
}

/**
 * Resolves a path text against the inlined base scenario. Missing mapping keys are created on the
 * way (`kubeProxy.mode` when the base has no `kubeProxy:`); list selectors must match: an integer
 * index, `Kind/name` in `manifests`, or the `name` field of the element elsewhere.
 */
export function resolvePath(base: Record<string, unknown>, text: string): Path | string {
  const segments = parsePathText(text)
  if (typeof segments === "string") return segments
  const out: (string | number)[] = []
  let node: unknown = base
  for (let s = 0; s < segments.length; s++) {
    const segment = segments[s]
    const last = s === segments.length - 1
    if ("key" in segment) {
      if (!isRecord(node)) return `${formatSoFar(text, out)} is not a mapping, cannot take field ${segment.key}`
      if (!(segment.key in node) && !last) node[segment.key] = {}
      out.push(segment.key)
      node = node[segment.key]
      continue
    }
    if (!Array.isArray(node)) return `${formatSoFar(text, out)} is not a list, cannot select [${segment.select}]`
    if (/^\d+$/.test(segment.select)) {
      const index = Number(segment.select)
      if (index >= node.length) return `${formatSoFar(text, out)} has ${node.length} elements, no [${index}]`
      out.push(index)
      node = node[index]
      continue
    }
    if (out.length === 1 && out[0] === "manifests") {
      const found = findManifest(node, segment.select)
      if (typeof found === "string") return found
      out.push(...found.path)
      node = found.object
      continue
    }
    const index = node.findIndex((item) => isRecord(item) && item.name === segment.select)
    if (index < 0) {
      const names = node.map((item) => (isRecord(item) ? String(item.name) : "?"))
      return `no element named ${segment.select} in ${formatSoFar(text, out)} (names: ${names.join(", ") || "none"})`
    }
    out.push(index)
    node = node[index]
  }
  return out
}

function formatSoFar(text: string, path: readonly (string | number)[]): string {
  return path.length === 0
    ? "the scenario root"
    : `${path.map((p) => (typeof p === "number" ? `[${p}]` : p)).join(".")}`
}

/** A manifest object by `Kind/name` across every `manifests[i].inline` (an object or a list). */
function findManifest(entries: readonly unknown[], selector: string): { path: Path; object: unknown } | string {
  const slash = selector.indexOf("/")
  if (slash < 0)
    return `manifests[${selector}]: select a manifest as Kind/name (e.g. manifests[Deployment/web]) or by index`
  const kind = selector.slice(0, slash)
  const name = selector.slice(slash + 1)
  const seen: string[] = []
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]
    if (!isRecord(entry)) continue
    const inline = entry.inline
    const objects = Array.isArray(inline) ? inline : [inline]
    for (let j = 0; j < objects.length; j++) {
      const object = objects[j]
      if (!isRecord(object)) continue
      const objectName = isRecord(object.metadata) ? String(object.metadata.name) : "?"
      seen.push(`${String(object.kind)}/${objectName}`)
      if (object.kind === kind && objectName === name)
        return { path: Array.isArray(inline) ? [i, "inline", j] : [i, "inline"], object }
    }
  }
  return `manifests[${selector}]: no ${kind} named ${name} in the base scenario's manifests (found: ${seen.join(", ") || "none"})`
}
