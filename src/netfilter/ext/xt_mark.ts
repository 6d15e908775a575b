/**
 * net/netfilter/xt_mark.c, match and target in one file as the kernel has them:
 * `-m mark [!] --mark value[/mask]` (mark_mt: (mark & mask) == value, extensions/libxt_mark.c) and
 * `-j MARK --set-mark/--set-xmark/--or-mark/--xor-mark/--and-mark` (mark_tg: mark = (mark & ~mask) ^
 * value; extensions/libxt_MARK.c maps each option to value/mask).
 */
import type { Packet } from "../../wire/packet.ts"
import { TargetKind } from "../constants.ts"
import type { MatchContext, MatchExtension, NextArg, Target, TargetExtension } from "../xt.ts"
import { Match, RuleParseError, parseNumber, parseValueMask } from "../xt.ts"

export class MarkMatch extends Match {
  readonly sideEffect = false
  constructor(
    readonly value: number,
    readonly mask: number,
    readonly invert: boolean,
  ) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    return (((ctx.packet as Packet).mark & this.mask) >>> 0 === this.value) !== this.invert
  }
}

export const markMatch: MatchExtension = {
  name: "mark",
  options: ["mark"],
  create: () => new MarkMatch(0, 0xffffffff, false),
  parse(_m: Match, option: string, next: NextArg, invert: boolean): Match {
    const [value, mask] = parseValueMask(next(`--${option}`), "mark")
    const m = mask ?? 0xffffffff
    return new MarkMatch((value & m) >>> 0, m, invert)
  },
}

export const markTarget: TargetExtension = {
  name: "MARK",
  options: ["set-mark", "set-xmark", "or-mark", "xor-mark", "and-mark"],
  init(target: Target): void {
    target.kind = TargetKind.MARK
  },
  parse(target: Target, option: string, next: NextArg): void {
    const flag = `--${option}`
    switch (option) {
      case "set-xmark":
      case "set-mark": {
        const [value, mask] = parseValueMask(next(flag), "mark")
        const m = mask ?? 0xffffffff
        target.markValue = value
        target.markMask = option === "set-mark" ? (m | value) >>> 0 : m
        return
      }
      case "or-mark": {
        const bits = parseNumber(next(flag), "mark")
        target.markValue = bits
        target.markMask = bits
        return
      }
      case "xor-mark":
        target.markValue = parseNumber(next(flag), "mark")
        target.markMask = 0
        return
      case "and-mark":
        target.markValue = 0
        target.markMask = ~parseNumber(next(flag), "mark") >>> 0
        return
      default:
        throw new RuleParseError(`unknown option "${flag}"`)
    }
  },
}
