/**
 * `-j NOTRACK` and `-j CT --notrack` (net/netfilter/xt_CT.c: notrack_tg / xt_ct_target with
 * XT_CT_NOTRACK): the packet skips conntrack. Other CT options are not modelled.
 */
import { TargetKind } from "../constants.ts"
import type { NextArg, Target, TargetExtension } from "../xt.ts"

export const notrackTarget: TargetExtension = {
  name: "NOTRACK",
  options: [],
  init(target: Target): void {
    target.kind = TargetKind.NOTRACK
  },
}

export const ctTarget: TargetExtension = {
  name: "CT",
  options: ["notrack"],
  init(target: Target): void {
    target.kind = TargetKind.NOTRACK
    target.chainName = "CT"
  },
  parse(_target: Target, _option: string, _next: NextArg): void {},
}
