/**
 * Small helpers around effect Schema shared by the scenario and manifest schemas: decoding with
 * every issue reported (`errors: "all"`), issue messages phrased for people editing YAML, and
 * field checks built from the unit parsers.
 */
import { Result, Schema, SchemaGetter, SchemaIssue } from "effect"
import { parseBandwidthBps, parseBytes, parseDurationNs, parseLossPpm, parseRatePerSecond } from "./units.ts"
import { parseAddress, parsePrefix } from "./address.ts"
import type { Path } from "./source.ts"

export interface FieldIssue {
  readonly path: Path
  readonly message: string
  /** The issue is about the key itself (an unknown field), not its value. */
  readonly atKey: boolean
}

export type Decoded<A> =
  { readonly ok: true; readonly value: A } | { readonly ok: false; readonly issues: readonly FieldIssue[] }

function describeInput(input: unknown): string {
  if (input === null) return "null"
  if (Array.isArray(input)) return "a list"
  if (typeof input === "object") return "a mapping"
  if (typeof input === "string") return JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}...` : input)
  return String(input)
}

const leafHook: SchemaIssue.LeafHook = (issue) => {
  switch (issue._tag) {
    case "UnexpectedKey":
      return "unknown field"
    case "MissingKey":
      return "missing required field"
    case "InvalidType": {
      const base = SchemaIssue.defaultLeafHook(issue)
        .replace(/^Expected /, "expected ")
        .replace(/, got .*$/, "")
        .replace(/^expected object$/, "expected a mapping")
        .replace(/^expected (ReadonlyArray<.*>|Array<.*>|array)$/, "expected a list")
      return SchemaIssue.hasInput(issue) ? `${base}, got ${describeInput(issue.input)}` : base
    }
    default:
      return SchemaIssue.defaultLeafHook(issue).replace(/^Expected /, "expected ")
  }
}

const checkHook: SchemaIssue.CheckHook = (issue) => {
  const message = SchemaIssue.defaultCheckHook(issue)
  return message === undefined ? undefined : message.replace(/^Expected /, "expected ")
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1({ leafHook, checkHook })

/** Decodes `input` with `schema`, reporting every issue (unknown fields are errors when `strict`). */
export function decodeAll<S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  input: unknown,
  strict: boolean,
): Decoded<S["Type"]> {
  const result = Schema.decodeUnknownResult(schema)(input, {
    errors: "all",
    onExcessProperty: strict ? "error" : "ignore",
    reportInput: true,
  })
  if (Result.isSuccess(result)) return { ok: true, value: result.success }
  const issues: FieldIssue[] = []
  const seen = new Set<string>()
  for (const issue of formatter(result.failure.issue).issues) {
    const path = (issue.path ?? []).map((segment) => {
      const key = typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment
      return typeof key === "number" ? key : String(key)
    })
    const dedupe = `${JSON.stringify(path)}\u0000${issue.message}`
    if (seen.has(dedupe)) continue
    seen.add(dedupe)
    issues.push({ path, message: issue.message, atKey: issue.message === "unknown field" })
  }
  return { ok: false, issues }
}

/**
 * A string checked by `parse` (which returns a message string on failure). A bare number is
 * rejected with a hint to add the unit (`duration: 10` -> "a duration needs a unit, e.g. 10s").
 */
function parsedString(parse: (text: string) => number | string, title: string, example: (n: number) => string) {
  return Schema.Union([Schema.Number, Schema.String])
    .check(
      Schema.makeFilter(
        (value: number | string) => {
          if (typeof value === "number")
            return value === 0 && title === "duration"
              ? undefined
              : `invalid ${title} ${value}: a ${title} needs a unit, e.g. ${example(value)}`
          const parsed = parse(value)
          return typeof parsed === "string" ? parsed : undefined
        },
        { title },
      ),
    )
    .pipe(
      Schema.decodeTo(Schema.String, {
        decode: SchemaGetter.transform((value: number | string) => String(value)),
        encode: SchemaGetter.transform((value: string) => value),
      }),
    )
}

export const DurationString = parsedString(parseDurationNs, "duration", (n) => `${n}s or ${n}ms`)
export const RateString = parsedString(parseRatePerSecond, "rate", (n) => `${n}/s`)
export const BandwidthString = parsedString(parseBandwidthBps, "bandwidth", (n) => `${n}Mbps or ${n}Gbps`)
/** An IPv4 address (ip-address's Address4; an IPv6 address is refused as not modelled). */
export const Ipv4String = Schema.String.check(
  Schema.makeFilter(
    (text: string) => {
      const parsed = parseAddress(text)
      return parsed.ok ? undefined : parsed.message
    },
    { title: "IPv4 address" },
  ),
)
/** An IPv4 prefix with zero host bits. */
export const CidrString = Schema.String.check(
  Schema.makeFilter(
    (text: string) => {
      const parsed = parsePrefix(text)
      return parsed.ok ? undefined : parsed.message
    },
    { title: "CIDR" },
  ),
)

export const BytesValue = Schema.Union([Schema.Number, Schema.String]).check(
  Schema.makeFilter(
    (value: number | string) => {
      const parsed = parseBytes(value)
      return typeof parsed === "string" ? parsed : undefined
    },
    { title: "size" },
  ),
)

export const LossValue = Schema.Union([Schema.Number, Schema.String]).check(
  Schema.makeFilter(
    (value: number | string) => {
      const parsed = parseLossPpm(value)
      return typeof parsed === "string" ? parsed : undefined
    },
    { title: "loss" },
  ),
)

export const NonNegativeInt = Schema.Number.check(
  Schema.isInt({ message: "expected an integer" }),
  Schema.isGreaterThanOrEqualTo(0, { message: "must not be negative" }),
)
export const PositiveInt = Schema.Number.check(
  Schema.isInt({ message: "expected an integer" }),
  Schema.isGreaterThanOrEqualTo(1, { message: "must be at least 1" }),
)
export const Port = Schema.Number.check(
  Schema.isInt({ message: "expected an integer" }),
  Schema.isBetween({ minimum: 1, maximum: 65535 }, { message: "must be a port number between 1 and 65535" }),
)

/** A struct check: exactly one of `keys` is present. */
export function exactlyOneOf(keys: readonly string[]) {
  return Schema.makeFilter((value: object) => {
    const present = keys.filter((key) => key in value && (value as Record<string, unknown>)[key] !== undefined)
    if (present.length === 1) return undefined
    if (present.length === 0) return `expected one of ${keys.join(", ")}`
    return `expected only one of ${keys.join(", ")}, got ${present.join(" and ")}`
  })
}

/** Runs a unit parser whose input the schema has already checked. */
export function mustParse(parsed: number | string): number {
  if (typeof parsed === "string") throw new Error(`internal: value passed the schema but not its parser: ${parsed}`)
  return parsed
}
