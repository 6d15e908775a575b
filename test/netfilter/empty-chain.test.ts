/**
 * An empty built-in chain (traverse's shortcut in src/netfilter/stack.ts): ipt_do_table finds no
 * rule and applies the chain's policy, counted in the policy's counters (iptables-save -c), with
 * no rule charged; a DROP policy drops with NETFILTER_DROP.
 */
import { describe, expect, it } from "vitest"
import { Hook, Verdict } from "../../src/net/hooks.ts"
import { Packet } from "../../src/wire/packet.ts"
import { Protocol } from "../../src/wire/protocol.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { DropReason } from "../../src/wire/drop-reason.ts"
import { CtState } from "../../src/netfilter/constants.ts"
import { ETH0, makeNode } from "./helpers.ts"

function packet(bytes: number): Packet {
  const p = new Packet()
  p.protocol = Protocol.UDP
  p.srcAddr = ipv4("10.244.1.5")
  p.dstAddr = ipv4("10.96.0.10")
  p.srcPort = 40000
  p.dstPort = 53
  p.ctState = CtState.ESTABLISHED
  p.totalBytes = bytes
  return p
}

describe("empty built-in chain", () => {
  it("applies and counts the policy, charging no rule", () => {
    const { stack } = makeNode({ ruleCostNs: 50 })
    stack.restore(
      "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p tcp -j ACCEPT\nCOMMIT\n",
    )
    expect(stack.runHook(Hook.OUTPUT, packet(100), -1, ETH0, 0)).toBe(Verdict.ACCEPT)
    expect(stack.runHook(Hook.OUTPUT, packet(60), -1, ETH0, 0)).toBe(Verdict.ACCEPT)
    const before = stack.rulesEvaluated
    expect(stack.runHook(Hook.FORWARD, packet(80), ETH0, ETH0, 0)).toBe(Verdict.DROP)
    expect(stack.lastDropReason).toBe(DropReason.NETFILTER_DROP)
    expect(stack.rulesEvaluated).toBe(before)
    // INPUT is not empty: its one rule is evaluated (and does not match UDP) before the policy.
    expect(stack.runHook(Hook.INPUT, packet(40), ETH0, -1, 0)).toBe(Verdict.ACCEPT)
    expect(stack.rulesEvaluated).toBe(before + 1)
    const saved = stack.save({ counters: true })
    expect(saved).toContain(":OUTPUT ACCEPT [2:160]")
    expect(saved).toContain(":FORWARD DROP [1:80]")
    expect(saved).toContain(":INPUT ACCEPT [1:40]")
  })
})
