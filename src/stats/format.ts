/**
 * Human formatting for reports. Deterministic: no toLocaleString (locale- and ICU-dependent), only
 * toFixed/toPrecision, which ECMAScript specifies exactly.
 */

/** Nanoseconds with 3 significant digits and a unit: 0ns, 999ns, 1.23us, 45.6ms, 2.00s, 1.50h. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns)
  const units: readonly (readonly [string, number])[] = [
    ["h", 3.6e12],
    ["min", 6e10],
    ["s", 1e9],
    ["ms", 1e6],
    ["us", 1e3],
  ]
  for (const [unit, scale] of units) {
    if (Math.abs(ns) >= scale) return `${threeSignificant(ns / scale)}${unit}`
  }
  return `${Number.isInteger(ns) ? ns : threeSignificant(ns)}ns`
}

function threeSignificant(value: number): string {
  // 999.5 would print as "1.00e+3" with toPrecision(3): keep it as an integer instead.
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3)
}

/** Integer with thousands separators: 1234567 -> "1,234,567". */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  const negative = value < 0
  const [whole, fraction] = Math.abs(value).toString().split(".")
  const grouped = (whole as string).replace(/\B(?=(\d{3})+(?!\d))/g, ",")
  return `${negative ? "-" : ""}${grouped}${fraction !== undefined ? `.${fraction}` : ""}`
}

/** Events per second and similar rates: 6.16M, 820k, 512. */
export function formatRate(value: number): string {
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)}G`
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`
  return value.toFixed(0)
}

/** A bar of `width` cells for value/max, in eighths of a block (█▉▊▋▌▍▎▏), integer arithmetic. */
export function bar(value: number, max: number, width = 20): string {
  if (max <= 0 || value <= 0) return ""
  const eighths = Math.round((value * width * 8) / max)
  const full = Math.floor(eighths / 8)
  const partial = eighths % 8
  return "█".repeat(full) + (partial > 0 ? (PARTIAL_BLOCKS[partial] as string) : "")
}

const PARTIAL_BLOCKS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]

/** Right-pads (or left-pads with `left`) to a width measured in code points. */
export function pad(text: string, width: number, left = false): string {
  const length = [...text].length
  if (length >= width) return text
  const fill = " ".repeat(width - length)
  return left ? fill + text : text + fill
}

/** Renders rows as aligned columns; the first `numericColumns` flags right-align columns. */
export function table(
  rows: readonly (readonly string[])[],
  rightAligned: readonly boolean[] = [],
  indent = "  ",
): string[] {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)))
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, i) =>
          i === row.length - 1 && rightAligned[i] !== true
            ? cell
            : pad(cell, widths[i] as number, rightAligned[i] === true),
        )
        .join("  ")
        .trimEnd(),
  )
}

const SPARK_LEVELS = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

/**
 * A sparkline, one character per value: null a space. From zero (counts): 0 is a space and any
 * other value one of eight block heights, value / max rounded up, so the smallest non-zero value
 * still shows. `fromZero` false (latencies): the heights span [min, max] of the values, the lowest
 * ▁, a flat series all ▁. Integer arithmetic on integer inputs: the same on every engine.
 */
export function sparkline(values: readonly (number | null)[], fromZero = true): string {
  let max = 0
  let min = Number.POSITIVE_INFINITY
  for (const v of values) {
    if (v === null) continue
    if (v > max) max = v
    if (v < min) min = v
  }
  let out = ""
  for (const v of values) {
    if (v === null) out += " "
    else if (fromZero) out += v <= 0 || max <= 0 ? " " : (SPARK_LEVELS[Math.ceil((v * 8) / max) - 1] as string)
    else out += SPARK_LEVELS[max === min ? 0 : Math.floor(((v - min) * 7) / (max - min))] as string
  }
  return out
}

/**
 * Groups consecutive values into at most `columns` columns (equal groups of ceil(n / columns)),
 * each column the sum (`sum`) or the maximum of its non-null values; null when all are null.
 */
export function downsample(values: readonly (number | null)[], columns: number, sum: boolean): (number | null)[] {
  const group = Math.max(1, Math.ceil(values.length / columns))
  const out: (number | null)[] = []
  for (let start = 0; start < values.length; start += group) {
    let acc: number | null = null
    for (let i = start; i < Math.min(values.length, start + group); i++) {
      const v = values[i]
      if (v === null || v === undefined) continue
      acc = acc === null ? v : sum ? acc + v : Math.max(acc, v)
    }
    out.push(acc)
  }
  return out
}
