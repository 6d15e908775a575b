/**
 * UDP sockets. A socket owner implements UdpListener (methods, no closures per packet).
 *
 * Errors: ICMP errors reach a socket only when it is connected and the error is hard (port or
 * protocol unreachable, administratively prohibited), as __udp4_lib_err without IP_RECVERR; a local
 * routing failure (ENETUNREACH from sendto) reaches any socket. Datagrams larger than the path MTU
 * are dropped (MTU_EXCEEDED): fragmentation is not modelled. ICMP rate limiting is not modelled.
 */
import type { Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import type { NetError } from "./errors.ts"
import type { Network } from "./network.ts"
import type { NetNs } from "./netns.ts"

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
    private readonly network: Network,
    readonly ns: NetNs,
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

  sendTo(dstAddr: Ipv4, dstPort: number, payloadBytes: number, appTag = 0, appData: object | null = null, flowId = 0): void {
    if (this.closed) return
    this.network.udpSend(this, dstAddr, dstPort, payloadBytes, appTag, appData, flowId)
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
