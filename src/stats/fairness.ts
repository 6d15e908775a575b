/**
 * Load-distribution fairness over endpoints (peers.md §6.5): Jain's index, max/mean, coefficient
 * of variation and a chi-square goodness-of-fit test against the shares the proxy mode should
 * give (equal by default; weighted for e.g. topology-aware routing).
 *
 * Definitions, with x_i = count_i / share_i over the endpoints whose expected share is positive
 * (for equal shares these are the plain counts, since the indices are scale-free):
 *   Jain        J = (Σ x_i)² / (n Σ x_i²)            1 = perfectly fair, 1/n = one endpoint has all
 *   max/mean    max x_i / mean x_i                   peak-to-average
 *   CV          population standard deviation / mean
 *   chi-square  Σ (O_i - E_i)² / E_i, E_i = total * share_i, df = n - 1, p = Q(df/2, χ²/2)
 * Degenerate cases (documented, never NaN, so documents stay valid JSON):
 *   - no endpoint, one endpoint with positive share, or no requests at all: J = 1, max/mean = 1,
 *     CV = 0, p = 1 (nothing to be unfair about);
 *   - an endpoint with expected share 0 is left out of J, max/mean, CV and df; if it received
 *     requests anyway the fit is impossible: p = 0.
 * Floats are rounded to 6 significant digits (document.ts) so documents are byte-stable.
 */
import { assert } from "../sim/assert.ts"
import { roundSignificant, sortedRecord } from "./document.ts"
import type { DistributionSummary } from "./results.ts"
import { chiSquareUpperTail } from "./special.ts"

export interface FairnessFigures {
  /** Endpoints with a positive expected share. */
  readonly endpoints: number
  readonly total: number
  readonly jain: number
  readonly maxOverMean: number
  readonly cv: number
  readonly chiSquare: number
  readonly degreesOfFreedom: number
  readonly chiSquareP: number
}

/**
 * Fairness figures, unrounded. `expectedShares` (any non-negative weights, normalized here) must
 * name every endpoint in `counts` if given; endpoints it names that are missing from `counts`
 * count 0 (an endpoint that got nothing is the least fair outcome, not a missing one).
 */
export function fairnessFigures(
  counts: Readonly<Record<string, number>>,
  expectedShares?: Readonly<Record<string, number>>,
): FairnessFigures {
  const names = endpointNames(counts, expectedShares)
  let shareTotal = 0
  for (const name of names) {
    const count = counts[name] ?? 0
    assert(Number.isSafeInteger(count) && count >= 0, `count for ${name} must be a non-negative integer, got ${count}`)
    const share = expectedShares === undefined ? 1 : (expectedShares[name] ?? -1)
    assert(share >= 0 && Number.isFinite(share), `expected share for ${name} must be a finite non-negative number`)
    shareTotal += share
  }
  let total = 0
  let impossible = false
  const normalized: number[] = []
  const observed: number[] = []
  const shares: number[] = []
  for (const name of names) {
    const count = counts[name] ?? 0
    total += count
    const share =
      shareTotal > 0 ? (expectedShares === undefined ? 1 : (expectedShares[name] as number)) / shareTotal : 0
    if (share === 0) {
      if (count > 0) impossible = true
      continue
    }
    normalized.push(count / share)
    observed.push(count)
    shares.push(share)
  }
  const n = normalized.length
  const degreesOfFreedom = Math.max(0, n - 1)
  if (total === 0 || n <= 1) {
    return {
      endpoints: n,
      total,
      jain: 1,
      maxOverMean: 1,
      cv: 0,
      chiSquare: impossible ? Number.POSITIVE_INFINITY : 0,
      degreesOfFreedom,
      chiSquareP: impossible ? 0 : 1,
    }
  }
  let sum = 0
  let sumSquares = 0
  let max = 0
  for (const x of normalized) {
    sum += x
    sumSquares += x * x
    if (x > max) max = x
  }
  const mean = sum / n
  const variance = Math.max(0, sumSquares / n - mean * mean)
  let chiSquare = 0
  for (let i = 0; i < n; i++) {
    const expected = total * shares[i]
    const difference = observed[i] - expected
    chiSquare += (difference * difference) / expected
  }
  const chiSquareP = impossible ? 0 : chiSquareUpperTail(chiSquare, degreesOfFreedom)
  return {
    endpoints: n,
    total,
    jain: mean === 0 ? 1 : (sum * sum) / (n * sumSquares),
    maxOverMean: mean === 0 ? 1 : max / mean,
    cv: mean === 0 ? 0 : Math.sqrt(variance) / mean,
    chiSquare: impossible ? Number.POSITIVE_INFINITY : chiSquare,
    degreesOfFreedom,
    chiSquareP,
  }
}

/** The results-document DistributionSummary: counts by endpoint (sorted keys), rounded figures. */
export function distributionSummary(
  counts: Readonly<Record<string, number>>,
  expectedShares?: Readonly<Record<string, number>>,
): DistributionSummary {
  const figures = fairnessFigures(counts, expectedShares)
  const byEndpoint: Record<string, number> = {}
  for (const name of endpointNames(counts, expectedShares)) byEndpoint[name] = counts[name] ?? 0
  return {
    byEndpoint: sortedRecord(byEndpoint),
    jain: roundSignificant(figures.jain),
    maxOverMean: roundSignificant(figures.maxOverMean),
    cv: roundSignificant(figures.cv),
    chiSquareP: roundSignificant(figures.chiSquareP),
  }
}

function endpointNames(
  counts: Readonly<Record<string, number>>,
  expectedShares: Readonly<Record<string, number>> | undefined,
): string[] {
  const names = new Set(Object.keys(counts))
  if (expectedShares !== undefined) for (const name of Object.keys(expectedShares)) names.add(name)
  return [...names].sort()
}
