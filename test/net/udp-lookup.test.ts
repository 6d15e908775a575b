/**
 * Goal: UDP socket lookup by (local address, port) as Linux scores sockets (net/ipv4/udp.c
 * __udp4_lib_lookup: the sockets bound to the destination address first, the 0.0.0.0 ones only
 * when none matched; compute_score rejects another bound address) and bind conflicts as
 * udp_lib_lport_inuse (a specific and a wildcard bind share a port only when both set
 * SO_REUSEADDR/SO_REUSEPORT). The node-local DNS cache layout: 169.254.20.10:53 and the kube-dns
 * VIP on a dummy interface, next to a 0.0.0.0:53 socket.
 */
import { describe, expect, it } from "vitest"
import { udpBindConflicts } from "../../src/net/udp.ts"
import { Rng } from "../../src/sim/rng.ts"
import { DropReason } from "../../src/wire/drop-reason.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { UdpLog, run, world } from "./helpers.ts"

describe("UDP socket lookup (compute_score)", () => {
  it("an exact local address beats 0.0.0.0 on the same port; other addresses go to the wildcard", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const a = w.cluster.addPod(n1, "a")
    const dummy = w.net.addDummy(n1.ns, "nodelocaldns")
    const linkLocal = ipv4("169.254.20.10")
    const vip = ipv4("10.96.0.10")
    w.net.addAddress(dummy, linkLocal, 32)
    w.net.addAddress(dummy, vip, 32)
    const cache = new UdpLog(w.scheduler)
    const vipCache = new UdpLog(w.scheduler)
    const wildcard = new UdpLog(w.scheduler)
    // Bind order must not matter: the wildcard first, then the specific addresses (and reverse below).
    w.net.udpBind(n1.ns, 0, 53, wildcard, true)
    w.net.udpBind(n1.ns, linkLocal, 53, cache, true)
    w.net.udpBind(n1.ns, vip, 53, vipCache, true)
    const client = w.net.udpBind(a.ns, 0, 0, new UdpLog(w.scheduler)) ?? expect.fail("no port")
    client.sendTo(linkLocal, 53, 40, 1)
    client.sendTo(vip, 53, 40, 2)
    client.sendTo(n1.ip, 53, 40, 3)
    run(w)
    expect(cache.messages.map((m) => m.tag)).toEqual([1])
    expect(vipCache.messages.map((m) => m.tag)).toEqual([2])
    expect(wildcard.messages.map((m) => m.tag)).toEqual([3])
  })

  it("closing the specific socket hands its address back to the wildcard; closing all refuses", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const a = w.cluster.addPod(n1, "a")
    const dummy = w.net.addDummy(n1.ns, "nodelocaldns")
    const linkLocal = ipv4("169.254.20.10")
    w.net.addAddress(dummy, linkLocal, 32)
    const cache = new UdpLog(w.scheduler)
    const wildcard = new UdpLog(w.scheduler)
    const specific = w.net.udpBind(n1.ns, linkLocal, 53, cache, true) ?? expect.fail("bind")
    const any = w.net.udpBind(n1.ns, 0, 53, wildcard, true) ?? expect.fail("bind")
    const client = w.net.udpBind(a.ns, 0, 0, new UdpLog(w.scheduler)) ?? expect.fail("no port")
    client.sendTo(linkLocal, 53, 40, 1)
    run(w)
    specific.close()
    client.sendTo(linkLocal, 53, 40, 2)
    run(w)
    any.close()
    expect(n1.ns.udpSockets.has(53)).toBe(false)
    client.sendTo(linkLocal, 53, 40, 3)
    run(w)
    expect(cache.messages.map((m) => m.tag)).toEqual([1])
    expect(wildcard.messages.map((m) => m.tag)).toEqual([2])
    expect(w.net.counters.droppedByReason[DropReason.NO_SOCKET]).toBe(1)
  })

  it("closing the middle, then the head, then the last socket of a port's chain keeps the others reachable", () => {
    // close unlinks through the chain's back-links (udp.ts UdpSocket.prev): each order must leave
    // the table's entry at the remaining chain, as udp_lib_unhash leaves the other sockets hashed.
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const a = w.cluster.addPod(n1, "a")
    const dummy = w.net.addDummy(n1.ns, "nodelocaldns")
    const linkLocal = ipv4("169.254.20.10")
    const vip = ipv4("10.96.0.10")
    w.net.addAddress(dummy, linkLocal, 32)
    w.net.addAddress(dummy, vip, 32)
    const wildcard = new UdpLog(w.scheduler)
    const cache = new UdpLog(w.scheduler)
    const vipCache = new UdpLog(w.scheduler)
    // Chain after these binds: vip (head) -> linkLocal -> wildcard.
    const any = w.net.udpBind(n1.ns, 0, 53, wildcard, true) ?? expect.fail("bind")
    const specific = w.net.udpBind(n1.ns, linkLocal, 53, cache, true) ?? expect.fail("bind")
    const vipSocket = w.net.udpBind(n1.ns, vip, 53, vipCache, true) ?? expect.fail("bind")
    const client = w.net.udpBind(a.ns, 0, 0, new UdpLog(w.scheduler)) ?? expect.fail("no port")
    specific.close()
    specific.close()
    client.sendTo(linkLocal, 53, 40, 1)
    client.sendTo(vip, 53, 40, 2)
    run(w)
    expect(n1.ns.udpSockets.get(53)).toBe(vipSocket)
    vipSocket.close()
    expect(n1.ns.udpSockets.get(53)).toBe(any)
    client.sendTo(vip, 53, 40, 3)
    run(w)
    // A new bind on the port heads the chain again; closing the old last one leaves it alone.
    const again = w.net.udpBind(n1.ns, linkLocal, 53, cache, true) ?? expect.fail("bind")
    any.close()
    expect(n1.ns.udpSockets.get(53)).toBe(again)
    client.sendTo(linkLocal, 53, 40, 4)
    client.sendTo(vip, 53, 40, 5)
    run(w)
    again.close()
    expect(n1.ns.udpSockets.has(53)).toBe(false)
    expect(cache.messages.map((m) => m.tag)).toEqual([4])
    expect(vipCache.messages.map((m) => m.tag)).toEqual([2])
    expect(wildcard.messages.map((m) => m.tag)).toEqual([1, 3])
    expect(w.net.counters.droppedByReason[DropReason.NO_SOCKET]).toBe(1)
  })

  it("a socket bound to one address does not receive datagrams to another local address", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const a = w.cluster.addPod(n1, "a")
    const dummy = w.net.addDummy(n1.ns, "nodelocaldns")
    const linkLocal = ipv4("169.254.20.10")
    w.net.addAddress(dummy, linkLocal, 32)
    const cache = new UdpLog(w.scheduler)
    w.net.udpBind(n1.ns, linkLocal, 53, cache)
    const client = w.net.udpBind(a.ns, 0, 0, new UdpLog(w.scheduler)) ?? expect.fail("no port")
    client.sendTo(n1.ip, 53, 40, 1)
    run(w)
    expect(cache.messages).toEqual([])
    expect(w.net.counters.droppedByReason[DropReason.NO_SOCKET]).toBe(1)
  })

  it("bind conflicts as udp_lib_lport_inuse: wildcard vs specific needs reuse on both; one exact address per port", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const log = new UdpLog(w.scheduler)
    const linkLocal = ipv4("169.254.20.10")
    const vip = ipv4("10.96.0.10")
    const s = w.net.udpBind(n1.ns, linkLocal, 53, log) ?? expect.fail("bind")
    const head = () => n1.ns.udpSockets.get(53)
    expect(udpBindConflicts(head(), 0, false)).toBe(true)
    expect(udpBindConflicts(head(), 0, true)).toBe(true) // the bound one did not set SO_REUSEADDR
    expect(udpBindConflicts(head(), vip, false)).toBe(false) // two distinct addresses never conflict
    expect(udpBindConflicts(head(), linkLocal, true)).toBe(true)
    expect(() => w.net.udpBind(n1.ns, 0, 53, log)).toThrow(/in use/)
    s.close()
    w.net.udpBind(n1.ns, linkLocal, 53, log, true)
    expect(udpBindConflicts(head(), 0, true)).toBe(false)
    expect(udpBindConflicts(head(), 0, false)).toBe(true)
  })

  it("an ephemeral port is intBelow's draw from the namespace's ports stream, then the next free port (udp_lib_get_port)", () => {
    // udpBind draws with intBelow's rejection threshold computed once per range: the ports must be
    // those intBelow gives, for the default range and for a narrow one (where the next-free-port
    // walk wraps around and skips taken ports).
    for (const params of [{}, { ephemeralPortMin: 40_000, ephemeralPortMax: 40_004 }]) {
      const w = world("bridge", undefined, 7, params)
      const n1 = w.cluster.addNode("n1", "a")
      const a = w.cluster.addPod(n1, "a")
      const min = w.net.params.ephemeralPortMin
      const count = w.net.params.ephemeralPortMax - min + 1
      const stream = Rng.stream(7, `net/ns/${a.ns.name}/ports`)
      const taken = new Set<number>()
      for (let i = 0; i < Math.min(count, 5); i++) {
        const start = stream.intBelow(count)
        let expected = -1
        for (let j = 0; j < count && expected < 0; j++)
          if (!taken.has(min + ((start + j) % count))) expected = min + ((start + j) % count)
        taken.add(expected)
        const socket = w.net.udpBind(a.ns, 0, 0, new UdpLog(w.scheduler)) ?? expect.fail("no port")
        expect(socket.localPort).toBe(expected)
      }
    }
  })
})
