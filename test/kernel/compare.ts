/**
 * Turning kernel evidence into observations comparable with the simulator's, and the two-sample
 * chi-square (homogeneity) test used for random choices.
 */
import { chiSquareUpperTail } from "../../src/stats/special.ts"
import type { CtEntry, Probe, ProbeResult } from "./lab.ts"
import type { Observation } from "./sim-node.ts"

function ctKey(proto: string, src: string, sport: number): string {
  return `${proto}|${src}|${sport}`
}

export function indexConntrack(entries: readonly CtEntry[]): Map<string, CtEntry> {
  const map = new Map<string, CtEntry>()
  for (const e of entries) map.set(ctKey(e.proto, e.orig.src, e.orig.sport), e)
  return map
}

/**
 * The kernel's observation of a probe: a conntrack entry in the node namespace means the node
 * accepted the connection (its reply tuple gives the translation); without one, the client's
 * result tells REJECT (refused) from DROP (no answer).
 */
export function kernelObservation(probe: Probe, result: ProbeResult, ct: ReadonlyMap<string, CtEntry>): Observation & { readonly problem: string } {
  const entry = ct.get(ctKey(probe.proto, probe.src, probe.sport))
  let problem = ""
  if (entry === undefined) {
    const verdict = result.outcome === "refused" ? "rejected" : "dropped"
    if (result.outcome === "reply") problem = "reply without a conntrack entry in the node"
    return { verdict, outcome: result.outcome, dnat: "", snat: "", problem }
  }
  const dnat = `${entry.reply.src}:${entry.reply.sport}`
  const snat = `${entry.reply.dst}:${entry.reply.dport}`
  if (result.outcome === "reply" && (result.ep !== dnat || result.peer !== snat)) {
    problem = `server saw ep=${result.ep} peer=${result.peer} but conntrack says ${dnat} / ${snat}`
  }
  return { verdict: "accepted", outcome: result.outcome, dnat, snat, problem }
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
  return `${o.verdict} ${o.outcome} dnat=${o.dnat} snat=${snat}`
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
