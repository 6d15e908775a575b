/**
 * Goal: the NAT core runs the NAT-type chains registered with it (the iptables nat table, nft
 * `type nat` chains) as nf_nat_inet_fn does: for a connection's first packet, in priority order
 * (registration order on ties), from its own op at NF_IP_PRI_NAT_DST, stopping at the first that
 * sets up a binding; a lookup's non-ACCEPT verdict ends the hook. Method: a NetfilterStack with a
 * DNAT rule in the iptables nat table and test lookups at other priorities.
 */
import { describe, expect, it } from "vitest"
import { Hook, Verdict } from "../../src/net/hooks.ts"
import { CtState, CtStatus } from "../../src/netfilter/constants.ts"
import type { NfHookHandler, NfHookState } from "../../src/netfilter/hook-entries.ts"
import type { NatRange } from "../../src/netfilter/nat.ts"
import { Manip, NatFlag } from "../../src/netfilter/nat.ts"
import type { NetfilterStack } from "../../src/netfilter/stack.ts"
import { formatIpv4, ipv4 } from "../../src/wire/ipv4.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { CNI0, makeNode, receive, tcp } from "./helpers.ts"

class Lookup implements NfHookHandler {
  calls = 0
  constructor(
    private readonly stack: NetfilterStack,
    private readonly to: string,
    private readonly verdict: Verdict = Verdict.ACCEPT,
  ) {}
  hookFn(packet: Packet, state: NfHookState): Verdict {
    this.calls++
    expect(packet.ctState & CtState.NEW).toBe(CtState.NEW)
    expect(this.stack.conntrack.status[packet.ctId] & CtStatus.DST_NAT_DONE).toBe(0)
    if (this.verdict !== Verdict.ACCEPT) return this.verdict
    const range: NatRange = {
      natFlags: NatFlag.PROTO_SPECIFIED,
      natHasAddr: true,
      natAddrMin: ipv4(this.to),
      natAddrMax: ipv4(this.to),
      natPortMin: 8080,
      natPortMax: 8080,
    }
    this.stack.nat.setupInfo(packet.ctId, Manip.DST, range, -1, state.nowNs)
    return Verdict.ACCEPT
  }
}

function node(): NetfilterStack {
  const { stack } = makeNode()
  stack.restore(`*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -d 10.96.0.10 --dport 80 -j DNAT --to-destination 10.0.0.5:8080
COMMIT
`)
  return stack
}

function send(stack: NetfilterStack): { verdict: Verdict; to: string } {
  const { host } = makeNode()
  const syn = tcp("10.0.0.7", 40000, "10.96.0.10", 80)
  const r = receive(stack, host, syn, CNI0, 1)
  return { verdict: r.verdict, to: formatIpv4(syn.dstAddr) }
}

describe("NAT core lookups", () => {
  it("the iptables nat table is the NAT core's lookup at -100 in each nat hook", () => {
    const stack = node()
    expect(stack.natLookups.describe(Hook.PREROUTING)).toEqual(["-100 iptables nat"])
    expect(stack.natLookups.describe(Hook.POSTROUTING)).toEqual(["100 iptables nat"])
    expect(send(stack)).toEqual({ verdict: Verdict.ACCEPT, to: "10.0.0.5" })
  })

  it("a lookup after the nat table is not called once the table bound; one before it binds first", () => {
    const after = node()
    const late = new Lookup(after, "10.0.0.6")
    after.natLookups.register({ hook: Hook.PREROUTING, priority: -90, handler: late, name: "late" })
    expect(send(after).to).toBe("10.0.0.5")
    expect(late.calls).toBe(0)
    const before = node()
    const early = new Lookup(before, "10.0.0.6")
    before.natLookups.register({ hook: Hook.PREROUTING, priority: -110, handler: early, name: "early" })
    expect(send(before).to).toBe("10.0.0.6")
    expect(early.calls).toBe(1)
    // Equal priority: registration order (the nat table was registered with the namespace).
    const tie = node()
    const same = new Lookup(tie, "10.0.0.6")
    tie.natLookups.register({ hook: Hook.PREROUTING, priority: -100, handler: same, name: "tie" })
    expect(tie.natLookups.describe(Hook.PREROUTING)).toEqual(["-100 iptables nat", "-100 tie"])
    expect(send(tie).to).toBe("10.0.0.5")
    expect(same.calls).toBe(0)
  })

  it("a DROP from a lookup ends the hook: later lookups are not called", () => {
    const stack = node()
    const later = new Lookup(stack, "10.0.0.6")
    const dropping = new Lookup(stack, "", Verdict.DROP)
    stack.natLookups.register({ hook: Hook.PREROUTING, priority: -120, handler: dropping, name: "drop" })
    stack.natLookups.register({ hook: Hook.PREROUTING, priority: -110, handler: later, name: "later" })
    expect(send(stack).verdict).toBe(Verdict.DROP)
    expect(dropping.calls).toBe(1)
    expect(later.calls).toBe(0)
  })
})
