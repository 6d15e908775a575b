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
  /**
   * Next socket bound to the same port on another local address: the namespace's table maps a
   * port to the chain's head (one entry in the common case, so the lookup stays one map get).
   */
  next: UdpSocket | null = null
  /**
   * The socket before this one in its port's chain (null: this is the chain's head), so that
   * `close` knows without a table lookup whether the table's entry is this socket: under a new
   * socket per request the table's slots of a port bound long ago are out of cache.
   */
  prev: UdpSocket | null = null
  remoteAddr: Ipv4 = 0
  /** 0 = not connected. */
  remotePort = 0
  closed = false

  // Read per datagram: `declare`d and assigned in the constructor rather than parameter properties,
  // which are first defined as undefined, so V8 tracks them as any value (see sim/empty.ts).
  declare private readonly io: NetIo
  declare readonly ns: UdpNs
  /** Bound address; 0 = INADDR_ANY (the source address then comes from the route). */
  declare readonly localAddr: Ipv4
  declare readonly localPort: number
  declare listener: UdpListener
  /** SO_REUSEADDR (or SO_REUSEPORT): may share its port with other sockets that set it too. */
  declare readonly reuse: boolean

  constructor(io: NetIo, ns: UdpNs, localAddr: Ipv4, localPort: number, listener: UdpListener, reuse = false) {
    this.io = io
    this.ns = ns
    this.localAddr = localAddr
    this.localPort = localPort
    this.listener = listener
    this.reuse = reuse
  }

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
    const next = this.next
    const prev = this.prev
    if (next !== null) next.prev = prev
    if (prev !== null) prev.next = next
    else if (next === null) this.ns.udpSockets.delete(this.localPort)
    else this.ns.udpSockets.set(this.localPort, next)
    this.next = null
    this.prev = null
  }
}

/**
 * The socket that receives a datagram for `localAddr` on the port whose chain starts at `head`, as
 * __udp4_lib_lookup: first the sockets bound to exactly that address (hash2 of (daddr, port)),
 * then, only when none matched, the wildcard ones (hash2 of (INADDR_ANY, port)); compute_score
 * rejects (-1) a socket whose rcv_saddr is not the looked-up address. So a cache bound to
 * 169.254.20.10:53 gets the datagrams to that address while a 0.0.0.0:53 socket gets the rest.
 * Connected sockets are checked by the caller (deliver), after the address.
 */
export function udpLookup(head: UdpSocket | undefined, localAddr: Ipv4): UdpSocket | null {
  if (head === undefined) return null
  // Fast path: a single socket on the port (every socket but a cache's listeners).
  if (head.next === null) return head.localAddr === localAddr || head.localAddr === 0 ? head : null
  let wildcard: UdpSocket | null = null
  for (let s: UdpSocket | null = head; s !== null; s = s.next) {
    if (s.localAddr === localAddr) return s
    if (s.localAddr === 0) wildcard = s
  }
  return wildcard
}

/**
 * udp_lib_lport_inuse: binding (localAddr, port) conflicts with a socket on the port unless both
 * set SO_REUSEADDR/SO_REUSEPORT, when the addresses are equal or either is the wildcard
 * (inet_rcv_saddr_equal with match_wildcard). Two sockets on one exact address and port (reuseport
 * groups) are refused here too: selection within a group is not modelled.
 */
export function udpBindConflicts(head: UdpSocket | undefined, localAddr: Ipv4, reuse: boolean): boolean {
  for (let s = head ?? null; s !== null; s = s.next) {
    if (s.localAddr === localAddr) return true
    if ((s.localAddr === 0 || localAddr === 0) && !(s.reuse && reuse)) return true
  }
  return false
}

/**
 * bind(2) of `port` on the wildcard address without SO_REUSEADDR, held by `holder` rather than a
 * socket of its own: a socket that stands for many ports of one owner (localPort 0, never closed
 * with `close`), which receives their datagrams (its listener reads the port from the packet) until
 * the owner binds a socket of its own on the port (`udpReleaseHeldPort` first). The table entry is
 * the binding's only trace, as for any socket on the port: lookups, clashes and ephemeral choices
 * see the port as bound. For ports bound by the thousand that mostly never see a packet (the
 * userspace proxy's ports at cluster scale). Returns false when the port is in use.
 */
export function udpHoldPort(ns: UdpNs, port: number, holder: UdpSocket): boolean {
  if (!(port > 0 && port < 65536) || ns.udpSockets.has(port)) return false
  ns.udpSockets.set(port, holder)
  return true
}

/** Frees a port held by `holder` (udpHoldPort); a no-op when the port is not held by it. */
export function udpReleaseHeldPort(ns: UdpNs, port: number, holder: UdpSocket): void {
  if (ns.udpSockets.get(port) === holder) ns.udpSockets.delete(port)
}
