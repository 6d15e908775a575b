/**
 * Goal: the two matches IPVS mode's rules use behave as the kernel's: `-m physdev`
 * (net/netfilter/xt_physdev.c physdev_mt: without bridge info only inverted options match; with
 * it --physdev-is-in holds) and `-m ipvs` (net/netfilter/xt_ipvs.c ipvs_mt: --ipvs tests
 * skb->ipvs_property, which only a packet IPVS is transmitting has). Method: rules parsed through
 * the registry, evaluated on packets from a bridge and from a plain NIC, and a MARK rule with
 * `-m ipvs --ipvs` in filter OUTPUT seen by the packet IPVS sends on (the hook-host setup of
 * hooks.test.ts).
 */
import { describe, expect, it } from "vitest"
import { Hook, Verdict } from "../../../src/net/hooks.ts"
import { IpvsHooks } from "../../../src/netfilter/ipvs/hooks.ts"
import { Ipvs } from "../../../src/netfilter/ipvs/ipvs.ts"
import { Scheduler } from "../../../src/netfilter/ipvs/schedulers.ts"
import { parseRule, tokenize } from "../../../src/netfilter/rule.ts"
import { MatchContext, NfacctCounter } from "../../../src/netfilter/xt.ts"
import type { RuleEnvironment } from "../../../src/netfilter/xt.ts"
import { RecentTable } from "../../../src/netfilter/recent.ts"
import { Rng } from "../../../src/sim/rng.ts"
import { ipv4 } from "../../../src/wire/ipv4.ts"
import type { Packet } from "../../../src/wire/packet.ts"
import { CNI0, ETH0, FakeHost, makeNode, receive, send, tcp } from "../helpers.ts"

const env: RuleEnvironment = {
  recentTable: (name) => new RecentTable(name, 100, 20),
  nfacctCounter: (name) => new NfacctCounter(name),
  ipSet: () => undefined,
}

class BridgeHost extends FakeHost {
  interfaceIsBridge(ifIndex: number): boolean {
    return this.names[ifIndex] === "cni0"
  }
}

function matches(spec: string, inIfIndex: number, hook: number): boolean {
  const host = new BridgeHost([
    { name: "eth0", address: "192.168.0.2" },
    { name: "cni0", address: "10.0.0.1" },
  ])
  const ctx = new MatchContext(host, Rng.stream(1, "test"))
  ctx.packet = tcp("10.0.0.5", 40000, "10.96.0.10", 80)
  ctx.inIfIndex = inIfIndex
  ctx.hook = hook
  return parseRule(tokenize(`${spec} -j ACCEPT`), env).matches.every((m) => m.matches(ctx))
}

describe("-m physdev", () => {
  it("! --physdev-is-in: true for packets from a plain NIC, false for packets from a bridge port", () => {
    expect(matches("-m physdev ! --physdev-is-in", ETH0, Hook.PREROUTING)).toBe(true)
    expect(matches("-m physdev ! --physdev-is-in", CNI0, Hook.PREROUTING)).toBe(false)
    expect(matches("-m physdev --physdev-is-in", CNI0, Hook.PREROUTING)).toBe(true)
    expect(matches("-m physdev --physdev-is-in", ETH0, Hook.PREROUTING)).toBe(false)
    // Locally generated (no in interface): no bridge info.
    expect(matches("-m physdev ! --physdev-is-in", -1, Hook.OUTPUT)).toBe(true)
  })

  it("refuses options it does not model and an empty match", () => {
    expect(() => parseRule(tokenize("-m physdev --physdev-in veth0 -j ACCEPT"), env)).toThrow(/not modelled/)
    expect(() => parseRule(tokenize("-m physdev -j ACCEPT"), env)).toThrow(/at least one option/)
  })
})

describe("-m ipvs", () => {
  it("parses kube-proxy's KUBE-IPVS-OUT-FILTER rule; never matches a packet IPVS is not sending", () => {
    const spec = "-s 1.2.3.4 -m ipvs --vaddr 1.2.3.4 --vproto tcp --vport 80"
    expect(parseRule(tokenize(`${spec} -j DROP`), env).matches).toHaveLength(1)
    expect(matches("-m ipvs --vaddr 10.96.0.10 --vproto tcp --vport 80", CNI0, Hook.OUTPUT)).toBe(false)
    expect(matches("-m ipvs ! --ipvs", CNI0, Hook.OUTPUT)).toBe(true)
    expect(() => parseRule(tokenize("-m ipvs --vdir ORIGINAL -j DROP"), env)).toThrow(/unknown option "--vdir"/)
  })

  it("--ipvs holds for the packet IPVS transmits through LOCAL_OUT, and only while it does", () => {
    const { host, stack } = makeNode()
    host.local.add(ipv4("10.96.0.10"))
    const ipvs = new Ipvs({ conntrack: true, expireNodestConn: true })
    let pending: Packet | null = null
    const hooks = new IpvsHooks(ipvs, stack, {
      resumeStolen: () => {
        send(stack, pending as Packet, 0)
      },
      dropStolen: () => {},
      isLocalAddress: (a) => host.isLocalAddress(a),
    })
    hooks.register()
    stack.restore("*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m ipvs --ipvs -j MARK --set-mark 0x1\nCOMMIT\n")
    const svc = ipvs.addService({ protocol: 6, addr: ipv4("10.96.0.10"), port: 80, scheduler: Scheduler.RR })
    ipvs.addDest(svc, ipv4("10.1.0.7"), 8080, 1)
    const syn = tcp("10.0.0.5", 40000, "10.96.0.10", 80)
    const r = receive(stack, host, syn, CNI0, 1_000)
    expect(r.verdict).toBe(Verdict.STOLEN)
    expect(syn.mark).toBe(0)
    pending = syn
    stack.takeStolen(1, syn, 2_000)
    expect(syn.mark).toBe(1)
    // A packet the host sends itself has no ipvs_property.
    const own = tcp("192.168.0.2", 50000, "10.1.0.7", 8080)
    send(stack, own, 3_000)
    expect(own.mark).toBe(0)
  })
})
