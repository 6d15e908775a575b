/** `-m tcp` / `-m udp` (net/netfilter/xt_tcpudp.c, extensions/libxt_tcp.c, libxt_udp.c). */
import { Protocol } from "../../wire/protocol.ts"
import type { Packet } from "../../wire/packet.ts"
import type { MatchContext, MatchExtension, NextArg, RuleHeader } from "../xt.ts"
import { Match, RuleParseError, parsePortRange } from "../xt.ts"

/** Port ranges, inclusive, each invertible. */
export class PortMatch extends Match {
  readonly sideEffect = false
  sportMin = 0
  sportMax = 65535
  sportInvert = false
  dportMin = 0
  dportMax = 65535
  dportInvert = false
  constructor(readonly protocol: number) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    const p = ctx.packet as Packet
    if (p.protocol !== this.protocol) return false
    if ((p.srcPort >= this.sportMin && p.srcPort <= this.sportMax) === this.sportInvert) return false
    return (p.dstPort >= this.dportMin && p.dstPort <= this.dportMax) !== this.dportInvert
  }
}

function extension(name: "tcp" | "udp", protocol: number): MatchExtension {
  return {
    name,
    options: ["dport", "sport", "destination-port", "source-port"],
    create: () => new PortMatch(protocol),
    parse(m: Match, option: string, next: NextArg, invert: boolean): Match {
      const match = m as PortMatch
      const [lo, hi] = parsePortRange(next(`--${option}`))
      if (option === "dport" || option === "destination-port") {
        match.dportMin = lo
        match.dportMax = hi
        match.dportInvert = invert
      } else {
        match.sportMin = lo
        match.sportMax = hi
        match.sportInvert = invert
      }
      return match
    },
    finish(m: Match, rule: RuleHeader): void {
      if (rule.protocol !== (m as PortMatch).protocol || rule.protocolInvert)
        throw new RuleParseError(`${name} match requires -p ${name}`)
    },
  }
}

export const tcpMatch = extension("tcp", Protocol.TCP)
export const udpMatch = extension("udp", Protocol.UDP)
