/** Terminal plots of the human summary (docs/outputs.md): latency histogram and over-time sparklines. */
import { describe, expect, it } from "vitest"
import { downsample, sparkline } from "../../src/stats/format.ts"
import { Histogram } from "../../src/stats/histogram.ts"
import { renderSummary } from "../../src/stats/render.ts"
import { sampleDocument } from "../stats/fixture.ts"

describe("sparkline", () => {
  it("scales counts from zero, rounding up so that small counts show", () => {
    expect(sparkline([0, 1, 4, 8, null])).toBe(" ▁▄█ ")
    expect(sparkline([0, 0])).toBe("  ")
  })
  it("scales latencies between their lowest and highest value", () => {
    expect(sparkline([100, 100, 800, null, 450], false)).toBe("▁▁█ ▄")
    expect(sparkline([5, 5], false)).toBe("▁▁")
  })
  it("groups long series: sums for counts, maxima for latencies, null for empty groups", () => {
    expect(downsample([1, 2, 3, 4, 5], 2, true)).toEqual([6, 9])
    expect(downsample([1, null, null, null, 7, 2], 3, false)).toEqual([1, null, 7])
  })
})

describe("Histogram.bins", () => {
  it("splits [min, max] in log-spaced bins that hold every value", () => {
    const h = new Histogram()
    for (const v of [1000, 1000, 2000, 4000, 1_000_000]) h.record(v)
    const { edgesNs, counts } = h.bins(8)
    expect(edgesNs.length).toBe(counts.length + 1)
    expect(edgesNs[0]).toBe(1000)
    expect(edgesNs[edgesNs.length - 1]).toBe(1_000_000)
    for (let i = 1; i < edgesNs.length; i++) expect(edgesNs[i]).toBeGreaterThan(edgesNs[i - 1])
    expect(counts.reduce((a, b) => a + b, 0)).toBe(5)
    // 8 bins over ~10 doublings: the first holds 1000 up to ~2.4us, so 1000, 1000 and 2000.
    expect(counts[0]).toBe(3)
    expect(counts[counts.length - 1]).toBe(1)
    // log spacing: the decade 1us..10us takes about a third of the bins, not 1 %.
    expect(edgesNs.filter((e) => e < 10_000).length).toBeGreaterThanOrEqual(2)
    expect(new Histogram().bins()).toEqual({ edgesNs: [], counts: [] })
  })
})

describe("summary plots", () => {
  it("adds the latency histogram and the over-time lines under the latency table, deterministically", () => {
    const doc = sampleDocument()
    const wget = doc.workloads.wget
    if (wget === undefined) throw new Error("fixture")
    wget.latencyHistogram = { edgesNs: [100_000, 1_000_000, 6_010_000], counts: [10, 980] }
    doc.timeseries = {
      intervalNs: 1_000_000_000,
      startNs: [0, 1e9, 2e9],
      workloads: {
        wget: {
          requests: [500, 500, 0],
          completed: [495, 480, 0],
          failed: [5, 5, 0],
          failedByReason: {},
          byEndpoint: {},
          latencyP50Ns: [400_000, 420_000, 500_000],
          latencyP99Ns: [3_000_000, 6_000_000, 0],
        },
      },
      conntrack: {},
      drops: {},
      events: [],
    }
    const text = renderSummary(doc)
    expect(text).toContain("  histogram 100us ▁█ 6.01ms  (log bins)\n")
    expect(text).toContain("  completed |██ | max 495 per 1s\n")
    expect(text).toContain("  p99       |▁█ | 3.00ms..6.00ms\n")
    expect(renderSummary(doc)).toBe(text)
  })
})
