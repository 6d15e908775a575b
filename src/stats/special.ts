/**
 * Special functions for the statistics: log-gamma, regularized incomplete gamma (chi-square
 * p-values) and incomplete beta (Student's t quantiles). Numerical Recipes (3rd ed., §6.1-6.4)
 * style: a series where it converges fast, a Lentz continued fraction elsewhere.
 *
 * Determinism: these use Math.log / Math.exp, whose last bits ECMAScript leaves to the engine
 * (STYLE.md rule 7). Results written to a results document are therefore rounded to 6
 * significant digits (see document.ts), far above that noise.
 */
import { assert } from "../sim/assert.ts"

const EPSILON = 1e-15
const FPMIN = 1e-300
const ITERATIONS_MAX = 10_000

// Lanczos approximation, g = 7, n = 9 (relative error < 1e-15 for x > 0).
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
]

/** ln Γ(x) for x > 0. */
export function lnGamma(x: number): number {
  assert(x > 0, `lnGamma(${x})`)
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x)
  const z = x - 1
  let sum = LANCZOS[0]
  for (let i = 1; i < 9; i++) sum += LANCZOS[i] / (z + i)
  const t = z + 7.5
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum)
}

/** Lower regularized incomplete gamma P(a, x) = γ(a, x) / Γ(a), a > 0, x >= 0. */
export function gammaP(a: number, x: number): number {
  assert(a > 0 && x >= 0, `gammaP(${a}, ${x})`)
  if (x === 0) return 0
  if (x === Number.POSITIVE_INFINITY) return 1
  return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x)
}

/** Upper regularized incomplete gamma Q(a, x) = 1 - P(a, x), computed without cancellation. */
export function gammaQ(a: number, x: number): number {
  assert(a > 0 && x >= 0, `gammaQ(${a}, ${x})`)
  if (x === 0) return 1
  if (x === Number.POSITIVE_INFINITY) return 0
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x)
}

/** P(a, x) by its series (NR gser). */
function gammaSeries(a: number, x: number): number {
  let ap = a
  let term = 1 / a
  let sum = term
  for (let n = 0; n < ITERATIONS_MAX; n++) {
    ap += 1
    term *= x / ap
    sum += term
    if (Math.abs(term) < Math.abs(sum) * EPSILON) break
  }
  return sum * Math.exp(-x + a * Math.log(x) - lnGamma(a))
}

/** Q(a, x) by its continued fraction, modified Lentz (NR gcf). */
function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a
  let c = 1 / FPMIN
  let d = 1 / b
  let h = d
  for (let i = 1; i < ITERATIONS_MAX; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < FPMIN) d = FPMIN
    c = b + an / c
    if (Math.abs(c) < FPMIN) c = FPMIN
    d = 1 / d
    const delta = d * c
    h *= delta
    if (Math.abs(delta - 1) < EPSILON) break
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h
}

/** Chi-square upper tail: P(X >= statistic) for X ~ χ²(degreesOfFreedom) = Q(df/2, x/2). */
export function chiSquareUpperTail(statistic: number, degreesOfFreedom: number): number {
  assert(degreesOfFreedom > 0 && statistic >= 0, `chiSquareUpperTail(${statistic}, ${degreesOfFreedom})`)
  return gammaQ(degreesOfFreedom / 2, statistic / 2)
}

/** Regularized incomplete beta I_x(a, b), 0 <= x <= 1 (NR betai with betacf). */
export function incompleteBeta(x: number, a: number, b: number): number {
  assert(x >= 0 && x <= 1 && a > 0 && b > 0, `incompleteBeta(${x}, ${a}, ${b})`)
  if (x === 0 || x === 1) return x
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x))
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const qab = a + b
  const qap = a + 1
  const qam = a - 1
  let c = 1
  let d = 1 - (qab * x) / qap
  if (Math.abs(d) < FPMIN) d = FPMIN
  d = 1 / d
  let h = d
  for (let m = 1; m < ITERATIONS_MAX; m++) {
    const m2 = 2 * m
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2))
    d = 1 + aa * d
    if (Math.abs(d) < FPMIN) d = FPMIN
    c = 1 + aa / c
    if (Math.abs(c) < FPMIN) c = FPMIN
    d = 1 / d
    h *= d * c
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2))
    d = 1 + aa * d
    if (Math.abs(d) < FPMIN) d = FPMIN
    c = 1 + aa / c
    if (Math.abs(c) < FPMIN) c = FPMIN
    d = 1 / d
    const delta = d * c
    h *= delta
    if (Math.abs(delta - 1) < EPSILON) break
  }
  return h
}

/** Student's t CDF, P(T <= t) for `degreesOfFreedom` > 0. */
export function studentTCdf(t: number, degreesOfFreedom: number): number {
  const x = degreesOfFreedom / (degreesOfFreedom + t * t)
  const tail = 0.5 * incompleteBeta(x, degreesOfFreedom / 2, 0.5)
  return t >= 0 ? 1 - tail : tail
}

/**
 * Student's t quantile: the t with P(T <= t) = p, for 0.5 <= p < 1. Solved by bisection on the
 * CDF (monotone; 200 halvings of [0, 1e7] reach double precision), so no approximation formula.
 */
export function studentTQuantile(p: number, degreesOfFreedom: number): number {
  assert(p >= 0.5 && p < 1 && degreesOfFreedom > 0, `studentTQuantile(${p}, ${degreesOfFreedom})`)
  let low = 0
  let high = 1e7
  for (let i = 0; i < 200 && high - low > 1e-12 * high; i++) {
    const middle = (low + high) / 2
    if (studentTCdf(middle, degreesOfFreedom) < p) low = middle
    else high = middle
  }
  return (low + high) / 2
}
