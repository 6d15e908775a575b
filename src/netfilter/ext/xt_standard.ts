/** The standard verdict targets ACCEPT, DROP, RETURN (xt_standard_target, extensions/libxt_standard.c). */
import { TargetKind } from "../constants.ts"
import type { Target, TargetExtension } from "../xt.ts"

function verdict(name: string, kind: TargetKind): TargetExtension {
  return {
    name,
    options: [],
    init(target: Target): void {
      target.kind = kind
    },
  }
}

export const acceptTarget = verdict("ACCEPT", TargetKind.ACCEPT)
export const dropTarget = verdict("DROP", TargetKind.DROP)
export const returnTarget = verdict("RETURN", TargetKind.RETURN)
