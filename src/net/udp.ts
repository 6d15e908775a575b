/**
 * UDP sockets. A socket owner implements UdpListener (methods, no closures per packet).
 *
 * Errors: ICMP errors reach a socket only when it is connected and the error is hard (port or
 * protocol unreachable, administratively prohibited), as __udp4_lib_err without IP_RECVERR; a local
 * routing failure (ENETUNREACH from sendto) reaches any socket. Datagrams larger than the path MTU
 * are dropped (MTU_EXCEEDED): fragmentation is not modelled. ICMP rate limiting is not modelled.
 */
import type { IntMap } from "../sim/int-map.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import { IPV4_HEADER_BYTES, Protocol, UDP_HEADER_BYTES } from "../wire/protocol.ts"
import type { NetError } from "./errors.ts"
import type { NetIo, SocketNs } from "./io.ts"

/** The namespace's UDP socket table (NetNs implements it). */
export interface UdpNs extends SocketNs {
  readonly udpSockets: IntMap<UdpSocket>
}

export interface UdpListener {
  /** A datagram arrived; `packet` is borrowed for the duration of the call. */
  onUdpMessage(socket: UdpSocket, packet: Packet): void
  /** An error about a datagram this socket sent to remoteAddr:remotePort (ECONNREFUSED...). */
  onUdpError(socket: UdpSocket, error: NetError, remoteAddr: Ipv4, remotePort: number, appTag: number): void
}

export class UdpSocket {
  remoteAddr: Ipv4 = 0
  /** 0 = not connected. */
  remotePort = 0
  closed = false

  constructor(
    private readonly io: NetIo,
    readonly ns: UdpNs,
    /** Bound address; 0 = INADDR_ANY (the source address then comes from the route). */
    readonly localAddr: Ipv4,
    readonly localPort: number,
    public listener: UdpListener,
  ) {}

  /** connect(2): fixes the peer; the socket then receives only from it and sees hard ICMP errors. */
  connect(remoteAddr: Ipv4, remotePort: number): void {
    this.remoteAddr = remoteAddr
    this.remotePort = remotePort
  }

  sendTo(
    dstAddr: Ipv4,
    dstPort: number,
    payloadBytes: number,
    appTag = 0,
    appData: object | null = null,
    flowId = 0,
  ): void {
    if (this.closed) return
    const io = this.io
    const h = io.allocatePacket()
    const p = io.packet(h)
    p.protocol = Protocol.UDP
    p.srcAddr = this.localAddr
    p.dstAddr = dstAddr
    p.srcPort = this.localPort
    p.dstPort = dstPort
    p.ttl = io.params.defaultTtl
    p.payloadBytes = payloadBytes
    p.totalBytes = IPV4_HEADER_BYTES + UDP_HEADER_BYTES + payloadBytes
    p.appTag = appTag
    p.appData = appData
    p.flowId = flowId
    io.sendFrom(this.ns, h)
  }

  /** send(2) on a connected socket. */
  send(payloadBytes: number, appTag = 0, appData: object | null = null, flowId = 0): void {
    this.sendTo(this.remoteAddr, this.remotePort, payloadBytes, appTag, appData, flowId)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.ns.udpSockets.delete(this.localPort)
  }
}
