/**
 * Goal: IPVS in the netfilter hook host behaves as the kernel's ip_vs_ops4 do
 * (net/netfilter/ipvs/ip_vs_core.c ip_vs_in / ip_vs_out, ip_vs_xmit.c ip_vs_nat_xmit,
 * ip_vs_nfct.c ip_vs_update_conntrack): the first packet to a virtual service is scheduled and
 * transmitted by IPVS itself (NF_STOLEN, sent on through LOCAL_OUT), the conntrack entry's reply
 * tuple is altered to the real server, the reply is un-NATed to the VIP at FORWARD, an established
 * connection survives its real server going to weight 0 while new ones avoid it, and a service
 * without real servers answers ICMP port unreachable (ip_vs_leave).
 * Method: one node's NetfilterStack (test helpers) with IpvsHooks and a transmitter that runs the
 * stolen packet through OUTPUT and POSTROUTING as ip_vs_nat_send_or_cont does. IPVS is not in this
 * machine's kernel, so the expectations come from the kernel sources cited here.
 */
import { describe, expect, it } from "vitest"
import { Hook, RejectWith, Verdict } from "../../../src/net/hooks.ts"
import { IpvsHooks } from "../../../src/netfilter/ipvs/hooks.ts"
import { Ipvs } from "../../../src/netfilter/ipvs/ipvs.ts"
import { ConntrackDropLink } from "../../../src/netfilter/ipvs/conntrack-link.ts"
import { Scheduler } from "../../../src/netfilter/ipvs/schedulers.ts"
import { formatIpv4, ipv4 } from "../../../src/wire/ipv4.ts"
import type { Packet } from "../../../src/wire/packet.ts"
import { TcpFlag } from "../../../src/wire/protocol.ts"
import { CNI0, ETH0, makeNode, receive, send, tcp } from "../helpers.ts"

const VIP = "10.96.0.10"
const RS_A = "10.1.0.7"
const RS_B = "10.2.0.8"

function setup() {
  const { host, stack } = makeNode()
  host.local.add(ipv4(VIP)) // bound to kube-ipvs0
  // kube-proxy's sysctls: conntrack=1, expire_nodest_conn=1 (ipvs.ts defaults are the kernel's).
  const ipvs = new Ipvs({ conntrack: true, expireNodestConn: true }, new ConntrackDropLink(stack.conntrack))
  const sent: { packet: Packet; readyNs: number; verdict: number }[] = []
  let pending: Packet | null = null
  const hooks = new IpvsHooks(ipvs, stack, {
    // ip_vs_nat_send_or_cont: NF_HOOK(LOCAL_OUT) then dst_output (POSTROUTING).
    resumeStolen: (_handle, readyNs) => {
      const packet = pending as Packet
      sent.push({ packet, readyNs, verdict: send(stack, packet, readyNs).verdict })
    },
    dropStolen: () => {},
    isLocalAddress: (a) => host.isLocalAddress(a),
  })
  hooks.register()
  const svc = ipvs.addService({ protocol: 6, addr: ipv4(VIP), port: 80, scheduler: Scheduler.RR })
  // ipvsadm -a in the order A, B: the kernel head-inserts (list_add_rcu), so the list is B, A.
  ipvs.addDest(svc, ipv4(RS_A), 8080, 1)
  ipvs.addDest(svc, ipv4(RS_B), 8080, 1)
  /** A packet from a pod on cni0 to the VIP: PREROUTING, INPUT; a stolen one is handed over. */
  const request = (packet: Packet, nowNs: number) => {
    const result = receive(stack, host, packet, CNI0, nowNs)
    if (result.verdict === Verdict.STOLEN) {
      pending = packet
      stack.takeStolen(7, packet, nowNs + result.costNs)
    }
    return result
  }
  return { host, stack, ipvs, hooks, svc, sent, request }
}

const dst = (p: Packet) => `${formatIpv4(p.dstAddr)}:${p.dstPort}`
const src = (p: Packet) => `${formatIpv4(p.srcAddr)}:${p.srcPort}`

describe("IPVS hooks", () => {
  it("registers ip_vs_ops4 at the kernel priorities, between filter and nat SNAT at LOCAL_IN", () => {
    const { stack } = setup()
    // ip_vs_core.c ip_vs_ops4: NF_IP_PRI_NAT_SRC - 2 / - 1 at LOCAL_IN, NF_IP_PRI_NAT_DST + 1 / + 2
    // at LOCAL_OUT, 100 at FORWARD; ip_vs_forward_icmp at 99 (icmp.test.ts).
    expect(stack.hooks.describe(Hook.INPUT)).toEqual([
      "-150 iptables mangle",
      "0 iptables filter",
      "98 ipvs reply",
      "99 ipvs remote request",
      "100 iptables nat",
      "2147483647 conntrack confirm",
    ])
    expect(stack.hooks.describe(Hook.OUTPUT).slice(3, 6)).toEqual([
      "-100 iptables nat",
      "-99 ipvs local reply",
      "-98 ipvs local request",
    ])
    expect(stack.hooks.describe(Hook.FORWARD)).toEqual([
      "-150 iptables mangle",
      "0 iptables filter",
      "99 ipvs forward icmp",
      "100 ipvs reply",
    ])
  })

  it("schedules the first packet, transmits it itself and un-NATs the reply", () => {
    const { stack, host, sent, request, ipvs } = setup()
    const syn = tcp("10.0.0.5", 40000, VIP, 80)
    const r = request(syn, 1_000)
    // ip_vs_in -> ip_vs_schedule (rr: the list head first, ip_vs_rr.c) -> ip_vs_nat_xmit: NF_STOLEN.
    expect(r.verdict).toBe(Verdict.STOLEN)
    expect(dst(syn)).toBe(`${RS_B}:8080`)
    // __ip_vs_get_out_rt -> decrement_ttl: routed on by IPVS, one TTL less.
    expect(syn.ttl).toBe(63)
    // Sent on through LOCAL_OUT and POSTROUTING, after the hooks' simulated CPU.
    expect(sent).toHaveLength(1)
    expect(sent[0].verdict).toBe(Verdict.ACCEPT)
    expect(sent[0].readyNs).toBe(1_000 + r.costNs)
    // ip_vs_update_conntrack: the unconfirmed entry's reply tuple now comes from the real server;
    // POSTROUTING confirmed it.
    const id = syn.ctId
    expect(stack.conntrack.isConfirmed(id)).toBe(true)
    expect(formatIpv4(stack.conntrack.srcOf(id * 2 + 1))).toBe(RS_B)
    expect(stack.conntrack.sportOf(id * 2 + 1)).toBe(8080)
    expect(ipvs.connectionCount).toBe(1)

    // The SYN-ACK from the real server, forwarded to the pod: ip_vs_reply4 at FORWARD puts the VIP back.
    const synAck = tcp(RS_B, 8080, "10.0.0.5", 40000, TcpFlag.SYN | TcpFlag.ACK)
    expect(receive(stack, host, synAck, ETH0, 2_000).verdict).toBe(Verdict.ACCEPT)
    expect(src(synAck)).toBe(`${VIP}:80`)
    // It matched the altered conntrack entry in the reply direction.
    expect(synAck.ctId).toBe(id)
    expect(synAck.ctDirection).toBe(1)

    // The next connection goes to the other real server (rr moves on).
    const syn2 = tcp("10.0.0.5", 40001, VIP, 80)
    request(syn2, 3_000)
    expect(dst(syn2)).toBe(`${RS_A}:8080`)
  })

  it("keeps an established connection on a weight-0 real server; new connections avoid it", () => {
    const { request, ipvs, svc } = setup()
    const syn = tcp("10.0.0.5", 40000, VIP, 80)
    request(syn, 1_000)
    expect(dst(syn)).toBe(`${RS_B}:8080`)
    // Graceful termination: kube-proxy sets the weight to 0 (graceful_termination.go).
    ipvs.editDest(svc, ipv4(RS_B), 8080, 0)
    const ack = tcp("10.0.0.5", 40000, VIP, 80, TcpFlag.ACK)
    const r = request(ack, 2_000)
    expect(r.verdict).toBe(Verdict.STOLEN)
    expect(dst(ack)).toBe(`${RS_B}:8080`)
    // rr skips weight-0 destinations for new connections (ip_vs_rr.c: `dest->weight > 0`).
    for (let port = 41000; port < 41004; port++) {
      const next = tcp("10.0.0.6", port, VIP, 80)
      request(next, 3_000 + port)
      expect(dst(next)).toBe(`${RS_A}:8080`)
    }
  })

  it("expires a deleted real server's connections (expire_nodest_conn=1): the next packet goes to the local stack", () => {
    const { request, ipvs, svc } = setup()
    const syn = tcp("10.0.0.5", 40000, VIP, 80)
    request(syn, 1_000)
    ipvs.deleteDest(svc, ipv4(RS_B), 8080)
    // Linux >= 5.9 flushes the connections of an unavailable dest (ip_vs_expire_nodest_conn_flush);
    // a non-SYN without a connection is not scheduled (tcp_conn_schedule) and continues to the host.
    const ack = tcp("10.0.0.5", 40000, VIP, 80, TcpFlag.ACK)
    const r = request(ack, 2_000)
    expect(r.verdict).toBe(Verdict.ACCEPT)
    expect(dst(ack)).toBe(`${VIP}:80`)
    expect(ipvs.connectionCount).toBe(0)
  })

  it("answers ICMP port unreachable for a service without real servers, TCP included (ip_vs_leave)", () => {
    const { request, ipvs, stack } = setup()
    ipvs.addService({ protocol: 6, addr: ipv4(VIP), port: 81, scheduler: Scheduler.RR })
    const syn = tcp("10.0.0.5", 40000, VIP, 81)
    const r = request(syn, 1_000)
    expect(r.verdict).toBe(Verdict.REJECT)
    expect(stack.lastRejectWith).toBe(RejectWith.ICMP_PORT_UNREACHABLE)
  })

  it("leaves packets to addresses without a virtual service alone", () => {
    const { request, hooks } = setup()
    const syn = tcp("10.0.0.5", 40000, VIP, 8443)
    expect(request(syn, 1_000).verdict).toBe(Verdict.ACCEPT)
    expect(dst(syn)).toBe(`${VIP}:8443`)
    expect(hooks.counters.transmitted).toBe(0)
  })
})
