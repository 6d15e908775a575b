/**
 * Simulated time is an integer number of nanoseconds held in a JS number. Every value must stay a
 * safe integer: 2^53 ns is about 104 days of simulated time, far beyond any scenario.
 */
export const NS_PER_US = 1_000
export const NS_PER_MS = 1_000_000
export const NS_PER_S = 1_000_000_000

/** Largest simulated time the engine accepts (2^53 - 1 ns). */
export const TIME_NS_MAX = Number.MAX_SAFE_INTEGER

export function isTimeNs(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0
}

/** Formats a duration for humans: 1.5s, 250us, 12ms. Used by reports and traces only. */
export function formatDurationNs(ns: number): string {
  if (ns >= NS_PER_S) return `${trim(ns / NS_PER_S)}s`
  if (ns >= NS_PER_MS) return `${trim(ns / NS_PER_MS)}ms`
  if (ns >= NS_PER_US) return `${trim(ns / NS_PER_US)}us`
  return `${ns}ns`
}

function trim(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(3).replace(/0+$/, "").replace(/\.$/, "")
}
