/**
 * Calibration profiles (the contract in MODEL.md "Calibration profile"): the document
 * `kube-netsim calibrate` writes and the shipped `profiles/*.yaml` files. This module formats a
 * profile, reads one back (enough for `profileToScenarioOverrides` and the kernel validation test;
 * the scenario loader's `cluster.network.profile` is its own reader) and turns one into the
 * existing constant knobs of a scenario.
 *
 * Durations are integer nanoseconds in memory and human strings (`2.531us`) on disk, exact to the
 * nanosecond so that a profile reads back to the figures that were measured.
 */
import { parse, stringify } from "yaml"
import { parseDurationNs } from "../scenario/units.ts"

/** Quantile name (p0, p50, p999, p100) -> integer ns. p0 and p100 are always present. */
export type QuantileTable = Readonly<Record<string, number>>

export type Distribution =
  | { readonly kind: "fixed"; readonly valueNs: number }
  | { readonly kind: "exponential"; readonly meanNs: number }
  | { readonly kind: "lognormal"; readonly medianNs: number; readonly p99Ns: number }
  | { readonly kind: "empirical"; readonly quantiles: QuantileTable }

export interface ProfileParameter {
  readonly distribution: Distribution
  readonly source: string
  readonly method?: string
}

export interface CalibrationProfile {
  readonly name: string
  readonly date: string
  readonly kernel: string
  readonly tools?: Readonly<Record<string, string>>
  readonly host?: string
  readonly parameters: Readonly<Record<string, ProfileParameter>>
}

/**
 * Parameter names of the contract, plus the optional keys this command adds (extensions are
 * allowed as new optional keys): hostStackNs and nftExpressionNs.
 */
export const PARAMETER_NAMES = [
  "vethHopNs",
  "bridgeHopNs",
  "nodeFabricSameZoneNs",
  "nodeFabricCrossZoneNs",
  "externalNs",
  "iptablesFilterRuleNs",
  "iptablesNatRuleNs",
  "conntrackNewNs",
  "conntrackLookupNs",
  "nftSetLookupNs",
  "iptablesRestoreBaseNs",
  "iptablesRestorePerRuleNs",
  "nftApplyBaseNs",
  "nftApplyPerElementNs",
  // Extensions written by `kube-netsim calibrate`:
  /** One-way cost of a UDP send + receive through one namespace's socket layer (loopback echo RTT / 2). */
  "hostStackNs",
  /** Cost of one nft expression other than a set lookup (payload load, cmp, meta). */
  "nftExpressionNs",
] as const

export type ParameterName = (typeof PARAMETER_NAMES)[number]

/** Integer ns as the shortest exact duration string: 850ns, 2.531us, 12.5ms, 1.25s. */
export function formatDurationNs(ns: number): string {
  const v = Math.max(0, Math.round(ns))
  if (v === 0) return "0ns"
  if (v < 1_000) return `${v}ns`
  if (v < 1_000_000) return `${v / 1_000}us`
  if (v < 1_000_000_000) return `${v / 1_000_000}ms`
  return `${v / 1_000_000_000}s`
}

/** Sorts quantile names by their level: p0 < p1 < p10 < p50 < p90 < p99 < p999 < p100. */
export function quantileLevel(name: string): number {
  const digits = name.slice(1)
  if (!/^p\d+$/.test(name)) return Number.NaN
  if (digits === "100") return 1
  // pNN = NN %, pNNN = NN.N % (p999 = 99.9 %), p0 = 0.
  return Number(`0.${digits}`)
}

/** The value of `distribution` at quantile `q` (0..1): linear between the given quantiles. */
export function distributionQuantileNs(distribution: Distribution, q: number): number {
  switch (distribution.kind) {
    case "fixed":
      return distribution.valueNs
    case "exponential":
      return -distribution.meanNs * Math.log(1 - Math.min(q, 0.999999))
    case "lognormal": {
      // sigma from p99 = median * exp(2.3263 sigma); q's z-score by the same approximation.
      const sigma = Math.log(distribution.p99Ns / distribution.medianNs) / 2.3263478740408408
      return distribution.medianNs * Math.exp(sigma * normalZ(q))
    }
    case "empirical": {
      const points = Object.entries(distribution.quantiles)
        .map(([name, ns]) => [quantileLevel(name), ns] as const)
        .sort((a, b) => a[0] - b[0])
      for (let i = 1; i < points.length; i++) {
        const [q0, v0] = points[i - 1] as readonly [number, number]
        const [q1, v1] = points[i] as readonly [number, number]
        if (q <= q1) return q1 === q0 ? v1 : v0 + ((v1 - v0) * (q - q0)) / (q1 - q0)
      }
      return points[points.length - 1]?.[1] ?? 0
    }
  }
}

/** Acklam-free approximation of the standard normal quantile (Abramowitz-Stegun 26.2.23). */
function normalZ(q: number): number {
  const p = Math.min(Math.max(q, 1e-9), 1 - 1e-9)
  const t = Math.sqrt(-2 * Math.log(p < 0.5 ? p : 1 - p))
  const z = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t ** 3)
  return p < 0.5 ? -z : z
}

export function medianNs(parameter: ProfileParameter): number {
  return distributionQuantileNs(parameter.distribution, 0.5)
}

function distributionYaml(d: Distribution): object {
  switch (d.kind) {
    case "fixed":
      return { fixed: formatDurationNs(d.valueNs) }
    case "exponential":
      return { exponential: { mean: formatDurationNs(d.meanNs) } }
    case "lognormal":
      return { lognormal: { median: formatDurationNs(d.medianNs), p99: formatDurationNs(d.p99Ns) } }
    case "empirical": {
      const ordered = Object.entries(d.quantiles).sort((a, b) => quantileLevel(a[0]) - quantileLevel(b[0]))
      return { empirical: Object.fromEntries(ordered.map(([name, ns]) => [name, formatDurationNs(ns)])) }
    }
  }
}

/** The profile as YAML (apiVersion kube-netsim/v1, kind CalibrationProfile). */
export function stringifyProfile(profile: CalibrationProfile, header = ""): string {
  const parameters: Record<string, object> = {}
  for (const name of PARAMETER_NAMES) {
    const p = profile.parameters[name]
    if (p === undefined) continue
    parameters[name] = {
      distribution: distributionYaml(p.distribution),
      source: p.source,
      ...(p.method !== undefined ? { method: p.method } : {}),
    }
  }
  const doc = {
    apiVersion: "kube-netsim/v1",
    kind: "CalibrationProfile",
    metadata: {
      name: profile.name,
      date: profile.date,
      kernel: profile.kernel,
      ...(profile.tools !== undefined ? { tools: profile.tools } : {}),
      ...(profile.host !== undefined ? { host: profile.host } : {}),
    },
    parameters,
  }
  return header + stringify(doc, { lineWidth: 0 })
}

/** A profile that does not follow the contract: every problem with its field path. */
export class ProfileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: invalid calibration profile:\n${problems.map((p) => `  ${p}`).join("\n")}`)
  }
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined
}

/** Reads a profile (the contract's format); throws ProfileError naming each bad field. */
export function parseProfile(text: string, file = "profile"): CalibrationProfile {
  const problems: string[] = []
  const doc = record(parse(text))
  if (doc === undefined) throw new ProfileError(file, ["the document is not a mapping"])
  if (doc.apiVersion !== "kube-netsim/v1") problems.push(`apiVersion: expected kube-netsim/v1`)
  if (doc.kind !== "CalibrationProfile") problems.push(`kind: expected CalibrationProfile`)
  const meta = record(doc.metadata) ?? {}
  const str = (path: string, v: unknown): string => {
    if (typeof v === "string" || typeof v === "number") return String(v)
    problems.push(`${path}: expected a string`)
    return ""
  }
  const duration = (path: string, v: unknown): number => {
    const ns = typeof v === "string" || v === 0 ? parseDurationNs(String(v)) : `expected a duration string`
    if (typeof ns === "string") {
      problems.push(`${path}: ${ns}`)
      return 0
    }
    return ns
  }
  const parameters: Record<string, ProfileParameter> = {}
  for (const [name, raw] of Object.entries(record(doc.parameters) ?? {})) {
    const path = `parameters.${name}`
    const p = record(raw)
    const d = record(p?.distribution)
    if (p === undefined || d === undefined) {
      problems.push(`${path}.distribution: required`)
      continue
    }
    let distribution: Distribution | undefined
    if (d.fixed !== undefined)
      distribution = { kind: "fixed", valueNs: duration(`${path}.distribution.fixed`, d.fixed) }
    else if (d.exponential !== undefined)
      distribution = {
        kind: "exponential",
        meanNs: duration(`${path}.distribution.exponential.mean`, record(d.exponential)?.mean),
      }
    else if (d.lognormal !== undefined) {
      const l = record(d.lognormal) ?? {}
      distribution = {
        kind: "lognormal",
        medianNs: duration(`${path}.distribution.lognormal.median`, l.median),
        p99Ns: duration(`${path}.distribution.lognormal.p99`, l.p99),
      }
    } else if (d.empirical !== undefined) {
      const quantiles: Record<string, number> = {}
      for (const [q, v] of Object.entries(record(d.empirical) ?? {})) {
        if (Number.isNaN(quantileLevel(q))) problems.push(`${path}.distribution.empirical.${q}: expected pNN or pNNN`)
        else quantiles[q] = duration(`${path}.distribution.empirical.${q}`, v)
      }
      if (quantiles.p0 === undefined || quantiles.p100 === undefined)
        problems.push(`${path}.distribution.empirical: p0 and p100 are required`)
      distribution = { kind: "empirical", quantiles }
    } else problems.push(`${path}.distribution: expected one of fixed, exponential, lognormal, empirical`)
    if (distribution !== undefined)
      parameters[name] = {
        distribution,
        source: str(`${path}.source`, p.source),
        ...(p.method !== undefined ? { method: str(`${path}.method`, p.method) } : {}),
      }
  }
  const tools = record(meta.tools)
  const profile: CalibrationProfile = {
    name: str("metadata.name", meta.name),
    date: str("metadata.date", meta.date),
    kernel: str("metadata.kernel", meta.kernel),
    ...(tools !== undefined
      ? { tools: Object.fromEntries(Object.entries(tools).map(([k, v]) => [k, String(v)])) }
      : {}),
    ...(meta.host !== undefined ? { host: String(meta.host) } : {}),
    parameters,
  }
  if (problems.length > 0) throw new ProfileError(file, problems)
  return profile
}
