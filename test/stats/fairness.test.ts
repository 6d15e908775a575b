import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { distributionSummary, fairnessFigures } from "../../src/stats/fairness.ts"

describe("fairness", () => {
  it("is perfect for equal counts", () => {
    expect(distributionSummary({ b: 50, a: 50, c: 50 })).toEqual({
      byEndpoint: { a: 50, b: 50, c: 50 },
      jain: 1,
      maxOverMean: 1,
      cv: 0,
      chiSquareP: 1,
    })
    expect(Object.keys(distributionSummary({ z: 1, a: 2, m: 3 }).byEndpoint)).toEqual(["a", "m", "z"])
  })

  it("matches hand-computed figures", () => {
    // counts 10, 20, 30: mean 20, Jain 3600 / (3 * 1400) = 0.857143, max/mean 1.5,
    // CV sqrt(200/3)/20 = 0.408248, chi-square (100 + 0 + 100) / 20 = 10 on 2 df: p = e^-5.
    const figures = fairnessFigures({ a: 10, b: 20, c: 30 })
    expect(figures.jain).toBeCloseTo(3600 / 4200, 12)
    expect(figures.maxOverMean).toBeCloseTo(1.5, 12)
    expect(figures.cv).toBeCloseTo(Math.sqrt(200 / 3) / 20, 12)
    expect(figures.chiSquare).toBeCloseTo(10, 12)
    expect(figures.degreesOfFreedom).toBe(2)
    expect(figures.chiSquareP).toBeCloseTo(Math.exp(-5), 12)
    expect(distributionSummary({ a: 10, b: 20, c: 30 })).toEqual({
      byEndpoint: { a: 10, b: 20, c: 30 },
      jain: 0.857143,
      maxOverMean: 1.5,
      cv: 0.408248,
      chiSquareP: 0.00673795,
    })
  })

  it("is worst when one endpoint gets everything: Jain 1/n", () => {
    const figures = fairnessFigures({ a: 100, b: 0, c: 0, d: 0 })
    expect(figures.jain).toBeCloseTo(0.25, 12)
    expect(figures.maxOverMean).toBeCloseTo(4, 12)
    expect(figures.chiSquareP).toBeLessThan(1e-50)
  })

  it("uses expected shares: counts in proportion to the shares are fair", () => {
    const figures = fairnessFigures({ a: 300, b: 100 }, { a: 3, b: 1 })
    expect(figures.jain).toBeCloseTo(1, 12)
    expect(figures.chiSquare).toBeCloseTo(0, 12)
    expect(figures.chiSquareP).toBe(1)
    // An endpoint that was expected but got nothing is listed with 0.
    expect(distributionSummary({ a: 5 }, { a: 1, b: 1 }).byEndpoint).toEqual({ a: 5, b: 0 })
  })

  it("handles degenerate inputs without NaN", () => {
    const neutral = { byEndpoint: {}, jain: 1, maxOverMean: 1, cv: 0, chiSquareP: 1 }
    expect(distributionSummary({})).toEqual(neutral)
    expect(distributionSummary({ only: 7 })).toEqual({ ...neutral, byEndpoint: { only: 7 } })
    expect(distributionSummary({ a: 0, b: 0 })).toEqual({ ...neutral, byEndpoint: { a: 0, b: 0 } })
    // Share 0 endpoint: left out of the figures; traffic to it makes the fit impossible.
    expect(fairnessFigures({ a: 10, b: 10, c: 0 }, { a: 1, b: 1, c: 0 }).chiSquareP).toBe(1)
    expect(fairnessFigures({ a: 10, b: 10, c: 1 }, { a: 1, b: 1, c: 0 }).chiSquareP).toBe(0)
    expect(() => fairnessFigures({ a: 1 }, { b: 1 })).toThrow(/expected share for a/)
    expect(() => fairnessFigures({ a: -1 })).toThrow(/non-negative integer/)
  })

  it("keeps every figure in its range for any counts", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.nat({ max: 10 ** 9 }), { maxKeys: 30 }),
        (counts) => {
          const summary = distributionSummary(counts)
          const n = Math.max(1, Object.keys(counts).length)
          expect(summary.jain).toBeGreaterThanOrEqual(1 / n - 1e-6)
          expect(summary.jain).toBeLessThanOrEqual(1)
          expect(summary.maxOverMean).toBeGreaterThanOrEqual(1 - 1e-6)
          expect(summary.maxOverMean).toBeLessThanOrEqual(n + 1e-6)
          expect(summary.cv).toBeGreaterThanOrEqual(0)
          expect(summary.chiSquareP).toBeGreaterThanOrEqual(0)
          expect(summary.chiSquareP).toBeLessThanOrEqual(1)
          expect(JSON.stringify(summary)).not.toMatch(/null|NaN/)
        },
      ),
    )
  })
})
