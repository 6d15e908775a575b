/**
 * `-m physdev [!] --physdev-is-in` (net/netfilter/xt_physdev.c physdev_mt, extensions/libxt_physdev.c):
 * did the packet enter through a bridge port (br_netfilter recorded a physical in-device)? Only
 * --physdev-is-in is modelled (the userspace proxier's external-IP portal rule writes
 * `-m physdev ! --physdev-is-in`); the other options are refused.
 *
 * physdev_mt: a packet without bridge info (not bridged, or locally generated) matches only the
 * inverted test; a bridged one matches `--physdev-is-in` iff it has a physical in-device. Here a
 * packet entered through a bridge port exactly when its in interface is the bridge (the network
 * hands bridge-port packets to netfilter "on" the bridge, as br_netfilter does).
 */
import type { MatchContext, MatchExtension, NextArg } from "../xt.ts"
import { Match, RuleParseError } from "../xt.ts"

export class PhysdevMatch extends Match {
  readonly sideEffect = false
  isInInvert = false
  hasIsIn = false
  matches(ctx: MatchContext): boolean {
    if (!this.hasIsIn) return true
    const i = ctx.inIfIndex
    const bridged = i >= 0 && ctx.host.interfaceIsBridge !== undefined && ctx.host.interfaceIsBridge(i)
    return bridged !== this.isInInvert
  }
}

export const physdevMatch: MatchExtension = {
  name: "physdev",
  options: ["physdev-is-in"],
  create: () => new PhysdevMatch(),
  parse(m: Match, option: string, _next: NextArg, invert: boolean): Match {
    const match = m as PhysdevMatch
    if (option !== "physdev-is-in") throw new RuleParseError(`physdev: only --physdev-is-in is modelled`)
    match.hasIsIn = true
    match.isInInvert = invert
    return match
  },
}
