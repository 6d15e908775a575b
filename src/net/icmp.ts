/**
 * ICMP: echo sockets (ping) and the mapping of ICMP errors to socket errors.
 *
 * Echo: the identifier travels in Packet.srcPort (as conntrack keys ICMP by id), the sequence in
 * Packet.tcpSeq; the reply carries the request's sentNs, so RTT = arrival - send time, like ping(8)
 * measuring with the timestamp it puts in the payload.
 */
import type { Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import { ICMP_HEADER_BYTES, IcmpType, IPV4_HEADER_BYTES, Protocol } from "../wire/protocol.ts"
import { NetError } from "./errors.ts"
import type { NetIo, SocketNs } from "./io.ts"

/** The namespace's echo socket table, by identifier (NetNs implements it). */
export interface PingNs extends SocketNs {
  readonly pingers: Map<number, Pinger>
}

/** ICMP destination unreachable codes beyond wire/protocol.ts IcmpCode (RFC 792, RFC 1812). */
export const ICMP_CODE_PROTOCOL_UNREACHABLE = 2
export const ICMP_CODE_FRAGMENTATION_NEEDED = 4
export const ICMP_CODE_ADMIN_PROHIBITED = 13

/** errno for an ICMP destination-unreachable code (icmp_err_convert[]). */
export function icmpUnreachableErrno(code: number): NetError {
  switch (code) {
    case 0:
      return NetError.NET_UNREACHABLE
    case ICMP_CODE_PROTOCOL_UNREACHABLE:
      return NetError.PROTOCOL_UNREACHABLE
    case 3:
      return NetError.REFUSED
    case 6:
    case 9:
      return NetError.NET_UNREACHABLE
    default:
      return NetError.HOST_UNREACHABLE
  }
}

/** icmp_err_convert[code].fatal: hard errors abort; soft ones (net/host unreachable) do not. */
export function icmpUnreachableFatal(code: number): boolean {
  return !(code === 0 || code === 1 || code === ICMP_CODE_FRAGMENTATION_NEEDED || code === 5)
}

export interface PingListener {
  /** Echo reply for `seq`; `packet` is borrowed for the duration of the call (ttl, srcAddr...). */
  onEchoReply(pinger: Pinger, seq: number, rttNs: number, packet: Packet): void
  /** ICMP error about echo request `seq` (unreachable, time exceeded, rejected), or no route. */
  onPingError(pinger: Pinger, seq: number, error: NetError, remoteAddr: Ipv4): void
}

export class Pinger {
  closed = false
  constructor(
    private readonly io: NetIo,
    readonly ns: PingNs,
    readonly identifier: number,
    readonly listener: PingListener,
  ) {}

  /** Sends echo request `seq` to `dstAddr` (ping -s payloadBytes -t ttl). */
  send(
    dstAddr: Ipv4,
    seq: number,
    payloadBytes = this.io.params.pingPayloadBytes,
    ttl = this.io.params.defaultTtl,
    appTag = 0,
  ): void {
    // The sequence travels in tcpSeq.
    const io = this.io
    const h = io.allocatePacket()
    const p = io.packet(h)
    p.protocol = Protocol.ICMP
    p.icmpType = IcmpType.ECHO_REQUEST
    p.dstAddr = dstAddr
    p.srcPort = this.identifier
    p.tcpSeq = seq
    p.ttl = ttl
    p.payloadBytes = payloadBytes
    p.totalBytes = IPV4_HEADER_BYTES + ICMP_HEADER_BYTES + payloadBytes
    p.appTag = appTag
    io.sendFrom(this.ns, h)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.ns.pingers.delete(this.identifier)
  }
}
