/**
 * `kubeProxy.syncs` figures (src/stats/syncs.ts): per node and merged counts, duration and lag
 * summaries, power-of-two table-size bins.
 */
import { describe, expect, it } from "vitest"
import { kubeProxySyncResults, tableRulesBin } from "../../src/stats/syncs.ts"

const MS = 1_000_000

describe("kubeProxySyncResults", () => {
  it("bins table sizes by power of two (lower bound as key, 0 for empty tables)", () => {
    expect([0, 1, 2, 3, 4, 1023, 1024, 2047, 2048].map(tableRulesBin)).toEqual([0, 1, 2, 2, 4, 512, 1024, 1024, 2048])
  })

  it("counts per node and over all nodes; lag is per write, max over every write", () => {
    const results = kubeProxySyncResults([
      {
        node: "b",
        failed: 1,
        syncs: [
          { durationNs: 10 * MS, fullSync: true, tableRules: 100, lagsNs: [] },
          { durationNs: 30 * MS, fullSync: false, tableRules: 1000, lagsNs: [30 * MS, 45 * MS] },
        ],
      },
      {
        node: "a",
        failed: 0,
        syncs: [{ durationNs: 20 * MS, fullSync: false, tableRules: 120, lagsNs: [25 * MS] }],
      },
    ])
    expect(Object.keys(results.byNode)).toEqual(["a", "b"])
    expect(results.byNode.b).toMatchObject({ count: 2, full: 1, partial: 1, failed: 1, maxLagNs: 45 * MS })
    expect(results.byNode.b.durationNs).toMatchObject({ count: 2, min: 10 * MS, max: 30 * MS, mean: 20 * MS })
    expect(results.byNode.a).toMatchObject({ count: 1, full: 0, partial: 1, failed: 0, tableRulesMax: 120 })
    expect(results).toMatchObject({ count: 3, full: 1, partial: 2, failed: 1, maxLagNs: 45 * MS, tableRulesMax: 1000 })
    expect(results.lagNs.count).toBe(3)
    expect(results.durationNs.mean).toBe(20 * MS)
    expect(results.byTableRules).toEqual({
      "64": { syncs: 2, meanDurationNs: 15 * MS, maxDurationNs: 20 * MS },
      "512": { syncs: 1, meanDurationNs: 30 * MS, maxDurationNs: 30 * MS },
    })
  })

  it("no syncs: zero summaries", () => {
    const results = kubeProxySyncResults([{ node: "n", failed: 0, syncs: [] }])
    expect(results).toMatchObject({ count: 0, maxLagNs: 0, tableRulesMax: 0, byTableRules: {} })
    expect(results.durationNs.p99).toBe(0)
  })
})
