import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Rng } from "../../src/sim/rng.ts"

/** The state of a stream as unsigned words (the class keeps them as int32). */
const state = (rng: Rng): number[] => rng.snapshot().map((w) => w >>> 0)
const popcount = (x: number): number => {
  let n = 0
  for (let v = x >>> 0; v !== 0; v &= v - 1) n++
  return n
}

// Reference vectors: the output of test/sim/reference/rng-vectors.c (gcc -O2), which carries the
// published xoshiro128** 1.1 C code of Blackman & Vigna (https://prng.di.unimi.it/xoshiro128starstar.c,
// public domain) unchanged, and the seed derivation in unsigned C arithmetic over the standard
// murmur3 fmix32 and FNV-1a 32.
describe("Rng reference vectors", () => {
  it("xoshiro128** from state (1, 2, 3, 4) gives the reference C outputs", () => {
    const rng = new Rng(1, 2, 3, 4)
    expect(Array.from({ length: 10 }, () => rng.uint32())).toEqual([
      11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804,
    ])
  })

  it("xoshiro128** from a state with the top bits set, and after a million steps", () => {
    const rng = new Rng(0x9e3779b9, 0x243f6a88, 0xb7e15162, 0xdeadbeef)
    expect(Array.from({ length: 6 }, () => rng.uint32())).toEqual([
      2463954730, 5524658, 74256371, 1905451993, 3123413897, 314453775,
    ])
    const long = new Rng(1, 2, 3, 4)
    for (let i = 0; i < 1_000_000; i++) long.uint32()
    expect([long.uint32(), long.uint32()]).toEqual([3175353485, 1926457977])
  })

  it("seed derivation: Rng.stream's state words equal the C derivation's", () => {
    expect(state(Rng.stream(1, "node/node-1/netfilter"))).toEqual([985854764, 2504345642, 2861315970, 416436058])
    expect(state(Rng.stream(0, ""))).toEqual([2391641645, 160655452, 2237094726, 3099636008])
    expect(state(Rng.stream(20261202, "workload/wget/arrivals"))).toEqual([
      3730735862, 4285195466, 2234641691, 1655558183,
    ])
    expect(state(Rng.stream(Number.MAX_SAFE_INTEGER, "a"))).toEqual([1425562027, 2124470206, 1044889389, 857964293])
    const rng = Rng.stream(20261202, "workload/wget/arrivals")
    expect(Array.from({ length: 4 }, () => rng.uint32())).toEqual([3843802478, 2092625514, 2860080831, 286755178])
  })

  it("seed derivation avalanches: one flipped seed bit changes about half of the 128 state bits", () => {
    // Full avalanche: each flip changes 64 bits on average (binomial, sd 5.7); over 53 bits x 8 seeds
    // the mean is within 64 +- 2 and no single flip leaves fewer than 32 bits changed.
    let total = 0
    let flips = 0
    for (const base of [0, 1, 2, 3, 1000, 20261202, 2 ** 40 + 7, 2 ** 52]) {
      const a = state(Rng.stream(base, "workload/w/arrivals"))
      for (let bit = 0; bit < 53; bit++) {
        const other = Math.floor(base / 2 ** bit) % 2 === 1 ? base - 2 ** bit : base + 2 ** bit
        const b = state(Rng.stream(other, "workload/w/arrivals"))
        const changed = a.reduce((n, w, i) => n + popcount(w ^ b[i]), 0)
        expect(changed, `seed ${base} bit ${bit}`).toBeGreaterThan(32)
        total += changed
        flips++
      }
    }
    expect(Math.abs(total / flips - 64)).toBeLessThan(2)
  })
})

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
