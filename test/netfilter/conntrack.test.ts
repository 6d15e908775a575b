/**
 * Goal: conntrack and NAT behave as the kernel: replies of NATed flows are translated back to the
 * original tuple (property over TCP/UDP/ICMP, DNAT and MASQUERADE), timeouts expire on simulated
 * time, a full table drops new flows, ICMP errors are RELATED and translated, MASQUERADE picks a
 * new port on clash.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { NS_PER_S } from "../../src/sim/time.ts"
import { Hook, Verdict } from "../../src/net/hooks.ts"
import { DropReason } from "../../src/wire/drop-reason.ts"
import { formatIpv4, ipv4 } from "../../src/wire/ipv4.ts"
import { Packet } from "../../src/wire/packet.ts"
import { Protocol, TcpFlag } from "../../src/wire/protocol.ts"
import { KUBE_PROXY_CONNTRACK_TIMEOUTS } from "../../src/netfilter/conntrack.ts"
import { CtState, TcpState } from "../../src/netfilter/constants.ts"
import { CNI0, ETH0, icmpEcho, makeNode, receive, replyTo, send, tcp, udp } from "./helpers.ts"

const SERVICE_NAT = `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 172.30.0.10 -j DNAT --to-destination 10.180.0.5
-A PREROUTING -d 172.30.0.11 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.180.0.6:8080
-A PREROUTING -d 172.30.0.11 -p udp -m udp --dport 53 -j DNAT --to-destination 10.180.0.6:5353
-A OUTPUT -d 172.30.0.11 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.180.0.6:8080
-A POSTROUTING -s 192.168.0.0/16 -o cni0 -j MASQUERADE
COMMIT
`

function tuple(p: Packet): string {
  return `${formatIpv4(p.srcAddr)}:${p.srcPort} > ${formatIpv4(p.dstAddr)}:${p.dstPort}`
}

describe("NAT", () => {
  it("every reply of a NATed flow is translated back to the original tuple (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            proto: fc.constantFrom(Protocol.TCP, Protocol.UDP, Protocol.ICMP),
            vip: fc.constantFrom("172.30.0.10", "172.30.0.11"),
            client: fc.constantFrom("192.168.1.5", "192.168.1.6", "10.0.0.7"),
            sport: fc.integer({ min: 1, max: 65535 }),
            dport: fc.constantFrom(53, 80),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        (flows) => {
          const { stack, host } = makeNode({}, 9)
          stack.restore(SERVICE_NAT)
          let t = 0
          for (const f of flows) {
            t += 1000
            const p =
              f.proto === Protocol.TCP
                ? tcp(f.client, f.sport, f.vip, f.dport)
                : f.proto === Protocol.UDP
                  ? udp(f.client, f.sport, f.vip, f.dport)
                  : icmpEcho(f.client, f.vip, f.sport)
            const original = new Packet()
            Object.assign(original, p)
            const inIf = f.client.startsWith("10.") ? CNI0 : ETH0
            const r1 = receive(stack, host, p, inIf, t)
            if (r1.verdict !== Verdict.ACCEPT) {
              // A second flow may reuse an existing tuple; only insert failures may drop here.
              expect(stack.lastDropReason).toBe(DropReason.CONNTRACK_INSERT_FAILED)
              continue
            }
            // The server answers the packet as it received it.
            const reply = replyTo(p)
            const outIf = f.client.startsWith("10.") ? CNI0 : ETH0
            const r2 = receive(stack, host, reply, p.dstAddr >>> 24 === 10 ? CNI0 : ETH0, t + 1)
            expect(r2.verdict).toBe(Verdict.ACCEPT)
            void outIf
            expect(reply.srcAddr).toBe(original.dstAddr)
            expect(reply.dstAddr).toBe(original.srcAddr)
            if (f.proto === Protocol.ICMP) expect(reply.srcPort).toBe(original.srcPort)
            else {
              expect(reply.srcPort).toBe(original.dstPort)
              expect(reply.dstPort).toBe(original.srcPort)
            }
            expect(reply.ctState & CtState.ESTABLISHED).not.toBe(0)
          }
        },
      ),
      { numRuns: 60 },
    )
  })

  it("DNAT then MASQUERADE: conntrack -L shows both tuples; later packets skip the nat chains", () => {
    const { stack, host } = makeNode({ conntrack: { timeouts: KUBE_PROXY_CONNTRACK_TIMEOUTS } })
    stack.restore(SERVICE_NAT)
    const syn = tcp("192.168.1.5", 40000, "172.30.0.11", 80)
    receive(stack, host, syn, ETH0, 0)
    expect(tuple(syn)).toBe("10.0.0.1:40000 > 10.180.0.6:8080")
    expect(syn.ctState).toBe(CtState.NEW | CtState.SNAT | CtState.DNAT)
    const synack = replyTo(syn)
    receive(stack, host, synack, CNI0, 1)
    expect(tuple(synack)).toBe("172.30.0.11:80 > 192.168.1.5:40000")
    const ack = tcp("192.168.1.5", 40000, "172.30.0.11", 80, TcpFlag.ACK)
    const prerouting = stack.table(2).chain("PREROUTING")
    if (prerouting === undefined) throw new Error("no nat PREROUTING")
    const hits = stack.counters.get(prerouting, 1).packets
    receive(stack, host, ack, ETH0, 2)
    expect(stack.counters.get(prerouting, 1).packets).toBe(hits)
    expect(tuple(ack)).toBe("10.0.0.1:40000 > 10.180.0.6:8080")
    expect(ack.ctState & CtState.ESTABLISHED).not.toBe(0)
    expect(stack.conntrack.list(2)).toEqual([
      "tcp      6 86400 ESTABLISHED src=192.168.1.5 dst=172.30.0.11 sport=40000 dport=80 src=10.180.0.6 dst=10.0.0.1 sport=8080 dport=40000 [ASSURED] mark=0 use=1",
    ])
  })

  it("MASQUERADE picks a new source port when the reply tuple is taken; --random-fully draws from the rng", () => {
    const { stack, host } = makeNode()
    stack.restore(`*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n`)
    const a = tcp("10.0.0.5", 5555, "8.8.8.8", 443)
    const b = tcp("10.0.0.6", 5555, "8.8.8.8", 443)
    receive(stack, host, a, CNI0, 0)
    receive(stack, host, b, CNI0, 0)
    expect(a.srcPort).toBe(5555)
    expect(formatIpv4(b.srcAddr)).toBe("192.168.0.2")
    expect(b.srcPort).not.toBe(5555)
    expect(b.srcPort).toBeGreaterThanOrEqual(1024)
    // Replies reach the right client.
    const rb = replyTo(b)
    receive(stack, host, rb, ETH0, 1)
    expect(tuple(rb)).toBe("8.8.8.8:443 > 10.0.0.6:5555")
    const { stack: s2, host: h2 } = makeNode({}, 77)
    s2.restore(`*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth0 -j MASQUERADE --random-fully\nCOMMIT\n`)
    const ports = new Set<number>()
    for (let i = 0; i < 20; i++) {
      const p = udp("10.0.0.5", 5000 + i, "8.8.8.8", 53)
      receive(s2, h2, p, CNI0, 0)
      ports.add(p.srcPort)
      expect(p.srcPort).toBeGreaterThanOrEqual(1024)
    }
    expect(ports.size).toBeGreaterThan(15)
  })

  it("ICMP errors are RELATED and translated back (outer and inner headers)", () => {
    const { stack, host } = makeNode()
    stack.restore(SERVICE_NAT)
    const q = udp("192.168.1.5", 33000, "172.30.0.11", 53)
    receive(stack, host, q, ETH0, 0)
    expect(tuple(q)).toBe("10.0.0.1:33000 > 10.180.0.6:5353")
    // The endpoint answers port unreachable about the packet it received.
    const err = new Packet()
    err.srcAddr = ipv4("10.180.0.6")
    err.dstAddr = q.srcAddr
    err.protocol = Protocol.ICMP
    err.icmpType = 3
    err.icmpCode = 3
    err.innerSrcAddr = q.srcAddr
    err.innerDstAddr = q.dstAddr
    err.innerProtocol = Protocol.UDP
    err.innerSrcPort = q.srcPort
    err.innerDstPort = q.dstPort
    expect(receive(stack, host, err, CNI0, 1).verdict).toBe(Verdict.ACCEPT)
    expect(err.ctState & CtState.RELATED).not.toBe(0)
    expect(formatIpv4(err.srcAddr)).toBe("172.30.0.11")
    expect(formatIpv4(err.dstAddr)).toBe("192.168.1.5")
    expect(
      `${formatIpv4(err.innerSrcAddr)}:${err.innerSrcPort} > ${formatIpv4(err.innerDstAddr)}:${err.innerDstPort}`,
    ).toBe("192.168.1.5:33000 > 172.30.0.11:53")
    // An error about an unknown flow is INVALID.
    const stray = new Packet()
    Object.assign(stray, err)
    stray.innerSrcPort = 1
    stray.srcAddr = ipv4("10.180.0.6")
    stray.dstAddr = ipv4("10.0.0.1")
    receive(stack, host, stray, CNI0, 2)
    expect(stray.ctState).toBe(CtState.INVALID)
  })
})

describe("conntrack", () => {
  it("TCP states and timeouts follow the kernel defaults; entries expire on simulated time", () => {
    const { stack, host } = makeNode()
    const syn = tcp("10.0.0.5", 1234, "10.0.0.9", 80)
    receive(stack, host, syn, CNI0, 0)
    const id = syn.ctId
    const ct = stack.conntrack
    expect(ct.tcpState[id]).toBe(TcpState.SYN_SENT)
    expect(ct.expiresNs[id]).toBe(120 * NS_PER_S)
    receive(stack, host, replyTo(syn), CNI0, 1)
    expect(ct.tcpState[id]).toBe(TcpState.SYN_RECV)
    expect(ct.expiresNs[id]).toBe(1 + 60 * NS_PER_S)
    receive(stack, host, tcp("10.0.0.5", 1234, "10.0.0.9", 80, TcpFlag.ACK), CNI0, 2)
    expect(ct.tcpState[id]).toBe(TcpState.ESTABLISHED)
    expect(ct.expiresNs[id]).toBe(2 + 432000 * NS_PER_S)
    receive(stack, host, tcp("10.0.0.5", 1234, "10.0.0.9", 80, TcpFlag.FIN | TcpFlag.ACK), CNI0, 3)
    expect(ct.tcpState[id]).toBe(TcpState.FIN_WAIT)
    receive(stack, host, replyTo(syn, TcpFlag.ACK), CNI0, 4)
    expect(ct.tcpState[id]).toBe(TcpState.CLOSE_WAIT)
    receive(stack, host, replyTo(syn, TcpFlag.FIN | TcpFlag.ACK), CNI0, 5)
    expect(ct.tcpState[id]).toBe(TcpState.LAST_ACK)
    receive(stack, host, tcp("10.0.0.5", 1234, "10.0.0.9", 80, TcpFlag.ACK), CNI0, 6)
    expect(ct.tcpState[id]).toBe(TcpState.TIME_WAIT)
    expect(ct.expiresNs[id]).toBe(6 + 120 * NS_PER_S)
    expect(ct.list(7).length).toBe(1)
    expect(ct.list(6 + 120 * NS_PER_S)).toEqual([])
    // A SYN reusing a TIME_WAIT tuple starts a fresh connection.
    receive(stack, host, tcp("10.0.0.5", 1234, "10.0.0.9", 80, TcpFlag.ACK | TcpFlag.FIN), CNI0, 8)
  })

  it("UDP: 30 s unreplied, 30 s replied within 2 s, 120 s (ASSURED) after; ICMP 30 s", () => {
    const { stack, host } = makeNode()
    const q = udp("10.0.0.5", 999, "10.0.0.9", 53)
    receive(stack, host, q, CNI0, 0)
    const ct = stack.conntrack
    expect(ct.expiresNs[q.ctId]).toBe(30 * NS_PER_S)
    receive(stack, host, replyTo(q), CNI0, NS_PER_S)
    expect(ct.expiresNs[q.ctId]).toBe(31 * NS_PER_S)
    receive(stack, host, udp("10.0.0.5", 999, "10.0.0.9", 53), CNI0, 3 * NS_PER_S)
    expect(ct.expiresNs[q.ctId]).toBe(123 * NS_PER_S)
    expect(ct.list(3 * NS_PER_S)[0]).toContain("[ASSURED]")
    const e = icmpEcho("10.0.0.5", "10.0.0.9", 77)
    receive(stack, host, e, CNI0, 0)
    expect(ct.expiresNs[e.ctId]).toBe(30 * NS_PER_S)
    // Unreplied UDP is gone after 30 s: the next packet is NEW again.
    const late = udp("10.0.0.5", 998, "10.0.0.9", 53)
    receive(stack, host, late, CNI0, 0)
    const again = udp("10.0.0.5", 998, "10.0.0.9", 53)
    receive(stack, host, again, CNI0, 30 * NS_PER_S)
    expect(again.ctState).toBe(CtState.NEW)
  })

  it("TCP without an entry: ACK is picked up (tcp_loose=1), FIN/RST are INVALID; tcpLoose=false makes ACK INVALID", () => {
    const { stack, host } = makeNode()
    const ack = tcp("10.0.0.5", 1, "10.0.0.9", 80, TcpFlag.ACK)
    receive(stack, host, ack, CNI0, 0)
    expect(ack.ctState).toBe(CtState.NEW)
    const rst = tcp("10.0.0.5", 2, "10.0.0.9", 80, TcpFlag.RST)
    receive(stack, host, rst, CNI0, 0)
    expect(rst.ctState).toBe(CtState.INVALID)
    const { stack: strict, host: h2 } = makeNode({ conntrack: { tcpLoose: false } })
    strict.restore(`*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -m conntrack --ctstate INVALID -j DROP\nCOMMIT\n`)
    const ack2 = tcp("10.0.0.5", 1, "10.0.0.9", 80, TcpFlag.ACK)
    expect(receive(strict, h2, ack2, CNI0, 0).verdict).toBe(Verdict.DROP)
    expect(strict.conntrack.stats().invalid).toBe(1)
  })

  it("a full table drops new flows (CONNTRACK_FULL) unless early_drop finds a non-assured entry", () => {
    const { stack, host } = makeNode({ conntrack: { max: 4 } })
    // Four assured UDP flows fill the table.
    for (let i = 0; i < 4; i++) {
      const q = udp("10.0.0.5", 100 + i, "10.0.0.9", 53)
      receive(stack, host, q, CNI0, 0)
      receive(stack, host, replyTo(q), CNI0, 1)
      receive(stack, host, udp("10.0.0.5", 100 + i, "10.0.0.9", 53), CNI0, 3 * NS_PER_S)
    }
    const extra = udp("10.0.0.5", 200, "10.0.0.9", 53)
    const r = receive(stack, host, extra, CNI0, 4 * NS_PER_S)
    expect(r.verdict).toBe(Verdict.DROP)
    expect(stack.lastDropReason).toBe(DropReason.CONNTRACK_FULL)
    expect(stack.conntrack.stats().dropTableFull).toBe(1)
    // Established flows still pass.
    expect(receive(stack, host, udp("10.0.0.5", 100, "10.0.0.9", 53), CNI0, 4 * NS_PER_S).verdict).toBe(Verdict.ACCEPT)
    // Non-assured entries in the new flow's bucket are early-dropped instead: all of that bucket's
    // (early_drop_list; conntrack-buckets.test.ts covers the 8-bucket window).
    const { stack: s2, host: h2 } = makeNode({ conntrack: { max: 4, buckets: 512 } })
    const bucketOf = (port: number): number =>
      s2.conntrack.bucketOf(ipv4("10.0.0.5"), ipv4("10.0.0.9"), port, 53, Protocol.UDP)
    const ports: number[] = []
    for (let port = 1024; ports.length < 4; port++) if (bucketOf(port) === bucketOf(300)) ports.push(port)
    for (const port of ports) receive(s2, h2, udp("10.0.0.5", port, "10.0.0.9", 53), CNI0, 0)
    expect(receive(s2, h2, udp("10.0.0.5", 300, "10.0.0.9", 53), CNI0, 1).verdict).toBe(Verdict.ACCEPT)
    expect(s2.conntrack.stats()).toMatchObject({ earlyDrops: 4, dropTableFull: 0, entries: 1, peak: 4 })
    // After expiry the table has room again.
    expect(receive(stack, host, extra, CNI0, 200 * NS_PER_S).verdict).toBe(Verdict.ACCEPT)
  })

  it("deleteWhere (kube-proxy stale UDP cleanup) and flush", () => {
    const { stack, host } = makeNode()
    stack.restore(SERVICE_NAT)
    for (let i = 0; i < 3; i++) receive(stack, host, udp("192.168.1.5", 4000 + i, "172.30.0.11", 53), ETH0, 0)
    receive(stack, host, tcp("192.168.1.5", 4000, "172.30.0.11", 80), ETH0, 0)
    const ct = stack.conntrack
    expect(
      ct.deleteWhere({
        protocol: Protocol.UDP,
        origDst: ipv4("172.30.0.11"),
        origDstPort: 53,
        replySrcNotIn: new Set([ipv4("10.180.0.6")]),
      }),
    ).toBe(0)
    expect(ct.deleteWhere({ protocol: Protocol.UDP, origDst: ipv4("172.30.0.11"), origDstPort: 53 })).toBe(3)
    expect(ct.list(0).length).toBe(1)
    expect(ct.flush()).toBe(1)
    expect(ct.stats(0)).toMatchObject({ entries: 0, confirmed: 0, peak: 4 })
  })

  it("NOTRACK in raw leaves packets UNTRACKED and out of the table; OUTPUT DNAT for local clients", () => {
    const { stack } = makeNode()
    stack.restore(`*raw\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p udp -m udp --dport 53 -j CT --notrack\nCOMMIT\n`)
    stack.restore(SERVICE_NAT, { noflush: true })
    const q = udp("192.168.0.2", 5000, "10.0.0.9", 53)
    send(stack, q, 0)
    expect(q.ctState).toBe(CtState.UNTRACKED)
    const c = tcp("192.168.0.2", 5001, "172.30.0.11", 80)
    expect(send(stack, c, 0).verdict).toBe(Verdict.ACCEPT)
    // The MASQUERADE rule (-s 192.168.0.0/16 -o cni0) applies to the node's own address too.
    expect(tuple(c)).toBe("10.0.0.1:5001 > 10.180.0.6:8080")
    expect(stack.conntrack.count).toBe(1)
    expect(stack.runHook(Hook.OUTPUT, udp("192.168.0.2", 5000, "10.0.0.9", 53), -1, CNI0, 0)).toBe(Verdict.ACCEPT)
  })
})
