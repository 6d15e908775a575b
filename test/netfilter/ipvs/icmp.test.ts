/**
 * Goal: ICMP errors about IPVS connections are translated as the kernel translates them
 * (net/netfilter/ipvs/ip_vs_core.c ip_vs_out_icmp + handle_response_icmp + ip_vs_nat_icmp(inout=1),
 * ip_vs_in_icmp + ip_vs_xmit.c ip_vs_icmp_xmit + ip_vs_nat_icmp(inout=0), ip_vs_forward_icmp):
 * a real server's port unreachable reaches the client as an error about its packet to the VIP; a
 * client's error about a reply is sent on to the real server; unrelated ICMP passes untouched.
 * Method: one node's NetfilterStack with IpvsHooks (as hooks.test.ts), a UDP and a TCP virtual
 * service, packets driven through PREROUTING/INPUT/FORWARD by the test helpers. IPVS is not in this
 * machine's kernel: the expectations are the kernel sources cited.
 */
import { describe, expect, it } from "vitest"
import { Hook, Verdict } from "../../../src/net/hooks.ts"
import { IpvsHooks } from "../../../src/netfilter/ipvs/hooks.ts"
import { Ipvs } from "../../../src/netfilter/ipvs/ipvs.ts"
import { ConntrackDropLink } from "../../../src/netfilter/ipvs/conntrack-link.ts"
import { Scheduler } from "../../../src/netfilter/ipvs/schedulers.ts"
import { CtState } from "../../../src/netfilter/constants.ts"
import { formatIpv4, ipv4 } from "../../../src/wire/ipv4.ts"
import { Packet } from "../../../src/wire/packet.ts"
import { IcmpCode, IcmpType, Protocol } from "../../../src/wire/protocol.ts"
import { CNI0, ETH0, makeNode, receive, send, tcp, udp } from "../helpers.ts"

const VIP = "10.96.0.10"
const RS = "10.2.0.8"
const CLIENT = "10.0.0.5"

function setup(options: { conntrack?: boolean; localRs?: boolean } = {}) {
  const { host, stack } = makeNode()
  host.local.add(ipv4(VIP)) // bound to kube-ipvs0
  if (options.localRs === true) host.local.add(ipv4(RS))
  const ipvs = new Ipvs(
    { conntrack: options.conntrack ?? true, expireNodestConn: true },
    new ConntrackDropLink(stack.conntrack),
  )
  const sent: Packet[] = []
  let pending: Packet | null = null
  const hooks = new IpvsHooks(ipvs, stack, {
    resumeStolen: () => {
      const packet = pending as Packet
      sent.push(packet)
      send(stack, packet, 0)
    },
    dropStolen: () => {},
    isLocalAddress: (a) => host.isLocalAddress(a),
  })
  hooks.register()
  const udpSvc = ipvs.addService({ protocol: Protocol.UDP, addr: ipv4(VIP), port: 53, scheduler: Scheduler.RR })
  ipvs.addDest(udpSvc, ipv4(RS), 5353, 1)
  const tcpSvc = ipvs.addService({ protocol: Protocol.TCP, addr: ipv4(VIP), port: 80, scheduler: Scheduler.RR })
  ipvs.addDest(tcpSvc, ipv4(RS), 8080, 1)
  /** A packet arriving on `inIf`; a stolen one is handed over and sent on through LOCAL_OUT. */
  const arrive = (packet: Packet, inIf: number, nowNs: number) => {
    const result = receive(stack, host, packet, inIf, nowNs)
    if (result.verdict === Verdict.STOLEN) {
      pending = packet
      stack.takeStolen(7, packet, nowNs + result.costNs)
    }
    return result
  }
  return { host, stack, ipvs, hooks, sent, arrive }
}

/** icmp_send's error about `orig`, from `from` (network.ts icmpError lays it out so). */
function icmpError(from: string, orig: Packet, type: number, code: number): Packet {
  const e = new Packet()
  e.protocol = Protocol.ICMP
  e.icmpType = type
  e.icmpCode = code
  e.srcAddr = ipv4(from)
  e.dstAddr = orig.srcAddr
  e.ttl = 64
  e.innerProtocol = orig.protocol
  e.innerSrcAddr = orig.srcAddr
  e.innerDstAddr = orig.dstAddr
  e.innerSrcPort = orig.srcPort
  e.innerDstPort = orig.dstPort
  e.totalBytes = 20 + 8 + orig.totalBytes
  return e
}

const inner = (p: Packet) =>
  `${formatIpv4(p.innerSrcAddr)}:${p.innerSrcPort} -> ${formatIpv4(p.innerDstAddr)}:${p.innerDstPort}`
const outer = (p: Packet) => `${formatIpv4(p.srcAddr)} -> ${formatIpv4(p.dstAddr)}`

describe("IPVS and ICMP errors", () => {
  it("registers ip_vs_forward_icmp at FORWARD priority 99, before ip_vs_reply4", () => {
    const { stack } = setup()
    expect(stack.hooks.describe(Hook.FORWARD).slice(-2)).toEqual(["99 ipvs forward icmp", "100 ipvs reply"])
  })

  it("gives a real server's port unreachable the VIP as outer source and inner destination (ip_vs_out_icmp)", () => {
    const { arrive, ipvs, hooks } = setup()
    const request = udp(CLIENT, 40000, VIP, 53)
    expect(arrive(request, CNI0, 1_000).verdict).toBe(Verdict.STOLEN)
    expect(`${formatIpv4(request.dstAddr)}:${request.dstPort}`).toBe(`${RS}:5353`)
    const before = ipvs.connections(2_000)[0]
    // The server is gone: the real server's kernel answers port unreachable about client -> RS:5353.
    const error = icmpError(RS, request, IcmpType.DEST_UNREACHABLE, IcmpCode.PORT_UNREACHABLE)
    const r = arrive(error, ETH0, 2_000)
    // Forwarded to the client pod; ip_vs_reply4 at FORWARD rewrote it (ip_vs_nat_icmp, inout = 1).
    expect(r).toMatchObject({ verdict: Verdict.ACCEPT, path: "forward" })
    expect(outer(error)).toBe(`${VIP} -> ${CLIENT}`)
    expect(inner(error)).toBe(`${CLIENT}:40000 -> ${VIP}:53`)
    // conntrack saw it as RELATED to the connection's entry (reply direction).
    expect(error.ctId).toBe(request.ctId)
    expect(error.ctState & CtState.RELATED).not.toBe(0)
    expect(hooks.icmp.counters.fromRealServer).toBe(1)
    // ip_vs_out_stats counts it; __ip_vs_conn_put leaves the timer alone.
    const after = ipvs.connections(2_000)[0]
    expect(after.expiresInNs).toBe(before.expiresInNs)
    const rs = ipvs.snapshot()[0].realServers[0]
    expect([rs.inPkts, rs.outPkts]).toEqual([1, 1])
  })

  it("translates a router's frag-needed about a TCP request the same way, outer source included", () => {
    const { arrive, hooks } = setup()
    const syn = tcp(CLIENT, 40001, VIP, 80)
    arrive(syn, CNI0, 1_000)
    // ip_vs_nat_icmp writes cp->vaddr as the outer source whoever sent the error.
    const error = icmpError("192.168.0.1", syn, IcmpType.DEST_UNREACHABLE, 4)
    expect(arrive(error, ETH0, 2_000).verdict).toBe(Verdict.ACCEPT)
    expect(outer(error)).toBe(`${VIP} -> ${CLIENT}`)
    expect(inner(error)).toBe(`${CLIENT}:40001 -> ${VIP}:80`)
    expect(error.icmpCode).toBe(4)
    expect(hooks.icmp.counters.fromRealServer).toBe(1)
  })

  it("sends a client's error about a reply on to the real server (ip_vs_in_icmp, ip_vs_icmp_xmit)", () => {
    const { arrive, sent, hooks } = setup()
    const request = udp(CLIENT, 40002, VIP, 53)
    arrive(request, CNI0, 1_000)
    const reply = udp(RS, 5353, CLIENT, 40002)
    arrive(reply, ETH0, 2_000)
    expect(`${formatIpv4(reply.srcAddr)}:${reply.srcPort}`).toBe(`${VIP}:53`)
    // The client's socket is gone: its kernel answers port unreachable to the VIP, about VIP:53 -> client.
    const error = icmpError(CLIENT, reply, IcmpType.DEST_UNREACHABLE, IcmpCode.PORT_UNREACHABLE)
    expect(outer(error)).toBe(`${CLIENT} -> ${VIP}`)
    const r = arrive(error, CNI0, 3_000)
    // LOCAL_IN ip_vs_remote_request4 -> ip_vs_in_icmp: mangled (inout = 0) and transmitted by IPVS.
    expect(r).toMatchObject({ verdict: Verdict.STOLEN, path: "local" })
    expect(sent.at(-1)).toBe(error)
    expect(outer(error)).toBe(`${CLIENT} -> ${RS}`)
    expect(inner(error)).toBe(`${RS}:5353 -> ${CLIENT}:40002`)
    expect(error.ttl).toBe(63) // __ip_vs_get_out_rt -> decrement_ttl
    expect(hooks.icmp.counters.fromClient).toBe(1)
  })

  it("handles an error about a reply routed through at FORWARD (ip_vs_forward_icmp), but not to a local real server", () => {
    const routed = setup()
    const request = udp(CLIENT, 40003, VIP, 53)
    routed.arrive(request, CNI0, 1_000)
    const reply = udp(VIP, 53, CLIENT, 40003)
    const error = icmpError(CLIENT, reply, IcmpType.DEST_UNREACHABLE, IcmpCode.HOST_UNREACHABLE)
    error.dstAddr = ipv4("10.3.0.9") // not local: routed through FORWARD
    expect(routed.arrive(error, CNI0, 2_000)).toMatchObject({ verdict: Verdict.STOLEN, path: "forward" })
    expect(outer(error)).toBe(`${CLIENT} -> ${RS}`)

    // "LOCALNODE from FORWARD hook is not supported": ip_vs_icmp_xmit's tx_error frees it.
    const local = setup({ localRs: true })
    const request2 = udp(CLIENT, 40004, VIP, 53)
    local.arrive(request2, CNI0, 1_000)
    const error2 = icmpError(CLIENT, udp(VIP, 53, CLIENT, 40004), IcmpType.DEST_UNREACHABLE, 1)
    error2.dstAddr = ipv4("10.3.0.9")
    expect(local.arrive(error2, CNI0, 2_000).verdict).toBe(Verdict.DROP)
    expect(local.hooks.icmp.counters.dropped).toBe(1)
  })

  it("leaves ICMP alone that is not an error about an IPVS connection", () => {
    const { arrive, hooks } = setup()
    // No connection: an error about some other flow passes unchanged.
    const stray = icmpError(RS, udp(CLIENT, 41000, RS, 5353), IcmpType.DEST_UNREACHABLE, IcmpCode.PORT_UNREACHABLE)
    expect(arrive(stray, ETH0, 1_000).verdict).toBe(Verdict.ACCEPT)
    expect(outer(stray)).toBe(`${RS} -> ${CLIENT}`)
    expect(inner(stray)).toBe(`${CLIENT}:41000 -> ${RS}:5353`)
    // Not an error type (ip_vs_out_icmp: `*related = 0`): an echo request to the VIP reaches the host.
    const echo = new Packet()
    echo.protocol = Protocol.ICMP
    echo.icmpType = IcmpType.ECHO_REQUEST
    echo.srcAddr = ipv4(CLIENT)
    echo.dstAddr = ipv4(VIP)
    echo.srcPort = 9
    echo.totalBytes = 84
    expect(arrive(echo, CNI0, 2_000)).toMatchObject({ verdict: Verdict.ACCEPT, path: "local" })
    expect(outer(echo)).toBe(`${CLIENT} -> ${VIP}`)
    expect(hooks.icmp.counters).toMatchObject({ fromRealServer: 0, fromClient: 0 })
  })

  it("without conntrack=1 the translated error continues untracked (ip_vs_notrack)", () => {
    const { arrive } = setup({ conntrack: false })
    const request = udp(CLIENT, 40005, VIP, 53)
    arrive(request, CNI0, 1_000)
    const error = icmpError(RS, request, IcmpType.DEST_UNREACHABLE, IcmpCode.PORT_UNREACHABLE)
    arrive(error, ETH0, 2_000)
    expect(inner(error)).toBe(`${CLIENT}:40005 -> ${VIP}:53`)
    expect(error.untracked).toBe(true)
  })
})
