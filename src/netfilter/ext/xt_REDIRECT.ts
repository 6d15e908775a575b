/**
 * `-j REDIRECT [--to-ports port[-port]] [--random]` (net/netfilter/xt_REDIRECT.c,
 * net/netfilter/nf_nat_redirect.c, extensions/libxt_REDIRECT.c): a DNAT whose address is chosen by
 * the kernel, valid in the nat table's PREROUTING and OUTPUT chains.
 *
 * nf_nat_redirect_ipv4: for a locally generated packet (hook LOCAL_OUT) the new destination is
 * 127.0.0.1; otherwise it is the primary (first) address of the interface the packet came in on
 * (`in_dev->ifa_list->ifa_local`), and the packet is DROPPED when that interface has no IPv4
 * address. The ports come from --to-ports (NF_NAT_RANGE_PROTO_SPECIFIED), else the destination port
 * is kept; the rest is an ordinary DNAT (nf_nat_setup_info, NF_NAT_MANIP_DST).
 */
import type { FilterHost } from "../../net/hooks.ts"
import { Hook } from "../../net/hooks.ts"
import type { Ipv4 } from "../../wire/ipv4.ts"
import { TargetKind } from "../constants.ts"
import type { NextArg, Target, TargetExtension } from "../xt.ts"
import { RuleParseError } from "../xt.ts"
import { parseNatFlag, parseNatPorts } from "./xt_nat.ts"

/** htonl(0x7F000001): where nf_nat_redirect_ipv4 sends locally generated packets. */
export const REDIRECT_LOCAL_ADDRESS: Ipv4 = 0x7f000001

export const redirectTarget: TargetExtension = {
  name: "REDIRECT",
  options: ["to-ports", "random"],
  init(target: Target): void {
    target.kind = TargetKind.REDIRECT
  },
  parse(target: Target, option: string, next: NextArg): void {
    if (option === "to-ports") parseNatPorts(next(`--${option}`), target)
    else if (option !== "random" || !parseNatFlag(target, option))
      throw new RuleParseError(`unknown option "--${option}"`)
  },
}

/**
 * The address REDIRECT maps a new connection to (nf_nat_redirect_ipv4), or 0 when the packet must
 * be dropped (an incoming interface without an IPv4 address).
 */
export function redirectAddress(host: FilterHost, hook: number, inIfIndex: number): Ipv4 {
  if (hook === Hook.OUTPUT) return REDIRECT_LOCAL_ADDRESS
  if (inIfIndex < 0) return 0
  return host.interfaceOwnAddress !== undefined ? host.interfaceOwnAddress(inIfIndex) : host.interfaceAddress(inIfIndex)
}
