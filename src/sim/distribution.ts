/**
 * Cost distributions: fixed, exponential, lognormal and empirical (a quantile table), drawn from a
 * named seeded stream (sim/rng.ts) by inverse transform, so a draw is one `Rng.unit()` (two
 * uint32s) and a few floating-point operations, with nothing allocated. Everything a draw needs is
 * computed once in the constructor (lognormal mu and sigma, the quantile table as typed arrays).
 *
 * A fixed distribution consumes no randomness: a scenario that pins every cost to a constant draws
 * nothing and its results are those of the constant model, bit for bit.
 *
 * Determinism: exponential and lognormal draws use Math.log / Math.exp, which V8 implements with
 * fdlibm ports (identical results on every platform a given V8 runs on; the caveat rng.ts records
 * for exponentialNs applies here too).
 */
import { assert } from "./assert.ts"
import { EMPTY_F64 } from "./empty.ts"
import type { Rng } from "./rng.ts"

/** A distribution as written in a profile or scenario, in nanoseconds (fractions allowed). */
export type DistributionSpec =
  | { readonly kind: "fixed"; readonly valueNs: number }
  | { readonly kind: "exponential"; readonly meanNs: number }
  /** From its median and 99th percentile (the profile form), or from mu/sigma of ln(ns). */
  | { readonly kind: "lognormal"; readonly medianNs: number; readonly p99Ns: number }
  | { readonly kind: "lognormal"; readonly mu: number; readonly sigma: number }
  /**
   * Quantile table: probabilities in [0, 1], strictly increasing, first 0 and last 1, values
   * non-decreasing; linear interpolation between neighbouring quantiles.
   */
  | { readonly kind: "empirical"; readonly quantiles: readonly { readonly p: number; readonly ns: number }[] }

const KIND_FIXED = 0
const KIND_EXPONENTIAL = 1
const KIND_LOGNORMAL = 2
const KIND_EMPIRICAL = 3

/** Standard normal quantile at 0.99 (z such that Phi(z) = 0.99). */
export const Z_99 = 2.3263478740408408

/** Smallest u fed to an inverse CDF with a pole at 0 (2^-53: Rng.unit's resolution). */
const U_MIN = 1.1102230246251565e-16

/**
 * Why a spec is not a distribution, or null when it is one. The loader reports the message at the
 * field; constructing a Distribution from a bad spec is a programming error (assert).
 */
export function distributionProblem(spec: DistributionSpec): string | null {
  const finiteNonNegative = (x: number): boolean => Number.isFinite(x) && x >= 0
  switch (spec.kind) {
    case "fixed":
      return finiteNonNegative(spec.valueNs) ? null : "fixed: the value must be a non-negative duration"
    case "exponential":
      return finiteNonNegative(spec.meanNs) ? null : "exponential: mean must be a non-negative duration"
    case "lognormal":
      if ("medianNs" in spec) {
        if (!(Number.isFinite(spec.medianNs) && spec.medianNs > 0)) return "lognormal: median must be above 0"
        if (!(Number.isFinite(spec.p99Ns) && spec.p99Ns >= spec.medianNs))
          return "lognormal: p99 must be at least the median"
        return null
      }
      if (!Number.isFinite(spec.mu)) return "lognormal: mu must be a finite number (mean of ln ns)"
      if (!(Number.isFinite(spec.sigma) && spec.sigma >= 0)) return "lognormal: sigma must be a non-negative number"
      return null
    case "empirical": {
      const q = spec.quantiles
      if (q.length < 2) return "empirical: at least p0 and p100 are required"
      if (q[0].p !== 0) return "empirical: p0 is required"
      if (q[q.length - 1].p !== 1) return "empirical: p100 is required"
      for (let i = 0; i < q.length; i++) {
        if (!finiteNonNegative(q[i].ns))
          return `empirical: the value of p${formatP(q[i].p)} must be a non-negative duration`
        if (i > 0 && !(q[i].p > q[i - 1].p)) return "empirical: quantiles must be listed with increasing p"
        if (i > 0 && q[i].ns < q[i - 1].ns)
          return `empirical: p${formatP(q[i].p)} (${q[i].ns} ns) is below p${formatP(q[i - 1].p)} (${q[i - 1].ns} ns)`
      }
      return null
    }
  }
}

/** 0.999 -> "99.9", 0.5 -> "50". */
function formatP(p: number): string {
  return String(Math.round(p * 100000) / 1000)
}

/**
 * Inverse of the standard normal CDF (Acklam's rational approximation, relative error < 1.15e-9,
 * https://web.archive.org/web/20151030215612/http://home.online.no/~pjacklam/notes/invnorm/),
 * for u in (0, 1).
 */
export function normalQuantile(u: number): number {
  const pLow = 0.02425
  if (u < pLow) {
    const q = Math.sqrt(-2 * Math.log(u))
    return (
      (((((-7.784894002430293e-3 * q - 3.223964580411365e-1) * q - 2.400758277161838) * q - 2.549732539343734) * q +
        4.374664141464968) *
        q +
        2.938163982698783) /
      ((((7.784695709041462e-3 * q + 3.224671290700398e-1) * q + 2.445134137142996) * q + 3.754408661907416) * q + 1)
    )
  }
  if (u > 1 - pLow) {
    const q = Math.sqrt(-2 * Math.log(1 - u))
    return -(
      (((((-7.784894002430293e-3 * q - 3.223964580411365e-1) * q - 2.400758277161838) * q - 2.549732539343734) * q +
        4.374664141464968) *
        q +
        2.938163982698783) /
      ((((7.784695709041462e-3 * q + 3.224671290700398e-1) * q + 2.445134137142996) * q + 3.754408661907416) * q + 1)
    )
  }
  const q = u - 0.5
  const r = q * q
  return (
    ((((((-3.969683028665376e1 * r + 2.209460984245205e2) * r - 2.759285104469687e2) * r + 1.38357751867269e2) * r -
      3.066479806614716e1) *
      r +
      2.506628277459239) *
      q) /
    (((((-5.447609879822406e1 * r + 1.615858368580409e2) * r - 1.556989798598866e2) * r + 6.680131188771972e1) * r -
      1.328068155288572e1) *
      r +
      1)
  )
}

/** A compiled distribution: draws integer nanoseconds from a stream, allocation-free. */
export class Distribution {
  // Fields start with a value of their kind (the constructor sets them): see empty.ts for why.
  private readonly kind: number = KIND_FIXED
  /** fixed: value; exponential: mean; lognormal: mu. */
  private readonly a: number = 0
  /** lognormal: sigma. */
  private readonly b: number = 0
  /** empirical: probabilities and values of the quantile table. */
  private readonly ps: Float64Array = EMPTY_F64
  private readonly vs: Float64Array = EMPTY_F64

  constructor(readonly spec: DistributionSpec) {
    const problem = distributionProblem(spec)
    assert(problem === null, `bad distribution: ${problem}`)
    switch (spec.kind) {
      case "fixed":
        this.kind = KIND_FIXED
        this.a = spec.valueNs
        break
      case "exponential":
        this.kind = spec.meanNs === 0 ? KIND_FIXED : KIND_EXPONENTIAL
        this.a = spec.meanNs
        break
      case "lognormal":
        this.kind = KIND_LOGNORMAL
        if ("medianNs" in spec) {
          this.a = Math.log(spec.medianNs)
          this.b = (Math.log(spec.p99Ns) - this.a) / Z_99
        } else {
          this.a = spec.mu
          this.b = spec.sigma
        }
        if (this.b === 0) {
          this.kind = KIND_FIXED
          this.a = Math.exp(this.a)
        }
        break
      case "empirical":
        this.kind = KIND_EMPIRICAL
        this.ps = Float64Array.from(spec.quantiles, (q) => q.p)
        this.vs = Float64Array.from(spec.quantiles, (q) => q.ns)
        break
    }
  }

  static fixed(valueNs: number): Distribution {
    return new Distribution({ kind: "fixed", valueNs })
  }

  /** A constant: draws consume no randomness. */
  get isFixed(): boolean {
    return this.kind === KIND_FIXED
  }

  /** The constant of a fixed distribution (its median otherwise). */
  get fixedNs(): number {
    return this.kind === KIND_FIXED ? Math.round(this.a) : this.quantileNs(0.5)
  }

  /** One draw in nanoseconds, not rounded (for costs scaled by a count before rounding). */
  drawReal(rng: Rng): number {
    if (this.kind === KIND_FIXED) return this.a
    return this.at(rng.unit())
  }

  /** One draw, integer nanoseconds. */
  sample(rng: Rng): number {
    if (this.kind === KIND_FIXED) return Math.round(this.a)
    return Math.round(this.at(rng.unit()))
  }

  /** The quantile at probability p in [0, 1], integer ns (what `sample` returns for unit() = p). */
  quantileNs(p: number): number {
    assert(p >= 0 && p <= 1, `quantile ${p}`)
    if (this.kind === KIND_FIXED) return Math.round(this.a)
    return Math.round(this.at(p >= 1 ? 1 - U_MIN : p))
  }

  /** The mean in ns (exact for fixed, exponential and lognormal; of the piecewise-linear table). */
  meanNs(): number {
    switch (this.kind) {
      case KIND_FIXED:
      case KIND_EXPONENTIAL:
        return this.a
      case KIND_LOGNORMAL:
        return Math.exp(this.a + (this.b * this.b) / 2)
      default: {
        let sum = 0
        for (let i = 1; i < this.ps.length; i++)
          sum += ((this.vs[i] + this.vs[i - 1]) / 2) * (this.ps[i] - this.ps[i - 1])
        return sum
      }
    }
  }

  /** Inverse CDF at u in [0, 1). */
  private at(u: number): number {
    switch (this.kind) {
      case KIND_EXPONENTIAL:
        return -this.a * Math.log(1 - u)
      case KIND_LOGNORMAL:
        return Math.exp(this.a + this.b * normalQuantile(u < U_MIN ? U_MIN : u))
      case KIND_EMPIRICAL: {
        // Tables are short (a profile lists a handful of quantiles): a linear scan beats a search.
        const ps = this.ps
        const vs = this.vs
        let i = 1
        while (i < ps.length - 1 && u >= ps[i]) i++
        const p0 = ps[i - 1]
        return vs[i - 1] + ((vs[i] - vs[i - 1]) * (u - p0)) / (ps[i] - p0)
      }
      default:
        return this.a
    }
  }

  /** "lognormal(median 6us, p99 40us)" etc., for MODEL.md-style listings and error messages. */
  describe(): string {
    const s = this.spec
    switch (s.kind) {
      case "fixed":
        return `fixed ${s.valueNs} ns`
      case "exponential":
        return `exponential(mean ${s.meanNs} ns)`
      case "lognormal":
        return "medianNs" in s
          ? `lognormal(median ${s.medianNs} ns, p99 ${s.p99Ns} ns)`
          : `lognormal(mu ${s.mu}, sigma ${s.sigma})`
      case "empirical":
        return `empirical(${s.quantiles.map((q) => `p${formatP(q.p)} ${q.ns} ns`).join(", ")})`
    }
  }
}
