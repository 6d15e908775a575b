/**
 * NAT core, shared by the iptables targets (DNAT, SNAT, MASQUERADE), nft `dnat to`/`snat to`/
 * `masquerade` and IPVS: tuple selection and port clash search (nf_nat_setup_info,
 * get_unique_tuple, nf_nat_l4proto_unique_tuple in net/netfilter/nf_nat_core.c), packet manip from
 * the conntrack entry (nf_nat_packet / nf_nat_manip_pkt) and ICMP error inner-header translation
 * (nf_nat_icmp_reply_translation, nf_nat_proto.c).
 *
 * A NAT binding lives in the conntrack entry: the reply tuple is rewritten to the inverse of the
 * packet's new header, plus the SRC_NAT/DST_NAT status bits; every later packet is rewritten from
 * the entry. Works on a scratch tuple in fields: nothing allocated per packet.
 */
import type { Rng } from "../sim/rng.ts"
import type { Packet } from "../wire/packet.ts"
import { Protocol } from "../wire/protocol.ts"
import { CtStatus } from "./constants.ts"
import type { Conntrack } from "./conntrack.ts"
import { icmpReplyType } from "./conntrack.ts"

/** enum nf_nat_manip_type. */
export const Manip = { SRC: 0, DST: 1 } as const
export type Manip = (typeof Manip)[keyof typeof Manip]

// Hot-path copies (natTuple, manipPacket run for every packet of a NATed connection): an imported
// binding is read through the module's import cell, then the object's property, on every use
// (tsx runs these files as ES modules); a module-local const is one load of the same value.
const MANIP_SRC = Manip.SRC
const CT_STATUS_SRC_NAT = CtStatus.SRC_NAT
const CT_STATUS_DST_NAT = CtStatus.DST_NAT
const PROTOCOL_TCP = Protocol.TCP
const PROTOCOL_UDP = Protocol.UDP
const PROTOCOL_ICMP = Protocol.ICMP

/** NAT range flags (subset of nf_nat.h NF_NAT_RANGE_*). */
export const NatFlag = { PROTO_SPECIFIED: 2, PROTO_RANDOM: 4, PROTO_RANDOM_FULLY: 16 } as const

/** struct nf_nat_range2, as the targets hold it (iptables Target, nft nat expression, IPVS dest). */
export interface NatRange {
  readonly natFlags: number
  /** false: keep the address (a port-only range, or MASQUERADE whose address the caller gives). */
  readonly natHasAddr: boolean
  readonly natAddrMin: number
  readonly natAddrMax: number
  readonly natPortMin: number
  readonly natPortMax: number
}

/** NF_NAT_MAX_ATTEMPTS in nf_nat_core.c (Linux >= 5.17). */
const NAT_MAX_ATTEMPTS = 128

export class NfNat {
  // Scratch tuple (no allocation per packet).
  private tSrc = 0
  private tDst = 0
  private tSport = 0
  private tDport = 0

  constructor(
    private readonly ct: Conntrack,
    private readonly rng: Rng,
  ) {}

  /** Loads the entry's current original tuple as seen after earlier NAT: invert(reply). */
  private loadCurrentTuple(id: number): void {
    const ct = this.ct
    const r = id * 2 + 1
    this.tSrc = ct.dstOf(r)
    this.tDst = ct.srcOf(r)
    if (ct.proto[id] === Protocol.ICMP) {
      this.tSport = ct.sportOf(r)
      this.tDport = icmpReplyType(ct.dportOf(r)) & 0xffff
    } else {
      this.tSport = ct.dportOf(r)
      this.tDport = ct.sportOf(r)
    }
  }

  /** Entry whose tuple is being chosen (nf_nat_used_tuple's ignored_conntrack). */
  private forId = -1

  /** nf_nat_used_tuple: is the reply tuple of the candidate already in the table? */
  private tupleUsed(proto: number, nowNs: number): boolean {
    const ct = this.ct
    if (proto === Protocol.ICMP)
      return ct.lookup(this.tDst, this.tSrc, this.tSport, icmpReplyType(this.tDport) & 0xffff, proto, nowNs) >= 0
    if (proto === Protocol.UDP)
      return ct.tupleTaken(this.tDst, this.tSrc, this.tDport, this.tSport, proto, this.forId, nowNs)
    return ct.lookup(this.tDst, this.tSrc, this.tDport, this.tSport, proto, nowNs) >= 0
  }

  /**
   * nf_nat_setup_info + get_unique_tuple (nf_nat_core.c) for entry `id` and one manip type.
   * `range` null = null binding (nf_nat_alloc_null_binding). `address` >= 0 forces the new address
   * (MASQUERADE: the out interface's, chosen by the caller); -1 takes it from the range, if any.
   */
  setupInfo(id: number, manip: number, range: NatRange | null, address: number, nowNs: number): void {
    const ct = this.ct
    const proto = ct.proto[id]
    this.forId = id
    this.loadCurrentTuple(id)
    const origSrc = this.tSrc
    const origDst = this.tDst
    const origSport = this.tSport
    const origDport = this.tDport
    let flags = 0
    let portMin = 0
    let portMax = 0
    if (range !== null) {
      flags = range.natFlags
      portMin = range.natPortMin
      portMax = range.natPortMax
      if (address < 0 && range.natHasAddr) {
        const size = range.natAddrMax - range.natAddrMin + 1
        // The kernel hashes with jhash (find_best_ips_proto); any stable hash keeps flows sticky.
        address =
          size === 1
            ? range.natAddrMin
            : range.natAddrMin + ((Math.imul(origSrc ^ Math.imul(origDst, 0x9e3779b1), 0x85ebca6b) >>> 0) % size)
      }
      if (address >= 0) {
        if (manip === Manip.SRC) this.tSrc = address >>> 0
        else this.tDst = address >>> 0
      }
    }
    this.uniquePort(proto, manip, flags, portMin, portMax, nowNs)
    const changed =
      this.tSrc !== origSrc || this.tDst !== origDst || this.tSport !== origSport || this.tDport !== origDport
    if (changed) {
      if (proto === Protocol.ICMP)
        ct.setReply(id, this.tDst, this.tSrc, this.tSport, icmpReplyType(this.tDport) & 0xffff)
      else ct.setReply(id, this.tDst, this.tSrc, this.tDport, this.tSport)
      ct.status[id] |= manip === Manip.SRC ? CtStatus.SRC_NAT : CtStatus.DST_NAT
    }
    ct.status[id] |= manip === Manip.SRC ? CtStatus.SRC_NAT_DONE : CtStatus.DST_NAT_DONE
  }

  /** get_unique_tuple's port part + nf_nat_l4proto_unique_tuple, on the scratch tuple. */
  private uniquePort(
    proto: number,
    manip: number,
    flags: number,
    portMin: number,
    portMax: number,
    nowNs: number,
  ): void {
    const specified = (flags & NatFlag.PROTO_SPECIFIED) !== 0
    const randomAll = (flags & (NatFlag.PROTO_RANDOM | NatFlag.PROTO_RANDOM_FULLY)) !== 0
    const isIcmp = proto === Protocol.ICMP
    const hasPorts = proto === Protocol.TCP || proto === Protocol.UDP
    if (!isIcmp && !hasPorts) return
    const keyIsSrc = isIcmp || manip === Manip.SRC
    const key = keyIsSrc ? this.tSport : this.tDport
    if (!randomAll) {
      if (specified) {
        if (key >= portMin && key <= portMax && (portMin === portMax || !this.tupleUsed(proto, nowNs))) return
      } else if (!this.tupleUsed(proto, nowNs)) return
    }
    let min: number
    let size: number
    if (isIcmp) {
      if (!specified) {
        min = 0
        size = 65536
      } else {
        min = portMin
        size = portMax - portMin + 1
      }
    } else if (!specified) {
      if (manip === Manip.DST) return
      if (key < 1024) {
        if (key < 512) {
          min = 1
          size = 511
        } else {
          min = 600
          size = 424
        }
      } else {
        min = 1024
        size = 65535 - 1024 + 1
      }
    } else {
      min = portMin
      size = portMax - portMin + 1
    }
    let off = randomAll || manip !== Manip.DST ? this.rng.uint32() & 0xffff : 0
    let attempts = Math.min(size, NAT_MAX_ATTEMPTS)
    for (;;) {
      for (let i = 0; i < attempts; i++, off++) {
        const port = min + (off % size)
        if (keyIsSrc) this.tSport = port
        else this.tDport = port
        if (!this.tupleUsed(proto, nowNs)) return
      }
      if (attempts >= size || attempts < 16) return
      attempts = attempts >> 1
      off = this.rng.uint32() & 0xffff
    }
  }

  /**
   * The tuple slot (id * 2 + !direction) whose inverse is the packet's new header for this manip,
   * or -1 when the entry has no NAT of that kind for this direction (nf_nat_packet's status test:
   * a source manip on replies undoes a DST_NAT, and vice versa).
   */
  private natTuple(id: number, direction: number, manip: number): number {
    let bit: number = manip === MANIP_SRC ? CT_STATUS_SRC_NAT : CT_STATUS_DST_NAT
    if (direction === 1) bit = bit === CT_STATUS_SRC_NAT ? CT_STATUS_DST_NAT : CT_STATUS_SRC_NAT
    return (this.ct.status[id] & bit) === 0 ? -1 : id * 2 + (1 - direction)
  }

  /** nf_nat_packet: rewrites the packet from the entry for this hook's manip type and direction. */
  manipPacket(packet: Packet, id: number, direction: number, manip: number): void {
    const ct = this.ct
    const n = this.natTuple(id, direction, manip)
    if (n < 0) return
    // target = invert(tuple[!direction])
    const proto = ct.proto[id]
    if (manip === MANIP_SRC) {
      packet.srcAddr = ct.dstOf(n)
      if (proto === PROTOCOL_TCP || proto === PROTOCOL_UDP) packet.srcPort = ct.dportOf(n)
      else if (proto === PROTOCOL_ICMP) packet.srcPort = ct.sportOf(n)
    } else {
      packet.dstAddr = ct.srcOf(n)
      if (proto === PROTOCOL_TCP || proto === PROTOCOL_UDP) packet.dstPort = ct.sportOf(n)
      else if (proto === PROTOCOL_ICMP) packet.srcPort = ct.sportOf(n)
    }
  }

  /** nf_nat_icmp_reply_translation: inner header gets the opposite manip, outer the normal one. */
  icmpReplyTranslation(manip: number, packet: Packet): void {
    const ct = this.ct
    const id = packet.ctId
    const n = this.natTuple(id, packet.ctDirection, manip)
    if (n < 0) return
    const proto = ct.proto[id]
    // Inner: manip !manip with tuple[!direction] as is.
    if (manip === Manip.SRC) {
      packet.innerDstAddr = ct.dstOf(n)
      if (proto === Protocol.TCP || proto === Protocol.UDP) packet.innerDstPort = ct.dportOf(n)
      else if (proto === Protocol.ICMP) packet.innerSrcPort = ct.sportOf(n)
      packet.srcAddr = ct.dstOf(n)
    } else {
      packet.innerSrcAddr = ct.srcOf(n)
      if (proto === Protocol.TCP || proto === Protocol.UDP) packet.innerSrcPort = ct.sportOf(n)
      else if (proto === Protocol.ICMP) packet.innerSrcPort = ct.sportOf(n)
      packet.dstAddr = ct.srcOf(n)
    }
  }
}
