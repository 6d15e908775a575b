/** `-m multiport --dports/--sports/--ports a,b:c` (net/netfilter/xt_multiport.c, revision 1 semantics). */
import { Protocol } from "../../wire/protocol.ts"
import type { Packet } from "../../wire/packet.ts"
import type { MatchContext, MatchExtension, NextArg } from "../xt.ts"
import { Match, RuleParseError, parsePortRange } from "../xt.ts"

export class MultiportMatch extends Match {
  readonly sideEffect = false
  /** 0 = --sports, 1 = --dports, 2 = --ports (either). */
  flags = 1
  invert = false
  readonly min: number[] = []
  readonly max: number[] = []
  matches(ctx: MatchContext): boolean {
    const p = ctx.packet as Packet
    if (p.protocol !== Protocol.TCP && p.protocol !== Protocol.UDP) return false
    for (let i = 0; i < this.min.length; i++) {
      const lo = this.min[i]
      const hi = this.max[i]
      if (this.flags !== 1 && p.srcPort >= lo && p.srcPort <= hi) return !this.invert
      if (this.flags !== 0 && p.dstPort >= lo && p.dstPort <= hi) return !this.invert
    }
    return this.invert
  }
}

export const multiportMatch: MatchExtension = {
  name: "multiport",
  options: ["dports", "sports", "ports", "destination-ports", "source-ports"],
  create: () => new MultiportMatch(),
  parse(m: Match, option: string, next: NextArg, invert: boolean): Match {
    const match = m as MultiportMatch
    match.flags = option.startsWith("s") ? 0 : option.startsWith("d") ? 1 : 2
    match.invert = invert
    const list = next(`--${option}`).split(",")
    // XT_MULTI_PORTS (xt_multiport.h).
    if (list.length > 15) throw new RuleParseError("multiport: too many ports specified (max 15)")
    for (const item of list) {
      const [lo, hi] = parsePortRange(item)
      match.min.push(lo)
      match.max.push(hi)
    }
    return match
  },
}
