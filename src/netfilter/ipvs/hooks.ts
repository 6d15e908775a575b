/**
 * IPVS in a namespace's netfilter hook host: the ops of ip_vs_ops4 (net/netfilter/ipvs/ip_vs_core.c)
 * over the kernel model in ipvs.ts, and the NAT transmitter (ip_vs_xmit.c ip_vs_nat_xmit).
 *
 *   LOCAL_IN  NF_IP_PRI_NAT_SRC - 2  ip_vs_reply4          -> ip_vs_out (replies to a local client)
 *   LOCAL_IN  NF_IP_PRI_NAT_SRC - 1  ip_vs_remote_request4 -> ip_vs_in  (a remote client's request)
 *   LOCAL_OUT NF_IP_PRI_NAT_DST + 1  ip_vs_local_reply4    -> ip_vs_out (a local real server's reply)
 *   LOCAL_OUT NF_IP_PRI_NAT_DST + 2  ip_vs_local_request4  -> ip_vs_in  (a local client's request)
 *   FORWARD   100                    ip_vs_reply4          -> ip_vs_out (replies routed through)
 *
 * A request that ip_vs_in schedules (or that belongs to a connection) is DNATed to the connection's
 * real server and transmitted by IPVS itself: the hook returns NF_STOLEN and the packet is sent on
 * as a locally generated one (ip_vs_nat_send_or_cont: NF_HOOK(LOCAL_OUT) then dst_output, so the
 * OUTPUT and POSTROUTING hooks, kube-proxy's KUBE-POSTROUTING masquerade included, see it with its
 * new destination). A real server on this host itself is reached by returning NF_ACCEPT with the
 * rewritten destination (ip_vs_nat_send_or_cont with `local`).
 *
 * With `net.ipv4.vs.conntrack=1` (kube-proxy sets it) a connection has IP_VS_CONN_F_NFCT and the
 * transmitter keeps the packet's conntrack entry, altering its reply tuple to the real server
 * (ip_vs_nfct.c ip_vs_update_conntrack, only while the entry is unconfirmed): replies then match the
 * entry, and MASQUERADE's SNAT is set up on the altered tuple. Without it the packet leaves untracked
 * (ip_vs_notrack). ip_vs_nfct_expect_related serves IPVS application helpers (FTP) only: not modelled.
 *
 * ICMP errors about IPVS connections (ip_vs_in_icmp / ip_vs_out_icmp / ip_vs_forward_icmp) are
 * translated by icmp.ts: the request ops hand ICMP to its `inIcmp`, the reply ops to its `outIcmp`, and
 * FORWARD has ip_vs_forward_icmp at priority 99.
 *
 * Not modelled: SCTP, fwmark services, the other forwarding methods (DR, TUN), `nat_icmp_send`,
 * the per-CPU stats estimator (rates).
 */
import type { Hook } from "../../net/hooks.ts"
import { Hook as H, RejectWith, Verdict } from "../../net/hooks.ts"
import { DropReason } from "../../wire/drop-reason.ts"
import { Protocol } from "../../wire/protocol.ts"
import type { Packet } from "../../wire/packet.ts"
import type { NfHookHandler, NfHookOp, NfHookState } from "../hook-entries.ts"
import { IpvsPriority } from "../hook-entries.ts"
import type { NetfilterStack } from "../stack.ts"
import type { IpvsMatchSource } from "../ext/xt_ipvs.ts"
import { bindIpvsMatchSource } from "../ext/xt_ipvs.ts"
import type { Ipvs } from "./ipvs.ts"
import { IpvsVerdict } from "./ipvs.ts"
import { IpvsIcmp } from "./icmp.ts"

/** What the transmitter needs from the network (the node's namespace). */
export interface IpvsXmitHost {
  /** Send a stolen packet on from this namespace as a locally generated one, at `readyNs`. */
  resumeStolen(handle: number, readyNs: number): void
  /** Free a stolen packet (counted as dropped for `reason`). */
  dropStolen(handle: number, reason: number): void
  /** Is the address one of this namespace's (the real server runs on this host)? */
  isLocalAddress(address: number): boolean
}

/** Simulated CPU of the IPVS hooks, charged to the packet in simulated time. */
export interface IpvsCostOptions {
  /**
   * One connection-table lookup (ip_vs_conn_in_get / ip_vs_conn_out_get: a hash of the tuple and a
   * bucket walk, as nf_conntrack's lookup). Default 100 ns, the same as the conntrack lookup.
   */
  readonly connLookupCostNs?: number
  /**
   * Scheduling a new connection: the service lookup, the scheduler's pick and ip_vs_conn_new
   * (allocation, hashing, timer). Default 400 ns, the same as creating a conntrack entry.
   */
  readonly newConnCostNs?: number
}

export const DEFAULT_IPVS_CONN_LOOKUP_COST_NS = 100
export const DEFAULT_IPVS_NEW_CONN_COST_NS = 400

/**
 * Observer for the `trace` command: what IPVS did to a packet. `cp` is the IPVS connection; the
 * packet still has its addresses from before the rewrite. One null check per packet when unset.
 */
export interface IpvsTracer {
  /** ip_vs_in scheduled a new connection (`created`) or found one, and transmits to its real server. */
  xmit(packet: Packet, cp: number, created: boolean, local: boolean): void
  /** ip_vs_out gives a real server's reply the virtual service's address back. */
  reply(packet: Packet, cp: number): void
}

/** Counters of what the hooks did (results, tests). */
export class IpvsHookCounters {
  /** Packets ip_vs_in transmitted to a real server (NF_STOLEN or local NF_ACCEPT). */
  transmitted = 0
  /** Replies ip_vs_out rewrote back to the virtual server's address. */
  replies = 0
  /** ip_vs_leave: no available real server, ICMP port unreachable sent. */
  unreachable = 0
  /** Dropped: connection to a deleted real server without expire_nodest_conn, or an old conntrack. */
  dropped = 0
}

// Module-local copies of the constants the per-packet functions read: a property of an imported
// object is a load through the other module's binding in every call V8 does not inline.
const VERDICT_ACCEPT = Verdict.ACCEPT
const VERDICT_DROP = Verdict.DROP
const VERDICT_REJECT = Verdict.REJECT
const VERDICT_STOLEN = Verdict.STOLEN
const PROTOCOL_TCP = Protocol.TCP
const PROTOCOL_UDP = Protocol.UDP
const PROTOCOL_ICMP = Protocol.ICMP
const IPVS_ACCEPT = IpvsVerdict.ACCEPT
const IPVS_XMIT = IpvsVerdict.XMIT
const IPVS_LEAVE_UNREACHABLE = IpvsVerdict.LEAVE_UNREACHABLE
const DROP_REASON_NETFILTER_REJECT = DropReason.NETFILTER_REJECT
const DROP_REASON_NETFILTER_DROP = DropReason.NETFILTER_DROP
const DROP_REASON_TTL_EXPIRED = DropReason.TTL_EXPIRED
const REJECT_WITH_ICMP_PORT_UNREACHABLE = RejectWith.ICMP_PORT_UNREACHABLE

const isPorted = (protocol: number): boolean => protocol === PROTOCOL_TCP || protocol === PROTOCOL_UDP

/** The IPVS ops of one namespace. `register` adds them to the stack's hook host. */
export class IpvsHooks implements IpvsMatchSource {
  readonly counters = new IpvsHookCounters()
  // Fields read per packet are `declare`d and assigned in the constructor rather than declared
  // without a value or as parameter properties: those are first defined as undefined, so V8
  // tracks them as any value (see sim/empty.ts); assigned once, a field keeps the type it holds.
  /** ICMP errors about IPVS connections (icmp.ts). */
  declare readonly icmp: IpvsIcmp
  tracer: IpvsTracer | null = null
  declare readonly connLookupCostNs: number
  declare readonly newConnCostNs: number
  /**
   * The packet IPVS is sending on right now (skb->ipvs_property): ip_vs_in / ip_vs_out leave it
   * alone on its way through LOCAL_OUT (resumeStolen runs OUTPUT and POSTROUTING synchronously).
   * Also held by the stack (NetfilterStack.ipvsPropertyPacket), whose hook host skips the IPVS ops
   * for it (NfHookHandler.skipsIpvsProperty).
   */
  private sending: Packet | null = null
  declare private readonly ops: NfHookOp[]
  declare readonly ipvs: Ipvs
  declare private readonly stack: NetfilterStack
  declare private readonly host: IpvsXmitHost

  constructor(ipvs: Ipvs, stack: NetfilterStack, host: IpvsXmitHost, options: IpvsCostOptions = {}) {
    this.ipvs = ipvs
    this.stack = stack
    this.host = host
    this.connLookupCostNs = options.connLookupCostNs ?? DEFAULT_IPVS_CONN_LOOKUP_COST_NS
    this.newConnCostNs = options.newConnCostNs ?? DEFAULT_IPVS_NEW_CONN_COST_NS
    this.icmp = new IpvsIcmp(ipvs, stack, host, this.connLookupCostNs, this)
    const request = new IpvsOp(this, OpKind.REQUEST)
    const reply = new IpvsOp(this, OpKind.REPLY)
    const op = (hook: Hook, priority: number, handler: NfHookHandler, name: string): NfHookOp => ({
      hook,
      priority,
      handler,
      name,
    })
    this.ops = [
      op(H.INPUT, IpvsPriority.LOCAL_IN_REPLY, reply, "ipvs reply"),
      op(H.INPUT, IpvsPriority.LOCAL_IN_REQUEST, request, "ipvs remote request"),
      op(H.OUTPUT, IpvsPriority.LOCAL_OUT_REPLY, reply, "ipvs local reply"),
      op(H.OUTPUT, IpvsPriority.LOCAL_OUT_REQUEST, request, "ipvs local request"),
      op(H.FORWARD, IpvsPriority.FORWARD_ICMP, new IpvsOp(this, OpKind.FORWARD_ICMP), "ipvs forward icmp"),
      op(H.FORWARD, IpvsPriority.FORWARD_REPLY, reply, "ipvs reply"),
    ]
  }

  /** ip_vs_register_hooks (the first virtual service registers them in the kernel). */
  register(): void {
    for (const op of this.ops) this.stack.hooks.register(op)
    bindIpvsMatchSource(this.stack, this)
  }

  // IpvsMatchSource (xt_ipvs)
  hasIpvsProperty(packet: Packet): boolean {
    return packet === this.sending
  }
  connOut(packet: Packet): number {
    return this.ipvs.lookupOut(packet.protocol, packet.srcAddr, packet.srcPort, packet.dstAddr, packet.dstPort)
  }
  connVaddr(id: number): number {
    return this.ipvs.connVaddr(id)
  }
  connVport(id: number): number {
    return this.ipvs.connVport(id)
  }

  unregister(): void {
    for (const op of this.ops) this.stack.hooks.unregister(op)
  }

  /** ip_vs_in: a packet towards a virtual service (or of one of its connections). */
  request(packet: Packet, state: NfHookState): Verdict {
    if (packet === this.sending) return VERDICT_ACCEPT
    if (!isPorted(packet.protocol))
      return packet.protocol === PROTOCOL_ICMP ? this.icmp.inIcmp(packet, state) : VERDICT_ACCEPT
    const ipvs = this.ipvs
    state.extraNs += this.connLookupCostNs
    const id = packet.ctId
    const ctConfirmed = id >= 0 && this.stack.conntrack.isConfirmed(id)
    const created = ipvs.connsCreated
    const v = ipvs.packetIn(
      packet.protocol,
      packet.srcAddr,
      packet.srcPort,
      packet.dstAddr,
      packet.dstPort,
      packet.tcpFlags,
      packet.totalBytes,
      ctConfirmed,
      state.nowNs,
    )
    const isNew = ipvs.connsCreated !== created
    if (isNew) state.extraNs += this.newConnCostNs
    switch (v) {
      case IPVS_ACCEPT:
        return VERDICT_ACCEPT
      case IPVS_XMIT:
        return this.natXmit(packet, ipvs.lastConn, isNew)
      case IPVS_LEAVE_UNREACHABLE:
        // ip_vs_leave: "ICMP_PORT_UNREACH is sent here no matter it is TCP/UDP", then NF_DROP.
        this.counters.unreachable++
        this.stack.lastRejectWith = REJECT_WITH_ICMP_PORT_UNREACHABLE
        this.stack.lastDropReason = DROP_REASON_NETFILTER_REJECT
        return VERDICT_REJECT
      default:
        this.counters.dropped++
        this.stack.lastDropReason = DROP_REASON_NETFILTER_DROP
        return VERDICT_DROP
    }
  }

  /**
   * ip_vs_nat_xmit: conntrack first (ip_vs_nat_send_or_cont: ip_vs_update_conntrack with NFCT,
   * else ip_vs_notrack), the DNAT (dnat_handler + daddr), then NF_STOLEN and the LOCAL_OUT send, or
   * NF_ACCEPT for a real server on this host.
   */
  private natXmit(packet: Packet, cp: number, created: boolean): Verdict {
    const ipvs = this.ipvs
    const daddr = ipvs.connDaddr(cp)
    const dport = ipvs.connDport(cp)
    const local = this.host.isLocalAddress(daddr)
    if (!local) {
      // __ip_vs_get_out_rt -> decrement_ttl (kernel commit "ipvs: Decrement ttl", Linux 4.10): a
      // packet IPVS routes on loses one TTL; at 1 it is dropped with ICMP time exceeded (not sent here).
      if (packet.ttl <= 1) {
        this.counters.dropped++
        this.stack.lastDropReason = DROP_REASON_TTL_EXPIRED
        return VERDICT_DROP
      }
      packet.ttl--
    }
    if (this.tracer !== null) this.tracer.xmit(packet, cp, created, local)
    if (ipvs.connUsesConntrack(cp)) this.updateConntrack(packet, cp, true)
    else this.notrack(packet)
    packet.dstAddr = daddr
    packet.dstPort = dport
    this.counters.transmitted++
    return local ? VERDICT_ACCEPT : VERDICT_STOLEN
  }

  /** The network hands the stolen packet over: send it on through LOCAL_OUT (dst_output). */
  takeStolen(handle: number, packet: Packet, readyNs: number): void {
    this.sending = packet
    this.stack.ipvsPropertyPacket = packet
    try {
      this.host.resumeStolen(handle, readyNs)
    } finally {
      this.sending = null
      this.stack.ipvsPropertyPacket = null
    }
  }

  /** ip_vs_out: a packet from a real server of a connection gets the virtual service's address back. */
  reply(packet: Packet, state: NfHookState): Verdict {
    if (packet === this.sending) return VERDICT_ACCEPT
    if (!isPorted(packet.protocol))
      return packet.protocol === PROTOCOL_ICMP ? this.icmp.outIcmp(packet, state) : VERDICT_ACCEPT
    state.extraNs += this.connLookupCostNs
    const ipvs = this.ipvs
    const nowNs = state.nowNs
    // Most packets through the reply hooks have no connection (packetOut's own first steps).
    if (!ipvs.mayMatchOut(packet.srcPort, packet.dstAddr, nowNs)) return VERDICT_ACCEPT
    const cp = ipvs.packetOut(
      packet.protocol,
      packet.srcAddr,
      packet.srcPort,
      packet.dstAddr,
      packet.dstPort,
      packet.tcpFlags,
      packet.totalBytes,
      nowNs,
    )
    if (cp < 0) return VERDICT_ACCEPT
    // handle_response: snat_handler + saddr = vaddr, then ip_vs_update_conntrack(skb, cp, 0).
    if (this.tracer !== null) this.tracer.reply(packet, cp)
    packet.srcAddr = ipvs.connVaddr(cp)
    packet.srcPort = ipvs.connVport(cp)
    if (ipvs.connUsesConntrack(cp)) this.updateConntrack(packet, cp, false)
    this.counters.replies++
    return VERDICT_ACCEPT
  }

  /**
   * ip_vs_update_conntrack (ip_vs_nfct.c): for an unconfirmed entry seen in its original direction,
   * the reply tuple is altered (nf_conntrack_alter_reply) so that the other direction matches it:
   * a request's reply comes from the real server (outin), a reply-first entry's reply goes to the
   * virtual service. Confirmed entries are never altered.
   */
  private updateConntrack(packet: Packet, cp: number, outin: boolean): void {
    const id = packet.ctId
    const ct = this.stack.conntrack
    if (id < 0 || ct.isConfirmed(id) || packet.ctDirection !== 0) return
    const r = id * 2 + 1
    const ipvs = this.ipvs
    if (outin) ct.setReply(id, ipvs.connDaddr(cp), ct.dstOf(r), ipvs.connDport(cp), ct.dportOf(r))
    else ct.setReply(id, ct.srcOf(r), ipvs.connVaddr(cp), ct.sportOf(r), ipvs.connVport(cp))
  }

  /** ip_vs_notrack: the packet continues without conntrack (its unconfirmed entry is freed). */
  private notrack(packet: Packet): void {
    this.stack.discard(packet)
    packet.untracked = true
  }
}

/** Which IPVS hook function an IpvsOp runs. */
const OpKind = { REQUEST: 0, REPLY: 1, FORWARD_ICMP: 2 } as const
type OpKind = (typeof OpKind)[keyof typeof OpKind]

/**
 * One IPVS op (struct nf_hook_ops of ip_vs_ops4): ip_vs_in for the request ops, ip_vs_out for the
 * reply ops, ip_vs_forward_icmp at FORWARD 99. One class for all three so the hook host's call of
 * `hookFn` sees a single class in IPVS mode (a monomorphic call site instead of three classes);
 * what each op runs is exactly its hook function.
 */
class IpvsOp implements NfHookHandler {
  // Read per packet: `declare`d and assigned in the constructor (see IpvsHooks).
  /** ip_vs_forward_icmp returns NF_ACCEPT at once for anything but ICMP (the hook host skips it). */
  declare readonly icmpOnly: boolean
  /** ip_vs_in and ip_vs_out return NF_ACCEPT at once for skb->ipvs_property (the host skips them). */
  declare readonly skipsIpvsProperty: boolean
  declare private readonly hooks: IpvsHooks
  declare private readonly kind: OpKind
  constructor(hooks: IpvsHooks, kind: OpKind) {
    this.hooks = hooks
    this.kind = kind
    this.icmpOnly = kind === OpKind.FORWARD_ICMP
    this.skipsIpvsProperty = kind !== OpKind.FORWARD_ICMP
  }
  hookFn(packet: Packet, state: NfHookState): Verdict {
    switch (this.kind) {
      case OpKind.REQUEST:
        return this.hooks.request(packet, state)
      case OpKind.REPLY:
        return this.hooks.reply(packet, state)
      default:
        // ip_vs_forward_icmp: ICMP only, and not a packet IPVS itself is sending on.
        if (packet.protocol !== PROTOCOL_ICMP || this.hooks.hasIpvsProperty(packet)) return VERDICT_ACCEPT
        return this.hooks.icmp.inIcmp(packet, state)
    }
  }
  /** Only the request and forward-ICMP ops return STOLEN (ip_vs_out never steals). */
  takeStolen(handle: number, packet: Packet, readyNs: number): void {
    if (this.kind === OpKind.REPLY) throw new Error("ipvs: the reply op never returns STOLEN")
    this.hooks.takeStolen(handle, packet, readyNs)
  }
}
