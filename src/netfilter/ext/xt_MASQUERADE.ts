/** `-j MASQUERADE [--to-ports] [--random[-fully]]` (net/netfilter/xt_MASQUERADE.c, extensions/libxt_MASQUERADE.c). */
import { TargetKind } from "../constants.ts"
import type { NextArg, Target, TargetExtension } from "../xt.ts"
import { RuleParseError } from "../xt.ts"
import { parseNatFlag, parseNatPorts } from "./xt_nat.ts"

export const masqueradeTarget: TargetExtension = {
  name: "MASQUERADE",
  options: ["to-ports", "random", "random-fully"],
  init(target: Target): void {
    target.kind = TargetKind.MASQUERADE
  },
  parse(target: Target, option: string, next: NextArg): void {
    if (option === "to-ports") parseNatPorts(next(`--${option}`), target)
    else if (!parseNatFlag(target, option)) throw new RuleParseError(`unknown option "--${option}"`)
  },
}
