/**
 * `-m physdev` (net/netfilter/xt_physdev.c physdev_mt, extensions/libxt_physdev.c): the bridge
 * port a bridged packet entered or leaves by, as br_netfilter records it (nf_bridge info).
 *
 * Modelled: `[!] --physdev-is-in` and `[!] --physdev-is-bridged`, the options kube-proxy writes
 * (IPVS mode's externalIP rules: `-m physdev ! --physdev-is-in`). A packet carries bridge info when
 * it entered through a port of a bridge (the host reports its input interface is a bridge). Without
 * bridge info, physdev_mt matches only when every option used is inverted ("Return MATCH if the
 * invert flags of the used options are on"). With it, --physdev-is-in is true (the physical in
 * device is the port) and --physdev-is-bridged is true only for frames the bridge forwards, which
 * this model does not tell from routed ones: it is taken as false at INPUT/OUTPUT and true at FORWARD.
 * Not modelled: --physdev-in / --physdev-out NAME and --physdev-is-out (refused when parsed).
 */
import type { MatchContext, MatchExtension, NextArg } from "../xt.ts"
import { Match, RuleParseError } from "../xt.ts"
import { Hook } from "../../net/hooks.ts"

export class PhysdevMatch extends Match {
  readonly sideEffect = false
  /** Option bits used (XT_PHYSDEV_OP_ISIN 2, XT_PHYSDEV_OP_BRIDGED 4) and their inversions. */
  bitmask = 0
  invert = 0
  matches(ctx: MatchContext): boolean {
    const host = ctx.host
    const bridged = ctx.inIfIndex >= 0 && host.interfaceIsBridge !== undefined && host.interfaceIsBridge(ctx.inIfIndex)
    if (!bridged) {
      if ((this.bitmask & OP_BRIDGED) !== 0 && (this.invert & OP_BRIDGED) === 0) return false
      if ((this.bitmask & OP_ISIN) !== 0 && (this.invert & OP_ISIN) === 0) return false
      return true
    }
    if ((this.bitmask & OP_BRIDGED) !== 0) {
      const isBridged = ctx.hook === Hook.FORWARD
      if (isBridged === ((this.invert & OP_BRIDGED) !== 0)) return false
    }
    if ((this.bitmask & OP_ISIN) !== 0 && (this.invert & OP_ISIN) !== 0) return false
    return true
  }
}

const OP_ISIN = 2
const OP_BRIDGED = 4

export const physdevMatch: MatchExtension = {
  name: "physdev",
  options: ["physdev-is-in", "physdev-is-bridged", "physdev-in", "physdev-out", "physdev-is-out"],
  create: () => new PhysdevMatch(),
  parse(m: Match, option: string, _next: NextArg, invert: boolean): Match {
    const match = m as PhysdevMatch
    const bit = option === "physdev-is-in" ? OP_ISIN : option === "physdev-is-bridged" ? OP_BRIDGED : 0
    if (bit === 0) throw new RuleParseError(`physdev: --${option} is not modelled`)
    if ((match.bitmask & bit) !== 0) throw new RuleParseError(`physdev: --${option} given twice`)
    match.bitmask |= bit
    if (invert) match.invert |= bit
    return match
  },
  finish(m: Match): void {
    if ((m as PhysdevMatch).bitmask === 0) throw new RuleParseError("physdev: at least one option is required")
  },
}
