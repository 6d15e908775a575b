/**
 * Goal: the NAT module (nat.ts) serves a NAT user other than the iptables targets, as nft
 * `dnat to` and IPVS will: an op registered on the hook host binds a DNAT with a plain NatRange
 * (nf_nat_setup_info), the NAT core rewrites the first packet and every later one from the entry
 * (nf_nat_packet), and replies are translated back. Method: a NetfilterStack with no iptables rules and such an op at
 * NF_IP_PRI_NAT_DST - 1 (nft's `dstnat` hook priority minus one, so it binds before the nat table's
 * null binding).
 */
import { describe, expect, it } from "vitest"
import { Hook, Verdict } from "../../src/net/hooks.ts"
import { CtState, CtStatus } from "../../src/netfilter/constants.ts"
import type { NfHookHandler, NfHookState } from "../../src/netfilter/hook-entries.ts"
import { NfPriority } from "../../src/netfilter/hook-entries.ts"
import type { NatRange } from "../../src/netfilter/nat.ts"
import { Manip, NatFlag } from "../../src/netfilter/nat.ts"
import type { NetfilterStack } from "../../src/netfilter/stack.ts"
import { formatIpv4, ipv4 } from "../../src/wire/ipv4.ts"
import type { Packet } from "../../src/wire/packet.ts"
import { CNI0, makeNode, receive, replyTo, tcp } from "./helpers.ts"

const VIP = ipv4("10.96.0.10")

class DnatOp implements NfHookHandler {
  readonly range: NatRange = {
    natFlags: NatFlag.PROTO_SPECIFIED,
    natHasAddr: true,
    natAddrMin: ipv4("10.244.1.5"),
    natAddrMax: ipv4("10.244.1.5"),
    natPortMin: 8080,
    natPortMax: 8080,
  }
  constructor(private readonly stack: NetfilterStack) {}
  hookFn(packet: Packet, state: NfHookState): Verdict {
    const id = packet.ctId
    const ct = this.stack.conntrack
    if (id < 0 || (packet.ctState & CtState.NEW) === 0 || (ct.status[id] & CtStatus.DST_NAT_DONE) !== 0)
      return Verdict.ACCEPT
    if (packet.dstAddr === VIP && packet.dstPort === 80)
      this.stack.nat.setupInfo(id, Manip.DST, this.range, -1, state.nowNs)
    return Verdict.ACCEPT
  }
}

describe("NAT module", () => {
  it("binds a DNAT for another hook user; packets and replies are rewritten from the entry", () => {
    const { host, stack } = makeNode()
    stack.hooks.register({
      hook: Hook.PREROUTING,
      priority: NfPriority.NAT_DST - 1,
      handler: new DnatOp(stack),
      name: "nft dnat",
    })
    const syn = tcp("10.244.0.2", 40000, "10.96.0.10", 80)
    expect(receive(stack, host, syn, CNI0, 1).verdict).toBe(Verdict.ACCEPT)
    expect(`${formatIpv4(syn.dstAddr)}:${syn.dstPort}`).toBe("10.244.1.5:8080")
    expect(syn.ctState & CtState.DNAT).toBe(CtState.DNAT)
    const reply = tcp("10.244.1.5", 8080, "10.244.0.2", 40000)
    reply.tcpFlags = replyTo(syn).tcpFlags
    expect(receive(stack, host, reply, CNI0, 2).verdict).toBe(Verdict.ACCEPT)
    expect(`${formatIpv4(reply.srcAddr)}:${reply.srcPort}`).toBe("10.96.0.10:80")
    // Another connection to another port is left alone (null binding by the nat op at -100).
    const other = tcp("10.244.0.2", 40001, "10.96.0.10", 81)
    receive(stack, host, other, CNI0, 3)
    expect(`${formatIpv4(other.dstAddr)}:${other.dstPort}`).toBe("10.96.0.10:81")
  })
})
