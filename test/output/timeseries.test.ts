/**
 * The results document's `timeseries` (docs/outputs.md): per-interval counters sum to the
 * document's totals, the interval is configurable, collection leaves the fingerprint alone, and
 * timeseries.csv is the long format documented.
 */
import { describe, expect, it } from "vitest"
import { runScenario } from "../../src/cluster/index.ts"
import { TimeSeriesRecorder, timeseriesCsv } from "../../src/stats/timeseries.ts"
import { specFromText } from "../cluster/helpers.ts"
import { smallScenario } from "./small-scenario.ts"

const sum = (values: readonly (number | null)[]): number => values.reduce<number>((a, b) => a + (b ?? 0), 0)

describe("timeseries", () => {
  const spec = specFromText(smallScenario())
  const doc = runScenario(spec, { seed: 5 })
  const fine = runScenario(spec, { seed: 5, timeseriesIntervalNs: 10_000_000 })

  it("sums to the document's totals, per workload, endpoint and drop reason", () => {
    const ts = doc.timeseries
    if (ts === undefined) throw new Error("no timeseries")
    expect(ts.intervalNs).toBe(100_000_000)
    expect(ts.startNs.length).toBe(Math.ceil(doc.simulatedNs / ts.intervalNs))
    expect(ts.startNs.slice(0, 3)).toEqual([0, 100_000_000, 200_000_000])
    const w = ts.workloads.get
    const r = doc.workloads.get.requests
    expect(r.completed).toBeGreaterThan(0)
    expect(sum(w.requests)).toBe(r.sent)
    expect(sum(w.completed)).toBe(r.completed)
    expect(sum(w.failed)).toBe(r.failed)
    for (const [pod, values] of Object.entries(w.byEndpoint))
      expect(sum(values), pod).toBe(doc.workloads.get.distribution.byEndpoint[pod])
    for (const [reason, values] of Object.entries(ts.drops)) expect(sum(values), reason).toBe(doc.drops[reason])
    for (const series of Object.values(w)) if (Array.isArray(series)) expect(series.length).toBe(ts.startNs.length)
    // Percentiles only where something completed; p99 >= p50.
    w.completed.forEach((n, i) => {
      expect(w.latencyP50Ns[i] === 0).toBe(n === 0)
      if (n > 0) expect(w.latencyP99Ns[i]).toBeGreaterThanOrEqual(w.latencyP50Ns[i])
    })
    // Conntrack gauges per node; the peak is at least every sample.
    expect(Object.keys(ts.conntrack).sort()).toEqual(Object.keys(doc.conntrack.peakEntriesByNode).sort())
    for (const [node, values] of Object.entries(ts.conntrack))
      expect(Math.max(...values)).toBeLessThanOrEqual(doc.conntrack.peakEntriesByNode[node] as number)
    expect(ts.events.map((e) => e.step)).toEqual(doc.steps.map((s) => s.description))
  })

  it("takes its interval from the options, without changing the run (same fingerprint)", () => {
    expect(fine.fingerprint).toBe(doc.fingerprint)
    expect(fine.workloads).toEqual(doc.workloads)
    const ts = fine.timeseries
    if (ts === undefined) throw new Error("no timeseries")
    expect(ts.intervalNs).toBe(10_000_000)
    expect(ts.startNs.length).toBe(Math.ceil(fine.simulatedNs / 10_000_000))
    expect(sum(ts.workloads.get.completed)).toBe(doc.workloads.get.requests.completed)
    // A 20 ms arrival gap: every other 10 ms interval starts a request.
    expect(ts.workloads.get.requests.filter((n) => n > 1)).toEqual([])
  })

  it("writes timeseries.csv in long format", () => {
    const ts = doc.timeseries
    if (ts === undefined) throw new Error("no timeseries")
    const lines = timeseriesCsv(ts).trimEnd().split("\n")
    expect(lines[0]).toBe("interval_start_ns,series,key,value")
    const completed = lines.filter((l) => l.split(",")[1] === "completed")
    expect(completed.length).toBe(ts.startNs.length)
    expect(completed.reduce((a, l) => a + Number(l.split(",")[3]), 0)).toBe(doc.workloads.get.requests.completed)
    expect(lines.some((l) => /^\d+,conntrack_entries,node-1,\d+$/.test(l))).toBe(true)
  })
})

describe("scenario output.interval", () => {
  it("sets the interval (run --interval overrides it); 0 and bad durations are input errors", () => {
    const withInterval = (text: string): string =>
      smallScenario().replace("duration: 3s", `duration: 3s\noutput: { interval: ${text} }`)
    expect(specFromText(withInterval("250ms")).output).toEqual({ intervalNs: 250_000_000 })
    expect(specFromText(smallScenario()).output).toBeUndefined()
    expect(() => specFromText(withInterval("0s"))).toThrow(
      /output.interval: the time-series interval must be longer than 0/,
    )
    expect(() => specFromText(withInterval("fast"))).toThrow(/output.interval: invalid duration/)
  })
})

describe("TimeSeriesRecorder", () => {
  it("closes intervals at their end (events at a boundary count before it), percentiles per interval", () => {
    const rec = new TimeSeriesRecorder(100, 1, ["n1"], 4)
    rec.onSent(0, 0)
    rec.onCompleted(0, 10, 2, 50)
    rec.onCompleted(0, 30, 2, 100)
    rec.onCompleted(0, 1000, -1, 250)
    rec.onFailed(0, 1, 300)
    rec.sampleNodes(100, [7])
    rec.sampleDrops(100, [0, 2, 0, 0])
    rec.sampleNodes(300, [3])
    rec.sampleDrops(300, [0, 5, 0, 1])
    const doc = rec.document(300, {
      workloads: ["w"],
      failureReasons: ["a", "b"],
      dropReason: (code) => `d${code}`,
      server: (index) => `pod-${index}`,
      steps: [{ atNs: 0, description: "start" }],
    })
    expect(doc.startNs).toEqual([0, 100, 200])
    expect(doc.workloads.w).toEqual({
      requests: [1, 0, 0],
      completed: [2, 0, 1],
      failed: [0, 0, 1],
      failedByReason: { b: [0, 0, 1] },
      byEndpoint: { "pod-2": [2, 0, 0] },
      latencyP50Ns: [10, 0, 1000],
      latencyP99Ns: [30, 0, 1000],
    })
    expect(doc.conntrack).toEqual({ n1: [7, 0, 3] })
    expect(doc.drops).toEqual({ d1: [2, 0, 3], d3: [0, 0, 1] })
    expect(doc.events).toEqual([{ atNs: 0, step: "start" }])
  })
})
