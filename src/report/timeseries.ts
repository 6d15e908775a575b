/**
 * The results document's `timeseries` key (issue 11 item 2, written by the time-series work):
 *   { intervalNs, startNs: [..],
 *     workloads: { <name>: { requests, completed, failed, failedByReason: { <reason>: [..] },
 *                            byEndpoint: { <pod>: [..] }, latencyP50Ns, latencyP99Ns } },
 *     conntrack: { <node>: [..] }, drops: { <reason>: [..] },
 *     events: [ { atNs, step } ] }
 * Every array has one value per interval (the interval starting at startNs[i]). The report reads
 * the key when a document has it; `readTimeSeries` checks its shape, so that a document from
 * another version draws nothing wrong: a malformed key is reported, not drawn.
 */

export interface WorkloadSeries {
  readonly requests: readonly number[]
  readonly completed: readonly number[]
  readonly failed: readonly number[]
  readonly failedByReason: Readonly<Record<string, readonly number[]>>
  readonly byEndpoint: Readonly<Record<string, readonly number[]>>
  readonly latencyP50Ns: readonly number[]
  readonly latencyP99Ns: readonly number[]
}

export interface TimeSeries {
  readonly intervalNs: number
  readonly startNs: readonly number[]
  readonly workloads: Readonly<Record<string, WorkloadSeries>>
  readonly conntrack: Readonly<Record<string, readonly number[]>>
  readonly drops: Readonly<Record<string, readonly number[]>>
  readonly events: readonly { readonly atNs: number; readonly step: string }[]
}

export type TimeSeriesRead =
  | { readonly kind: "absent" }
  | { readonly kind: "invalid"; readonly reason: string }
  | { readonly kind: "ok"; readonly series: TimeSeries }

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
}

function numbers(value: unknown, length: number, path: string): string | undefined {
  if (!Array.isArray(value)) return `${path}: not an array`
  if (value.length !== length) return `${path}: ${value.length} values for ${length} intervals`
  for (const item of value) if (typeof item !== "number" || !Number.isFinite(item)) return `${path}: not a number`
  return undefined
}

function seriesRecord(value: unknown, length: number, path: string): string | undefined {
  if (value === undefined) return undefined
  if (!isObject(value)) return `${path}: not an object`
  for (const [key, item] of Object.entries(value)) {
    const problem = numbers(item, length, `${path}.${key}`)
    if (problem !== undefined) return problem
  }
  return undefined
}

/** The document's `timeseries`, checked; optional sub-keys missing are read as empty. */
export function readTimeSeries(doc: object): TimeSeriesRead {
  const raw = (doc as { timeseries?: unknown }).timeseries
  if (raw === undefined) return { kind: "absent" }
  const invalid = (reason: string): TimeSeriesRead => ({ kind: "invalid", reason })
  if (!isObject(raw)) return invalid("timeseries: not an object")
  const intervalNs = raw.intervalNs
  if (typeof intervalNs !== "number" || !(intervalNs > 0))
    return invalid("timeseries.intervalNs: not a positive number")
  const startNs = raw.startNs
  if (!Array.isArray(startNs)) return invalid("timeseries.startNs: not an array")
  const length = startNs.length
  const startProblem = numbers(startNs, length, "timeseries.startNs")
  if (startProblem !== undefined) return invalid(startProblem)
  const workloads: Record<string, WorkloadSeries> = {}
  if (raw.workloads !== undefined) {
    if (!isObject(raw.workloads)) return invalid("timeseries.workloads: not an object")
    for (const [name, w] of Object.entries(raw.workloads)) {
      const path = `timeseries.workloads.${name}`
      if (!isObject(w)) return invalid(`${path}: not an object`)
      for (const key of ["requests", "completed", "failed", "latencyP50Ns", "latencyP99Ns"] as const) {
        const problem = w[key] === undefined ? undefined : numbers(w[key], length, `${path}.${key}`)
        if (problem !== undefined) return invalid(problem)
      }
      for (const key of ["failedByReason", "byEndpoint"] as const) {
        const problem = seriesRecord(w[key], length, `${path}.${key}`)
        if (problem !== undefined) return invalid(problem)
      }
      const zeros = new Array<number>(length).fill(0)
      const arr = (value: unknown): readonly number[] => (value === undefined ? zeros : (value as number[]))
      const rec = (value: unknown): Record<string, readonly number[]> =>
        value === undefined ? {} : (value as Record<string, number[]>)
      workloads[name] = {
        requests: arr(w.requests),
        completed: arr(w.completed),
        failed: arr(w.failed),
        failedByReason: rec(w.failedByReason),
        byEndpoint: rec(w.byEndpoint),
        latencyP50Ns: arr(w.latencyP50Ns),
        latencyP99Ns: arr(w.latencyP99Ns),
      }
    }
  }
  for (const key of ["conntrack", "drops"] as const) {
    const problem = seriesRecord(raw[key], length, `timeseries.${key}`)
    if (problem !== undefined) return invalid(problem)
  }
  const events: { atNs: number; step: string }[] = []
  if (raw.events !== undefined) {
    if (!Array.isArray(raw.events)) return invalid("timeseries.events: not an array")
    for (const [i, e] of raw.events.entries()) {
      if (!isObject(e) || typeof e.atNs !== "number" || typeof e.step !== "string")
        return invalid(`timeseries.events[${i}]: expected { atNs: number, step: string }`)
      events.push({ atNs: e.atNs, step: e.step })
    }
  }
  return {
    kind: "ok",
    series: {
      intervalNs,
      startNs: startNs as number[],
      workloads,
      conntrack: (raw.conntrack ?? {}) as Record<string, number[]>,
      drops: (raw.drops ?? {}) as Record<string, number[]>,
      events,
    },
  }
}

/**
 * The series with every `factor` adjacent intervals merged into one (the last group may be
 * shorter): counters (requests, completions, failures, per endpoint, drops) are summed; levels
 * and percentiles (conntrack entries, latency p50/p99) take the group's maximum, since the
 * percentile of merged intervals cannot be rebuilt from theirs: the page says "max over".
 */
export function coarsenTimeSeries(series: TimeSeries, factor: number): TimeSeries {
  if (factor <= 1) return series
  const n = series.startNs.length
  const groups = Math.ceil(n / factor)
  const sum = (values: readonly number[]): number[] => {
    const out = new Array<number>(groups).fill(0)
    for (let i = 0; i < n; i++) out[Math.floor(i / factor)] += values[i] as number
    return out
  }
  const max = (values: readonly number[]): number[] => {
    const out = new Array<number>(groups).fill(0)
    for (let i = 0; i < n; i++) {
      const g = Math.floor(i / factor)
      out[g] = Math.max(out[g] as number, values[i] as number)
    }
    return out
  }
  const map = (
    record: Readonly<Record<string, readonly number[]>>,
    f: (v: readonly number[]) => number[],
  ): Record<string, number[]> => {
    const out: Record<string, number[]> = {}
    for (const [key, values] of Object.entries(record)) out[key] = f(values)
    return out
  }
  const workloads: Record<string, WorkloadSeries> = {}
  for (const [name, w] of Object.entries(series.workloads))
    workloads[name] = {
      requests: sum(w.requests),
      completed: sum(w.completed),
      failed: sum(w.failed),
      failedByReason: map(w.failedByReason, sum),
      byEndpoint: map(w.byEndpoint, sum),
      latencyP50Ns: max(w.latencyP50Ns),
      latencyP99Ns: max(w.latencyP99Ns),
    }
  return {
    intervalNs: series.intervalNs * factor,
    startNs: Array.from({ length: groups }, (_, g) => series.startNs[g * factor] as number),
    workloads,
    conntrack: map(series.conntrack, max),
    drops: map(series.drops, sum),
    events: series.events,
  }
}

/**
 * At most `keep` series of `record`: the `keep - 1` largest by total, the rest summed into one
 * named "other (N)". Order: by name, then "other".
 */
export function topSeries(
  record: Readonly<Record<string, readonly number[]>>,
  keep: number,
): Record<string, readonly number[]> {
  const names = Object.keys(record)
  if (names.length <= keep) return record
  const total = (name: string): number => (record[name] as readonly number[]).reduce((a, b) => a + b, 0)
  const ranked = [...names].sort((a, b) => total(b) - total(a) || (a < b ? -1 : a > b ? 1 : 0))
  const kept = ranked.slice(0, keep - 1).sort()
  const rest = ranked.slice(keep - 1)
  const out: Record<string, readonly number[]> = {}
  for (const name of kept) out[name] = record[name] as readonly number[]
  const length = (record[names[0] as string] as readonly number[]).length
  const other = new Array<number>(length).fill(0)
  for (const name of rest) (record[name] as readonly number[]).forEach((v, i) => (other[i] = (other[i] as number) + v))
  out[`other (${rest.length})`] = other
  return out
}
