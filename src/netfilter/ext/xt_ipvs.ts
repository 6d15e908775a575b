/**
 * `-m ipvs` (net/netfilter/xt_ipvs.c ipvs_mt, extensions/libxt_ipvs.c): matches packets IPVS has
 * handled (skb->ipvs_property) and the virtual service of their IPVS connection.
 *
 * Modelled options: `[!] --ipvs`, `[!] --vproto P`, `[!] --vaddr A[/M]`, `[!] --vport N` (what
 * kube-proxy's IPVS mode writes: `-m ipvs --vaddr IP --vproto tcp --vport N` in KUBE-IPVS-OUT-FILTER).
 * ipvs_mt: with only --ipvs it tests the property; otherwise a packet without it never matches,
 * --vproto compares the packet's protocol, and the connection is found with the protocol's
 * conn_out_get (the packet as seen from the real server's side); no connection: no match.
 * Not modelled: --vportctl, --vdir, --vmethod (refused when parsed).
 *
 * The namespace's IPVS registers itself for its rule environment (`bindIpvsMatchSource`); in a
 * namespace without IPVS no packet has the property, so the match is false (ipvs_mt's first test).
 */
import type { Packet } from "../../wire/packet.ts"
import { Protocol } from "../../wire/protocol.ts"
import type { MatchContext, MatchExtension, NextArg, RuleEnvironment } from "../xt.ts"
import { Match, RuleParseError, parseAddressMask, parsePort } from "../xt.ts"

/** What the match asks of the namespace's IPVS. */
export interface IpvsMatchSource {
  /** skb->ipvs_property: IPVS is transmitting this packet. */
  hasIpvsProperty(packet: Packet): boolean
  /** ip_vs_conn_out_get for the packet: the connection id, or -1. */
  connOut(packet: Packet): number
  connVaddr(id: number): number
  connVport(id: number): number
}

const sources = new WeakMap<object, IpvsMatchSource>()

/** Called by the namespace's IPVS when it registers its hooks. */
export function bindIpvsMatchSource(env: object, source: IpvsMatchSource): void {
  sources.set(env, source)
}

const BIT_IPVS = 1
const BIT_VPROTO = 2
const BIT_VADDR = 4
const BIT_VPORT = 8

export class IpvsMatch extends Match {
  readonly sideEffect = false
  bitmask = 0
  invert = 0
  vproto = 0
  vaddr = 0
  vmask = 0xffffffff
  vport = 0
  constructor(private readonly env: RuleEnvironment) {
    super()
  }
  matches(ctx: MatchContext): boolean {
    const packet = ctx.packet as Packet
    const source = sources.get(this.env)
    const property = source !== undefined && source.hasIpvsProperty(packet)
    if (this.bitmask === BIT_IPVS) return property !== ((this.invert & BIT_IPVS) !== 0)
    if (source === undefined || !property) return false
    if ((this.bitmask & BIT_VPROTO) !== 0 && (packet.protocol === this.vproto) === ((this.invert & BIT_VPROTO) !== 0))
      return false
    const cp = source.connOut(packet)
    if (cp < 0) return false
    if ((this.bitmask & BIT_VPORT) !== 0 && (source.connVport(cp) === this.vport) === ((this.invert & BIT_VPORT) !== 0))
      return false
    if (
      (this.bitmask & BIT_VADDR) !== 0 &&
      ((source.connVaddr(cp) & this.vmask) >>> 0 === this.vaddr) === ((this.invert & BIT_VADDR) !== 0)
    )
      return false
    return true
  }
}

function parseProto(text: string): number {
  const lower = text.toLowerCase()
  if (lower === "tcp") return Protocol.TCP
  if (lower === "udp") return Protocol.UDP
  if (lower === "sctp") return 132
  if (lower === "icmp") return Protocol.ICMP
  if (/^\d+$/.test(text) && Number(text) <= 255) return Number(text)
  throw new RuleParseError(`ipvs: unknown protocol "${text}"`)
}

export const ipvsMatch: MatchExtension = {
  name: "ipvs",
  options: ["ipvs", "vproto", "vaddr", "vport"],
  create: (env: RuleEnvironment) => new IpvsMatch(env),
  parse(m: Match, option: string, next: NextArg, invert: boolean): Match {
    const match = m as IpvsMatch
    const flag = `--${option}`
    let bit: number
    switch (option) {
      case "ipvs":
        bit = BIT_IPVS
        break
      case "vproto":
        bit = BIT_VPROTO
        match.vproto = parseProto(next(flag))
        break
      case "vaddr": {
        bit = BIT_VADDR
        const [address, mask] = parseAddressMask(next(flag))
        match.vaddr = address
        match.vmask = mask
        break
      }
      case "vport":
        bit = BIT_VPORT
        match.vport = parsePort(next(flag))
        break
      default:
        throw new RuleParseError(`ipvs: ${flag} is not modelled`)
    }
    if ((match.bitmask & bit) !== 0) throw new RuleParseError(`ipvs: ${flag} given twice`)
    match.bitmask |= bit
    if (invert) match.invert |= bit
    return match
  },
  finish(m: Match): void {
    // libxt_ipvs.c ipvs_mt_check: at least one option.
    if ((m as IpvsMatch).bitmask === 0) throw new RuleParseError("ipvs: at least one option is required")
  },
}
