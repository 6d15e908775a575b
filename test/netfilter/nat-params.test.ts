/**
 * NAT node parameters (ext/xt_nat.ts NatParams): `-j REDIRECT --to-ports {port:K}` and
 * `-j DNAT --to-destination {host}:{port:K}` read the evaluating node's values, so one parsed rule
 * (rule-cache.ts) and one restored table serve nodes whose rules differ only in those values, as
 * the userspace proxier's portal rules do. Each node binds and prints (iptables-save, trace) exactly
 * what its own literal rule would: the same as `--to-ports <its port>` / `<its IP>:<its port>`.
 */
import { describe, expect, it } from "vitest"
import { Verdict } from "../../src/net/hooks.ts"
import { TableId } from "../../src/netfilter/constants.ts"
import { RuleParseCache } from "../../src/netfilter/rule-cache.ts"
import { ipv4 } from "../../src/wire/ipv4.ts"
import { CNI0, makeNode, receive, send, udp } from "./helpers.ts"

const PARAM_RULES = `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j REDIRECT --to-ports {port:3}
-A OUTPUT -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination {host}:{port:3}
COMMIT
`

function literalRules(hostIP: string, port: number): string {
  return PARAM_RULES.replace("{port:3}", String(port)).replace("{host}:{port:3}", `${hostIP}:${port}`)
}

/** Destination after NAT of a pod's and of the host's packet to the service, on `stack`. */
function destinations(node: ReturnType<typeof makeNode>): { fromPod: string; fromHost: string } {
  const fromPod = udp("10.0.0.7", 40000, "10.96.0.10", 53)
  expect(receive(node.stack, node.host, fromPod, CNI0, 1).verdict).toBe(Verdict.ACCEPT)
  const fromHost = udp("192.168.0.2", 40001, "10.96.0.10", 53)
  expect(send(node.stack, fromHost, 2).verdict).toBe(Verdict.ACCEPT)
  return { fromPod: `${fromPod.dstAddr}:${fromPod.dstPort}`, fromHost: `${fromHost.dstAddr}:${fromHost.dstPort}` }
}

describe("NAT node parameters", () => {
  it("bind and print each node's own values, from one shared parsed rule and table", () => {
    const ruleCache = new RuleParseCache()
    const a = makeNode({ ruleCache }, 1)
    const b = makeNode({ ruleCache }, 2)
    a.stack.natParams.hostAddress = ipv4("192.168.0.2")
    a.stack.natParams.setPort(3, 34001)
    b.stack.natParams.hostAddress = ipv4("192.168.0.3")
    b.stack.natParams.setPort(3, 45002)
    a.stack.restore(PARAM_RULES, { noflush: true })
    b.stack.restore(PARAM_RULES, { noflush: true })
    expect(b.stack.table(TableId.NAT)).toBe(a.stack.table(TableId.NAT))

    // The same as each node's literal rules.
    const literalA = makeNode({}, 1)
    literalA.stack.restore(literalRules("192.168.0.2", 34001), { noflush: true })
    const literalB = makeNode({}, 2)
    literalB.stack.restore(literalRules("192.168.0.3", 45002), { noflush: true })
    expect(a.stack.save()).toBe(literalA.stack.save())
    expect(b.stack.save()).toBe(literalB.stack.save())
    expect(a.stack.save()).toContain("-j REDIRECT --to-ports 34001\n")
    expect(b.stack.save()).toContain("-j DNAT --to-destination 192.168.0.3:45002\n")
    const gotA = destinations(a)
    expect(gotA).toEqual(destinations(literalA))
    expect(gotA).toEqual({ fromPod: `${ipv4("10.0.0.1")}:34001`, fromHost: `${ipv4("192.168.0.2")}:34001` })
    const gotB = destinations(b)
    expect(gotB).toEqual(destinations(literalB))
    expect(gotB.fromHost).toBe(`${ipv4("192.168.0.3")}:45002`)
  })

  it("a changed value applies to new connections without a restore", () => {
    const node = makeNode()
    node.stack.natParams.hostAddress = ipv4("192.168.0.2")
    node.stack.natParams.setPort(3, 34001)
    node.stack.restore(PARAM_RULES, { noflush: true })
    node.stack.natParams.setPort(3, 34555)
    const p = udp("10.0.0.7", 40000, "10.96.0.10", 53)
    receive(node.stack, node.host, p, CNI0, 1)
    expect(p.dstPort).toBe(34555)
    expect(node.stack.save()).toContain("--to-ports 34555\n")
  })
})
