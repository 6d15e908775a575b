/**
 * Goal: a dummy interface as IPVS-mode kube-proxy's kube-ipvs0 (drivers/net/dummy.c; addresses
 * added /32 by pkg/proxy/ipvs/netlink_linux.go EnsureAddressBind): its addresses are local to the
 * node (the kernel's fib_add_ifaddr adds the local route even with the device down), it adds no
 * route, and nothing sent out of it arrives anywhere (down: dropped; up: dummy_xmit consumes it).
 */
import { describe, expect, it } from "vitest"
import { InterfaceKind } from "../../src/net/netns.ts"
import { DropReason } from "../../src/wire/drop-reason.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { PingLog, run, world } from "./helpers.ts"

describe("dummy interface (kube-ipvs0)", () => {
  it("holds local addresses, adds no route, and never transmits", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const a = w.cluster.addPod(n1, "a")
    const routesBefore = n1.ns.formatRoutes()
    const ipvs0 = w.net.addDummy(n1.ns, "kube-ipvs0")
    expect(ipvs0.kind).toBe(InterfaceKind.DUMMY)
    expect(ipvs0.up).toBe(false)
    const vip = ipv4("10.96.0.10")
    w.net.addAddress(ipvs0, vip, 32)
    w.net.addAddress(ipvs0, ipv4("10.96.0.11"), 24)
    expect(n1.ns.isLocalAddress(vip)).toBe(true)
    expect(n1.ns.formatRoutes()).toEqual(routesBefore)
    // A pod pings the service address: the node answers it itself (local delivery).
    const log = new PingLog()
    w.net.createPinger(a.ns, log).send(vip, 1)
    run(w)
    expect(log.replies.map((r) => r.from)).toEqual([vip])
    // A route out of the dummy: down -> dropped as INTERFACE_DOWN; up -> consumed, nothing arrives.
    w.net.addRoute(n1.ns, "203.0.113.0/24", ipvs0)
    w.net.createPinger(n1.ns, log).send(ipv4("203.0.113.1"), 2)
    run(w)
    expect(w.net.counters.droppedByReason[DropReason.INTERFACE_DOWN]).toBe(1)
    ipvs0.up = true
    const delivered = w.net.counters.delivered
    w.net.createPinger(n1.ns, log).send(ipv4("203.0.113.1"), 3)
    run(w)
    expect(ipvs0.txPackets).toBe(1)
    expect(w.net.counters.delivered).toBe(delivered + 1)
    expect(log.replies.length).toBe(1)
    expect(w.net.livePacketCount).toBe(0)
  })
})
