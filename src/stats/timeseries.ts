/**
 * Per-interval counters (the results document's `timeseries`, issue 11): requests, completions,
 * failures by reason, completions per endpoint and latency percentiles per workload, conntrack
 * entries per node at each interval's end, drops by reason, and the timeline's steps.
 *
 * Cost. Request-path counters are one typed-array increment each (the interval index is
 * floor(nowNs / intervalNs)); the collector calls them from the paths that already count the
 * totals. Per-interval latency percentiles come from one Histogram per workload that is read and
 * cleared when a completion of a later interval arrives (completions arrive in simulated-time
 * order), so memory does not grow with the number of completions. Conntrack and drops are sampled
 * by the run loop at interval boundaries (`sampleNodes`, `sampleDrops`); sampling reads counters
 * and schedules nothing, so the event trace (and the fingerprint) is the same with or without it.
 */
import { EMPTY_F64 } from "../sim/empty.ts"
import { Histogram } from "./histogram.ts"
import type { TimeSeriesDocument, WorkloadTimeSeries } from "./results.ts"

export type { TimeSeriesDocument, TimeSeriesEvent, WorkloadTimeSeries } from "./results.ts"

export const DEFAULT_INTERVAL_NS = 100_000_000

/** A growable array of counts indexed by interval. */
export class IntervalCounts {
  values = new Float64Array(16)

  add(index: number, times = 1): void {
    if (index >= this.values.length) this.grow(index)
    this.values[index] += times
  }

  set(index: number, value: number): void {
    if (index >= this.values.length) this.grow(index)
    this.values[index] = value
  }

  get(index: number): number {
    return index < this.values.length ? this.values[index] : 0
  }

  toArray(length: number): number[] {
    const out = new Array<number>(length)
    for (let i = 0; i < length; i++) out[i] = this.get(i)
    return out
  }

  private grow(index: number): void {
    let length = this.values.length
    while (length <= index) length *= 2
    const values = new Float64Array(length)
    values.set(this.values)
    this.values = values
  }
}

class WorkloadSeries {
  readonly requests = new IntervalCounts()
  readonly completed = new IntervalCounts()
  readonly failed = new IntervalCounts()
  /** By failure reason code (sparse). */
  readonly failedByReason: (IntervalCounts | undefined)[] = []
  /** By server index (sparse). */
  readonly byServer: (IntervalCounts | undefined)[] = []
  readonly latency = new Histogram()
  latencyInterval = 0
  readonly p50 = new IntervalCounts()
  readonly p99 = new IntervalCounts()

  flushLatency(): void {
    if (this.latency.count === 0) return
    const i = this.latencyInterval
    this.p50.set(i, this.latency.valueAtQuantile(0.5))
    this.p99.set(i, this.latency.valueAtQuantile(0.99))
    this.latency.clear()
  }
}

export class TimeSeriesRecorder {
  private readonly workloads: WorkloadSeries[]
  private readonly nodeCounts: IntervalCounts[] = []
  private readonly dropCounts: (IntervalCounts | undefined)[] = []
  // Fields start with a value of their kind (the constructor sets them): see sim/empty.ts for why.
  private readonly dropsSeen: Float64Array = EMPTY_F64
  /** End of the interval the next `sample*` call closes. */
  nextBoundaryNs = 0

  constructor(
    readonly intervalNs: number,
    workloadCount: number,
    readonly nodeNames: readonly string[],
    dropReasonCount: number,
  ) {
    if (!(Number.isSafeInteger(intervalNs) && intervalNs > 0)) throw new RangeError(`bad interval ${intervalNs}`)
    this.workloads = Array.from({ length: workloadCount }, () => new WorkloadSeries())
    for (let i = 0; i < nodeNames.length; i++) this.nodeCounts.push(new IntervalCounts())
    this.dropsSeen = new Float64Array(dropReasonCount)
    this.nextBoundaryNs = intervalNs
  }

  /**
   * Interval of time `nowNs`. Intervals are closed at their end: interval i holds the times in
   * (i * intervalNs, (i + 1) * intervalNs], the first one also time 0. So the run loop samples the
   * interval ending at a boundary after running the events at that boundary, and events at the
   * run's last instant belong to the last interval.
   */
  private index(nowNs: number): number {
    return nowNs <= 0 ? 0 : Math.floor((nowNs - 1) / this.intervalNs)
  }

  onSent(workload: number, nowNs: number): void {
    this.workloads[workload].requests.add(this.index(nowNs))
  }

  /** `server` is the server index, or -1 when the reply carried no identity. */
  onCompleted(workload: number, latencyNs: number, server: number, nowNs: number): void {
    const w = this.workloads[workload]
    const i = this.index(nowNs)
    w.completed.add(i)
    if (i !== w.latencyInterval) {
      w.flushLatency()
      w.latencyInterval = i
    }
    w.latency.record(latencyNs)
    if (server < 0) return
    let counts = w.byServer[server]
    if (counts === undefined) {
      counts = new IntervalCounts()
      w.byServer[server] = counts
    }
    counts.add(i)
  }

  onFailed(workload: number, reason: number, nowNs: number): void {
    const w = this.workloads[workload]
    const i = this.index(nowNs)
    w.failed.add(i)
    let counts = w.failedByReason[reason]
    if (counts === undefined) {
      counts = new IntervalCounts()
      w.failedByReason[reason] = counts
    }
    counts.add(i)
  }

  /** Per-node gauges (conntrack entries) at `endNs`, the end of its interval or of the run. */
  sampleNodes(endNs: number, values: ArrayLike<number>): void {
    const i = this.index(endNs)
    for (let n = 0; n < this.nodeCounts.length; n++) this.nodeCounts[n].set(i, values[n])
  }

  /** Cumulative drops by reason code; the difference since the last sample lands in the interval ending at `endNs`. */
  sampleDrops(endNs: number, cumulative: ArrayLike<number>): void {
    const i = this.index(endNs)
    for (let r = 0; r < this.dropsSeen.length; r++) {
      const delta = cumulative[r] - this.dropsSeen[r]
      if (delta === 0) continue
      this.dropsSeen[r] = cumulative[r]
      let counts = this.dropCounts[r]
      if (counts === undefined) {
        counts = new IntervalCounts()
        this.dropCounts[r] = counts
      }
      counts.add(i, delta)
    }
  }

  /**
   * The `timeseries` section for a run that ended at `endNs`. Names are looked up here only:
   * workload names by index, failure and drop reason names by code, server names by index
   * (servers sharing a name are summed, as the document's byEndpoint does).
   */
  document(
    endNs: number,
    names: {
      readonly workloads: readonly string[]
      readonly failureReasons: readonly string[]
      readonly dropReason: (code: number) => string
      readonly server: (index: number) => string
      readonly steps: readonly { readonly atNs: number; readonly description: string }[]
    },
  ): TimeSeriesDocument {
    const length = Math.max(1, Math.ceil(endNs / this.intervalNs))
    const startNs: number[] = []
    for (let i = 0; i < length; i++) startNs.push(i * this.intervalNs)
    const workloads: Record<string, WorkloadTimeSeries> = {}
    this.workloads.forEach((w, index) => {
      w.flushLatency()
      const failedByReason: Record<string, number[]> = {}
      w.failedByReason.forEach((counts, code) => {
        if (counts !== undefined)
          failedByReason[names.failureReasons[code] ?? `reason-${code}`] = counts.toArray(length)
      })
      const byEndpoint: Record<string, number[]> = {}
      w.byServer.forEach((counts, server) => {
        if (counts === undefined) return
        const name = names.server(server)
        const values = counts.toArray(length)
        const sum = byEndpoint[name]
        if (sum === undefined) byEndpoint[name] = values
        else for (let i = 0; i < length; i++) sum[i] += values[i]
      })
      workloads[names.workloads[index] as string] = {
        requests: w.requests.toArray(length),
        completed: w.completed.toArray(length),
        failed: w.failed.toArray(length),
        failedByReason: sortKeys(failedByReason),
        byEndpoint: sortKeys(byEndpoint),
        latencyP50Ns: w.p50.toArray(length),
        latencyP99Ns: w.p99.toArray(length),
      }
    })
    const conntrack: Record<string, number[]> = {}
    this.nodeNames.forEach((node, n) => {
      conntrack[node] = this.nodeCounts[n].toArray(length)
    })
    const drops: Record<string, number[]> = {}
    this.dropCounts.forEach((counts, code) => {
      if (counts !== undefined) drops[names.dropReason(code)] = counts.toArray(length)
    })
    return {
      intervalNs: this.intervalNs,
      startNs,
      workloads: sortKeys(workloads),
      conntrack: sortKeys(conntrack),
      drops: sortKeys(drops),
      events: names.steps.map((s) => ({ atNs: s.atNs, step: s.description })),
    }
  }
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {}
  for (const key of Object.keys(record).sort()) out[key] = record[key] as T
  return out
}

/**
 * `timeseries.csv`: long format, one row per (interval, series, key) with header
 * `interval_start_ns,series,key,value`. Series: requests, completed, failed, failed_by_reason,
 * by_endpoint, latency_p50_ns, latency_p99_ns (key `WORKLOAD` or `WORKLOAD/REASON`,
 * `WORKLOAD/POD`), conntrack_entries (key NODE), drops (key REASON). Latency rows of intervals
 * without a completion are left out. Rows are ordered by series, key, then interval.
 */
export function timeseriesCsv(ts: TimeSeriesDocument): string {
  const rows: string[] = ["interval_start_ns,series,key,value"]
  const emit = (series: string, key: string, values: readonly number[], only?: readonly number[]): void => {
    const k = csvField(key)
    for (let i = 0; i < values.length; i++) {
      if (only !== undefined && only[i] === 0) continue
      rows.push(`${ts.startNs[i]},${series},${k},${values[i]}`)
    }
  }
  for (const [name, w] of Object.entries(ts.workloads)) {
    emit("requests", name, w.requests)
    emit("completed", name, w.completed)
    emit("failed", name, w.failed)
    for (const [reason, values] of Object.entries(w.failedByReason))
      emit("failed_by_reason", `${name}/${reason}`, values)
    for (const [pod, values] of Object.entries(w.byEndpoint)) emit("by_endpoint", `${name}/${pod}`, values)
    emit("latency_p50_ns", name, w.latencyP50Ns, w.completed)
    emit("latency_p99_ns", name, w.latencyP99Ns, w.completed)
  }
  for (const [node, values] of Object.entries(ts.conntrack)) emit("conntrack_entries", node, values)
  for (const [reason, values] of Object.entries(ts.drops)) emit("drops", reason, values)
  return `${rows.join("\n")}\n`
}

/** RFC 4180 quoting when a field holds a comma, quote or newline. */
function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}
