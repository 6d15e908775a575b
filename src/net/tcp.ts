/** TCP (stub until the full engine lands): every segment is answered with RST. */
import type { Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import type { Network } from "./network.ts"
import type { NetNs } from "./netns.ts"

export class TcpConnection {
  nextInBucket: TcpConnection | null = null
}
export class TcpListenSocket {}

export class TcpEngine {
  constructor(private readonly network: Network) {}
  receive(ns: NetNs, packet: Packet, nowNs: number): boolean {
    this.network.tcpReset(ns, packet, nowNs)
    return false
  }
  error(ns: NetNs, localAddr: Ipv4, localPort: number, remoteAddr: Ipv4, remotePort: number, error: number): void {
    void ns, localAddr, localPort, remoteAddr, remotePort, error
  }
}
