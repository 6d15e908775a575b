/**
 * `-m statistic` (net/netfilter/xt_statistic.c, iptables extensions/libxt_statistic.c).
 * random: threshold = lround(0x80000000 * p) at parse time; per packet match when
 * (prandom_u32() & 0x7FFFFFFF) < threshold. nth: every is stored as n-1, the counter starts at
 * every - packet, and each packet sets count = (count == every) ? 0 : count + 1, matching on 0.
 */
import type { MatchContext, MatchExtension, NextArg } from "../xt.ts"
import { Match, RuleParseError, parseNumber } from "../xt.ts"

export const StatisticMode = { RANDOM: 0, NTH: 1 } as const

export class StatisticMatch extends Match {
  readonly sideEffect = true
  mode: number = StatisticMode.RANDOM
  invert = false
  threshold = 0
  every = 0
  packetOffset = 0
  count = 0
  matches(ctx: MatchContext): boolean {
    let hit: boolean
    if (this.mode === StatisticMode.RANDOM) {
      hit = (ctx.rng.uint32() & 0x7fffffff) < this.threshold
    } else {
      this.count = this.count === this.every ? 0 : this.count + 1
      hit = this.count === 0
    }
    return hit !== this.invert
  }
}

/** lround(0x80000000 * p) as libxt_statistic computes it from the printed decimal. */
export function statisticThreshold(probabilityText: string): number {
  const p = Number(probabilityText)
  if (!/^\s*[0-9]*\.?[0-9]+(e[-+]?[0-9]+)?\s*$/i.test(probabilityText) || !(p >= 0 && p <= 1)) {
    throw new RuleParseError(`--probability must be a number in [0, 1], got "${probabilityText}"`)
  }
  // lround rounds half away from zero; for p >= 0 that equals Math.floor(x + 0.5) on the exact double.
  return Math.round(2147483648 * p)
}

export const statisticMatch: MatchExtension = {
  name: "statistic",
  options: ["mode", "probability", "every", "packet"],
  create: () => new StatisticMatch(),
  parse(m: Match, option: string, next: NextArg, invert: boolean): Match {
    const match = m as StatisticMatch
    const flag = `--${option}`
    switch (option) {
      case "mode": {
        const mode = next(flag)
        if (mode === "random") match.mode = StatisticMode.RANDOM
        else if (mode === "nth") match.mode = StatisticMode.NTH
        else throw new RuleParseError(`statistic: bad mode "${mode}"`)
        return match
      }
      case "probability":
        match.threshold = statisticThreshold(next(flag))
        match.invert = invert
        return match
      case "every":
        match.every = parseNumber(next(flag), "--every") - 1
        if (match.every < 0) throw new RuleParseError("--every must be at least 1")
        match.invert = invert
        return match
      default:
        match.packetOffset = parseNumber(next(flag), "--packet")
        return match
    }
  },
  finish(m: Match): void {
    const match = m as StatisticMatch
    if (match.mode === StatisticMode.NTH) {
      if (match.packetOffset > match.every) throw new RuleParseError("the --packet p must be 0 <= p <= n-1")
      match.count = match.every - match.packetOffset
    }
  },
}
