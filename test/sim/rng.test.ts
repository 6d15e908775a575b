import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Rng } from "../../src/sim/rng.ts"

describe("Rng", () => {
  it("pins the first outputs of a named stream (golden results depend on them)", () => {
    const rng = Rng.stream(1, "node/node-1/netfilter")
    const first = Array.from({ length: 4 }, () => rng.uint32())
    expect(first).toMatchInlineSnapshot(`
      [
        2530719005,
        2212076140,
        1416519757,
        2148547109,
      ]
    `)
  })

  it("derives streams from (seed, name), independent of creation order", () => {
    const a1 = Rng.stream(7, "a").uint32()
    Rng.stream(7, "b").uint32()
    expect(Rng.stream(7, "a").uint32()).toBe(a1)
    expect(Rng.stream(7, "b").uint32()).not.toBe(a1)
    expect(Rng.stream(8, "a").uint32()).not.toBe(a1)
  })

  it("intBelow stays in range", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 2 ** 32 }), (seed, n) => {
        const rng = Rng.stream(seed, "range")
        for (let i = 0; i < 20; i++) {
          const x = rng.intBelow(n)
          expect(x >= 0 && x < n && Number.isInteger(x)).toBe(true)
        }
      }),
    )
  })

  it("uint32 is roughly uniform over 16 buckets (chi-square at 0.1%)", () => {
    const rng = Rng.stream(3, "uniform")
    const counts = new Array<number>(16).fill(0)
    const draws = 160_000
    for (let i = 0; i < draws; i++) counts[rng.uint32() >>> 28]++
    const expected = draws / 16
    const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0)
    expect(chi2).toBeLessThan(37.7) // 15 degrees of freedom, p = 0.001
  })

  it("exponentialNs has the requested mean", () => {
    const rng = Rng.stream(5, "exp")
    let sum = 0
    const n = 100_000
    for (let i = 0; i < n; i++) sum += rng.exponentialNs(1000)
    expect(Math.abs(sum / n - 1000)).toBeLessThan(15)
  })
})
