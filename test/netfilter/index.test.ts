/**
 * Goal: the chain index finds the same first rule, and charges the same linear-walk count, as a
 * linear walk; and print -> parse -> print is stable (iptables-save round trip) on random rule sets.
 * Method: fast-check generates chains of keyable and unkeyable rules and random packets; the same
 * chain is restored into an indexed stack (threshold 1) and a linear one (threshold huge).
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Hook, Verdict } from "../../src/net/hooks.ts"
import { Rule } from "../../src/netfilter/rule.ts"
import { formatIpv4 } from "../../src/wire/ipv4.ts"
import { Packet } from "../../src/wire/packet.ts"
import { Protocol } from "../../src/wire/protocol.ts"
import { makeNode, receive } from "./helpers.ts"

const ADDRS = ["172.30.0.1", "172.30.0.2", "172.30.0.3", "10.0.0.9"]
const arbRule = fc.record({
  proto: fc.constantFrom("tcp", "udp", ""),
  dst: fc.constantFrom("", ...ADDRS, "172.30.0.0/24", "! 172.30.0.2"),
  src: fc.constantFrom("", "10.0.0.0/8", "! 10.0.0.0/8"),
  dport: fc.constantFrom(-1, 80, 443, 53),
  dportInvert: fc.boolean(),
  comment: fc.constantFrom("", "ns1/svc1:p80 cluster IP", "x"),
  addrtype: fc.boolean(),
  mark: fc.boolean(),
  target: fc.constantFrom("ACCEPT", "DROP", "REJECT", "MARK --or-mark 0x1", ""),
})
type ArbRule = typeof arbRule extends fc.Arbitrary<infer T> ? T : never

function ruleText(r: ArbRule): string {
  const parts: string[] = []
  if (r.comment !== "") parts.push(`-m comment --comment ${JSON.stringify(r.comment)}`)
  if (r.src !== "") parts.push(r.src.startsWith("!") ? `! -s ${r.src.slice(2)}` : `-s ${r.src}`)
  if (r.proto !== "") parts.push(`-p ${r.proto}`)
  if (r.dst !== "") parts.push(r.dst.startsWith("!") ? `! -d ${r.dst.slice(2)}` : `-d ${r.dst}`)
  if (r.proto !== "" && r.dport >= 0) parts.push(`-m ${r.proto} ${r.dportInvert ? "! " : ""}--dport ${r.dport}`)
  if (r.addrtype) parts.push("-m addrtype --dst-type LOCAL")
  if (r.mark) parts.push("-m mark ! --mark 0x1/0x1")
  if (r.target !== "") parts.push(`-j ${r.target}`)
  return parts.join(" ")
}

const arbPacket = fc.record({
  proto: fc.constantFrom(Protocol.TCP, Protocol.UDP, Protocol.ICMP),
  dst: fc.constantFrom(...ADDRS, "172.30.0.77", "192.168.0.2"),
  src: fc.constantFrom("10.0.0.5", "192.168.7.7"),
  dport: fc.constantFrom(80, 443, 53, 8080),
  mark: fc.constantFrom(0, 1),
})

describe("chain index", () => {
  it("first match and charged rule count equal a linear walk (property)", () => {
    fc.assert(
      fc.property(
        fc.array(arbRule, { minLength: 0, maxLength: 60 }),
        fc.array(arbPacket, { minLength: 1, maxLength: 20 }),
        (rules, packets) => {
          const text = `*filter\n:FORWARD ACCEPT [0:0]\n${rules.map((r) => `-A FORWARD ${ruleText(r)}`).join("\n")}${rules.length > 0 ? "\n" : ""}COMMIT\n`
          const indexed = makeNode({
            indexThreshold: 1,
            ruleCostNs: 1,
            conntrackLookupCostNs: 0,
            conntrackNewCostNs: 0,
          })
          const linear = makeNode({
            indexThreshold: 1 << 30,
            ruleCostNs: 1,
            conntrackLookupCostNs: 0,
            conntrackNewCostNs: 0,
          })
          indexed.stack.restore(text)
          linear.stack.restore(text)
          expect(indexed.stack.table(3).chain("FORWARD")?.index === null).toBe(rules.length === 0)
          expect(linear.stack.table(3).chain("FORWARD")?.index).toBeNull()
          for (const q of packets) {
            const make = (): Packet => {
              const p = new Packet()
              p.protocol = q.proto
              p.srcAddr = Number(q.src.split(".").reduce((a, b) => a * 256 + Number(b), 0))
              p.dstAddr = Number(q.dst.split(".").reduce((a, b) => a * 256 + Number(b), 0))
              p.srcPort = 1000
              p.dstPort = q.proto === Protocol.ICMP ? 0 : q.dport
              p.mark = q.mark
              p.untracked = false
              return p
            }
            const a = make()
            const b = make()
            const va = indexed.stack.runHook(Hook.FORWARD, a, 1, 0, 0)
            const ca = indexed.stack.lastCostNs
            const vb = linear.stack.runHook(Hook.FORWARD, b, 1, 0, 0)
            const cb = linear.stack.lastCostNs
            expect(va).toBe(vb)
            expect(ca).toBe(cb)
            expect(a.mark).toBe(b.mark)
          }
          const hits = (stack: typeof indexed.stack): number[] | undefined => {
            const chain = stack.table(3).chain("FORWARD")
            return chain?.rules.map((_, i) => stack.counters.get(chain, i).packets)
          }
          const ia = hits(indexed.stack)
          const ib = hits(linear.stack)
          expect(ia).toEqual(ib)
        },
      ),
      { numRuns: 150 },
    )
  })

  it("a 10,000-service KUBE-SERVICES chain: the index tests the same 3 rules at any position, the simulated cost is linear in position", () => {
    const { stack, host } = makeNode({ ruleCostNs: 50 })
    const n = 10000
    const lines = [
      "*nat",
      ":PREROUTING ACCEPT [0:0]",
      ":KUBE-SERVICES - [0:0]",
      ":KUBE-SVC-A - [0:0]",
      "-A PREROUTING -j KUBE-SERVICES",
    ]
    for (let i = 0; i < n; i++) {
      const ip = `172.30.${i >> 8}.${i & 255}`
      lines.push(
        `-A KUBE-SERVICES -m comment --comment "ns/svc${i}:p80 cluster IP" -m tcp -p tcp -d ${ip} --dport 80 -j KUBE-SVC-A`,
      )
    }
    lines.push(
      `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j RETURN`,
    )
    lines.push("-A KUBE-SVC-A -p tcp -j DNAT --to-destination 10.180.0.1:80", "COMMIT", "")
    stack.restore(lines.join("\n"))
    // The work the engine really does is the rules it tests (Rule.evaluate); what it charges in
    // simulated time is the linear walk (stack.rulesEvaluated). Count the former by wrapping evaluate.
    let tested = 0
    const evaluate = Rule.prototype.evaluate
    const cost = (i: number): void => {
      const p = new Packet()
      p.protocol = Protocol.TCP
      p.srcAddr = 0x0a000005
      p.srcPort = 2000 + i
      p.dstAddr = ((172 << 24) | (30 << 16) | ((i >> 8) << 8) | (i & 255)) >>> 0
      p.dstPort = 80
      p.tcpFlags = 2
      Rule.prototype.evaluate = function (this: Rule, ctx) {
        tested++
        return evaluate.call(this, ctx)
      }
      try {
        const r = receive(stack, host, p, 1, 0)
        expect(r.verdict).toBe(Verdict.ACCEPT)
      } finally {
        Rule.prototype.evaluate = evaluate
      }
      expect(formatIpv4(p.dstAddr)).toBe("10.180.0.1")
    }
    // PREROUTING jump, the service's own rule (the index's exact bucket), the DNAT rule: at the first
    // position and at the last, the same three rules tested; the charge walks the chain.
    for (const [position, charged] of [
      [0, 1 + 1 + 1],
      [5000, 1 + 5001 + 1],
      [9999, 1 + 10000 + 1],
    ]) {
      const chargedBefore = stack.rulesEvaluated
      tested = 0
      cost(position)
      expect(tested, `rules tested for service ${position}`).toBe(3)
      expect(stack.rulesEvaluated - chargedBefore, `rules charged for service ${position}`).toBe(charged)
    }
  })
})

describe("iptables-save round trip (property)", () => {
  it("print -> parse -> print is the identity and rules keep their meaning", () => {
    fc.assert(
      fc.property(fc.array(arbRule, { maxLength: 30 }), fc.boolean(), (rules, withUserChain) => {
        const body = rules.map((r, i) =>
          `-A ${withUserChain && i % 2 === 1 ? "KUBE-X" : "FORWARD"} ${ruleText(r)}`.trimEnd(),
        )
        const text = `*filter\n:FORWARD DROP [0:0]\n${withUserChain ? ":KUBE-X - [0:0]\n" : ""}${body.map((l) => `${l}\n`).join("")}COMMIT\n`
        const one = makeNode().stack
        one.restore(text)
        const printed = one.save()
        const two = makeNode().stack
        two.restore(printed)
        expect(two.save()).toBe(printed)
        const chains = (s: typeof one): string[] =>
          s
            .table(3)
            .chains.map(
              (c) =>
                `${c.name}:${c.policy}:${c.rules.map((r) => `${r.srcAddr}/${r.srcMask}/${r.dstAddr}/${r.dstMask}/${r.protocol}/${r.target.kind}/${r.matches.length}/${r.keyDport}`).join(",")}`,
            )
        expect(chains(two)).toEqual(chains(one))
      }),
      { numRuns: 100 },
    )
  })
})
