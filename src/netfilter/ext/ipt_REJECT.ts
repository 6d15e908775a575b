/** `-j REJECT [--reject-with TYPE]` (net/ipv4/netfilter/ipt_REJECT.c, extensions/libipt_REJECT.c). */
import { RejectWith } from "../../net/hooks.ts"
import { TargetKind } from "../constants.ts"
import type { NextArg, Target, TargetExtension } from "../xt.ts"
import { RuleParseError } from "../xt.ts"

const REJECT_WITH: Record<string, RejectWith> = {
  "icmp-port-unreachable": RejectWith.ICMP_PORT_UNREACHABLE,
  "port-unreach": RejectWith.ICMP_PORT_UNREACHABLE,
  "icmp-host-unreachable": RejectWith.ICMP_HOST_UNREACHABLE,
  "host-unreach": RejectWith.ICMP_HOST_UNREACHABLE,
  "icmp-net-unreachable": RejectWith.ICMP_NET_UNREACHABLE,
  "net-unreach": RejectWith.ICMP_NET_UNREACHABLE,
  "icmp-admin-prohibited": RejectWith.ICMP_ADMIN_PROHIBITED,
  "admin-prohib": RejectWith.ICMP_ADMIN_PROHIBITED,
  "icmp-proto-unreachable": RejectWith.ICMP_PROTO_UNREACHABLE,
  "proto-unreach": RejectWith.ICMP_PROTO_UNREACHABLE,
  "tcp-reset": RejectWith.TCP_RESET,
  "tcp-rst": RejectWith.TCP_RESET,
}

export const rejectTarget: TargetExtension = {
  name: "REJECT",
  options: ["reject-with"],
  init(target: Target): void {
    target.kind = TargetKind.REJECT
  },
  parse(target: Target, option: string, next: NextArg): void {
    const how = REJECT_WITH[next(`--${option}`)]
    if (how === undefined) throw new RuleParseError("REJECT: unknown --reject-with")
    target.rejectWith = how
  },
}
