/** `-m nfacct --nfacct-name X`: counts and always matches (net/netfilter/xt_nfacct.c). */
import type { Packet } from "../../wire/packet.ts"
import type { MatchContext, MatchExtension, NextArg, NfacctCounter, RuleEnvironment } from "../xt.ts"
import { Match, RuleParseError } from "../xt.ts"

export class NfacctMatch extends Match {
  readonly sideEffect = true
  constructor(readonly counter: NfacctCounter) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    this.counter.packets++
    this.counter.bytes += (ctx.packet as Packet).totalBytes
    return true
  }
}

export const nfacctMatch: MatchExtension = {
  name: "nfacct",
  options: ["nfacct-name"],
  create: (env: RuleEnvironment) => new NfacctMatch(env.nfacctCounter("")),
  parse: (_m: Match, option: string, next: NextArg, _invert: boolean, env: RuleEnvironment): Match =>
    new NfacctMatch(env.nfacctCounter(next(`--${option}`))),
  finish(m: Match): void {
    if ((m as NfacctMatch).counter.name === "") throw new RuleParseError("nfacct: --nfacct-name is required")
  },
}
