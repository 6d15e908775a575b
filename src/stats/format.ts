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
