import { describe, expect, it } from "vitest"
import { aggregateRuns, meanConfidence95, renderAggregate } from "../../src/stats/aggregate.ts"
import { NameCounter, ReasonCounter, addCounts, countByName } from "../../src/stats/counters.ts"
import { canonicalResults, roundSignificant, sortedRecord, stringifyResults } from "../../src/stats/document.ts"
import { bar, formatCount, formatNs } from "../../src/stats/format.ts"
import { renderSummary } from "../../src/stats/render.ts"
import { sampleDocument } from "./fixture.ts"

describe("counters", () => {
  it("count by integer code and report sorted records", () => {
    const drops = new ReasonCounter(["ttl-expired", "conntrack-full", "no-route"] as const)
    const full = drops.code("conntrack-full")
    drops.add(full)
    drops.add(full, 2)
    drops.add(drops.code("ttl-expired"))
    expect(drops.toRecord()).toEqual({ "conntrack-full": 3, "ttl-expired": 1 })
    expect(Object.keys(drops.toRecord(true))).toEqual(["conntrack-full", "no-route", "ttl-expired"])
    expect(drops.total).toBe(4)
    expect(() => drops.add(9)).toThrow(/unknown reason code/)
    expect(() => new ReasonCounter(["a", "a"])).toThrow(/duplicate/)
  })

  it("count names and add records", () => {
    const counter = new NameCounter()
    counter.add("timeout")
    counter.add("refused", 2)
    expect(Object.keys(counter.toRecord())).toEqual(["refused", "timeout"])
    expect(countByName(["b", "a", "b"])).toEqual({ a: 1, b: 2 })
    expect(addCounts({ b: 1 }, { a: 2, b: 3 })).toEqual({ a: 2, b: 4 })
  })
})

describe("document helpers", () => {
  it("round to 6 significant digits and sort keys by code unit", () => {
    expect(roundSignificant(0.123456789)).toBe(0.123457)
    expect(roundSignificant(123456789)).toBe(123457000)
    expect(roundSignificant(0)).toBe(0)
    expect(Object.keys(sortedRecord({ b: 1, B: 2, a: 3 }))).toEqual(["B", "a", "b"])
  })

  it("stringify the same document to the same bytes whatever the key insertion order", () => {
    const doc = sampleDocument()
    const shuffled = { ...doc, drops: { "no-endpoints": 1, "conntrack-full": 3 } }
    expect(stringifyResults(shuffled)).toBe(stringifyResults(doc))
    expect(Object.keys(canonicalResults(doc).workloads.wget?.distribution.byEndpoint ?? {})).toEqual([
      "http-go-a",
      "http-go-b",
      "http-go-c",
    ])
    expect(stringifyResults(doc).endsWith("}\n")).toBe(true)
  })
})

describe("format", () => {
  it("prints durations with 3 significant digits and counts with separators", () => {
    expect([0, 999, 1000, 1234, 412_000, 999_999, 1_020_000, 30e9, 5.4e12].map(formatNs)).toEqual([
      "0ns",
      "999ns",
      "1.00us",
      "1.23us",
      "412us",
      "1000us",
      "1.02ms",
      "30.0s",
      "1.50h",
    ])
    expect(formatCount(4567890)).toBe("4,567,890")
    expect(bar(10, 10, 4)).toBe("████")
    expect(bar(5, 10, 3)).toBe("█▌")
    expect(bar(0, 10)).toBe("")
  })
})

describe("renderSummary", () => {
  const text = renderSummary(sampleDocument())
  const lines = text.split("\n")

  it("prints the run header, requests and latency in human units", () => {
    expect(lines[0]).toBe("scenario http-go-affinity  seed 1  fingerprint a47e9073384d3972")
    expect(lines[1]).toBe("simulated 30s (30,000,000,000 ns)  end completed")
    expect(text).toContain("  requests  sent 1,000  completed 990  failed 10 (connection-refused 3, timeout 7)")
    expect(text).toMatch(
      /latency +p50 +p90 +p99 +p99\.9 +max +mean +n\n +412us +1\.02ms +3\.10ms +5\.23ms +6\.01ms +512us +990\n/,
    )
  })

  it("prints the distribution with bars, counts and percentages, and fairness figures", () => {
    expect(lines).toContain("    http-go-a  400  40.4%  ████████████████████████")
    expect(lines.find((line) => line.includes("http-go-c"))).toBe("    http-go-c  290  29.3%  █████████████████▍")
    expect(text).toContain("  fairness  jain 0.9840  max/mean 1.210  cv 0.128  chi-square p 1.23e-4")
  })

  it("prints drops, conntrack and the wall line last", () => {
    expect(text).toContain("drops\n  conntrack-full  3\n  no-endpoints    1\n")
    expect(text).toContain(
      "conntrack  peak 1,234 entries  insert failed 2  drops (table full) 3\n  peak by node: node-1 800, node-2 434",
    )
    expect(lines[lines.length - 2]).toBe("wall 1.234s  4,567,890 events  3.70M events/s")
  })

  it("is deterministic apart from the wall line", () => {
    const other = sampleDocument()
    other.wall = { seconds: 9, events: 4_567_890, eventsPerSecond: 1 }
    const strip = (s: string): string =>
      s
        .split("\n")
        .filter((line) => !line.startsWith("wall "))
        .join("\n")
    expect(strip(renderSummary(other))).toBe(strip(text))
  })

  it("handles an empty run", () => {
    const doc = sampleDocument()
    doc.workloads = {
      idle: {
        requests: { sent: 0, completed: 0, failed: 0, failedByReason: {} },
        latencyNs: { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 },
        distribution: { byEndpoint: {}, jain: 1, maxOverMean: 1, cv: 0, chiSquareP: 1 },
      },
    }
    doc.drops = {}
    const empty = renderSummary(doc)
    expect(empty).toContain("  latency   no completed requests")
    expect(empty).toContain("  endpoints none")
    expect(empty).toContain("drops none")
  })
})

describe("aggregateRuns", () => {
  it("computes mean and a Student's t interval", () => {
    // values 1..5: mean 3, s = sqrt(2.5), half width 2.776445 * sqrt(2.5) / sqrt(5) = 1.963243.
    const aggregate = meanConfidence95([1, 2, 3, 4, 5])
    expect(aggregate.mean).toBe(3)
    expect(aggregate.ci95).toEqual([1.03676, 4.96324])
    expect(meanConfidence95([7])).toEqual({ mean: 7, ci95: [7, 7], values: [7] })
    expect(meanConfidence95([4, 4, 4]).ci95).toEqual([4, 4])
  })

  it("aggregates every numeric metric by JSON pointer, missing counts as 0", () => {
    const docs = [sampleDocument(1, 1), sampleDocument(2, 2)]
    delete (docs[1]?.drops as Record<string, number>)["no-endpoints"]
    const aggregate = aggregateRuns(docs)
    expect(aggregate.runs).toBe(2)
    expect(aggregate.seeds).toEqual([1, 2])
    expect(aggregate.metrics["/workloads/wget/latencyNs/p50"]?.values).toEqual([412_000, 824_000])
    expect(aggregate.metrics["/workloads/wget/latencyNs/p50"]?.mean).toBe(618_000)
    expect(aggregate.metrics["/drops/no-endpoints"]?.values).toEqual([1, 0])
    expect(aggregate.metrics["/workloads/wget/distribution/byEndpoint/http-go-b"]?.values).toEqual([300, 600])
    expect(aggregate.metrics["/seed"]).toBeUndefined()
    expect(aggregate.metrics["/steps/0/atNs"]).toBeUndefined()
    expect(Object.keys(aggregate.metrics)).toEqual([...Object.keys(aggregate.metrics)].sort())
    // df = 1: t = 12.706; values 412000, 824000: s = 291328.1, half width 2617466... -> low bound negative.
    expect(aggregate.metrics["/workloads/wget/latencyNs/p50"]?.ci95[0]).toBeCloseTo(618_000 - 12.7062047 * 206_000, -1)
    expect(() => aggregateRuns([])).toThrow()
    expect(() => aggregateRuns([sampleDocument(), { ...sampleDocument(), scenario: "other" }])).toThrow(
      /cannot aggregate/,
    )
  })

  it("renders one line per metric with nanoseconds in human units", () => {
    const text = renderAggregate(aggregateRuns([sampleDocument(1, 1), sampleDocument(2, 2), sampleDocument(3, 1)]))
    expect(text.split("\n")[0]).toBe("scenario http-go-affinity  runs 3  seeds 1, 2, 3")
    expect(text).toMatch(/workloads\/wget\/latencyNs\/p50 +549us +\[/)
    expect(text).toMatch(/workloads\/wget\/requests\/sent +1000 +\[1000, 1000\]/)
  })
})
