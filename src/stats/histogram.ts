/**
 * Latency histogram: integer log-linear buckets (HdrHistogram's layout, fixed precision).
 *
 * Buckets. Values are non-negative integers (nanoseconds), 0 to 2^53 - 1. Values below 256 have
 * a bucket each (exact). Above, every power-of-two range [2^e, 2^(e+1)) is split into 128 equal
 * buckets of width 2^(e-7). So a bucket's width is at most 1/128 of its lowest value: any value
 * reported for a bucket is within a relative error of 2^-7 (0.78 %) of every value it holds.
 * 1 ns .. 1 hour (3.6e12 ns) uses 5,000 buckets; the counts array grows only as far as needed.
 *
 * Percentiles. `valueAtQuantile(q)` returns the *highest equivalent value* of the bucket holding
 * the sample of rank ceil(q * count) (1-based, exact integer arithmetic), as HdrHistogram does,
 * clamped to the exact maximum. So it never under-reports: true <= reported <= true * (1 + 2^-7).
 *
 * Everything is integer arithmetic: counts and min/max are exact, and the sum is held in two
 * 32-bit-aligned limbs so that it stays exact past 2^53 (a million samples of an hour each); the
 * mean is the exact sum divided by the count, rounded half up to an integer nanosecond.
 */
import { AssertionError, assert } from "../sim/assert.ts"
import type { LatencyHistogram, LatencySummary } from "./results.ts"

/** Sub-bucket precision: 2^SUB_BUCKET_BITS buckets per power of two. */
export const SUB_BUCKET_BITS = 7
const SUB_BUCKET_COUNT = 1 << SUB_BUCKET_BITS // 128
const EXACT_LIMIT = SUB_BUCKET_COUNT * 2 // 256: values below get one bucket each
const TWO_POW_32 = 4294967296

/** Maximum relative error of a reported value: 2^-7. */
export const RELATIVE_ERROR_MAX = 1 / SUB_BUCKET_COUNT

/** floor(log2(value)) for a positive safe integer. */
function log2Floor(value: number): number {
  if (value < TWO_POW_32) return 31 - Math.clz32(value)
  return 63 - Math.clz32(Math.floor(value / TWO_POW_32))
}

/** Bucket index of a value (a non-negative safe integer). */
export function bucketIndex(value: number): number {
  if (value < EXACT_LIMIT) return value
  // Below 2^32 (4.3 s in ns: every latency but the longest) the top 8 bits are one shift away.
  if (value < TWO_POW_32) {
    const shift32 = 31 - Math.clz32(value) - SUB_BUCKET_BITS
    return shift32 * SUB_BUCKET_COUNT + (value >>> shift32)
  }
  const shift = log2Floor(value) - SUB_BUCKET_BITS
  // Division by a power of two is exact in binary floating point; floor gives the top 8 bits.
  return shift * SUB_BUCKET_COUNT + Math.floor(value / 2 ** shift)
}

/** Lowest value that falls in bucket `index`. */
export function bucketLowest(index: number): number {
  if (index < EXACT_LIMIT) return index
  const shift = Math.floor(index / SUB_BUCKET_COUNT) - 1
  const mantissa = index - shift * SUB_BUCKET_COUNT
  return mantissa * 2 ** shift
}

/** Highest value that falls in bucket `index` (HdrHistogram's highestEquivalentValue). */
export function bucketHighest(index: number): number {
  if (index < EXACT_LIMIT) return index
  const shift = Math.floor(index / SUB_BUCKET_COUNT) - 1
  const mantissa = index - shift * SUB_BUCKET_COUNT
  return (mantissa + 1) * 2 ** shift - 1
}

export class Histogram {
  private counts = new Float64Array(EXACT_LIMIT)
  /** Number of values recorded. */
  count = 0
  /** Smallest value recorded (0 when empty). */
  min = 0
  /** Largest value recorded (0 when empty). */
  max = 0
  // Exact sum = sumHigh * 2^32 + sumLow, with 0 <= sumLow < 2^32.
  private sumLow = 0
  private sumHigh = 0

  /** Records `valueNs` (a non-negative safe integer) `times` times. */
  record(valueNs: number, times = 1): void {
    if (!(Number.isSafeInteger(valueNs) && valueNs >= 0)) badValue(valueNs)
    if (!(Number.isSafeInteger(times) && times >= 0)) badValue(times)
    if (times === 0) return
    const index = bucketIndex(valueNs)
    if (index >= this.counts.length) this.grow(index)
    this.counts[index] += times
    if (this.count === 0 || valueNs < this.min) this.min = valueNs
    if (valueNs > this.max) this.max = valueNs
    this.count += times
    // A safe integer: ToUint32 is its low word, and the division by 2^32 is exact.
    this.addToSum(valueNs >>> 0, Math.floor(valueNs / TWO_POW_32), times)
  }

  /**
   * Records `times` values that all fall in one bucket, whose exact sum is `sum` and whose
   * smallest and largest are `low` and `high` (what `times` calls of `record` would leave: the
   * bucket's count, min, max and the exact sum are all a histogram keeps).
   */
  recordSameBucket(low: number, high: number, times: number, sum: bigint): void {
    if (!(Number.isSafeInteger(low) && low >= 0)) badValue(low)
    if (!(Number.isSafeInteger(high) && high >= low)) badValue(high)
    if (!(Number.isSafeInteger(times) && times >= 0)) badValue(times)
    if (times === 0) return
    const index = bucketIndex(low)
    assert(bucketIndex(high) === index, `values ${low} and ${high} are in different buckets`)
    if (index >= this.counts.length) this.grow(index)
    this.counts[index] += times
    if (this.count === 0 || low < this.min) this.min = low
    if (high > this.max) this.max = high
    this.count += times
    const total = this.sum() + sum
    this.sumLow = Number(total % 4294967296n)
    this.sumHigh = Number(total / 4294967296n)
  }

  /** Forgets every value (keeps the grown counts array). */
  clear(): void {
    if (this.count === 0) return
    this.counts.fill(0)
    this.count = 0
    this.min = 0
    this.max = 0
    this.sumLow = 0
    this.sumHigh = 0
  }

  /** Adds every value of `other` to this histogram. */
  merge(other: Histogram): void {
    if (other.count === 0) return
    if (other.counts.length > this.counts.length) this.grow(other.counts.length - 1)
    const counts = this.counts
    const otherCounts = other.counts
    for (let i = 0; i < otherCounts.length; i++) counts[i] += otherCounts[i]
    if (this.count === 0 || other.min < this.min) this.min = other.min
    if (other.max > this.max) this.max = other.max
    this.count += other.count
    const total = this.sum() + other.sum()
    this.sumLow = Number(total % 4294967296n)
    this.sumHigh = Number(total / 4294967296n)
  }

  /** Exact sum of the recorded values. */
  sum(): bigint {
    return BigInt(this.sumHigh) * 4294967296n + BigInt(this.sumLow)
  }

  /** Exact mean rounded half up to an integer (0 when empty). */
  mean(): number {
    if (this.count === 0) return 0
    const count = BigInt(this.count)
    return Number((2n * this.sum() + count) / (2n * count))
  }

  /**
   * Value at quantile `q` in [0, 1]: the highest equivalent value of the bucket holding the
   * sample of rank max(1, ceil(q * count)), clamped to the maximum. 0 when empty. `q` is taken to
   * 1e-9 resolution so that the rank is computed in exact integer arithmetic (0.999 * 1000 is
   * 999, not 999.0000000000001 rounded up to 1000).
   */
  valueAtQuantile(q: number): number {
    assert(q >= 0 && q <= 1, `quantile ${q} outside [0, 1]`)
    if (this.count === 0) return 0
    const partsPerBillion = BigInt(Math.round(q * 1e9))
    const rankBig = (BigInt(this.count) * partsPerBillion + 999_999_999n) / 1_000_000_000n
    const rank = Math.max(1, Number(rankBig))
    const counts = this.counts
    let seen = 0
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i]
      if (seen >= rank) return Math.min(bucketHighest(i), this.max)
    }
    return this.max
  }

  /**
   * The distribution in at most `binCount` bins between min and max for a terminal histogram:
   * the bucket-index range [bucketIndex(min), bucketIndex(max)] split into equal parts, so bins
   * are log-spaced (each bucket index is 1/128 of a power of two) and computed in integer
   * arithmetic (the same on every engine). Bin i holds the values in [edgesNs[i], edgesNs[i+1])
   * (the last bin up to max inclusive), each value placed by its bucket.
   */
  bins(binCount = 16): LatencyHistogram {
    if (this.count === 0) return { edgesNs: [], counts: [] }
    const first = bucketIndex(this.min)
    const last = bucketIndex(this.max)
    const span = last - first + 1
    const n = Math.max(1, Math.min(binCount, span))
    const edgesNs: number[] = []
    const counts: number[] = new Array<number>(n).fill(0)
    for (let i = 0; i < n; i++) edgesNs.push(Math.max(this.min, bucketLowest(first + Math.floor((i * span) / n))))
    edgesNs.push(this.max)
    for (let index = first; index <= last; index++) {
      const c = this.counts[index]
      if (c === 0) continue
      counts[Math.floor(((index - first) * n) / span)] += c
    }
    return { edgesNs, counts }
  }

  /**
   * The non-empty buckets in increasing order: each bucket's highest equivalent value (clamped to
   * the exact maximum, as `valueAtQuantile`) and its count. A CDF drawn from these points is the
   * one `valueAtQuantile` reads (the HTML report's latency CDFs).
   */
  buckets(): { valueNs: number; count: number }[] {
    const out: { valueNs: number; count: number }[] = []
    const counts = this.counts
    for (let i = 0; i < counts.length; i++)
      if (counts[i] > 0) out.push({ valueNs: Math.min(bucketHighest(i), this.max), count: counts[i] })
    return out
  }

  /** The results-document summary (all zeros when empty). */
  summary(): LatencySummary {
    return {
      count: this.count,
      min: this.min,
      mean: this.mean(),
      p50: this.valueAtQuantile(0.5),
      p90: this.valueAtQuantile(0.9),
      p99: this.valueAtQuantile(0.99),
      p999: this.valueAtQuantile(0.999),
      max: this.max,
    }
  }

  private addToSum(low: number, high: number, times: number): void {
    if (times === 1) {
      // Hot path: low < 2^32 and sumLow < 2^32, so the limb sum is exact; carry into sumHigh.
      let sumLow = this.sumLow + low
      let sumHigh = this.sumHigh + high
      if (sumLow >= TWO_POW_32) {
        sumLow -= TWO_POW_32
        sumHigh += 1
      }
      this.sumLow = sumLow
      this.sumHigh = sumHigh
      return
    }
    const total = this.sum() + (BigInt(high) * 4294967296n + BigInt(low)) * BigInt(times)
    this.sumLow = Number(total % 4294967296n)
    this.sumHigh = Number(total / 4294967296n)
  }

  private grow(index: number): void {
    let length = this.counts.length
    while (length <= index) length *= 2
    const counts = new Float64Array(length)
    counts.set(this.counts)
    this.counts = counts
  }
}

function badValue(value: number): never {
  throw new AssertionError(`histogram values must be non-negative safe integers, got ${value}`)
}
