/** `-m icmp [!] --icmp-type type[/code]` (icmp_match in net/ipv4/netfilter/ip_tables.c, extensions/libipt_icmp.c). */
import { Protocol } from "../../wire/protocol.ts"
import type { Packet } from "../../wire/packet.ts"
import type { MatchContext, MatchExtension, NextArg } from "../xt.ts"
import { Match, parseNumber } from "../xt.ts"

export class IcmpMatch extends Match {
  readonly sideEffect = false
  constructor(
    readonly type: number,
    readonly code: number,
    readonly invert: boolean,
  ) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    const p = ctx.packet as Packet
    if (p.protocol !== Protocol.ICMP) return false
    const hit = p.icmpType === this.type && (this.code < 0 || p.icmpCode === this.code)
    return hit !== this.invert
  }
}

const NAMED: Record<string, number> = {
  "echo-request": 8,
  "echo-reply": 0,
  "destination-unreachable": 3,
  "time-exceeded": 11,
  any: -1,
}

export const icmpMatch: MatchExtension = {
  name: "icmp",
  options: ["icmp-type"],
  create: () => new IcmpMatch(-1, -1, false),
  parse(_m: Match, option: string, next: NextArg, invert: boolean): Match {
    const text = next(`--${option}`)
    const slash = text.indexOf("/")
    const typeText = slash < 0 ? text : text.slice(0, slash)
    const type = NAMED[typeText] ?? parseNumber(typeText, "icmp type", 255)
    const code = slash < 0 ? -1 : parseNumber(text.slice(slash + 1), "icmp code", 255)
    return new IcmpMatch(type, code, invert)
  },
}
