import { describe, expect, it } from "vitest"
import { tCritical95 } from "../../src/stats/aggregate.ts"
import { chiSquareUpperTail, gammaP, gammaQ, lnGamma, studentTCdf } from "../../src/stats/special.ts"

describe("special functions", () => {
  it("lnGamma matches factorials and Γ(1/2) = √π", () => {
    expect(lnGamma(10)).toBeCloseTo(Math.log(362880), 12)
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12)
    expect(lnGamma(171)).toBeCloseTo(706.5730622457874, 9) // ln(170!)
  })

  it("P + Q = 1 on both sides of the series / continued-fraction switch", () => {
    for (const a of [0.5, 1, 2.5, 10, 50])
      for (const x of [0.01, 0.5, 1, 3, 11, 60, 200]) expect(gammaP(a, x) + gammaQ(a, x)).toBeCloseTo(1, 12)
    expect(gammaQ(1, 2)).toBeCloseTo(Math.exp(-2), 14)
  })

  it("gives chi-square p-values of statistical tables", () => {
    expect(chiSquareUpperTail(3.841458820694124, 1)).toBeCloseTo(0.05, 10)
    expect(chiSquareUpperTail(3.84, 1)).toBeCloseTo(0.05004, 5)
    expect(chiSquareUpperTail(21.666, 9)).toBeCloseTo(0.01, 6)
    expect(chiSquareUpperTail(6.634896601021214, 1)).toBeCloseTo(0.01, 10)
    expect(chiSquareUpperTail(124.342, 100)).toBeCloseTo(0.05, 5)
    expect(chiSquareUpperTail(0, 4)).toBe(1)
    expect(chiSquareUpperTail(2, 2)).toBeCloseTo(Math.exp(-1), 14)
    expect(chiSquareUpperTail(5000, 3)).toBeLessThan(1e-300)
  })

  it("gives Student's t 97.5 % quantiles of statistical tables", () => {
    const table: [number, number][] = [
      [1, 12.706],
      [2, 4.303],
      [4, 2.776],
      [9, 2.262],
      [29, 2.045],
      [120, 1.98],
    ]
    for (const [df, t] of table) expect(tCritical95(df)).toBeCloseTo(t, 3)
    expect(tCritical95(1)).toBeCloseTo(12.7062047361747, 9)
    expect(studentTCdf(0, 7)).toBeCloseTo(0.5, 14)
  })
})
