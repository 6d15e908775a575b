/** `-m recent` (net/netfilter/xt_recent.c, extensions/libxt_recent.c); the list itself is a RecentTable (recent.ts). */
import { parseIpv4 } from "../../wire/ipv4.ts"
import type { Packet } from "../../wire/packet.ts"
import { RecentCommand } from "../constants.ts"
import type { RecentTable } from "../recent.ts"
import type { MatchContext, MatchExtension, NextArg, RuleEnvironment } from "../xt.ts"
import { Match, RuleParseError, parseNumber } from "../xt.ts"

export class RecentMatch extends Match {
  readonly sideEffect = true
  command = 0
  invert = false
  secondsNs = 0
  hitCount = 0
  reap = false
  useDestination = false
  mask = 0xffffffff
  constructor(readonly table: RecentTable) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    const p = ctx.packet as Packet
    const address = ((this.useDestination ? p.dstAddr : p.srcAddr) & this.mask) >>> 0
    return this.table.evaluate(this, address, ctx.nowNs)
  }
}

export const recentMatch: MatchExtension = {
  name: "recent",
  options: [
    "name",
    "set",
    "rcheck",
    "update",
    "remove",
    "seconds",
    "reap",
    "hitcount",
    "rsource",
    "rdest",
    "mask",
    "rttl",
  ],
  create: (env: RuleEnvironment) => new RecentMatch(env.recentTable("DEFAULT")),
  parse(m: Match, option: string, next: NextArg, invert: boolean, env: RuleEnvironment): Match {
    const match = m as RecentMatch
    const flag = `--${option}`
    switch (option) {
      case "name": {
        const fresh = new RecentMatch(env.recentTable(next(flag)))
        fresh.command = match.command
        fresh.invert = match.invert
        fresh.secondsNs = match.secondsNs
        fresh.hitCount = match.hitCount
        fresh.reap = match.reap
        fresh.useDestination = match.useDestination
        fresh.mask = match.mask
        return fresh
      }
      case "set":
      case "rcheck":
      case "update":
      case "remove":
        if (match.command !== 0) throw new RuleParseError("recent: only one of --set, --rcheck, --update, --remove")
        match.command =
          option === "set"
            ? RecentCommand.SET
            : option === "rcheck"
              ? RecentCommand.CHECK
              : option === "update"
                ? RecentCommand.UPDATE
                : RecentCommand.REMOVE
        match.invert = invert
        return match
      case "seconds":
        match.secondsNs = parseNumber(next(flag), "--seconds") * 1_000_000_000
        return match
      case "hitcount":
        match.hitCount = parseNumber(next(flag), "--hitcount")
        return match
      case "reap":
        match.reap = true
        return match
      case "rsource":
        match.useDestination = false
        return match
      case "rdest":
        match.useDestination = true
        return match
      case "mask": {
        const mask = parseIpv4(next(flag))
        if (mask === undefined) throw new RuleParseError("recent: bad --mask")
        match.mask = mask
        return match
      }
      default:
        throw new RuleParseError(`recent: --${option} is not modelled`)
    }
  },
  finish(m: Match): void {
    const match = m as RecentMatch
    if (match.command === 0)
      throw new RuleParseError("recent: one of --set, --rcheck, --update or --remove is required")
    if (match.reap && match.secondsNs === 0) throw new RuleParseError("recent: --reap requires --seconds")
    if (match.hitCount > match.table.packetListTotal)
      throw new RuleParseError(`recent: --hitcount must be <= ${match.table.packetListTotal} (ip_pkt_list_tot)`)
  },
}
