/**
 * IPVS and ICMP errors about its connections (net/netfilter/ipvs/ip_vs_core.c ip_vs_in_icmp,
 * ip_vs_out_icmp, handle_response_icmp, ip_vs_nat_icmp; ip_vs_xmit.c ip_vs_icmp_xmit). Kept apart
 * from hooks.ts, which calls in here for protocol ICMP only (inIcmp, outIcmp), so the TCP/UDP path stays as it is.
 *
 * An ICMP error carries the header of the packet it is about. For a NAT (masquerading) virtual
 * service two directions exist, as the kernel handles them:
 *
 * - Outgoing (ip_vs_out -> ip_vs_out_icmp, hooks LOCAL_IN/FORWARD ip_vs_reply4 and LOCAL_OUT
 *   ip_vs_local_reply4): an error from the real server side (the real server's port unreachable,
 *   a router's frag-needed or time exceeded) about a request IPVS sent to the real server. The inner
 *   header is client -> real server; its inverse is looked up as a reply (conn_out_get with the
 *   "inverse" flag). Found: ip_vs_nat_icmp(inout = 1) writes the virtual address as outer source
 *   and inner destination, and the virtual port as inner destination port, so the client sees an
 *   error about the packet it sent to the VIP.
 * - Incoming (ip_vs_in -> ip_vs_in_icmp, hooks LOCAL_IN ip_vs_remote_request4, LOCAL_OUT
 *   ip_vs_local_request4, FORWARD ip_vs_forward_icmp at priority 99): an error from the client side
 *   about a reply (inner VIP -> client). Its inverse is a request (conn_in_get, inverse). Found:
 *   ip_vs_icmp_xmit mangles it with ip_vs_nat_icmp(inout = 0) (outer destination and inner source
 *   become the real server, the inner source port the real server's port) and sends it on as
 *   ip_vs_nat_send_or_cont does (NF_STOLEN and LOCAL_OUT, or NF_ACCEPT to a local real server).
 *
 * Only ICMP_DEST_UNREACH, ICMP_SOURCE_QUENCH and ICMP_TIME_EXCEEDED are checked; any other ICMP
 * type is not related (`*related = 0`) and continues, which for ICMP means NF_ACCEPT (IPVS has no
 * protocol handler for ICMP itself). An inner protocol other than TCP/UDP is accepted untouched
 * (SCTP is not modelled). Neither direction refreshes the connection's timer or changes its state
 * (__ip_vs_conn_put); both count the packet in the connection's statistics (ip_vs_in_stats /
 * ip_vs_out_stats). The conntrack side needs nothing here: the error is RELATED to the connection's
 * (confirmed) conntrack entry, which ip_vs_update_conntrack never alters, and conntrack's own ICMP
 * translation (nat.ts icmpReplyTranslation) handles MASQUERADE's part.
 *
 * Not modelled: `schedule_icmp` (sysctl, default 0: an ICMP error without a connection is never
 * scheduled), errors about IPIP/GUE/GRE tunnels, checksum verification (the simulator's packets
 * have valid checksums), IP fragments of the ICMP error.
 */
import { Hook as H, Verdict } from "../../net/hooks.ts"
import { DropReason } from "../../wire/drop-reason.ts"
import type { Packet } from "../../wire/packet.ts"
import { IcmpType, Protocol } from "../../wire/protocol.ts"
import type { NfHookState } from "../hook-entries.ts"
import type { NetfilterStack } from "../stack.ts"
import type { Ipvs } from "./ipvs.ts"

/** ICMP_SOURCE_QUENCH (include/uapi/linux/icmp.h); not in wire/protocol.ts's IcmpType. */
const ICMP_SOURCE_QUENCH = 4

/** The part of hooks.ts's IpvsTracer the ICMP handling reports to (declared here: no import cycle). */
export interface IpvsIcmpTracer {
  xmit(packet: Packet, cp: number, created: boolean, local: boolean): void
  reply(packet: Packet, cp: number): void
}

/** What the ICMP handling needs from the namespace (a subset of hooks.ts's IpvsXmitHost). */
export interface IpvsIcmpHost {
  isLocalAddress(address: number): boolean
}

/** Counters of the ICMP errors IPVS translated (results, tests). */
export class IpvsIcmpCounters {
  /** ip_vs_out_icmp: errors from the real server side rewritten to the virtual service. */
  fromRealServer = 0
  /** ip_vs_in_icmp: errors from the client side sent on to the real server. */
  fromClient = 0
  /** ip_vs_icmp_xmit's tx_error: an error to forward that cannot be sent on (freed). */
  dropped = 0
}

/** Is this ICMP type one IPVS relates to a connection (ip_vs_in_icmp / ip_vs_out_icmp's first test)? */
export function isIpvsRelatedIcmp(type: number): boolean {
  return type === IcmpType.DEST_UNREACHABLE || type === ICMP_SOURCE_QUENCH || type === IcmpType.TIME_EXCEEDED
}

const isPorted = (protocol: number): boolean => protocol === Protocol.TCP || protocol === Protocol.UDP

/** The ICMP part of one namespace's IPVS hooks. */
export class IpvsIcmp {
  readonly counters = new IpvsIcmpCounters()

  constructor(
    private readonly ipvs: Ipvs,
    private readonly stack: NetfilterStack,
    private readonly host: IpvsIcmpHost,
    private readonly connLookupCostNs: number,
    /** The hooks' `trace` observer (read per packet: it is set and cleared while the hooks live). */
    private readonly traced: { readonly tracer: IpvsIcmpTracer | null },
  ) {}

  /**
   * ip_vs_out_icmp + handle_response_icmp: an ICMP error about a packet IPVS sent to a real
   * server. Returns the verdict (NF_ACCEPT whether or not it belonged to a connection).
   */
  outIcmp(packet: Packet, state: NfHookState): Verdict {
    if (!isIpvsRelatedIcmp(packet.icmpType) || !isPorted(packet.innerProtocol)) return Verdict.ACCEPT
    state.extraNs += this.connLookupCostNs
    const ipvs = this.ipvs
    ipvs.advance(state.nowNs)
    // "The embedded headers contain source and dest in reverse order": the inner packet went
    // client -> real server, so the connection is the one whose reply would be its inverse.
    const cp = ipvs.lookupOut(
      packet.innerProtocol,
      packet.innerDstAddr,
      packet.innerDstPort,
      packet.innerSrcAddr,
      packet.innerSrcPort,
    )
    if (cp < 0) return Verdict.ACCEPT
    const tracer = this.traced.tracer
    if (tracer !== null) tracer.reply(packet, cp)
    // ip_vs_nat_icmp(skb, pp, cp, 1)
    const vaddr = ipvs.connVaddr(cp)
    packet.srcAddr = vaddr
    packet.innerDstAddr = vaddr
    packet.innerDstPort = ipvs.connVport(cp)
    ipvs.countIcmp(cp, false, packet.totalBytes)
    // skb->ipvs_property = 1; ip_vs_notrack, or ip_vs_update_conntrack(skb, cp, 0), which leaves a
    // RELATED packet's confirmed entry alone.
    if (!ipvs.connUsesConntrack(cp)) this.notrack(packet)
    this.counters.fromRealServer++
    return Verdict.ACCEPT
  }

  /**
   * ip_vs_in_icmp + ip_vs_icmp_xmit (NAT): an ICMP error about a reply of a connection, sent on to
   * its real server. Returns ACCEPT (not related, or a local real server), STOLEN (the caller sends
   * it on through LOCAL_OUT) or DROP.
   */
  inIcmp(packet: Packet, state: NfHookState): Verdict {
    if (!isIpvsRelatedIcmp(packet.icmpType) || !isPorted(packet.innerProtocol)) return Verdict.ACCEPT
    state.extraNs += this.connLookupCostNs
    const ipvs = this.ipvs
    ipvs.advance(state.nowNs)
    // The inner packet went VIP -> client: its inverse is the client's request to the VIP.
    const cp = ipvs.findConnIn(
      packet.innerProtocol,
      packet.innerDstAddr,
      packet.innerDstPort,
      packet.innerSrcAddr,
      packet.innerSrcPort,
    )
    if (cp < 0) return Verdict.ACCEPT
    ipvs.countIcmp(cp, true, packet.totalBytes)
    const daddr = ipvs.connDaddr(cp)
    const local = this.host.isLocalAddress(daddr)
    if (local) {
      // "LOCALNODE from FORWARD hook is not supported": rt_mode is IP_VS_RT_MODE_NON_LOCAL there,
      // __ip_vs_get_out_rt fails and tx_error frees the packet.
      if (state.hook === H.FORWARD) return this.drop(DropReason.NETFILTER_DROP)
    } else {
      // __ip_vs_get_out_rt -> decrement_ttl, as for any packet IPVS routes on.
      if (packet.ttl <= 1) return this.drop(DropReason.TTL_EXPIRED)
      packet.ttl--
    }
    const tracer = this.traced.tracer
    if (tracer !== null) tracer.xmit(packet, cp, false, local)
    // ip_vs_nat_icmp(skb, pp, cp, 0)
    packet.dstAddr = daddr
    packet.innerSrcAddr = daddr
    packet.innerSrcPort = ipvs.connDport(cp)
    // ip_vs_nat_send_or_cont: ip_vs_notrack, or ip_vs_update_conntrack(skb, cp, 1) (a no-op for
    // the RELATED packet's confirmed entry).
    if (!ipvs.connUsesConntrack(cp)) this.notrack(packet)
    this.counters.fromClient++
    return local ? Verdict.ACCEPT : Verdict.STOLEN
  }

  private drop(reason: number): Verdict {
    this.counters.dropped++
    this.stack.lastDropReason = reason
    return Verdict.DROP
  }

  /** ip_vs_notrack: the packet continues untracked. */
  private notrack(packet: Packet): void {
    this.stack.discard(packet)
    packet.untracked = true
  }
}
