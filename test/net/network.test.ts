/**
 * Goal: pin the packet path's timing and drop behaviour to the model (latencies, serialization,
 * MTU, queue bound, loss), in both CNI layouts. Method: tiny clusters, exact expected figures.
 */
import { describe, expect, it } from "vitest"
import { DropReason } from "../../src/wire/drop-reason.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { IPV4_HEADER_BYTES, UDP_HEADER_BYTES } from "../../src/wire/protocol.ts"
import { NetError } from "../../src/net/errors.ts"
import { PingLog, SPEC, UdpLog, run, serializationNs, world } from "./helpers.ts"

const PING_BYTES = 84 // 56(84) bytes of data

describe("ping", () => {
  for (const cni of ["bridge", "aws-vpc"] as const) {
    it(`${cni}: cross-node RTT equals 2 x (2 veth + fabric + serialization) and TTL is 62`, () => {
      const w = world(cni)
      const n1 = w.cluster.addNode("n1", "a")
      const n2 = w.cluster.addNode("n2", "a")
      const a = w.cluster.addPod(n1, "a")
      const b = w.cluster.addPod(n2, "b")
      const log = new PingLog()
      const pinger = w.net.createPinger(a.ns, log)
      pinger.send(b.ip, 1)
      run(w)
      const oneWay = 2 * SPEC.sameNodeLatencyNs + SPEC.crossNodeLatencyNs + serializationNs(PING_BYTES)
      expect(log.replies).toEqual([{ seq: 1, rttNs: 2 * oneWay, ttl: 62, from: b.ip }])
      expect(w.net.counters.sent).toBe(2)
      expect(w.net.counters.delivered).toBe(2)
      expect(w.net.counters.inFlight).toBe(0)
    })

    it(`${cni}: cross-zone RTT uses crossZoneLatencyNs; forwardCostNs is charged per routed hop`, () => {
      const w = world(cni, SPEC, 1, { forwardCostNs: 3_000 })
      const n1 = w.cluster.addNode("n1", "a")
      const n2 = w.cluster.addNode("n2", "b")
      const a = w.cluster.addPod(n1, "a")
      const b = w.cluster.addPod(n2, "b")
      const log = new PingLog()
      w.net.createPinger(a.ns, log).send(b.ip, 7)
      run(w)
      const oneWay = 2 * SPEC.sameNodeLatencyNs + SPEC.crossZoneLatencyNs + serializationNs(PING_BYTES) + 2 * 3_000
      expect(log.replies.map((r) => r.rttNs)).toEqual([2 * oneWay])
    })
  }

  it("bridge: same-node pods are bridged (TTL 64), pod -> its node is one veth hop", () => {
    const w = world("bridge", SPEC, 1, { forwardCostNs: 3_000 })
    const n1 = w.cluster.addNode("n1", "a")
    const a = w.cluster.addPod(n1, "a")
    const b = w.cluster.addPod(n1, "b")
    const log = new PingLog()
    const p = w.net.createPinger(a.ns, log)
    p.send(b.ip, 1)
    p.send(n1.ip, 2)
    run(w)
    expect(log.replies).toEqual([
      { seq: 2, rttNs: 2 * SPEC.sameNodeLatencyNs, ttl: 64, from: n1.ip },
      { seq: 1, rttNs: 4 * SPEC.sameNodeLatencyNs, ttl: 64, from: b.ip },
    ])
  })

  it("aws-vpc: same-node pods are routed by the host (TTL 63); pod eth0 is /32 via 169.254.1.1", () => {
    const w = world("aws-vpc")
    const n1 = w.cluster.addNode("n1", "a")
    const a = w.cluster.addPod(n1, "a")
    const b = w.cluster.addPod(n1, "b")
    expect(a.ns.formatRoutes()).toEqual(["169.254.1.1 dev eth0", "default via 169.254.1.1 dev eth0"])
    expect(n1.ns.formatRoutes()).toContain(`10.0.0.11 dev ${a.hostVeth.name}`)
    expect(a.hostVeth.name).toMatch(/^eni[0-9a-f]{11}$/)
    const log = new PingLog()
    w.net.createPinger(a.ns, log).send(b.ip, 1)
    run(w)
    expect(log.replies).toEqual([{ seq: 1, rttNs: 4 * SPEC.sameNodeLatencyNs, ttl: 63, from: b.ip }])
  })

  it("external host reaches a pod through the edge router", () => {
    for (const cni of ["bridge", "aws-vpc"] as const) {
      const w = world(cni)
      const n1 = w.cluster.addNode("n1", "a")
      const a = w.cluster.addPod(n1, "a")
      const ext = w.cluster.addExternalHost("client")
      expect(ext.ip).toBe(ipv4("203.0.113.10"))
      const log = new PingLog()
      w.net.createPinger(ext.ns, log).send(a.ip, 1)
      run(w)
      const oneWay =
        SPEC.externalLatencyNs + SPEC.crossNodeLatencyNs + serializationNs(PING_BYTES) + SPEC.sameNodeLatencyNs
      expect(log.replies.map((r) => [r.rttNs, r.ttl])).toEqual([[2 * oneWay, 62]])
    }
  })

  it("TTL expiry on the way yields time exceeded from the router", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const n2 = w.cluster.addNode("n2", "a")
    const a = w.cluster.addPod(n1, "a")
    const b = w.cluster.addPod(n2, "b")
    const log = new PingLog()
    w.net.createPinger(a.ns, log).send(b.ip, 1, 56, 2)
    run(w)
    expect(log.replies).toEqual([])
    expect(log.errors).toEqual([{ seq: 1, error: NetError.TTL_EXCEEDED, from: b.ip }])
    expect(w.net.counters.droppedByReason[DropReason.TTL_EXPIRED]).toBe(1)
  })

  it("no route: local sender gets ENETUNREACH, router answers net unreachable", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const a = w.cluster.addPod(n1, "a")
    const log = new PingLog()
    // The node's default route points at the edge router, which has no route to 198.51.100.1.
    w.net.createPinger(a.ns, log).send(ipv4("198.51.100.1"), 1)
    // A namespace without any route: local failure.
    const lonely = w.net.createNamespace("lonely")
    const log2 = new PingLog()
    w.net.createPinger(lonely, log2).send(ipv4("198.51.100.1"), 9)
    run(w)
    expect(log.errors).toEqual([{ seq: 1, error: NetError.NET_UNREACHABLE, from: ipv4("198.51.100.1") }])
    expect(log2.errors).toEqual([{ seq: 9, error: NetError.NET_UNREACHABLE, from: ipv4("198.51.100.1") }])
    expect(w.net.counters.droppedByReason[DropReason.NO_ROUTE]).toBe(2)
    expect(w.net.counters.sent).toBe(w.net.counters.delivered + w.net.counters.dropped)
  })
})

describe("udp", () => {
  for (const cni of ["bridge", "aws-vpc"] as const) {
    for (const sameNode of [true, false]) {
      it(`${cni}: request/response between pods (${sameNode ? "same" : "different"} node) keeps tag and data`, () => {
        const w = world(cni)
        const n1 = w.cluster.addNode("n1", "a")
        const n2 = sameNode ? n1 : w.cluster.addNode("n2", "a")
        const a = w.cluster.addPod(n1, "a")
        const b = w.cluster.addPod(n2, "b")
        const server = new UdpLog(w.scheduler)
        server.echo = true
        const client = new UdpLog(w.scheduler)
        w.net.udpBind(b.ns, 0, 53, server)
        const sock = w.net.udpBind(a.ns, 0, 0, client)
        expect(sock).not.toBeNull()
        if (sock === null) return
        expect(sock.localPort).toBeGreaterThanOrEqual(32768)
        expect(sock.localPort).toBeLessThanOrEqual(60999)
        const payload = { question: "kubernetes.default" }
        sock.sendTo(b.ip, 53, 40, 5, payload)
        run(w)
        const oneWay = sameNode
          ? 2 * SPEC.sameNodeLatencyNs
          : 2 * SPEC.sameNodeLatencyNs +
            SPEC.crossNodeLatencyNs +
            serializationNs(IPV4_HEADER_BYTES + UDP_HEADER_BYTES + 40)
        expect(server.messages).toEqual([
          { from: a.ip, port: sock.localPort, bytes: 40, tag: 5, data: payload, atNs: oneWay },
        ])
        expect(client.messages.map((m) => [m.from, m.port, m.tag, m.atNs])).toEqual([[b.ip, 53, 1005, 2 * oneWay]])
      })
    }
  }

  it("port unreachable: ECONNREFUSED on a connected socket only (__udp4_lib_err)", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const n2 = w.cluster.addNode("n2", "a")
    const a = w.cluster.addPod(n1, "a")
    const b = w.cluster.addPod(n2, "b")
    const connected = new UdpLog(w.scheduler)
    const unconnected = new UdpLog(w.scheduler)
    const s1 = w.net.udpBind(a.ns, 0, 0, connected)
    const s2 = w.net.udpBind(a.ns, 0, 0, unconnected)
    if (s1 === null || s2 === null) throw new Error("bind")
    s1.connect(b.ip, 9999)
    s1.send(10, 77)
    s2.sendTo(b.ip, 9999, 10, 78)
    run(w)
    expect(connected.errors).toEqual([{ error: NetError.REFUSED, remote: b.ip, port: 9999, tag: 77 }])
    expect(unconnected.errors).toEqual([])
    expect(w.net.counters.droppedByReason[DropReason.NO_SOCKET]).toBe(2)
    expect(w.net.counters.sent).toBe(4) // 2 datagrams + 2 ICMP errors
    expect(w.net.counters.delivered).toBe(2)
  })
})

describe("links", () => {
  it("drops a datagram larger than the MTU (no fragmentation)", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const a = w.cluster.addPod(n1, "a")
    const b = w.cluster.addPod(n1, "b")
    const server = new UdpLog(w.scheduler)
    w.net.udpBind(b.ns, 0, 53, server)
    const sock = w.net.udpBind(a.ns, 0, 0, new UdpLog(w.scheduler))
    sock?.sendTo(b.ip, 53, 1500 - 28)
    sock?.sendTo(b.ip, 53, 1500 - 27)
    run(w)
    expect(server.messages.map((m) => m.bytes)).toEqual([1472])
    expect(w.net.counters.droppedByReason[DropReason.MTU_EXCEEDED]).toBe(1)
  })

  it("serializes back to back and drops beyond the queue bound (QUEUE_FULL)", () => {
    const spec = { ...SPEC, queuePacketsMax: 3, bandwidthBitsPerSecond: 1_000_000_000 }
    const w = world("aws-vpc", spec)
    const n1 = w.cluster.addNode("n1", "a")
    const n2 = w.cluster.addNode("n2", "a")
    const server = new UdpLog(w.scheduler)
    w.net.udpBind(n2.ns, 0, 7, server)
    const sock = w.net.udpBind(n1.ns, 0, 0, new UdpLog(w.scheduler))
    for (let i = 0; i < 5; i++) sock?.sendTo(n2.ip, 7, 1000, i)
    run(w)
    const ser = serializationNs(1028, spec)
    expect(ser).toBe(8528)
    expect(server.messages.map((m) => [m.tag, m.atNs])).toEqual(
      [0, 1, 2].map((i) => [i, (i + 1) * ser + SPEC.crossNodeLatencyNs]),
    )
    expect(w.net.counters.droppedByReason[DropReason.QUEUE_FULL]).toBe(2)
  })

  it("a queue that outgrows its initial ring drains in part and refills: each admitted packet departs one serialization after the one before", () => {
    // 30 at t=0 into a 20-packet queue (10 dropped; the ring grows past its initial 8 entries),
    // then 10 more at 5.5 serializations, when 5 have left: 5 admitted behind the 15 left, 5
    // dropped. The newest queued packet is kept as busyUntilNs, not in the ring (netns.ts).
    const spec = { ...SPEC, queuePacketsMax: 20, bandwidthBitsPerSecond: 1_000_000_000 }
    const w = world("aws-vpc", spec)
    const n1 = w.cluster.addNode("n1", "a")
    const n2 = w.cluster.addNode("n2", "a")
    const server = new UdpLog(w.scheduler)
    w.net.udpBind(n2.ns, 0, 7, server)
    const sock = w.net.udpBind(n1.ns, 0, 0, new UdpLog(w.scheduler))
    for (let i = 0; i < 30; i++) sock?.sendTo(n2.ip, 7, 1000, i)
    const ser = serializationNs(1028, spec)
    const laterNs = 5 * ser + ser / 2
    run(w, laterNs)
    w.scheduler.nowNs = laterNs
    for (let i = 100; i < 110; i++) sock?.sendTo(n2.ip, 7, 1000, i)
    run(w)
    const expected = [...Array(20).keys(), 100, 101, 102, 103, 104].map((tag, k) => [
      tag,
      (k + 1) * ser + SPEC.crossNodeLatencyNs,
    ])
    expect(server.messages.map((m) => [m.tag, m.atNs])).toEqual(expected)
    expect(w.net.counters.droppedByReason[DropReason.QUEUE_FULL]).toBe(15)
  })

  it("loss draws from the link's own stream: same seed same losses, rate near the ppm", () => {
    const lossy = (seed: number): number[] => {
      const w = world("aws-vpc", { ...SPEC, lossPartsPerMillion: 100_000 }, seed)
      const n1 = w.cluster.addNode("n1", "a")
      const n2 = w.cluster.addNode("n2", "a")
      const server = new UdpLog(w.scheduler)
      w.net.udpBind(n2.ns, 0, 7, server)
      const sock = w.net.udpBind(n1.ns, 0, 0, new UdpLog(w.scheduler))
      for (let i = 0; i < 2000; i++) {
        sock?.sendTo(n2.ip, 7, 10, i)
        run(w)
      }
      expect(w.net.counters.droppedByReason[DropReason.LINK_LOSS] + server.messages.length).toBe(2000)
      return server.messages.map((m) => m.tag)
    }
    const first = lossy(1)
    expect(lossy(1)).toEqual(first)
    expect(lossy(2)).not.toEqual(first)
    expect(2000 - first.length).toBeGreaterThan(150)
    expect(2000 - first.length).toBeLessThan(250)
  })
})

describe("routing table", () => {
  it("longest prefix wins, then lower metric; remove() restores the shorter match", async () => {
    const { RoutingTable, Route } = await import("../../src/net/route.ts")
    const { cidr } = await import("../../src/wire/ipv4.ts")
    const t = new RoutingTable()
    t.add(new Route(cidr("0.0.0.0/0"), 2, ipv4("10.0.0.1"), 0, 0))
    t.add(new Route(cidr("10.244.0.0/16"), 3, 0, 0, 10))
    t.add(new Route(cidr("10.244.0.0/16"), 4, 0, 0, 5))
    t.add(new Route(cidr("10.244.1.0/24"), 5, ipv4("10.0.0.12"), 0, 0))
    expect(t.lookup(ipv4("10.244.1.7"))?.ifIndex).toBe(5)
    expect(t.lookup(ipv4("10.244.2.7"))?.ifIndex).toBe(4)
    expect(t.lookup(ipv4("8.8.8.8"))?.ifIndex).toBe(2)
    expect(t.remove(cidr("10.244.1.0/24"), 5)).toBe(1)
    expect(t.lookup(ipv4("10.244.1.7"))?.ifIndex).toBe(4)
  })

  it("aws-vpc: a deleted pod's IP is no longer reachable (route, fabric entry and veth gone)", () => {
    const w = world("aws-vpc")
    const n1 = w.cluster.addNode("n1", "a")
    const n2 = w.cluster.addNode("n2", "a")
    const a = w.cluster.addPod(n1, "a")
    const b = w.cluster.addPod(n2, "b")
    w.cluster.removePod(b)
    const log = new PingLog()
    w.net.createPinger(a.ns, log).send(b.ip, 1)
    run(w)
    expect(log.replies).toEqual([])
    expect(w.net.counters.droppedByReason[DropReason.NO_NEIGHBOUR]).toBe(1)
  })
})
