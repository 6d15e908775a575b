/**
 * `-m set [!] --match-set NAME FLAGS` (net/netfilter/xt_set.c set_match_v4, extensions/libxt_set.c):
 * FLAGS is a comma list of `src`/`dst`, one per set dimension (IPSET_DIM_*_SRC bits); a set that
 * does not exist refuses the rule ("Set NAME doesn't exist"). The lookup is the set's (ipset.ts),
 * constant cost. Counters and the --return-nomatch/--update-* options are not modelled.
 */
import type { Packet } from "../../wire/packet.ts"
import type { IpSet } from "../ipset.ts"
import type { MatchContext, MatchExtension, NextArg, RuleEnvironment } from "../xt.ts"
import { Match, RuleParseError } from "../xt.ts"

/** IPSET_DIM_MAX. */
const DIM_MAX = 6

export class SetMatch extends Match {
  readonly sideEffect = false
  set: IpSet | null = null
  invert = false
  dimensions = 0
  src0 = false
  src1 = false
  src2 = false
  matches(ctx: MatchContext): boolean {
    const hit = (this.set as IpSet).test(ctx.packet as Packet, this.dimensions, this.src0, this.src1, this.src2)
    return hit !== this.invert
  }
}

export const setMatch: MatchExtension = {
  name: "set",
  options: ["match-set"],
  create: () => new SetMatch(),
  parse(m: Match, option: string, next: NextArg, invert: boolean, env: RuleEnvironment): Match {
    const match = m as SetMatch
    if (match.set !== null) throw new RuleParseError("set: --match-set can be specified only once")
    const name = next(`--${option}`)
    const flags = next(`--${option} ${name}`).split(",")
    const set = env.ipSet(name)
    if (set === undefined) throw new RuleParseError(`Set ${name} doesn't exist.`)
    if (flags.length > DIM_MAX) throw new RuleParseError(`set: too many binding tokens specified`)
    const src: boolean[] = []
    for (const f of flags) {
      if (f !== "src" && f !== "dst")
        throw new RuleParseError(`set: you must specify (the comma separated list of) 'src' or 'dst'`)
      src.push(f === "src")
    }
    match.set = set
    match.invert = invert
    match.dimensions = flags.length
    match.src0 = src[0] ?? false
    match.src1 = src[1] ?? false
    match.src2 = src[2] ?? false
    return match
  },
  finish(m: Match): void {
    if ((m as SetMatch).set === null) throw new RuleParseError("set: you must specify --match-set")
  },
}
