/**
 * Goal: net/ and netfilter/ together. Method: the node namespace gets a NetfilterStack loaded with a
 * hand-written iptables-restore rule set (DNAT of a ClusterIP to a pod on another node, a hairpin
 * Service with MASQUERADE, a REJECT); UDP and TCP clients in a pod talk to the ClusterIP and must see
 * replies from the ClusterIP (conntrack translates them back), the hairpinned server must see the
 * bridge gateway as source, and a REJECTed connect must fail with ECONNREFUSED.
 */
import { describe, expect, it } from "vitest"
import { Rng } from "../../src/sim/rng.ts"
import { formatIpv4, ipv4 } from "../../src/wire/ipv4.ts"
import type { Ipv4 } from "../../src/wire/ipv4.ts"
import { DropReason } from "../../src/wire/drop-reason.ts"
import { NetfilterStack } from "../../src/netfilter/stack.ts"
import { NetError } from "../../src/net/errors.ts"
import type { TcpConnection, TcpConnectionListener, TcpListenSocket, TcpServerListener } from "../../src/net/tcp.ts"
import { PingLog, SPEC, UdpLog, run, world } from "./helpers.ts"
import type { World } from "./helpers.ts"

const CLUSTER_IP = ipv4("10.96.0.10")
const HAIRPIN_IP = ipv4("10.96.0.20")
const REJECT_IP = ipv4("10.96.0.30")

class Peer implements TcpConnectionListener, TcpServerListener {
  readonly messages: [number, number][] = []
  readonly remotes: string[] = []
  error: NetError | -1 = -1
  closedNs = -1
  reply = 0
  constructor(private readonly w: World) {}
  onAccept(_s: TcpListenSocket, conn: TcpConnection): TcpConnectionListener {
    this.remotes.push(`${formatIpv4(conn.remoteAddr)}`)
    return this
  }
  onConnected(conn: TcpConnection): void {
    if (this.reply === 0) conn.send(300, 7)
  }
  onMessage(conn: TcpConnection, bytes: number, tag: number): void {
    this.messages.push([bytes, tag])
    if (this.reply > 0) conn.send(this.reply, tag + 1)
  }
  onPeerClosed(conn: TcpConnection): void {
    conn.close()
  }
  onClosed(_conn: TcpConnection, error: NetError): void {
    this.error = error
    this.closedNs = this.w.scheduler.nowNs
  }
}

function setup(cni: "bridge" | "aws-vpc") {
  const w = world(cni)
  const n1 = w.cluster.addNode("n1", "a")
  const n2 = w.cluster.addNode("n2", "a")
  const a = w.cluster.addPod(n1, "a")
  const b = w.cluster.addPod(n2, "b")
  const stack = new NetfilterStack(n1.ns, { rng: Rng.stream(1, "node/n1/netfilter") })
  const ip = (x: Ipv4): string => formatIpv4(x)
  stack.restore(
    [
      "*nat",
      ":PREROUTING ACCEPT [0:0]",
      ":INPUT ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":POSTROUTING ACCEPT [0:0]",
      `-A PREROUTING -d ${ip(CLUSTER_IP)}/32 -p udp -m udp --dport 53 -j DNAT --to-destination ${ip(b.ip)}:5353`,
      `-A PREROUTING -d ${ip(CLUSTER_IP)}/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination ${ip(b.ip)}:8080`,
      `-A PREROUTING -d ${ip(HAIRPIN_IP)}/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination ${ip(a.ip)}:8080`,
      `-A POSTROUTING -s ${ip(a.ip)}/32 -d ${ip(a.ip)}/32 -j MASQUERADE`,
      "COMMIT",
      "*filter",
      ":INPUT ACCEPT [0:0]",
      ":FORWARD ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      `-A FORWARD -d ${ip(REJECT_IP)}/32 -p tcp -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable`,
      "COMMIT",
      "",
    ].join("\n"),
  )
  n1.ns.filter = stack
  return { w, n1, n2, a, b, stack }
}

describe("DNAT through the node's NetfilterStack", () => {
  for (const cni of ["bridge", "aws-vpc"] as const) {
    it(`${cni}: UDP to a ClusterIP reaches the pod; the reply comes back from the ClusterIP`, () => {
      const { w, a, b, stack } = setup(cni)
      const server = new UdpLog(w.scheduler)
      server.echo = true
      w.net.udpBind(b.ns, 0, 5353, server)
      const client = new UdpLog(w.scheduler)
      const sock = w.net.udpBind(a.ns, 0, 0, client)
      if (sock === null) throw new Error("bind")
      sock.connect(CLUSTER_IP, 53)
      sock.send(40, 1)
      run(w)
      expect(server.messages.map((m) => [m.from, m.port, m.tag])).toEqual([[a.ip, sock.localPort, 1]])
      expect(client.messages.map((m) => [m.from, m.port, m.tag])).toEqual([[CLUSTER_IP, 53, 1001]])
      expect(stack.conntrack.count).toBe(1)
    })

    it(`${cni}: TCP to a ClusterIP: handshake, data both ways, close; replies translated back`, () => {
      const { w, a, b } = setup(cni)
      const server = new Peer(w)
      server.reply = 2000
      w.net.tcpListen(b.ns, 0, 8080, server)
      const client = new Peer(w)
      const conn = w.net.tcpConnect(a.ns, CLUSTER_IP, 80, client)
      run(w, 5_000_000)
      expect(server.remotes).toEqual([formatIpv4(a.ip)])
      expect(server.messages).toEqual([[300, 7]])
      expect(client.messages).toEqual([[2000, 8]])
      expect(conn.remoteAddr).toBe(CLUSTER_IP)
      conn.close()
      run(w)
      expect(client.error).toBe(NetError.NONE)
      expect(w.net.counters.inFlight).toBe(0)
    })
  }

  it("bridge: DNAT to a pod on the same bridge is re-bridged (TTL 64, br_nf_pre_routing_finish bridged_dnat); to another node it is routed", () => {
    // Linux net/bridge/br_netfilter_hooks.c br_nf_pre_routing_finish(): when PREROUTING changed
    // the destination and the route for it leaves through the bridge the frame came in on, the
    // frame is bridged to the new destination's port ("bridged_dnat"), not routed, so ip_forward's
    // TTL decrement does not happen. The kernel differential test (test/kernel) measures it with
    // real namespaces: hops=0 for pod -> ClusterIP -> pod on the same cni0.
    const { w, a, b, stack } = setup("bridge")
    const c = w.cluster.addPod(a.node, "c")
    stack.restore(
      `*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -d 10.96.0.40/32 -p udp -m udp --dport 53 -j DNAT --to-destination ${formatIpv4(c.ip)}:5353\n-A PREROUTING -d 10.96.0.41/32 -p udp -m udp --dport 53 -j DNAT --to-destination ${formatIpv4(b.ip)}:5353\nCOMMIT\n`,
      { noflush: true },
    )
    const ttls: number[] = []
    const record = { onUdpMessage: (_s: unknown, p: { ttl: number }) => void ttls.push(p.ttl), onUdpError: () => {} }
    w.net.udpBind(c.ns, 0, 5353, record)
    w.net.udpBind(b.ns, 0, 5353, record)
    const sock = w.net.udpBind(a.ns, 0, 0, new UdpLog(w.scheduler))
    if (sock === null) throw new Error("bind")
    sock.sendTo(ipv4("10.96.0.40"), 53, 10)
    run(w)
    sock.sendTo(ipv4("10.96.0.41"), 53, 10)
    run(w)
    expect(ttls).toEqual([64, 62])
  })

  it("bridge hairpin: a pod reaches itself through a Service, masqueraded to the cni0 gateway", () => {
    const { w, a } = setup("bridge")
    const server = new Peer(w)
    server.reply = 100
    w.net.tcpListen(a.ns, 0, 8080, server)
    const client = new Peer(w)
    w.net.tcpConnect(a.ns, HAIRPIN_IP, 80, client)
    run(w, 5_000_000)
    expect(server.remotes).toEqual(["10.244.0.1"])
    expect(server.messages).toEqual([[300, 7]])
    expect(client.messages).toEqual([[100, 8]])
  })

  it("aws-vpc hairpin: masqueraded to the node's address", () => {
    const { w, a, n1 } = setup("aws-vpc")
    const server = new Peer(w)
    server.reply = 100
    w.net.tcpListen(a.ns, 0, 8080, server)
    const client = new Peer(w)
    w.net.tcpConnect(a.ns, HAIRPIN_IP, 80, client)
    run(w, 5_000_000)
    expect(server.remotes).toEqual([formatIpv4(n1.ip)])
    expect(client.messages).toEqual([[100, 8]])
  })

  it("REJECT --reject-with icmp-port-unreachable: connect() fails with ECONNREFUSED in one pod<->node round trip", () => {
    const { w, a } = setup("bridge")
    const client = new Peer(w)
    w.net.tcpConnect(a.ns, REJECT_IP, 80, client)
    run(w)
    expect(client.error).toBe(NetError.REFUSED)
    expect(client.closedNs).toBeGreaterThanOrEqual(2 * SPEC.sameNodeLatencyNs)
    expect(client.closedNs).toBeLessThan(2 * SPEC.sameNodeLatencyNs + 20_000)
    expect(w.net.counters.droppedByReason[DropReason.NETFILTER_REJECT]).toBe(1)
    // ping through the node still works (ICMP not rejected).
    const log = new PingLog()
    w.net.createPinger(a.ns, log).send(ipv4("10.0.0.10"), 1)
    run(w)
    expect(log.replies.length).toBe(1)
  })
})
