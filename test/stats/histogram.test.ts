import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Histogram, bucketHighest, bucketIndex, bucketLowest, RELATIVE_ERROR_MAX } from "../../src/stats/histogram.ts"

const QUANTILES = [0, 0.5, 0.9, 0.99, 0.999, 1]

function exactAtQuantile(sorted: readonly number[], q: number): number {
  const rank = Math.max(1, Math.ceil((Math.round(q * 1e9) * sorted.length) / 1e9 - 1e-9))
  return sorted[rank - 1] as number
}

describe("Histogram buckets", () => {
  it("map every value into a bucket whose width is within 2^-7 of its lowest value", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        (value) => {
          const index = bucketIndex(value)
          expect(bucketLowest(index)).toBeLessThanOrEqual(value)
          expect(bucketHighest(index)).toBeGreaterThanOrEqual(value)
          expect(bucketHighest(index) - bucketLowest(index)).toBeLessThanOrEqual(
            bucketLowest(index) * RELATIVE_ERROR_MAX,
          )
        },
      ),
    )
  })

  it("are contiguous and exact below 256", () => {
    for (let index = 0; index < 3000; index++) expect(bucketLowest(index + 1)).toBe(bucketHighest(index) + 1)
    for (let value = 0; value < 256; value++) expect(bucketHighest(bucketIndex(value))).toBe(value)
    expect(bucketIndex(Number.MAX_SAFE_INTEGER)).toBe(45 * 128 + 255)
  })
})

describe("Histogram", () => {
  it("reports percentiles within the documented relative error of the exact sorted values", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 3_600_000_000_000 })), {
          minLength: 1,
          maxLength: 400,
        }),
        (values) => {
          const histogram = new Histogram()
          for (const value of values) histogram.record(value)
          const sorted = [...values].sort((a, b) => a - b)
          for (const q of QUANTILES) {
            const exact = exactAtQuantile(sorted, q)
            const reported = histogram.valueAtQuantile(q)
            expect(reported).toBeGreaterThanOrEqual(exact)
            expect(reported - exact).toBeLessThanOrEqual(exact * RELATIVE_ERROR_MAX)
          }
          expect(histogram.count).toBe(values.length)
          expect(histogram.min).toBe(sorted[0])
          expect(histogram.max).toBe(sorted[sorted.length - 1])
          const sum = values.reduce((s, v) => s + BigInt(v), 0n)
          expect(histogram.sum()).toBe(sum)
          const n = BigInt(values.length)
          expect(histogram.mean()).toBe(Number((2n * sum + n) / (2n * n)))
        },
      ),
    )
  })

  it("keeps the sum exact beyond 2^53", () => {
    const histogram = new Histogram()
    const big = Number.MAX_SAFE_INTEGER
    for (let i = 0; i < 1000; i++) histogram.record(big)
    histogram.record(7, 3)
    expect(histogram.sum()).toBe(BigInt(big) * 1000n + 21n)
    expect(histogram.mean()).toBe(Number((2n * (BigInt(big) * 1000n + 21n) + 1003n) / 2006n))
  })

  it("computes ranks in integers: p99.9 of 1..1000 is 999, not 1000", () => {
    const histogram = new Histogram()
    for (let v = 1; v <= 1000; v++) histogram.record(v)
    // 999 falls in the bucket [998, 999] (width 2 above 512): highest equivalent 999.
    expect(histogram.valueAtQuantile(0.999)).toBe(999)
    expect(histogram.valueAtQuantile(0.5)).toBe(501) // rank 500, bucket [500, 501]
    expect(histogram.valueAtQuantile(1)).toBe(1000)
  })

  it("merges to the same state as recording everything in one", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 10 ** 12 })), fc.array(fc.nat({ max: 10 ** 12 })), (left, right) => {
        const a = new Histogram()
        const b = new Histogram()
        const both = new Histogram()
        for (const v of left) (a.record(v), both.record(v))
        for (const v of right) (b.record(v), both.record(v))
        a.merge(b)
        expect(a.summary()).toEqual(both.summary())
        expect(a.sum()).toBe(both.sum())
      }),
    )
  })

  it("summarizes an empty histogram as zeros and rejects non-integers", () => {
    expect(new Histogram().summary()).toEqual({ count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 })
    expect(() => new Histogram().record(1.5)).toThrow(/safe integers/)
    expect(() => new Histogram().record(-1)).toThrow(/safe integers/)
  })
})
