/**
 * What sockets (udp.ts, tcp.ts, icmp.ts) need from the network and from their namespace. Network
 * and NetNs implement these interfaces; the socket modules import only this file, so they sit below
 * netns.ts and network.ts in the import graph (test/tidy.test.ts refuses import cycles).
 */
import type { Rng } from "../sim/rng.ts"
import type { Scheduler } from "../sim/scheduler.ts"
import type { Ipv4 } from "../wire/ipv4.ts"
import type { Packet } from "../wire/packet.ts"
import type { NetParams } from "./params.ts"

/** The namespace a socket lives in, as the socket sees it. Each socket module adds its own table. */
export interface SocketNs {
  /** Index in Network.namespaces: the network finds the namespace (routes, hooks) by it. */
  readonly id: number
  readonly name: string
  /** Ephemeral port choice (udp_lib_get_port, __inet_hash_connect). */
  readonly portRng: Rng
  /** TCP initial sequence numbers. */
  readonly isnRng: Rng
  /** Whether the namespace owns `address` (bind(2) to a local address; 127/8 is always local). */
  isLocalAddress(address: Ipv4): boolean
  /**
   * Who still owes the namespace its ports (NetNs.portsPending): settled before a bind, a listen
   * or a connect reads the port tables or draws from portRng.
   */
  readonly portsPending: { settle(): void } | null
}

/** The network as sockets see it: the packet table and the output path of a namespace. */
export interface NetIo {
  readonly params: NetParams
  readonly scheduler: Scheduler
  allocatePacket(): number
  packet(handle: number): Packet
  /** Hands packet `handle` to the output path of `ns` (route, OUTPUT, POSTROUTING, transmit). */
  sendFrom(ns: SocketNs, handle: number): void
  /** Source address `ns` would use towards `dstAddr`; 0 = no route. */
  sourceAddressFor(ns: SocketNs, dstAddr: Ipv4): Ipv4
  /** MTU of the interface `ns` routes `dstAddr` through; 0 = no route. */
  pathMtuFor(ns: SocketNs, dstAddr: Ipv4): number
  /** A RST from `ns` answering `orig` (tcp_v4_send_reset). */
  tcpReset(ns: SocketNs, orig: Packet, readyNs: number): void
}
