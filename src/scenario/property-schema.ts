/**
 * The property file (`apiVersion: kube-netsim/v1`, `kind: Property`) as an effect Schema: a base
 * scenario, the fields to vary with their ranges, and the conditions that must hold on every
 * generated run. docs/properties.md is the reference; `check/property.ts` decodes and resolves it. (Here, with the scenario schema, because
 * effect stays in scenario/ and cli/.)
 */
import { Schema } from "effect"
import { DurationString, NonNegativeInt, PositiveInt, exactlyOneOf } from "./schema-util.ts"

/** A variable's name: used in summaries, in `plus:` and in `{ var: NAME }` condition values. */
const VariableName = Schema.String.check(
  Schema.makeFilter((text: string) =>
    /^[A-Za-z][A-Za-z0-9_-]{0,62}$/.test(text)
      ? undefined
      : `invalid variable name "${text}": a letter, then letters, digits, "_" or "-" (at most 63)`,
  ),
)

const Integer = Schema.Number.check(Schema.isInt({ message: "expected an integer" }))

const IntRange = Schema.Struct({ min: Integer, max: Integer }).check(
  Schema.makeFilter((range: { min: number; max: number }) =>
    range.min <= range.max ? undefined : `min (${range.min}) must not be greater than max (${range.max})`,
  ),
)

const DurationRange = Schema.Struct({ min: DurationString, max: DurationString, step: Schema.optional(DurationString) })

const Subset = Schema.Struct({
  of: Schema.Array(Schema.Unknown).check(Schema.isMinLength(1, { message: "expected at least one element" })),
  minSize: Schema.optional(NonNegativeInt),
  maxSize: Schema.optional(NonNegativeInt),
})

export const VaryEntry = Schema.Struct({
  name: VariableName,
  /** Where the value goes: one path or several (the same value at each). Absent: only referenced. */
  path: Schema.optional(Schema.Union([Schema.String, Schema.Array(Schema.String)])),
  int: Schema.optional(IntRange),
  oneOf: Schema.optional(
    Schema.Array(Schema.Unknown).check(Schema.isMinLength(1, { message: "expected at least one choice" })),
  ),
  subset: Schema.optional(Subset),
  duration: Schema.optional(DurationRange),
  /** int only: the value written is the generated one plus the value of this earlier int variable. */
  plus: Schema.optional(VariableName),
}).check(exactlyOneOf(["int", "oneOf", "subset", "duration"]))

/** A condition's bound: a number, a duration string, or `{ var: NAME }` (a generated value). */
const Bound = Schema.Union([Schema.Number, Schema.String, Schema.Struct({ var: VariableName })])

export const HOLD_CONDITIONS = [
  "completedAtLeast",
  "completedAtMost",
  "failedAtMost",
  "failedAtLeast",
  "sentAtLeast",
  "p50Below",
  "p99Below",
  "meanBelow",
  "maxBelow",
  "p99AtLeast",
  "maxAtLeast",
  "jainAtLeast",
  "endpointsAtLeast",
  "endpointsAtMost",
  "maxOverMeanAtMost",
  "chiSquarePAtLeast",
] as const

export type HoldCondition = (typeof HOLD_CONDITIONS)[number]

export const HoldEntry = Schema.Struct({
  workload: Schema.String,
  modes: Schema.optional(Schema.Array(Schema.Literals(["iptables", "ipvs", "nftables", "userspace"]))),
  completedAtLeast: Schema.optional(Bound),
  completedAtMost: Schema.optional(Bound),
  failedAtMost: Schema.optional(Bound),
  failedAtLeast: Schema.optional(Bound),
  sentAtLeast: Schema.optional(Bound),
  p50Below: Schema.optional(Bound),
  p99Below: Schema.optional(Bound),
  meanBelow: Schema.optional(Bound),
  maxBelow: Schema.optional(Bound),
  p99AtLeast: Schema.optional(Bound),
  maxAtLeast: Schema.optional(Bound),
  jainAtLeast: Schema.optional(Bound),
  endpointsAtLeast: Schema.optional(Bound),
  endpointsAtMost: Schema.optional(Bound),
  maxOverMeanAtMost: Schema.optional(Bound),
  chiSquarePAtLeast: Schema.optional(Bound),
}).check(
  Schema.makeFilter((value: object) =>
    Object.keys(value).some((key) => (HOLD_CONDITIONS as readonly string[]).includes(key))
      ? undefined
      : `expected at least one condition (${HOLD_CONDITIONS.join(", ")})`,
  ),
)

export const PropertyFile = Schema.Struct({
  apiVersion: Schema.Literal("kube-netsim/v1"),
  kind: Schema.Literal("Property"),
  metadata: Schema.Struct({
    name: Schema.String.check(
      Schema.makeFilter((text: string) =>
        /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(text) && text.length <= 200
          ? undefined
          : `invalid name "${text}": lowercase letters, digits, "-" and ".", starting and ending with a letter or digit`,
      ),
    ),
    description: Schema.optional(Schema.String),
  }),
  /** The base scenario, relative to the property file. */
  scenario: Schema.String,
  /** Cases to generate (`check --runs` overrides). */
  runs: Schema.optional(PositiveInt),
  /** fast-check's seed (`check --seed` overrides). */
  seed: Schema.optional(NonNegativeInt),
  /** Multiple-testing correction for chiSquarePAtLeast over the planned cases. */
  correction: Schema.optional(Schema.Literals(["bonferroni", "none"])),
  vary: Schema.Array(VaryEntry),
  /** Required by `kube-netsim check`; a library user may judge runs in their own test instead. */
  holds: Schema.optional(Schema.Array(HoldEntry)),
})

export type PropertyFileValue = typeof PropertyFile.Type
export type VaryEntryValue = typeof VaryEntry.Type
export type HoldEntryValue = typeof HoldEntry.Type
