/**
 * The simulator's side of the differential test: the node of topology.ts as a FilterHost plus a
 * hook-level packet driver. A probe's first packet is walked through the hooks exactly as the
 * kernel walks it through the node namespace:
 *
 *   from a neighbour:  PREROUTING -> route -> INPUT (local)  |  FORWARD -> POSTROUTING
 *   from the node:     route -> OUTPUT -> re-route -> POSTROUTING [-> lo: PREROUTING -> INPUT]
 *
 * then the answer of whatever sits at the final destination (endpoint server, closed port, VIP sink
 * interface) is walked back through the node, so conntrack's reverse NAT is exercised too.
 * Observations are what the kernel side can observe: the verdict at the point where conntrack
 * confirms the connection, the translated tuple, and what the client saw.
 */
import { Hook, Verdict } from "../../src/net/hooks.ts"
import type { FilterHost, PacketFilter } from "../../src/net/hooks.ts"
import { Packet } from "../../src/wire/packet.ts"
import { Protocol, TcpFlag } from "../../src/wire/protocol.ts"
import { cidrContains, formatIpv4, parseCidr, parseIpv4 } from "../../src/wire/ipv4.ts"
import type { Cidr, Ipv4 } from "../../src/wire/ipv4.ts"
import type { Outcome, Probe } from "./lab.ts"
import { ENDPOINT_POOL, EXTERNAL_HIGH_IPS, EXTERNAL_LOW_IPS, LAN_GATEWAY, NODE_INTERFACES, NODE_ROUTES, POD_CLIENT_IPS, TARGET_PORTS } from "./topology.ts"
import type { ClientKind } from "./topology.ts"

export type NodeVerdict = "accepted" | "dropped" | "rejected"

export interface Observation {
  readonly verdict: NodeVerdict
  readonly outcome: Outcome
  /** Destination after DNAT "ip:port" (accepted only, else ""). */
  readonly dnat: string
  /** Source after SNAT "ip:port" (accepted only, else ""). */
  readonly snat: string
}

/** Builds a packet filter for the node from iptables-restore text. Supplied by the test. */
export type FilterFactory = (host: FilterHost, rulesText: string, seed: number) => PacketFilter

function ip(text: string): Ipv4 {
  const v = parseIpv4(text)
  if (v === undefined) throw new Error(`bad IPv4 ${text}`)
  return v
}

function cidrOf(text: string): Cidr {
  const c = parseCidr(text, false)
  if (c === undefined) throw new Error(`bad CIDR ${text}`)
  return c
}

const LOOPBACK = cidrOf("127.0.0.0/8")
const LOCAL_ADDRESSES = new Set(NODE_INTERFACES.filter((i) => i.address !== "").map((i) => ip(i.address)))

interface Route {
  readonly prefix: Cidr
  readonly ifIndex: number
}

const ROUTES: readonly Route[] = (() => {
  const routes: Route[] = []
  for (const itf of NODE_INTERFACES) {
    if (itf.address === "" || itf.name === "lo") continue
    routes.push({ prefix: cidrOf(`${itf.address}/${itf.prefixLength}`), ifIndex: itf.index })
  }
  for (const [dest, dev] of NODE_ROUTES) {
    const itf = NODE_INTERFACES.find((i) => i.name === dev)
    if (itf === undefined) throw new Error(`route via unknown interface ${dev}`)
    routes.push({ prefix: cidrOf(dest), ifIndex: itf.index })
  }
  return routes.sort((a, b) => b.prefix.prefixLength - a.prefix.prefixLength)
})()

const LO = 1

export const nodeHost: FilterHost = {
  isLocalAddress(address: Ipv4): boolean {
    return cidrContains(LOOPBACK, address) || LOCAL_ADDRESSES.has(address)
  },
  interfaceAddress(ifIndex: number): Ipv4 {
    const itf = NODE_INTERFACES.find((i) => i.index === ifIndex)
    return itf === undefined || itf.address === "" ? 0 : ip(itf.address)
  },
  interfaceName(ifIndex: number): string {
    return NODE_INTERFACES.find((i) => i.index === ifIndex)?.name ?? ""
  },
}

/** Node routing: LO for local destinations, an interface index, or -1 (no route). */
export function routeNode(dst: Ipv4): number {
  if (nodeHost.isLocalAddress(dst)) return LO
  for (const r of ROUTES) if (cidrContains(r.prefix, dst)) return r.ifIndex
  return -1
}

/** Interface a client namespace reaches the node through. */
function clientInterface(client: ClientKind): number {
  const peer = client === "pod" ? "pc" : client === "hairpin" ? "ep" : "lan"
  const itf = NODE_INTERFACES.find((i) => i.peer === peer)
  if (itf === undefined) throw new Error(`no interface for ${client}`)
  return itf.index
}

/** What sits behind an interface at an address: answers (endpoint server), a closed port, or nothing. */
function destinationBehavior(ifIndex: number, src: string, dst: string, dport: number): "server" | "closed" | "nothing" {
  const peer = NODE_INTERFACES.find((i) => i.index === ifIndex)?.peer ?? ""
  // All endpoints share the ep namespace: a packet arriving there from another of its own
  // addresses (hairpin to a different endpoint, not masqueraded) is a martian and is dropped.
  if (peer === "ep" && src !== dst && ENDPOINT_POOL.includes(src)) return "nothing"
  if (peer === "ep") return ENDPOINT_POOL.includes(dst) ? (TARGET_PORTS.includes(dport) ? "server" : "closed") : "nothing"
  if (peer === "pc") return POD_CLIENT_IPS.includes(dst) ? "closed" : "nothing"
  if (peer === "lan") return dst === LAN_GATEWAY || EXTERNAL_LOW_IPS.includes(dst) || EXTERNAL_HIGH_IPS.includes(dst) ? "closed" : "nothing"
  return "nothing"
}

function endpointString(address: Ipv4, port: number): string {
  return `${formatIpv4(address)}:${port}`
}

export class SimNode {
  private readonly filter: PacketFilter
  private nowNs = 1_000_000_000
  private readonly packet = new Packet()
  private readonly answer = new Packet()

  constructor(factory: FilterFactory, rulesText: string, seed: number) {
    this.filter = factory(nodeHost, rulesText, seed)
  }

  private fresh(p: Packet, src: Ipv4, dst: Ipv4, proto: number, sport: number, dport: number, flags: number): Packet {
    p.reset()
    p.srcAddr = src
    p.dstAddr = dst
    p.protocol = proto
    p.srcPort = sport
    p.dstPort = dport
    p.tcpFlags = proto === Protocol.TCP ? flags : 0
    p.totalBytes = 60
    return p
  }

  private hook(hook: Hook, p: Packet, inIf: number, outIf: number): Verdict {
    return this.filter.runHook(hook, p, inIf, outIf, this.nowNs)
  }

  /** One probe (a new connection's first packet and its answer), as the client would see it. */
  observe(client: ClientKind, probe: Probe): Observation {
    this.nowNs += 1_000_000
    const proto = probe.proto === "tcp" ? Protocol.TCP : Protocol.UDP
    const clientSrc = ip(probe.src)
    const clientDst = ip(probe.dst)
    const p = this.fresh(this.packet, clientSrc, clientDst, proto, probe.sport, probe.dport, TcpFlag.SYN)
    const fail = (v: Verdict, ctConfirmed: boolean, dnat: string, snat: string): Observation => {
      const outcome: Outcome = v === Verdict.REJECT ? "refused" : client === "node" && proto === Protocol.UDP && !ctConfirmed ? "eperm" : "timeout"
      if (ctConfirmed) return { verdict: "accepted", outcome, dnat, snat }
      return { verdict: v === Verdict.REJECT ? "rejected" : "dropped", outcome, dnat: "", snat: "" }
    }
    let outIf: number
    let delivered: "local" | "out"
    let inIf: number
    if (client === "node") {
      inIf = -1
      const first = routeNode(p.dstAddr)
      if (first < 0) return { verdict: "dropped", outcome: "unreachable", dnat: "", snat: "" }
      let v = this.hook(Hook.OUTPUT, p, -1, first)
      if (v !== Verdict.ACCEPT) return fail(v, false, "", "")
      outIf = routeNode(p.dstAddr)
      if (outIf < 0) return { verdict: "dropped", outcome: "unreachable", dnat: "", snat: "" }
      v = this.hook(Hook.POSTROUTING, p, -1, outIf)
      if (v !== Verdict.ACCEPT) return fail(v, false, "", "")
      const dnat = endpointString(p.dstAddr, p.dstPort)
      const snat = endpointString(p.srcAddr, p.srcPort)
      if (outIf === LO) {
        // Looped back: the confirmed connection re-enters through lo.
        v = this.hook(Hook.PREROUTING, p, LO, -1)
        if (v !== Verdict.ACCEPT) return fail(v, true, dnat, snat)
        v = this.hook(Hook.INPUT, p, LO, -1)
        if (v !== Verdict.ACCEPT) return fail(v, true, dnat, snat)
        delivered = "local"
      } else {
        delivered = "out"
      }
      return this.finish(client, p, delivered, outIf, dnat, snat, clientSrc, clientDst, probe)
    }
    inIf = clientInterface(client)
    let v = this.hook(Hook.PREROUTING, p, inIf, -1)
    if (v !== Verdict.ACCEPT) return fail(v, false, "", "")
    outIf = routeNode(p.dstAddr)
    if (outIf === LO) {
      v = this.hook(Hook.INPUT, p, inIf, -1)
      if (v !== Verdict.ACCEPT) return fail(v, false, "", "")
      delivered = "local"
    } else if (outIf < 0) {
      return { verdict: "dropped", outcome: "unreachable", dnat: "", snat: "" }
    } else {
      v = this.hook(Hook.FORWARD, p, inIf, outIf)
      if (v !== Verdict.ACCEPT) return fail(v, false, "", "")
      v = this.hook(Hook.POSTROUTING, p, inIf, outIf)
      if (v !== Verdict.ACCEPT) return fail(v, false, "", "")
      delivered = "out"
    }
    return this.finish(client, p, delivered, outIf, endpointString(p.dstAddr, p.dstPort), endpointString(p.srcAddr, p.srcPort), clientSrc, clientDst, probe)
  }

  /** The connection is confirmed; decide what the client sees, walking the answer back through the node. */
  private finish(client: ClientKind, p: Packet, delivered: "local" | "out", outIf: number, dnat: string, snat: string, clientSrc: Ipv4, clientDst: Ipv4, probe: Probe): Observation {
    // Nothing listens in the node namespace itself: a local delivery is answered by RST / port unreachable.
    if (delivered === "local") return { verdict: "accepted", outcome: "refused", dnat, snat }
    const behavior = destinationBehavior(outIf, formatIpv4(p.srcAddr), formatIpv4(p.dstAddr), p.dstPort)
    if (behavior === "nothing") return { verdict: "accepted", outcome: "timeout", dnat, snat }
    if (behavior === "closed") return { verdict: "accepted", outcome: "refused", dnat, snat }
    // The endpoint answers to whoever it saw; walk the answer back through the node.
    const proto = p.protocol
    const r = this.fresh(this.answer, p.dstAddr, p.srcAddr, proto, p.dstPort, p.srcPort, TcpFlag.SYN | TcpFlag.ACK)
    let v = this.hook(Hook.PREROUTING, r, outIf, -1)
    if (v !== Verdict.ACCEPT) return { verdict: "accepted", outcome: "timeout", dnat, snat }
    const back = routeNode(r.dstAddr)
    if (client === "node") {
      if (back !== LO) return { verdict: "accepted", outcome: "timeout", dnat, snat }
      v = this.hook(Hook.INPUT, r, outIf, -1)
    } else {
      if (back < 0 || back === LO) return { verdict: "accepted", outcome: "timeout", dnat, snat }
      v = this.hook(Hook.FORWARD, r, outIf, back)
      if (v === Verdict.ACCEPT) v = this.hook(Hook.POSTROUTING, r, outIf, back)
    }
    if (v !== Verdict.ACCEPT) return { verdict: "accepted", outcome: "timeout", dnat, snat }
    // The client accepts the answer only if it comes back as the reverse of what it sent.
    if (r.srcAddr !== clientDst || r.srcPort !== probe.dport || r.dstAddr !== clientSrc || r.dstPort !== probe.sport) {
      return { verdict: "accepted", outcome: proto === Protocol.TCP ? "refused" : "timeout", dnat, snat }
    }
    return { verdict: "accepted", outcome: "reply", dnat, snat }
  }
}
