/**
 * Tables shared between nodes (table.ts, rule-cache.ts, counters.ts): stacks that restore the same
 * lines onto the same tables hold the same immutable table and chain objects, while each keeps its
 * own packet and byte counters, carried across restores as the kernel carries them (iptables-restore
 * --noflush keeps the counters of the rules it leaves in place; a flushed or re-declared chain
 * starts at zero; with --counters, `[p:b]` sets them).
 */
import { describe, expect, it } from "vitest"
import { Verdict } from "../../src/net/hooks.ts"
import { TableId } from "../../src/netfilter/constants.ts"
import { RuleParseCache } from "../../src/netfilter/rule-cache.ts"
import { ETH0, makeNode, receive, udp } from "./helpers.ts"

/** Bytes of the test's UDP packets (each counts once per rule it matches). */
const BYTES = udp("8.8.8.8", 1000, "10.0.0.9", 53).totalBytes

const RULES = `*filter
:FORWARD ACCEPT [0:0]
:A - [0:0]
:B - [0:0]
:C - [0:0]
-A FORWARD -p udp --dport 53 -j A
-A FORWARD -p udp --dport 54 -j C
-A A -s 192.168.1.0/24 -j B
-A A -j ACCEPT
-A B -j DROP
-A C -j ACCEPT
COMMIT
`

function pair(): ReturnType<typeof makeNode>[] {
  const ruleCache = new RuleParseCache()
  return [makeNode({ ruleCache }, 1), makeNode({ ruleCache }, 2)]
}

describe("iptables tables shared between nodes", () => {
  it("shares table, chain and rule objects; counters and iptables-save -c stay per node", () => {
    const [a, b] = pair()
    a.stack.restore(RULES, { noflush: true })
    b.stack.restore(RULES, { noflush: true })
    expect(b.stack.table(TableId.FILTER)).toBe(a.stack.table(TableId.FILTER))
    expect(receive(a.stack, a.host, udp("192.168.1.5", 1000, "10.0.0.9", 53), ETH0, 1).verdict).toBe(Verdict.DROP)
    receive(a.stack, a.host, udp("8.8.8.8", 1000, "10.0.0.9", 54), ETH0, 2)
    receive(b.stack, b.host, udp("8.8.8.8", 1000, "10.0.0.9", 53), ETH0, 3)
    const saveA = a.stack.save({ counters: true })
    const saveB = b.stack.save({ counters: true })
    expect(saveA).toContain(`[1:${BYTES}] -A FORWARD -p udp --dport 53 -j A`)
    expect(saveA).toContain(`[1:${BYTES}] -A A -s 192.168.1.0/24 -j B`)
    expect(saveA).toContain("[0:0] -A A -j ACCEPT")
    expect(saveB).toContain(`[1:${BYTES}] -A A -j ACCEPT`)
    expect(saveB).toContain("[0:0] -A A -s 192.168.1.0/24 -j B")
    // Only chains that counted a packet hold counters.
    expect(a.stack.counters.chains).toBe(4)
    expect(b.stack.counters.chains).toBe(2)
  })

  it("carries counters across a shared restore as the kernel does, and never changes a table another node holds", () => {
    const [a, b] = pair()
    a.stack.restore(RULES, { noflush: true })
    b.stack.restore(RULES, { noflush: true })
    for (const s of [a, b]) receive(s.stack, s.host, udp("8.8.8.8", 1000, "10.0.0.9", 54), ETH0, 1)
    receive(a.stack, a.host, udp("8.8.8.8", 1000, "10.0.0.9", 53), ETH0, 2)
    const old = a.stack.table(TableId.FILTER)
    const oldSave = b.stack.save({ counters: true })
    // Re-declare A (flushed, refilled), delete B (positions move), leave C alone.
    const next = `*filter
:A - [0:0]
:B - [0:0]
-A A -j ACCEPT
-X B
COMMIT
`
    a.stack.restore(next, { noflush: true, counters: true })
    // b still holds the old table, unchanged: same save text, same verdicts.
    expect(b.stack.table(TableId.FILTER)).toBe(old)
    expect(b.stack.save({ counters: true })).toBe(oldSave)
    expect(receive(b.stack, b.host, udp("192.168.1.5", 1000, "10.0.0.9", 53), ETH0, 3).verdict).toBe(Verdict.DROP)
    b.stack.restore(next, { noflush: true, counters: true })
    expect(b.stack.table(TableId.FILTER)).toBe(a.stack.table(TableId.FILTER))
    const saveA = a.stack.save({ counters: true })
    // Kept: FORWARD's and C's counters; A was re-declared: zero.
    expect(saveA).toContain(`[1:${BYTES}] -A FORWARD -p udp --dport 53 -j A`)
    expect(saveA).toContain(`[1:${BYTES}] -A C -j ACCEPT`)
    expect(saveA).toContain("[0:0] -A A -j ACCEPT")
    expect(saveA).not.toContain(":B")
    // b's own counters moved with it (its FORWARD rule for 53 counted its DROPped packet).
    const saveB = b.stack.save({ counters: true })
    expect(saveB).toContain(`[1:${BYTES}] -A FORWARD -p udp --dport 53 -j A`)
    expect(saveB).toContain(`[1:${BYTES}] -A C -j ACCEPT`)
  })

  it("takes counters from the input with --counters, per rule and policy", () => {
    const [a, b] = pair()
    const text = `*filter
:FORWARD DROP [7:700]
[3:300] -A FORWARD -p udp --dport 53 -j ACCEPT
COMMIT
`
    a.stack.restore(text, { counters: true })
    b.stack.restore(text, { counters: true })
    expect(b.stack.table(TableId.FILTER)).toBe(a.stack.table(TableId.FILTER))
    receive(a.stack, a.host, udp("8.8.8.8", 1000, "10.0.0.9", 99), ETH0, 1)
    expect(a.stack.save({ counters: true })).toContain(`:FORWARD DROP [8:${700 + BYTES}]`)
    expect(b.stack.save({ counters: true })).toContain(":FORWARD DROP [7:700]")
    expect(b.stack.save({ counters: true })).toContain("[3:300] -A FORWARD -p udp --dport 53 -j ACCEPT")
  })
})
