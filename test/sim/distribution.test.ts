import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Distribution, distributionProblem, normalQuantile, type DistributionSpec } from "../../src/sim/distribution.ts"
import { Rng } from "../../src/sim/rng.ts"

const DRAWS = 20_000

/** Empirical quantile p of sorted draws. */
function quantileOf(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

function drawSorted(d: Distribution, seed: number, n = DRAWS): Float64Array {
  const rng = Rng.stream(seed, "test/distribution")
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = d.sample(rng)
  return out.sort()
}

describe("Distribution", () => {
  it("normalQuantile matches known standard normal quantiles", () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9)
    expect(normalQuantile(0.99)).toBeCloseTo(2.3263478740408408, 7)
    expect(normalQuantile(0.01)).toBeCloseTo(-2.3263478740408408, 7)
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 7)
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 6)
  })

  it("fixed draws its value and consumes no randomness", () => {
    const d = Distribution.fixed(1234)
    const rng = Rng.stream(7, "x")
    const before = rng.snapshot()
    for (let i = 0; i < 10; i++) expect(d.sample(rng)).toBe(1234)
    expect(rng.snapshot()).toEqual(before)
    expect(d.isFixed).toBe(true)
  })

  it("lognormal from median and p99: draws hit both within 5%, and quantileNs is exact", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 1_000_000 }),
        fc.double({ min: 1.2, max: 20, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        (medianNs, ratio, seed) => {
          const d = new Distribution({ kind: "lognormal", medianNs, p99Ns: medianNs * ratio })
          expect(Math.abs(d.quantileNs(0.5) - medianNs)).toBeLessThanOrEqual(1)
          expect(Math.abs(d.quantileNs(0.99) - medianNs * ratio)).toBeLessThanOrEqual(1 + medianNs * ratio * 1e-6)
          const s = drawSorted(d, seed)
          expect(Math.abs(quantileOf(s, 0.5) / medianNs - 1)).toBeLessThan(0.05)
          expect(Math.abs(quantileOf(s, 0.99) / (medianNs * ratio) - 1)).toBeLessThan(0.1)
        },
      ),
      { numRuns: 8 },
    )
  })

  it("exponential: mean and median (mean x ln 2) within 3%", () => {
    const d = new Distribution({ kind: "exponential", meanNs: 20_000 })
    const s = drawSorted(d, 3)
    let sum = 0
    for (const x of s) sum += x
    expect(Math.abs(sum / s.length / 20_000 - 1)).toBeLessThan(0.03)
    expect(Math.abs(quantileOf(s, 0.5) / (20_000 * Math.LN2) - 1)).toBeLessThan(0.03)
  })

  it("empirical: draws reproduce the table's quantiles and stay within p0..p100", () => {
    const quantiles = [
      { p: 0, ns: 2000 },
      { p: 0.5, ns: 3000 },
      { p: 0.9, ns: 5000 },
      { p: 0.99, ns: 12_000 },
      { p: 0.999, ns: 30_000 },
      { p: 1, ns: 80_000 },
    ]
    const d = new Distribution({ kind: "empirical", quantiles })
    const s = drawSorted(d, 11, 100_000)
    expect(s[0]).toBeGreaterThanOrEqual(2000)
    expect(s[s.length - 1]).toBeLessThanOrEqual(80_000)
    for (const q of quantiles.slice(1, 4)) expect(Math.abs(quantileOf(s, q.p) / q.ns - 1)).toBeLessThan(0.1)
    expect(d.quantileNs(0.75)).toBe(4250)
    expect(d.meanNs()).toBeCloseTo(2500 * 0.5 + 4000 * 0.4 + 8500 * 0.09 + 21_000 * 0.009 + 55_000 * 0.001, 6)
  })

  it("is deterministic per seed and differs between seeds", () => {
    const specs: DistributionSpec[] = [
      { kind: "exponential", meanNs: 5000 },
      { kind: "lognormal", mu: Math.log(6000), sigma: 0.8 },
      {
        kind: "empirical",
        quantiles: [
          { p: 0, ns: 1 },
          { p: 1, ns: 100 },
        ],
      },
    ]
    for (const spec of specs) {
      const d = new Distribution(spec)
      const a = drawSorted(d, 5, 200)
      expect(drawSorted(d, 5, 200)).toEqual(a)
      expect(drawSorted(d, 6, 200)).not.toEqual(a)
      for (const x of a) expect(Number.isInteger(x) && x >= 0).toBe(true)
    }
  })

  it("rejects bad specs with a reason", () => {
    expect(distributionProblem({ kind: "lognormal", medianNs: 10, p99Ns: 5 })).toMatch(/p99 must be at least/)
    expect(
      distributionProblem({
        kind: "empirical",
        quantiles: [
          { p: 0, ns: 5 },
          { p: 0.5, ns: 3 },
          { p: 1, ns: 9 },
        ],
      }),
    ).toMatch(/p50 .* is below p0/)
    expect(
      distributionProblem({
        kind: "empirical",
        quantiles: [
          { p: 0.5, ns: 1 },
          { p: 1, ns: 2 },
        ],
      }),
    ).toMatch(/p0/)
    expect(distributionProblem({ kind: "fixed", valueNs: -1 })).toMatch(/non-negative/)
  })
})
