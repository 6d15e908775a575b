/**
 * Seeded random streams with an integer API.
 *
 * Each stream is derived from (scenario seed, stable name), e.g. "node/node-1/netfilter" or
 * "workload/wget/arrivals", never from creation order: adding a component does not reshuffle the
 * randomness of the others (the ns-3 stream-assignment caveat, avoided from day one).
 *
 * Generator: xoshiro128** (Blackman & Vigna), 128-bit state. Each state word is murmur3's fmix32
 * finalizer over (seed, FNV-1a hash of the name, word index); see Rng.stream. Its first outputs are
 * pinned by a test because every golden result depends on them.
 */
import { AssertionError, assert } from "./assert.ts"

export class Rng {
  // The state words start as numbers (the constructor seeds them): see empty.ts for why.
  private s0 = 0
  private s1 = 0
  private s2 = 0
  private s3 = 0

  constructor(seed0: number, seed1: number, seed2: number, seed3: number) {
    this.s0 = seed0 | 0
    this.s1 = seed1 | 0
    this.s2 = seed2 | 0
    this.s3 = seed3 | 0
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1
  }

  /**
   * Derives the stream named `name` from the scenario seed. Every state word is a full-avalanche
   * hash (murmur3's fmix32) of (seed, name, word index), so streams of neighbouring seeds or names
   * share no arithmetic structure (replications with seeds s, s+1, ... must be independent).
   */
  static stream(seed: number, name: string): Rng {
    assert(Number.isSafeInteger(seed) && seed >= 0, `seed must be a non-negative integer, got ${seed}`)
    const seedLow = seed % 4294967296
    const seedHigh = (seed - seedLow) / 4294967296
    const key = fmix32(fmix32(seedLow ^ 0x5bd1e995) ^ fmix32((seedHigh + 0x27d4eb2f) | 0) ^ hashName(name, 0x811c9dc5))
    const nameMix = hashName(name, 0x01000193)
    return new Rng(
      fmix32(key ^ 0x85ebca6b),
      fmix32((key + 0x9e3779b9) ^ nameMix),
      fmix32(key ^ 0xc2b2ae35 ^ fmix32(nameMix)),
      fmix32((key + 0x3c6ef372) ^ 0x27d4eb2f),
    )
  }

  /** Next 32 random bits as an unsigned integer in [0, 2^32). */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9)
    const t = this.s1 << 9
    this.s2 ^= this.s0
    this.s3 ^= this.s1
    this.s1 ^= this.s2
    this.s0 ^= this.s3
    this.s2 ^= t
    this.s3 = rotl(this.s3, 11)
    return result >>> 0
  }

  /** Uniform integer in [0, n), without modulo bias (Lemire's method with rejection). */
  intBelow(n: number): number {
    // A plain if rather than assert(cond, `template`): the message would be built on every draw.
    if (!(Number.isInteger(n) && n > 0 && n <= 4294967296)) throw new AssertionError(`intBelow(${n})`)
    if (n === 4294967296) return this.uint32()
    const threshold = (4294967296 - n) % n
    for (;;) {
      const x = this.uint32()
      if (x >= threshold) return x % n
    }
  }

  /** True with probability numerator/denominator (integers), no floating point. */
  chance(numerator: number, denominator: number): boolean {
    return this.intBelow(denominator) < numerator
  }

  /** Uniform double in [0, 1) with 53 random bits. For samplers outside the packet path. */
  unit(): number {
    const high = this.uint32() >>> 5
    const low = this.uint32() >>> 6
    return (high * 67108864 + low) / 9007199254740992
  }

  /**
   * Exponential variate with the given mean, rounded to integer nanoseconds.
   * Uses Math.log, which V8 implements with a port of fdlibm's ieee754 log (identical results on
   * every platform a given V8 runs on); MODEL.md records this determinism caveat.
   */
  exponentialNs(meanNs: number): number {
    const u = this.unit()
    return Math.round(-meanNs * Math.log(1 - u))
  }

  /** Copies the state, for tests. */
  snapshot(): readonly [number, number, number, number] {
    return [this.s0, this.s1, this.s2, this.s3]
  }
}

/** murmur3 32-bit finalizer: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h | 0
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}

/** FNV-1a over the UTF-16 code units of `name`. */
function hashName(name: string, basis: number): number {
  let h = basis | 0
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h
}
