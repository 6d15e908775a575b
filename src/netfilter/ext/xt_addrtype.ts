/** `-m addrtype [!] --src-type LOCAL [!] --dst-type LOCAL` (net/netfilter/xt_addrtype.c; only LOCAL is modelled). */
import type { Packet } from "../../wire/packet.ts"
import type { MatchContext, MatchExtension, NextArg } from "../xt.ts"
import { Match, RuleParseError } from "../xt.ts"

export class AddrtypeMatch extends Match {
  readonly sideEffect = false
  checkSrc = false
  srcInvert = false
  checkDst = false
  dstInvert = false
  matches(ctx: MatchContext): boolean {
    const p = ctx.packet as Packet
    if (this.checkSrc && ctx.host.isLocalAddress(p.srcAddr) === this.srcInvert) return false
    if (this.checkDst && ctx.host.isLocalAddress(p.dstAddr) === this.dstInvert) return false
    return true
  }
}

export const addrtypeMatch: MatchExtension = {
  name: "addrtype",
  options: ["src-type", "dst-type"],
  create: () => new AddrtypeMatch(),
  parse(m: Match, option: string, next: NextArg, invert: boolean): Match {
    const match = m as AddrtypeMatch
    const type = next(`--${option}`)
    if (type !== "LOCAL") throw new RuleParseError(`addrtype: only LOCAL is modelled, got "${type}"`)
    if (option === "src-type") {
      match.checkSrc = true
      match.srcInvert = invert
    } else {
      match.checkDst = true
      match.dstInvert = invert
    }
    return match
  },
}
