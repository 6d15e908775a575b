/**
 * Turning each side's evidence into comparable observations, the two-sample chi-square
 * (homogeneity) test used for random choices, and its power.
 */
import { chiSquareUpperTail } from "../../src/stats/special.ts"
import type { CtEntry, Outcome, Probe, ProbeResult } from "./lab.ts"

export type NodeVerdict = "accepted" | "dropped" | "rejected"

/** What one side observed of one probe (the same evidence on both sides, see `observation`). */
export interface Observation {
  readonly verdict: NodeVerdict
  readonly outcome: Outcome
  /** Destination after DNAT "ip:port" (accepted only, else ""). */
  readonly dnat: string
  /** Source after SNAT "ip:port" (accepted only, else ""). */
  readonly snat: string
  /** Routers that decremented the TTL on the way to the endpoint (reply only, else -1). */
  readonly hops: number
}

function ctKey(proto: string, src: string, sport: number): string {
  return `${proto}|${src}|${sport}`
}

export function indexConntrack(entries: readonly CtEntry[]): Map<string, CtEntry> {
  const map = new Map<string, CtEntry>()
  for (const e of entries) map.set(ctKey(e.proto, e.orig.src, e.orig.sport), e)
  return map
}

/**
 * One side's observation of a probe: a conntrack entry in the test node means the node accepted the
 * connection (its reply tuple gives the translation); without one, the client's result tells REJECT
 * (refused) from DROP (no answer). The kernel's evidence comes from the real client, endpoint and
 * `conntrack`, the simulator's from its sockets and its conntrack table, in the same shapes.
 */
export function observation(
  probe: Probe,
  result: ProbeResult,
  ct: ReadonlyMap<string, CtEntry>,
): Observation & { readonly problem: string } {
  const entry = ct.get(ctKey(probe.proto, probe.src, probe.sport))
  let problem = ""
  if (entry === undefined) {
    const verdict = result.outcome === "refused" ? "rejected" : "dropped"
    if (result.outcome === "reply") problem = "reply without a conntrack entry in the node"
    return { verdict, outcome: result.outcome, dnat: "", snat: "", hops: -1, problem }
  }
  const dnat = `${entry.reply.src}:${entry.reply.sport}`
  const snat = `${entry.reply.dst}:${entry.reply.dport}`
  if (result.outcome === "reply" && (result.ep !== dnat || result.peer !== snat)) {
    problem = `server saw ep=${result.ep} peer=${result.peer} but conntrack says ${dnat} / ${snat}`
  }
  const hops = result.outcome === "reply" ? (result.hops ?? -1) : -1
  if (result.outcome === "reply" && hops < 0) problem = "reply without a hop count"
  return { verdict: "accepted", outcome: result.outcome, dnat, snat, hops, problem }
}

/**
 * Observation key, with the SNAT address written "src" when it is the client's own (no SNAT) and
 * the SNAT port relative to the client's port: "=" when kept
 * (MASQUERADE keeps it when free), "*" when `portlessSnat` (MASQUERADE --random-fully picks it at
 * random on both sides), else the number.
 */
export function observationKey(o: Observation, probe: Probe, portlessSnat: boolean): string {
  let snat = o.snat
  const m = /^(.*):(\d+)$/.exec(o.snat)
  if (m !== null) {
    const port = Number(m[2])
    const address = m[1] === probe.src ? "src" : (m[1] ?? "")
    snat = `${address}:${port === probe.sport ? "=" : portlessSnat ? "*" : String(port)}`
  }
  return `${o.verdict} ${o.outcome} dnat=${o.dnat} snat=${snat}${o.hops >= 0 ? ` hops=${o.hops}` : ""}`
}

export interface Homogeneity {
  readonly statistic: number
  readonly degreesOfFreedom: number
  readonly p: number
  readonly categories: readonly string[]
  readonly a: readonly number[]
  readonly b: readonly number[]
}

/** Pearson's chi-square test that two samples of categories come from one distribution. */
export function chiSquareHomogeneity(sampleA: readonly string[], sampleB: readonly string[]): Homogeneity {
  const categories = [...new Set([...sampleA, ...sampleB])].sort()
  const count = (sample: readonly string[]): number[] => categories.map((c) => sample.filter((s) => s === c).length)
  const a = count(sampleA)
  const b = count(sampleB)
  const na = sampleA.length
  const nb = sampleB.length
  const n = na + nb
  let statistic = 0
  for (let i = 0; i < categories.length; i++) {
    const total = (a[i] ?? 0) + (b[i] ?? 0)
    const ea = (total * na) / n
    const eb = (total * nb) / n
    if (ea > 0) statistic += ((a[i] ?? 0) - ea) ** 2 / ea
    if (eb > 0) statistic += ((b[i] ?? 0) - eb) ** 2 / eb
  }
  const degreesOfFreedom = Math.max(0, categories.length - 1)
  const p = degreesOfFreedom === 0 ? 1 : chiSquareUpperTail(statistic, degreesOfFreedom)
  return { statistic, degreesOfFreedom, p, categories, a, b }
}

/** Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [
    -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1,
    2.506628277459239,
  ]
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1]
  const c = [
    -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ]
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416]
  const low = 0.02425
  const at = (xs: number[], i: number): number => xs[i] ?? 0
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p))
    return (
      (((((at(c, 0) * q + at(c, 1)) * q + at(c, 2)) * q + at(c, 3)) * q + at(c, 4)) * q + at(c, 5)) /
      ((((at(d, 0) * q + at(d, 1)) * q + at(d, 2)) * q + at(d, 3)) * q + 1)
    )
  }
  if (p > 1 - low) return -normalQuantile(1 - p)
  const q = p - 0.5
  const r = q * q
  return (
    ((((((at(a, 0) * r + at(a, 1)) * r + at(a, 2)) * r + at(a, 3)) * r + at(a, 4)) * r + at(a, 5)) * q) /
    (((((at(b, 0) * r + at(b, 1)) * r + at(b, 2)) * r + at(b, 3)) * r + at(b, 4)) * r + 1)
  )
}

/**
 * Smallest difference in a split probability (one endpoint's share, around 1/2 where it is hardest)
 * that the chi-square test between na kernel and nb simulator samples detects with probability
 * `power` at level `alpha`: for a two-way split the test is the two-proportion z-test, so
 * delta = (z(1 - alpha/2) + z(power)) * sqrt(p(1-p) (1/na + 1/nb)) with p = 1/2 (normal approximation).
 */
export function detectableDifference(na: number, nb: number, alpha: number, power: number): number {
  return (normalQuantile(1 - alpha / 2) + normalQuantile(power)) * Math.sqrt(0.25 * (1 / na + 1 / nb))
}
