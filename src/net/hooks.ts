/**
 * The contract between the network stack (net/) and packet filtering (netfilter/).
 *
 * net/ owns namespaces, routing and sockets and calls a namespace's PacketFilter at the five
 * netfilter hooks; netfilter/ implements PacketFilter (tables, conntrack, NAT). The interface lives
 * here so that net/ does not import netfilter/ (layers import in one direction only).
 *
 * Packet path through one namespace (as in the kernel, ip_rcv / ip_local_out):
 *
 *   in --> [PREROUTING] --> route --> local? --yes--> [INPUT] --> socket
 *                                      |
 *                                      no --> [FORWARD] --> [POSTROUTING] --> out
 *
 *   socket --> route --> [OUTPUT] --> (re-route if the destination changed) --> [POSTROUTING] --> out
 *
 * PREROUTING and OUTPUT see a connection's first packet before any NAT, so DNAT there changes the
 * routing decision; POSTROUTING applies SNAT/MASQUERADE after routing picked the out interface.
 * Conntrack entries are confirmed when the packet leaves POSTROUTING or INPUT.
 */
import type { Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"

export const Hook = { PREROUTING: 0, INPUT: 1, FORWARD: 2, OUTPUT: 3, POSTROUTING: 4 } as const
export type Hook = (typeof Hook)[keyof typeof Hook]
export const HOOK_NAMES = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"] as const

export const Verdict = {
  ACCEPT: 0,
  DROP: 1,
  /** REJECT target: the stack answers the sender (ICMP error or TCP RST, see `rejectWith`). */
  REJECT: 2,
  /**
   * NF_STOLEN: a hook took the packet over (IPVS transmits it itself, ip_vs_nat_xmit): the network
   * neither continues nor frees it, and hands its handle to `PacketFilter.takeStolen`.
   */
  STOLEN: 3,
} as const
export type Verdict = (typeof Verdict)[keyof typeof Verdict]

export const RejectWith = {
  ICMP_PORT_UNREACHABLE: 0,
  ICMP_HOST_UNREACHABLE: 1,
  ICMP_NET_UNREACHABLE: 2,
  ICMP_ADMIN_PROHIBITED: 3,
  TCP_RESET: 4,
  ICMP_PROTO_UNREACHABLE: 5,
} as const
export type RejectWith = (typeof RejectWith)[keyof typeof RejectWith]

/** What a filter may ask of the namespace it runs in. */
export interface FilterHost {
  /** `-m addrtype --dst-type LOCAL`: is the address assigned to any interface of this namespace? */
  isLocalAddress(address: Ipv4): boolean
  /** Primary address of an interface, for MASQUERADE. */
  interfaceAddress(ifIndex: number): Ipv4
  /**
   * Optional: the interface's own primary address, 0 when it has none (no fallback to another
   * interface's address, as REDIRECT's in_dev->ifa_list lookup). Without it, interfaceAddress.
   */
  interfaceOwnAddress?(ifIndex: number): Ipv4
  /** Interface name for `-i`/`-o` matches (e.g. "eth0", "cni0", "veth1a2b"). */
  interfaceName(ifIndex: number): string
  /**
   * `-m physdev --physdev-is-in`: did the packet enter through a bridge port (br_netfilter keeps
   * its nf_bridge info)? Optional: a host without bridges leaves it out.
   */
  interfaceIsBridge?(ifIndex: number): boolean
}

/** Per-namespace packet filter. One call per hook traversal; no allocation per call. */
export interface PacketFilter {
  /**
   * Runs the tables registered at `hook` on `packet` (may rewrite addresses/ports/mark and set the
   * conntrack fields). `inIfIndex`/`outIfIndex` are -1 where the hook has none.
   */
  runHook(hook: Hook, packet: Packet, inIfIndex: number, outIfIndex: number, nowNs: number): Verdict
  /** Simulated CPU time the last runHook charged (rules traversed x per-rule cost + lookups). */
  readonly lastCostNs: number
  /** Drop reason of the last DROP verdict (a DropReason). */
  readonly lastDropReason: number
  /** How to answer the last REJECT verdict. */
  readonly lastRejectWith: RejectWith
  /**
   * Optional: net/ dropped `packet` in this namespace (no route, TTL, queue full, a later hook's
   * verdict...); the filter frees the packet's unconfirmed conntrack entry, if any.
   */
  discard?(packet: Packet): void
  /**
   * Required of a filter whose hooks can return STOLEN: the network calls it right after such a
   * verdict with the packet's handle; the filter then owns the packet (it sends it on through the
   * network's `resumeStolen`, or frees it with `dropStolen`). `readyNs`: when the hooks that ran
   * so far (their simulated CPU included) are done with it.
   */
  takeStolen?(handle: number, packet: Packet, readyNs: number): void
}
