/**
 * The simulated IPv4 packet: a fixed-shape object with header fields as integers.
 *
 * Why an object and not bytes: the simulator never needs the wire encoding on the hot path, only the
 * fields netfilter, routing and sockets look at. Every field is initialised in the constructor so
 * V8 keeps one hidden class; packets are never spread or given ad-hoc properties.
 *
 * ICMP: for echo, `srcPort` holds the echo identifier (as conntrack keys ICMP by id) and `dstPort`
 * is 0. For errors (destination unreachable), the `inner*` fields carry the header of the packet
 * that caused the error, as the real ICMP payload does, so conntrack can find the RELATED connection
 * and reverse its NAT, and the sender's socket can learn which flow failed.
 */
import type { Ipv4 } from "./ipv4.ts"

export class Packet {
  /** Unique per run, assigned by the network in send order. */
  id = 0
  srcAddr: Ipv4 = 0
  dstAddr: Ipv4 = 0
  protocol = 0
  srcPort = 0
  dstPort = 0
  ttl = 64
  /** IP total length in bytes (headers + payload); drives serialization delay and MTU checks. */
  totalBytes = 0
  /** Application payload bytes carried (TCP/UDP data, ICMP echo data). */
  payloadBytes = 0

  // TCP
  tcpFlags = 0
  tcpSeq = 0
  tcpAck = 0

  // ICMP
  icmpType = 0
  icmpCode = 0
  innerSrcAddr: Ipv4 = 0
  innerDstAddr: Ipv4 = 0
  innerProtocol = 0
  innerSrcPort = 0
  innerDstPort = 0

  /** skb->mark, set by MARK targets, read by `-m mark`. */
  mark = 0
  /** Conntrack entry this packet belongs to (-1 untracked/not yet looked up). */
  ctId = -1
  /** 0 = original direction, 1 = reply direction of ctId. */
  ctDirection = 0
  /** Conntrack state bits seen by `-m conntrack --ctstate` (see netfilter CtState). */
  ctState = 0
  /** Set when conntrack must not track (NOTRACK / CT --notrack). */
  untracked = false

  /** Application tag: request id, message id; opaque to the network. */
  appTag = 0
  /** Application message carried by the segment that completes it (opaque to the network). */
  appData: object | null = null
  /** Workload/flow identifier for statistics; opaque to the network. */
  flowId = 0
  /** Simulated time the packet was first sent, for latency accounting. */
  sentNs = 0
  /** Interface index the packet arrived on in the current namespace (-1 locally generated). */
  inIfIndex = -1

  reset(): void {
    this.id = 0
    this.srcAddr = 0
    this.dstAddr = 0
    this.protocol = 0
    this.srcPort = 0
    this.dstPort = 0
    this.ttl = 64
    this.totalBytes = 0
    this.payloadBytes = 0
    this.tcpFlags = 0
    this.tcpSeq = 0
    this.tcpAck = 0
    this.icmpType = 0
    this.icmpCode = 0
    this.innerSrcAddr = 0
    this.innerDstAddr = 0
    this.innerProtocol = 0
    this.innerSrcPort = 0
    this.innerDstPort = 0
    this.mark = 0
    this.ctId = -1
    this.ctDirection = 0
    this.ctState = 0
    this.untracked = false
    this.appTag = 0
    this.appData = null
    this.flowId = 0
    this.sentNs = 0
    this.inIfIndex = -1
  }
}
