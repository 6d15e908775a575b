/** `-j LOG [--log-prefix P] [--log-level L]` (net/netfilter/xt_LOG.c): counted, then the walk continues. */
import { TargetKind } from "../constants.ts"
import type { NextArg, Target, TargetExtension } from "../xt.ts"

export const logTarget: TargetExtension = {
  name: "LOG",
  options: ["log-prefix", "log-level"],
  init(target: Target): void {
    target.kind = TargetKind.LOG
  },
  parse(_target: Target, option: string, next: NextArg): void {
    next(`--${option}`)
  },
}
