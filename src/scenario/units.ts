/**
 * Human unit strings of the scenario file: durations (`250us`, `1.5s`), rates (`200/s`),
 * bandwidths (`10Gbps`), byte sizes (`1KiB`) and loss (`0.1%`). Each parser returns the value in
 * the engine's integer unit, or a string explaining what is wrong (never throws).
 *
 * Decimal fractions are converted exactly (string digits, BigInt arithmetic), so `1.5s` is exactly
 * 1_500_000_000 ns on every platform; a value that is not a whole number of the target unit
 * (`1.5ns`) is an error rather than a silent rounding.
 */

const DURATION_UNITS_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
}

const BANDWIDTH_UNITS_BPS: Readonly<Record<string, bigint>> = {
  bps: 1n,
  Kbps: 1_000n,
  kbps: 1_000n,
  Mbps: 1_000_000n,
  Gbps: 1_000_000_000n,
  Tbps: 1_000_000_000_000n,
}

const BYTE_UNITS: Readonly<Record<string, bigint>> = {
  B: 1n,
  KB: 1_000n,
  KiB: 1_024n,
  MB: 1_000_000n,
  MiB: 1_048_576n,
}

const RATE_PER_UNITS_NS: Readonly<Record<string, number>> = { s: 1e9, ms: 1e6, us: 1e3, m: 60e9, h: 3600e9 }

const NUMBER_RE = "(\\d+)(?:\\.(\\d+))?"

/** Exact `digits.fraction x unit`, or undefined when the result is not an integer. */
function scaleExact(whole: string, fraction: string | undefined, unit: bigint): bigint | undefined {
  const frac = fraction ?? ""
  const scaled = BigInt(whole + frac) * unit
  const divisor = 10n ** BigInt(frac.length)
  if (scaled % divisor !== 0n) return undefined
  return scaled / divisor
}

function toSafe(value: bigint): number | undefined {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined
}

function unitList(units: Readonly<Record<string, unknown>>): string {
  return Object.keys(units).join(", ")
}

/**
 * Parses a duration (`250us`, `10ms`, `1.5s`, `2m`, `1h`, or `0`) into integer nanoseconds.
 * Returns a message string when the text is not a duration.
 */
export function parseDurationNs(text: string): number | string {
  if (text === "0") return 0
  const m = new RegExp(`^${NUMBER_RE}(ns|us|µs|ms|s|m|h)$`).exec(text)
  if (m === null)
    return `invalid duration "${text}": expected a number followed by a unit (${unitList(DURATION_UNITS_NS)}), e.g. 250us, 10ms, 1.5s`
  const ns = scaleExact(m[1], m[2], DURATION_UNITS_NS[m[3]])
  if (ns === undefined) return `invalid duration "${text}": not a whole number of nanoseconds`
  const safe = toSafe(ns)
  if (safe === undefined) return `invalid duration "${text}": too large (at most 2^53 ns, about 104 days)`
  return safe
}

/** Parses a rate (`200/s`, `5/ms`, `1.5/s`) into events per second (a positive finite number). */
export function parseRatePerSecond(text: string): number | string {
  const m = new RegExp(`^(\\d+(?:\\.\\d+)?)/(s|ms|us|m|h)$`).exec(text)
  if (m === null) return `invalid rate "${text}": expected COUNT/UNIT with unit s, ms, us, m or h, e.g. 200/s`
  const count = Number(m[1])
  const rate = (count * 1e9) / RATE_PER_UNITS_NS[m[2]]
  if (!(rate > 0) || !Number.isFinite(rate)) return `invalid rate "${text}": must be greater than zero`
  return rate
}

/** Parses a bandwidth (`10Gbps`, `100Mbps`, `1.5Gbps`) into integer bits per second. */
export function parseBandwidthBps(text: string): number | string {
  const m = new RegExp(`^${NUMBER_RE}(bps|Kbps|kbps|Mbps|Gbps|Tbps)$`).exec(text)
  if (m === null)
    return `invalid bandwidth "${text}": expected a number followed by ${unitList(BANDWIDTH_UNITS_BPS)}, e.g. 10Gbps`
  const bps = scaleExact(m[1], m[2], BANDWIDTH_UNITS_BPS[m[3]])
  if (bps === undefined) return `invalid bandwidth "${text}": not a whole number of bits per second`
  const safe = toSafe(bps)
  if (safe === undefined || safe === 0) return `invalid bandwidth "${text}": must be between 1bps and 2^53 bps`
  return safe
}

/** Parses a byte size: a non-negative integer, or a string such as `1500B`, `64KiB`, `1MB`. */
export function parseBytes(value: number | string): number | string {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value >= 0
      ? value
      : `invalid size ${value}: expected a non-negative integer number of bytes`
  }
  const m = new RegExp(`^${NUMBER_RE}(B|KB|KiB|MB|MiB)$`).exec(value)
  if (m === null)
    return `invalid size "${value}": expected bytes as an integer or with a unit (${unitList(BYTE_UNITS)}), e.g. 1500 or 64KiB`
  const bytes = scaleExact(m[1], m[2], BYTE_UNITS[m[3]])
  const safe = bytes === undefined ? undefined : toSafe(bytes)
  if (safe === undefined) return `invalid size "${value}": not a whole number of bytes`
  return safe
}

/**
 * Parses a loss probability into parts per million: a number in [0, 1] (`0.001`), a percentage
 * (`0.1%`) or parts per million (`1000ppm`).
 */
export function parseLossPpm(value: number | string): number | string {
  let ppm: number
  if (typeof value === "number") {
    ppm = value * 1_000_000
  } else {
    const percent = /^(\d+(?:\.\d+)?)%$/.exec(value)
    const parts = /^(\d+)ppm$/.exec(value)
    if (percent !== null) ppm = Number(percent[1]) * 10_000
    else if (parts !== null) ppm = Number(parts[1])
    else
      return `invalid loss "${value}": expected a probability (0.001), a percentage (0.1%) or parts per million (1000ppm)`
  }
  if (!Number.isFinite(ppm) || ppm < 0 || ppm > 1_000_000)
    return `invalid loss ${JSON.stringify(value)}: must be between 0 and 1 (0% to 100%)`
  return Math.round(ppm)
}
