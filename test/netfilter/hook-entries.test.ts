/**
 * Goal: the hook host orders ops as the kernel's nf_hook_entries (ascending priority, then
 * registration order: nf_hook_entries_grow in net/netfilter/core.c inserts before the first op of
 * strictly greater priority), NetfilterStack registers conntrack, NAT and the iptables tables at
 * their NF_IP_PRI_* (include/uapi/linux/netfilter_ipv4.h), and an op returning STOLEN owns the
 * packet: the network neither continues nor drops it, its conntrack entry survives, and the owner
 * can send it on (as IPVS's ip_vs_nat_xmit does from LOCAL_IN).
 */
import { describe, expect, it } from "vitest"
import { Hook, Verdict } from "../../src/net/hooks.ts"
import { IpvsPriority, NfHookEntries, NfHookState, NfPriority } from "../../src/netfilter/hook-entries.ts"
import type { NfHookHandler } from "../../src/netfilter/hook-entries.ts"
import { NetfilterStack } from "../../src/netfilter/stack.ts"
import { Rng } from "../../src/sim/rng.ts"
import { Protocol } from "../../src/wire/protocol.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { PingLog, run, world } from "../net/helpers.ts"
import { CNI0, makeNode, receive, udp } from "./helpers.ts"

class Recorder implements NfHookHandler {
  constructor(
    private readonly log: string[],
    private readonly name: string,
    private readonly verdict: Verdict = Verdict.ACCEPT,
  ) {}
  hookFn(): Verdict {
    this.log.push(this.name)
    return this.verdict
  }
}

describe("hook host", () => {
  it("orders ops by priority, then registration order, and stops at the first non-ACCEPT", () => {
    const entries = new NfHookEntries()
    const log: string[] = []
    const reg = (name: string, priority: number, verdict: Verdict = Verdict.ACCEPT) =>
      entries.register({ hook: Hook.INPUT, priority, handler: new Recorder(log, name, verdict), name })
    reg("filter", 0)
    reg("nat", 100)
    reg("mangle", -150)
    reg("filter2", 0)
    reg("nft", -5)
    reg("first", NfPriority.FIRST)
    expect(entries.describe(Hook.INPUT)).toEqual([
      "-2147483648 first",
      "-150 mangle",
      "-5 nft",
      "0 filter",
      "0 filter2",
      "100 nat",
    ])
    const op = { hook: Hook.INPUT, priority: 1, handler: new Recorder(log, "x"), name: "x" }
    entries.register(op)
    expect(() => entries.register(op)).toThrow(/already registered/)
    expect(entries.unregister(op)).toBe(true)
    expect(entries.unregister(op)).toBe(false)
    expect(() => entries.register({ ...op, priority: 0.5 })).toThrow(/integer/)
  })

  it("NetfilterStack registers the kernel's built-in ops at their priorities", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const stack = new NetfilterStack(n1.ns, { rng: Rng.stream(1, "t") })
    expect(stack.hooks.describe(Hook.PREROUTING)).toEqual([
      "-300 iptables raw",
      "-200 conntrack in",
      "-150 iptables mangle",
      "-100 iptables nat",
    ])
    expect(stack.hooks.describe(Hook.INPUT)).toEqual([
      "-150 iptables mangle",
      "0 iptables filter",
      "100 iptables nat",
      "2147483647 conntrack confirm",
    ])
    expect(stack.hooks.describe(Hook.FORWARD)).toEqual(["-150 iptables mangle", "0 iptables filter"])
    expect(stack.hooks.describe(Hook.OUTPUT)).toEqual([
      "-300 iptables raw",
      "-200 conntrack local",
      "-150 iptables mangle",
      "-100 iptables nat",
      "0 iptables filter",
    ])
    expect(stack.hooks.describe(Hook.POSTROUTING)).toEqual([
      "-150 iptables mangle",
      "100 iptables nat",
      "2147483647 conntrack confirm",
    ])
    // IPVS at LOCAL_IN sits after filter and before SNAT (ip_vs_ops4: NF_IP_PRI_NAT_SRC - 1/-2).
    expect(IpvsPriority.LOCAL_IN_REQUEST).toBe(99)
    expect(IpvsPriority.LOCAL_IN_REPLY).toBe(98)
    expect(IpvsPriority.LOCAL_OUT_REQUEST).toBe(-98)
    expect(IpvsPriority.LOCAL_OUT_REPLY).toBe(-99)
    expect(new NfHookState().extraNs).toBe(0)
  })

  it("runHook follows restores and (un)registrations made after its first packet", () => {
    // runHook keeps a run order per hook (NetfilterStack.buildRunOrder): it must be rebuilt when
    // a restore brings a table that had no chain at the hook, and when an op comes or goes.
    const { host, stack } = makeNode()
    const packet = (sport: number) => udp("10.0.0.5", sport, "192.168.1.9", 53)
    expect(receive(stack, host, packet(1000), CNI0, 0).verdict).toBe(Verdict.ACCEPT)
    stack.restore(["*filter", ":FORWARD ACCEPT [0:0]", "-A FORWARD -p udp --dport 53 -j DROP", "COMMIT"])
    expect(receive(stack, host, packet(1001), CNI0, 1).verdict).toBe(Verdict.DROP)
    stack.restore(["*filter", ":FORWARD ACCEPT [0:0]", "COMMIT"])
    expect(receive(stack, host, packet(1002), CNI0, 2).verdict).toBe(Verdict.ACCEPT)
    const log: string[] = []
    const op = { hook: Hook.FORWARD, priority: 10, handler: new Recorder(log, "late"), name: "late" }
    stack.hooks.register(op)
    receive(stack, host, packet(1003), CNI0, 3)
    expect(log).toEqual(["late"])
    stack.hooks.unregister(op)
    receive(stack, host, packet(1004), CNI0, 4)
    expect(log).toEqual(["late"])
  })

  it("an op that skips IPVS's own packet is not called for it, and is for every other packet", () => {
    // NfHookHandler.skipsIpvsProperty (ip_vs_in_hook / ip_vs_out_hook return NF_ACCEPT at once for
    // skb->ipvs_property): the host leaves the op out for NetfilterStack.ipvsPropertyPacket only.
    const { host, stack } = makeNode()
    const log: string[] = []
    const skipping = new Recorder(log, "ipvs")
    Object.assign(skipping, { skipsIpvsProperty: true })
    stack.hooks.register({ hook: Hook.FORWARD, priority: 100, handler: skipping, name: "ipvs" })
    stack.hooks.register({ hook: Hook.FORWARD, priority: 200, handler: new Recorder(log, "other"), name: "o" })
    const own = udp("10.0.0.5", 1000, "192.168.1.9", 53)
    const other = udp("10.0.0.5", 1001, "192.168.1.9", 53)
    stack.ipvsPropertyPacket = own
    expect(receive(stack, host, own, CNI0, 0).verdict).toBe(Verdict.ACCEPT)
    expect(log).toEqual(["other"])
    expect(receive(stack, host, other, CNI0, 1).verdict).toBe(Verdict.ACCEPT)
    expect(log).toEqual(["other", "ipvs", "other"])
    stack.ipvsPropertyPacket = null
    expect(receive(stack, host, own, CNI0, 2).verdict).toBe(Verdict.ACCEPT)
    expect(log).toEqual(["other", "ipvs", "other", "ipvs", "other"])
  })

  it("STOLEN: the network neither continues nor drops the packet; the owner sends it on", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const n2 = w.cluster.addNode("n2", "a")
    const a = w.cluster.addPod(n1, "a")
    const b = w.cluster.addPod(n2, "b")
    const stack = new NetfilterStack(n1.ns, { rng: Rng.stream(1, "node/n1/netfilter") })
    n1.ns.filter = stack
    // A stand-in for IPVS: echo requests to the node's address are taken at LOCAL_IN and held.
    class Stealer implements NfHookHandler {
      readonly held: number[] = []
      ctIds: number[] = []
      hookFn(packet: Packet): Verdict {
        if (packet.protocol !== Protocol.ICMP || packet.dstAddr !== n1.ip) return Verdict.ACCEPT
        return Verdict.STOLEN
      }
      takeStolen(handle: number, packet: Packet): void {
        this.held.push(handle)
        this.ctIds.push(packet.ctId)
      }
    }
    const stealer = new Stealer()
    stack.hooks.register({ hook: Hook.INPUT, priority: IpvsPriority.LOCAL_IN_REQUEST, handler: stealer, name: "ipvs" })
    const log = new PingLog()
    w.net.createPinger(a.ns, log).send(n1.ip, 1)
    run(w)
    expect(stealer.held.length).toBe(1)
    expect(log.replies).toEqual([])
    expect(w.net.counters.dropped).toBe(0)
    expect(w.net.counters.delivered).toBe(0)
    expect(w.net.counters.inFlight).toBe(1)
    expect(w.net.livePacketCount).toBe(1)
    // The conntrack entry made at PREROUTING stays, unconfirmed (confirm runs after IPVS at INPUT).
    const ctId = stealer.ctIds[0]
    expect(ctId).toBeGreaterThanOrEqual(0)
    expect(stack.conntrack.isConfirmed(ctId)).toBe(false)
    expect(stack.conntrack.created).toBe(1)
    // The owner rewrites the destination and sends the packet on through OUTPUT/POSTROUTING
    // (ip_vs_nat_xmit): conntrack keeps the packet's entry and confirms it at POSTROUTING.
    const handle = stealer.held[0]
    w.net.packet(handle).dstAddr = b.ip
    w.net.resumeStolen(n1.ns, handle)
    run(w)
    expect(stack.conntrack.created).toBe(1)
    expect(stack.conntrack.isConfirmed(ctId)).toBe(true)
    expect(w.net.counters.dropped).toBe(0)
    expect(w.net.livePacketCount).toBe(0)
    expect(w.net.counters.delivered).toBeGreaterThanOrEqual(1)
  })

  it("STOLEN from a filter that cannot take the packet is an error, not a silent drop", () => {
    const w = world("bridge")
    const n1 = w.cluster.addNode("n1", "a")
    const a = w.cluster.addPod(n1, "a")
    const stack = new NetfilterStack(n1.ns, { rng: Rng.stream(1, "t") })
    n1.ns.filter = stack
    stack.hooks.register({
      hook: Hook.INPUT,
      priority: 0,
      handler: { hookFn: () => Verdict.STOLEN },
      name: "bad",
    })
    w.net.createPinger(a.ns, new PingLog()).send(n1.ip, 1)
    expect(() => run(w)).toThrow(/takes no stolen packets/)
  })
})
