/**
 * `-m conntrack [!] --ctstate ...` and `-m state [!] --state ...` (net/netfilter/xt_conntrack.c,
 * xt_state.c; extensions/libxt_conntrack.c registers both).
 */
import type { Packet } from "../../wire/packet.ts"
import { CT_STATE_NAMES } from "../constants.ts"
import type { MatchContext, MatchExtension, NextArg } from "../xt.ts"
import { Match, RuleParseError } from "../xt.ts"

export class CtStateMatch extends Match {
  readonly sideEffect = false
  constructor(
    readonly mask: number,
    readonly invert: boolean,
  ) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    return (((ctx.packet as Packet).ctState & this.mask) !== 0) !== this.invert
  }
}

function parseCtStates(text: string): number {
  let mask = 0
  for (const name of text.split(",")) {
    const entry = CT_STATE_NAMES.find(([n]) => n === name.toUpperCase())
    if (entry === undefined) throw new RuleParseError(`bad ctstate "${name}"`)
    mask |= entry[1]
  }
  return mask
}

function extension(name: string, option: string): MatchExtension {
  return {
    name,
    options: [option],
    create: () => new CtStateMatch(0, false),
    parse: (_m: Match, opt: string, next: NextArg, invert: boolean): Match =>
      new CtStateMatch(parseCtStates(next(`--${opt}`)), invert),
  }
}

export const conntrackMatch = extension("conntrack", "ctstate")
export const stateMatch = extension("state", "state")
