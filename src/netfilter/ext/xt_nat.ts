/**
 * `-j DNAT --to-destination` / `-j SNAT --to-source` (net/netfilter/xt_nat.c, extensions/libxt_DNAT.c,
 * libxt_SNAT.c): the range is parsed here; the NAT itself is nat.ts (nf_nat_setup_info).
 */
import { parseIpv4 } from "../../wire/ipv4.ts"
import { TargetKind } from "../constants.ts"
import { NatFlag } from "../nat.ts"
import type { NextArg, Target, TargetExtension } from "../xt.ts"
import { RuleParseError, parsePort } from "../xt.ts"

/** `ip[-ip][:port[-port]]`. */
export function parseNatRange(text: string, target: Target): void {
  const colon = text.indexOf(":")
  const addrText = colon < 0 ? text : text.slice(0, colon)
  if (addrText !== "") {
    const dash = addrText.indexOf("-")
    const lo = parseIpv4(dash < 0 ? addrText : addrText.slice(0, dash))
    const hi = dash < 0 ? lo : parseIpv4(addrText.slice(dash + 1))
    if (lo === undefined || hi === undefined || hi < lo) throw new RuleParseError(`bad NAT address "${addrText}"`)
    target.natAddrMin = lo
    target.natAddrMax = hi
    target.natHasAddr = true
  }
  if (colon >= 0) parseNatPorts(text.slice(colon + 1), target)
}

/** `port[-port]` (also MASQUERADE --to-ports). */
export function parseNatPorts(text: string, target: Target): void {
  const dash = text.indexOf("-")
  const lo = parsePort(dash < 0 ? text : text.slice(0, dash))
  const hi = dash < 0 ? lo : parsePort(text.slice(dash + 1))
  if (hi < lo) throw new RuleParseError(`bad NAT port range "${text}"`)
  target.natPortMin = lo
  target.natPortMax = hi
  target.natFlags |= NatFlag.PROTO_SPECIFIED
}

/** --random, --random-fully, --persistent (accepted, not modelled: one address per range here). */
export function parseNatFlag(target: Target, option: string): boolean {
  if (option === "random") target.natFlags |= NatFlag.PROTO_RANDOM
  else if (option === "random-fully") target.natFlags |= NatFlag.PROTO_RANDOM_FULLY
  else if (option !== "persistent") return false
  return true
}

function extension(name: string, kind: TargetKind, rangeOption: string, options: readonly string[]): TargetExtension {
  return {
    name,
    options: [rangeOption, ...options],
    init(target: Target): void {
      target.kind = kind
    },
    parse(target: Target, option: string, next: NextArg): void {
      if (option === rangeOption) parseNatRange(next(`--${option}`), target)
      else if (!parseNatFlag(target, option)) throw new RuleParseError(`unknown option "--${option}"`)
    },
  }
}

export const dnatTarget = extension("DNAT", TargetKind.DNAT, "to-destination", ["random", "persistent"])
export const snatTarget = extension("SNAT", TargetKind.SNAT, "to-source", ["random", "random-fully", "persistent"])
