/**
 * Goal: a dummy interface as IPVS-mode kube-proxy's kube-ipvs0 (drivers/net/dummy.c; addresses
 * added /32 by pkg/proxy/ipvs/netlink_linux.go EnsureAddressBind): its addresses are local to the
 * node (the kernel's fib_add_ifaddr adds the local route even with the device down), it adds no
 * route, and nothing sent out of it arrives anywhere (down: dropped; up: dummy_xmit consumes it).
 */
import { describe, expect, it } from "vitest"
import { AddressBlock, InterfaceKind } from "../../src/net/netns.ts"
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

  it("a shared address block is local like the node's own addresses, and a node's own write copies it first", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const n2 = w.cluster.addNode("n2", "a")
    const d1 = w.net.addDummy(n1.ns, "kube-ipvs0")
    const d2 = w.net.addDummy(n2.ns, "kube-ipvs0")
    const [x, y, z] = ["10.96.0.10", "10.96.0.11", "10.96.0.12"].map(ipv4)
    const block = new AddressBlock([x, y])
    n1.ns.adoptSharedAddresses(d1, block)
    n2.ns.adoptSharedAddresses(d2, block)
    for (const [ns, d] of [
      [n1.ns, d1],
      [n2.ns, d2],
    ] as const) {
      expect(ns.isLocalAddress(y)).toBe(true)
      expect(ns.isLocalAddress(z)).toBe(false)
      expect(ns.localInterface(x)).toBe(d)
      expect(d.assignedAddresses).toEqual([x, y])
      expect(d.address).toBe(x)
    }
    // Binding an address held by the block is an error as for an own address.
    expect(() => w.net.addAddress(n1.eth0, x, 32)).toThrow()
    // n1 alone unbinds x and binds z: its own copy, in kernel order; n2 and the block unchanged.
    w.net.removeAddress(d1, x)
    w.net.addAddress(d1, z, 32)
    expect(n1.ns.sharedAddresses).toBe(null)
    expect(d1.assignedAddresses).toEqual([y, z])
    expect(d1.address).toBe(y)
    expect(n1.ns.isLocalAddress(x)).toBe(false)
    expect(n1.ns.localInterface(z)).toBe(d1)
    expect(block.addresses).toEqual([x, y])
    expect(d2.assignedAddresses).toEqual([x, y])
    expect(n2.ns.isLocalAddress(x)).toBe(true)
    expect(n2.ns.isLocalAddress(z)).toBe(false)
  })

  it("isLocalAddress's filters answer as the address maps do, through adds, removes and shared blocks", () => {
    // NetNs.isLocalAddress skips the map probes when the address's filter bit is clear
    // (NetNs.localBits*, AddressBlock.bits): the answer must equal the maps' for every address,
    // local or not, as addresses come and go, a block is adopted, and a write copies it.
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const ns = n1.ns
    const d = w.net.addDummy(ns, "kube-ipvs0")
    let seed = 99
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed
    }
    const pool = Array.from({ length: 400 }, (_, i) => (ipv4("10.96.0.0") + i * 7 + (i % 3)) >>> 0)
    const probes = [...pool, ipv4("127.0.0.1"), ipv4("127.5.6.7"), ipv4("8.8.8.8"), n1.ip, ipv4("255.255.255.255")]
    const reference = (a: number): boolean =>
      a >>> 24 === 127 || ns.localAddresses.has(a) || (ns.sharedAddresses !== null && ns.sharedAddresses.set.has(a))
    const check = (): void => {
      for (const a of probes) expect(ns.isLocalAddress(a)).toBe(reference(a))
      for (let i = 0; i < 200; i++) {
        const a = next()
        expect(ns.isLocalAddress(a)).toBe(reference(a))
      }
    }
    check()
    const held = new Set<number>()
    for (let round = 0; round < 300; round++) {
      const a = pool[next() % pool.length]
      if (held.has(a)) {
        w.net.removeAddress(d, a)
        held.delete(a)
      } else {
        w.net.addAddress(d, a, 32)
        held.add(a)
      }
      if (round % 10 === 0) check()
    }
    check()
    expect(held.size).toBeGreaterThan(20)
    for (const a of pool) expect(ns.isLocalAddress(a)).toBe(held.has(a))
    // A second dummy with a block shared with other nodes, then a write that copies it.
    const n2 = w.cluster.addNode("n2", "a")
    const d2 = w.net.addDummy(n2.ns, "kube-ipvs0")
    const block = new AddressBlock(pool.slice(0, 300))
    n2.ns.adoptSharedAddresses(d2, block)
    for (const a of probes)
      expect(n2.ns.isLocalAddress(a)).toBe(
        a >>> 24 === 127 || (pool.indexOf(a) < 300 && pool.indexOf(a) >= 0) || a === n2.ip,
      )
    w.net.removeAddress(d2, pool[5])
    w.net.addAddress(d2, pool[350], 32)
    for (const a of probes)
      expect(n2.ns.isLocalAddress(a)).toBe(
        a >>> 24 === 127 ||
          (pool.indexOf(a) >= 0 && pool.indexOf(a) < 300 && a !== pool[5]) ||
          a === pool[350] ||
          a === n2.ip,
      )
  })
})
