/**
 * Goal: the namespace calls the PacketFilter at the kernel's hooks, in order, with the right
 * interfaces, charges lastCostNs as simulated delay, counts DROP by lastDropReason, and re-routes
 * after a DNAT in OUTPUT. Method: a scripted fake filter on the node namespace.
 */
import { describe, expect, it } from "vitest"
import { DropReason } from "../../src/wire/drop-reason.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { HOOK_NAMES, Hook, RejectWith, Verdict } from "../../src/net/hooks.ts"
import type { PacketFilter } from "../../src/net/hooks.ts"
import type { NetNs } from "../../src/net/netns.ts"
import { PingLog, SPEC, UdpLog, run, world } from "./helpers.ts"

class ScriptedFilter implements PacketFilter {
  lastCostNs = 0
  lastDropReason: number = DropReason.NETFILTER_DROP
  lastRejectWith: RejectWith = RejectWith.ICMP_PORT_UNREACHABLE
  readonly calls: string[] = []
  costNs = 0
  dropAt = -1
  dnatOutputTo = 0
  constructor(private readonly ns: NetNs) {}
  runHook(hook: Hook, packet: Packet, inIfIndex: number, outIfIndex: number): Verdict {
    this.calls.push(
      `${HOOK_NAMES[hook]} ${this.ns.interfaceName(inIfIndex) || "-"} ${this.ns.interfaceName(outIfIndex) || "-"}`,
    )
    this.lastCostNs = this.costNs
    if (hook === Hook.OUTPUT && this.dnatOutputTo !== 0) packet.dstAddr = this.dnatOutputTo
    if (hook === this.dropAt) {
      this.lastDropReason = DropReason.CONNTRACK_INVALID
      return Verdict.DROP
    }
    return Verdict.ACCEPT
  }
}

describe("hooks", () => {
  it("forwarded, local and locally generated packets traverse the kernel's hooks", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const n2 = w.cluster.addNode("n2", "a")
    const a = w.cluster.addPod(n1, "a")
    const filter = new ScriptedFilter(n1.ns)
    n1.ns.filter = filter
    const log = new PingLog()
    w.net.createPinger(a.ns, log).send(n2.ip, 1) // forwarded both ways
    run(w)
    expect(filter.calls).toEqual([
      "PREROUTING cni0 -",
      "FORWARD cni0 eth0",
      "POSTROUTING - eth0",
      "PREROUTING eth0 -",
      "FORWARD eth0 cni0",
      "POSTROUTING - cni0",
    ])
    filter.calls.length = 0
    w.net.createPinger(a.ns, log).send(n1.ip, 2) // to the node: INPUT, then the reply is generated
    run(w)
    expect(filter.calls).toEqual(["PREROUTING cni0 -", "INPUT cni0 -", "OUTPUT - cni0", "POSTROUTING - cni0"])
  })

  it("lastCostNs is charged as delay at every hook; DROP is counted by lastDropReason", () => {
    const w = world("aws-vpc")
    const n1 = w.cluster.addNode("n1", "a")
    const n2 = w.cluster.addNode("n2", "a")
    const a = w.cluster.addPod(n1, "a")
    const filter = new ScriptedFilter(n1.ns)
    filter.costNs = 1_000
    n1.ns.filter = filter
    const log = new PingLog()
    w.net.createPinger(a.ns, log).send(n1.ip, 1)
    run(w)
    // Request: PREROUTING + INPUT = 2 us; reply: OUTPUT + POSTROUTING = 2 us.
    expect(log.replies.map((r) => r.rttNs)).toEqual([2 * SPEC.sameNodeLatencyNs + 4_000])
    filter.dropAt = Hook.FORWARD
    w.net.createPinger(a.ns, log).send(n2.ip, 2)
    run(w)
    expect(w.net.counters.droppedByReason[DropReason.CONNTRACK_INVALID]).toBe(1)
    expect(log.replies.length).toBe(1)
  })

  it("DNAT in OUTPUT re-routes the packet (ip_route_me_harder)", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const n2 = w.cluster.addNode("n2", "a")
    const b = w.cluster.addPod(n2, "b")
    const filter = new ScriptedFilter(n1.ns)
    filter.dnatOutputTo = b.ip
    n1.ns.filter = filter
    const server = new UdpLog(w.scheduler)
    w.net.udpBind(b.ns, 0, 53, server)
    w.net.udpBind(n1.ns, 0, 0, new UdpLog(w.scheduler))?.sendTo(ipv4("10.96.0.10"), 53, 10, 1)
    run(w)
    expect(server.messages.map((m) => [m.from, m.tag])).toEqual([[n1.ip, 1]])
    expect(filter.calls[0]).toBe("OUTPUT - eth0")
  })
})
