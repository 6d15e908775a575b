/**
 * The sweep file (apiVersion kube-netsim/v1, kind Sweep; docs/sweep.md): a base scenario, a grid
 * (every combination) or a list of points of overrides, the seeds every point runs, and the metrics
 * the table reports. Loading checks everything before anything runs, in the scenario loader's error
 * style (`file:line:column: path: message`, every issue at once):
 *
 * - the sweep file's YAML and fields (effect Schema, unknown fields are errors);
 * - the base scenario, as `kube-netsim validate` would;
 * - every override value on its own (the base scenario with only that value applied must decode):
 *   an unknown field path or a bad value is reported at that value in the sweep file, with the
 *   loader's message and field path;
 * - every point (all its values together), reported at the point's first value;
 * - metric paths' syntax (whether they name a number is known once results exist).
 */
import { createHash } from "node:crypto"
import { dirname, join, normalize } from "node:path"
import { Schema } from "effect"
import type { Issue, SourcePosition } from "../../cluster/spec.ts"
import type { LoadedScenario, ReadFile } from "../../scenario/load.ts"
import { formatIssue, sortIssues } from "../../scenario/issues.ts"
import { decodeAll } from "../../scenario/schema-util.ts"
import { parseYamlFile, type Path, type YamlDocument } from "../../scenario/source.ts"
import { loadIssues, loadWithOverrides, parseOverridePath, parsePathSegments, type PointOverride } from "./overrides.ts"

const opt = Schema.optionalKey

const SeedNumber = Schema.Number.check(
  Schema.makeFilter((n: number) =>
    Number.isSafeInteger(n) && n >= 0 && n <= 0xffffffff ? undefined : "must be an integer between 0 and 4294967295",
  ),
)

const SweepFileSchema = Schema.Struct({
  apiVersion: Schema.Literal("kube-netsim/v1"),
  kind: Schema.Literal("Sweep"),
  metadata: Schema.Struct({
    name: Schema.String.check(
      Schema.makeFilter((s: string) =>
        /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s)
          ? undefined
          : "must be a DNS label (lowercase letters, digits, '-', at most 63 characters)",
      ),
    ),
    description: opt(Schema.String),
  }),
  scenario: Schema.String,
  seeds: opt(
    Schema.Union([
      Schema.Array(SeedNumber),
      Schema.Struct({
        first: opt(SeedNumber),
        count: Schema.Number.check(
          Schema.makeFilter((n: number) =>
            Number.isSafeInteger(n) && n >= 1 && n <= 10_000 ? undefined : "must be an integer between 1 and 10000",
          ),
        ),
      }),
    ]),
  ),
  grid: opt(Schema.Record(Schema.String, Schema.Array(Schema.Unknown))),
  points: opt(Schema.Array(Schema.Record(Schema.String, Schema.Unknown))),
  metrics: Schema.Array(Schema.String),
})

export interface SweepMetric {
  /** As written: `workloads.wget.latencyNs.p99`. */
  readonly path: string
  readonly segments: Path
  /** Where the sweep file names it (for "not a number" once results exist). */
  readonly position: SourcePosition
}

export interface SweepPoint {
  readonly index: number
  readonly overrides: readonly PointOverride[]
  /** The point's scenario, decoded (its seed replaced per run). */
  readonly loaded: LoadedScenario
}

export interface LoadedSweep {
  readonly file: string
  readonly name: string
  /** The base scenario's path as written in the sweep file, and as resolved against it. */
  readonly scenario: string
  readonly scenarioPath: string
  readonly seeds: readonly number[]
  /** The override paths, in the order of the grid's keys (or of first appearance in points). */
  readonly axes: readonly string[]
  readonly points: readonly SweepPoint[]
  readonly metrics: readonly SweepMetric[]
  /** sha256 of the sweep file, the base scenario and every manifest file it reads (merge checks it). */
  readonly digest: string
  /** The base scenario's warnings (printed once; the points' are not). */
  readonly warnings: readonly Issue[]
  /** Every file the sweep reads, sweep file first (for --job-manifest's ConfigMap). */
  readonly files: readonly { readonly path: string; readonly text: string }[]
}

export type SweepLoadResult =
  { readonly ok: true; readonly sweep: LoadedSweep } | { readonly ok: false; readonly issues: readonly Issue[] }

/** Points a sweep may have: a guard against a grid that would take forever by mistake. */
export const SWEEP_POINTS_MAX = 100_000

export function loadSweep(file: string, readFile: ReadFile): SweepLoadResult {
  let text: string
  try {
    text = readFile(file)
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : ""
    const why = code === "ENOENT" ? "no such file" : error instanceof Error ? error.message : String(error)
    return { ok: false, issues: [{ severity: "error", path: [], message: `cannot read sweep file ${file}: ${why}` }] }
  }
  const yaml = parseYamlFile(file, text)
  if (yaml.issues.length > 0) return { ok: false, issues: yaml.issues }
  const doc = yaml.documents[0]
  if (doc === undefined || doc.value === null || doc.value === undefined)
    return {
      ok: false,
      issues: [
        {
          severity: "error",
          path: [],
          message: "empty sweep file: expected apiVersion: kube-netsim/v1, kind: Sweep",
          position: { file, line: 1, column: 1 },
        },
      ],
    }
  const issues: Issue[] = []
  const error = (path: Path, message: string, atKey = false): void => {
    issues.push({ severity: "error", path, message, position: atKey ? doc.locateKey(path) : doc.locate(path) })
  }
  if (yaml.documents.length > 1)
    issues.push({
      severity: "error",
      path: [],
      message: "a sweep file holds one YAML document",
      position: (yaml.documents[1] as YamlDocument).locate([]),
    })
  const decoded = decodeAll(SweepFileSchema, doc.value, true)
  if (!decoded.ok) {
    for (const issue of decoded.issues) error(issue.path, issue.message, issue.atKey)
    // Path syntax is checked anyway, so that its errors come with the schema's.
    const raw = doc.value as Record<string, unknown>
    const grid = raw.grid
    if (typeof grid === "object" && grid !== null && !Array.isArray(grid))
      for (const key of Object.keys(grid)) {
        const target = parseOverridePath(key)
        if (typeof target === "string") error(["grid", key], target, true)
      }
    if (Array.isArray(raw.metrics))
      raw.metrics.forEach((path: unknown, index: number) => {
        const segments = typeof path === "string" ? parsePathSegments(path) : []
        if (typeof segments === "string") error(["metrics", index], segments)
      })
    return { ok: false, issues: sortIssues(issues) }
  }
  const value = decoded.value

  // Axes and the points' overrides (before the base scenario: syntax first).
  const axes: string[] = []
  const pointOverrides: { overrides: PointOverride[]; at: Path[] }[] = []
  if (value.grid !== undefined && value.points !== undefined) {
    error(["points"], "give either grid: (every combination) or points: (a list), not both", true)
  } else if (value.grid !== undefined) {
    const keys = Object.keys(value.grid)
    if (keys.length === 0) error(["grid"], "an empty grid: name at least one field and its values")
    for (const key of keys) {
      axes.push(key)
      const target = parseOverridePath(key)
      if (typeof target === "string") error(["grid", key], target, true)
      if ((value.grid[key] as readonly unknown[]).length === 0) error(["grid", key], "no values: give at least one")
    }
    let count = 1
    for (const key of keys) count *= Math.max(1, (value.grid[key] as readonly unknown[]).length)
    if (count > SWEEP_POINTS_MAX) error(["grid"], `${count} points: at most ${SWEEP_POINTS_MAX}`)
    else if (issues.length === 0) {
      // Every combination, the last key varying fastest.
      const combos: { overrides: PointOverride[]; at: Path[] }[] = [{ overrides: [], at: [] }]
      for (const key of keys) {
        const values = value.grid[key] as readonly unknown[]
        const next: typeof combos = []
        for (const combo of combos)
          values.forEach((v, i) =>
            next.push({
              overrides: [...combo.overrides, { path: key, value: v }],
              at: [...combo.at, ["grid", key, i]],
            }),
          )
        combos.splice(0, combos.length, ...next)
      }
      pointOverrides.push(...combos)
    }
  } else if (value.points !== undefined) {
    if (value.points.length === 0) error(["points"], "no points: give at least one")
    value.points.forEach((point, index) => {
      const overrides: PointOverride[] = []
      const at: Path[] = []
      for (const key of Object.keys(point)) {
        const target = parseOverridePath(key)
        if (typeof target === "string") error(["points", index, key], target, true)
        if (!axes.includes(key)) axes.push(key)
        overrides.push({ path: key, value: point[key] })
        at.push(["points", index, key])
      }
      pointOverrides.push({ overrides, at })
    })
  } else {
    error([], "no grid: or points: (a sweep of one point is `kube-netsim run --runs`)")
  }

  const metrics: SweepMetric[] = []
  value.metrics.forEach((path, index) => {
    const segments = parsePathSegments(path)
    if (typeof segments === "string") error(["metrics", index], segments)
    else if (segments.length === 0) error(["metrics", index], "empty metric path")
    else metrics.push({ path, segments, position: doc.locate(["metrics", index]) })
  })
  if (value.metrics.length === 0)
    error(["metrics"], "no metrics: name at least one (e.g. workloads.NAME.latencyNs.p99)")
  if (issues.length > 0) return { ok: false, issues }

  // The base scenario, through a ReadFile that records what it reads (digest, ConfigMap).
  const read = new Map<string, string>()
  const recording: ReadFile = (path) => {
    const content = readFile(path)
    if (!read.has(normalize(path))) read.set(normalize(path), content)
    return content
  }
  const scenarioPath = normalize(join(dirname(file), value.scenario))
  const base = loadWithOverrides(scenarioPath, [], recording)
  if (!base.ok) {
    error(["scenario"], `the base scenario ${scenarioPath} has errors (listed below)`)
    return { ok: false, issues: [...issues, ...loadIssues(base)] }
  }

  // Each value on its own, then each point.
  const checked = new Set<string>()
  for (const point of pointOverrides)
    point.overrides.forEach((override, i) => {
      const key = JSON.stringify([override.path, override.value])
      if (checked.has(key)) return
      checked.add(key)
      const alone = loadWithOverrides(scenarioPath, [override], readFile)
      for (const issue of loadIssues(alone).filter((issue) => issue.severity === "error"))
        error(point.at[i] as Path, `${override.path} = ${JSON.stringify(override.value)}: ${formatInner(issue)}`)
    })
  if (issues.length > 0) return { ok: false, issues }
  const points: SweepPoint[] = []
  pointOverrides.forEach((point, index) => {
    const result =
      index === 0 && point.overrides.length === 0 ? base : loadWithOverrides(scenarioPath, point.overrides, recording)
    if (!result.ok) {
      const where = point.at[0] ?? []
      const label = point.overrides.map((o) => `${o.path}=${JSON.stringify(o.value)}`).join(", ")
      for (const issue of loadIssues(result).filter((issue) => issue.severity === "error"))
        error(where, `point ${index} (${label}): ${formatInner(issue)}`)
      return
    }
    points.push({ index, overrides: point.overrides, loaded: result.scenario })
  })
  if (issues.length > 0) return { ok: false, issues }

  const seeds =
    value.seeds === undefined
      ? [base.scenario.spec.seed]
      : Array.isArray(value.seeds)
        ? [...(value.seeds as readonly number[])]
        : Array.from(
            { length: (value.seeds as { count: number }).count },
            (_, i) => (((value.seeds as { first?: number }).first ?? base.scenario.spec.seed) + i) % 2 ** 32,
          )
  if (seeds.length === 0) {
    error(["seeds"], "no seeds: give at least one")
    return { ok: false, issues }
  }
  if (new Set(seeds).size !== seeds.length) {
    error(["seeds"], "a seed is listed twice")
    return { ok: false, issues }
  }

  const files = [{ path: normalize(file), text }, ...[...read].map(([path, content]) => ({ path, text: content }))]
  const hash = createHash("sha256")
  // Texts only: shards started from another directory (a Job's /sweep) agree on the digest.
  for (const f of files) hash.update(`${f.text}\u0000`)
  return {
    ok: true,
    sweep: {
      file,
      name: value.metadata.name,
      scenario: value.scenario,
      scenarioPath,
      seeds,
      axes,
      points,
      metrics,
      digest: hash.digest("hex").slice(0, 16),
      warnings: base.scenario.warnings,
      files,
    },
  }
}

/** An issue of an overridden scenario, without its position (the text was regenerated). */
function formatInner(issue: Issue): string {
  return formatIssue({ severity: issue.severity, path: issue.path, message: issue.message })
}
