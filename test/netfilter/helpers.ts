/**
 * Test helpers: a fake FilterHost and a one-namespace "node" that drives a NetfilterStack the way
 * net/ will (PREROUTING -> local? INPUT : FORWARD -> POSTROUTING; local OUTPUT -> POSTROUTING).
 */
import { Rng } from "../../src/sim/rng.ts"
import type { FilterHost } from "../../src/net/hooks.ts"
import { Hook, Verdict } from "../../src/net/hooks.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { Packet } from "../../src/wire/packet.ts"
import { Protocol, TcpFlag } from "../../src/wire/protocol.ts"
import type { NetfilterOptions } from "../../src/netfilter/stack.ts"
import { NetfilterStack } from "../../src/netfilter/stack.ts"

export class FakeHost implements FilterHost {
  readonly local = new Set<number>()
  readonly names: string[]
  readonly addresses: number[]
  constructor(interfaces: { name: string; address: string }[]) {
    this.names = interfaces.map((i) => i.name)
    this.addresses = interfaces.map((i) => ipv4(i.address))
    for (const a of this.addresses) this.local.add(a)
    this.local.add(ipv4("127.0.0.1"))
  }
  isLocalAddress(address: number): boolean {
    return this.local.has(address)
  }
  interfaceAddress(ifIndex: number): number {
    return this.addresses[ifIndex] ?? 0
  }
  interfaceName(ifIndex: number): string {
    return this.names[ifIndex] ?? ""
  }
}

/** Node: eth0 = 192.168.0.2 (index 0), cni0 = 10.0.0.1 (index 1), lo (index 2). */
export function makeNode(options: Partial<NetfilterOptions> = {}, seed = 1): { host: FakeHost; stack: NetfilterStack } {
  const host = new FakeHost([
    { name: "eth0", address: "192.168.0.2" },
    { name: "cni0", address: "10.0.0.1" },
    { name: "lo", address: "127.0.0.1" },
  ])
  const stack = new NetfilterStack(host, { rng: Rng.stream(seed, "test/netfilter"), ...options })
  return { host, stack }
}

export const ETH0 = 0
export const CNI0 = 1

/** Routes: 10.0.0.0/8 via cni0, everything else via eth0. */
export function routeOut(dst: number): number {
  return dst >>> 24 === 10 ? CNI0 : ETH0
}

export interface PathResult {
  verdict: Verdict
  /** Where the packet ended: "local" | "forward" | "output". */
  path: string
  costNs: number
}

/** A packet arriving on `inIf`: PREROUTING, route, INPUT or FORWARD+POSTROUTING. */
export function receive(
  stack: NetfilterStack,
  host: FakeHost,
  packet: Packet,
  inIf: number,
  nowNs: number,
): PathResult {
  let cost = 0
  let v = stack.runHook(Hook.PREROUTING, packet, inIf, -1, nowNs)
  cost += stack.lastCostNs
  if (v !== Verdict.ACCEPT) return { verdict: v, path: "prerouting", costNs: cost }
  if (host.isLocalAddress(packet.dstAddr)) {
    v = stack.runHook(Hook.INPUT, packet, inIf, -1, nowNs)
    return { verdict: v, path: "local", costNs: cost + stack.lastCostNs }
  }
  const out = routeOut(packet.dstAddr)
  v = stack.runHook(Hook.FORWARD, packet, inIf, out, nowNs)
  cost += stack.lastCostNs
  if (v !== Verdict.ACCEPT) return { verdict: v, path: "forward", costNs: cost }
  v = stack.runHook(Hook.POSTROUTING, packet, inIf, out, nowNs)
  return { verdict: v, path: "forward", costNs: cost + stack.lastCostNs }
}

/** A locally generated packet: OUTPUT, route, POSTROUTING. */
export function send(stack: NetfilterStack, packet: Packet, nowNs: number): PathResult {
  let v = stack.runHook(Hook.OUTPUT, packet, -1, routeOut(packet.dstAddr), nowNs)
  let cost = stack.lastCostNs
  if (v !== Verdict.ACCEPT) return { verdict: v, path: "output", costNs: cost }
  v = stack.runHook(Hook.POSTROUTING, packet, -1, routeOut(packet.dstAddr), nowNs)
  cost += stack.lastCostNs
  return { verdict: v, path: "output", costNs: cost }
}

export function tcp(src: string, sport: number, dst: string, dport: number, flags: number = TcpFlag.SYN): Packet {
  const p = new Packet()
  p.srcAddr = ipv4(src)
  p.dstAddr = ipv4(dst)
  p.protocol = Protocol.TCP
  p.srcPort = sport
  p.dstPort = dport
  p.tcpFlags = flags
  p.totalBytes = 60
  return p
}

export function udp(src: string, sport: number, dst: string, dport: number): Packet {
  const p = new Packet()
  p.srcAddr = ipv4(src)
  p.dstAddr = ipv4(dst)
  p.protocol = Protocol.UDP
  p.srcPort = sport
  p.dstPort = dport
  p.totalBytes = 60
  return p
}

export function icmpEcho(src: string, dst: string, id: number, type = 8): Packet {
  const p = new Packet()
  p.srcAddr = ipv4(src)
  p.dstAddr = ipv4(dst)
  p.protocol = Protocol.ICMP
  p.icmpType = type
  p.srcPort = id
  p.totalBytes = 84
  return p
}

/** The reply a server would send to `p` (addresses and ports swapped). */
export function replyTo(p: Packet, flags: number = TcpFlag.SYN | TcpFlag.ACK): Packet {
  const r = new Packet()
  r.srcAddr = p.dstAddr
  r.dstAddr = p.srcAddr
  r.protocol = p.protocol
  r.totalBytes = p.totalBytes
  if (p.protocol === Protocol.ICMP) {
    r.icmpType = p.icmpType === 8 ? 0 : p.icmpType
    r.srcPort = p.srcPort
  } else {
    r.srcPort = p.dstPort
    r.dstPort = p.srcPort
    r.tcpFlags = flags
  }
  return r
}

/** kube-proxy's probability text: fmt.Sprintf("%0.10f", 1.0/float64(n)). */
export function probability(n: number): string {
  return (1 / n).toFixed(10)
}
