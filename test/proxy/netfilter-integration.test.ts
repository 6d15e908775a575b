/**
 * The compiled restore input runs on the project's netfilter engine: it restores cleanly with
 * --noflush (with the jump rules inserted after) and reproduces the packet-flow expectations of
 * the upstream packet-tracer self-test that accompanies TestOverallIPTablesRules
 * (kube-proxy-golden.md, G1 notes).
 */
import { describe, expect, it } from "vitest"
import { Verdict } from "../../src/net/hooks.ts"
import { compileIptables, jumpRulesRestoreInput } from "../../src/proxy/iptables/compile.ts"
import { formatIpv4 } from "../../src/wire/ipv4.ts"
import { makeNode, receive, send, tcp } from "../netfilter/helpers.ts"
import { FAKE_CONFIG, FAKE_NODE, loadManifests } from "./helpers.ts"

const CNI0 = 1
const ETH0 = 0

function g1Node(): ReturnType<typeof makeNode> {
  const { services, slices } = loadManifests("g1-overall.yaml")
  const node = makeNode()
  const result = compileIptables(services, slices, FAKE_NODE, FAKE_CONFIG)
  node.stack.restore(result.restoreInput, { noflush: true, counters: true })
  node.stack.restore(
    jumpRulesRestoreInput({
      filter: new Set([
        "KUBE-SERVICES",
        "KUBE-EXTERNAL-SERVICES",
        "KUBE-FORWARD",
        "KUBE-NODEPORTS",
        "KUBE-PROXY-FIREWALL",
        "KUBE-FIREWALL",
      ]),
      nat: new Set(["KUBE-SERVICES", "KUBE-POSTROUTING"]),
    }),
    { noflush: true },
  )
  return node
}

describe("G1 on the netfilter engine", () => {
  it("restores, and iptables-save lists every kube-proxy chain", () => {
    const { stack } = g1Node()
    const saved = stack.save()
    for (const chain of [
      "KUBE-SVC-XPGD46QRK7WJZT7O",
      "KUBE-FW-NUKIZ6OKUXPJNT4C",
      "KUBE-EXT-GNZBNJ2PO5MGZ6GT",
      "KUBE-SEP-I77PXRDZVX7PMWMN",
    ])
      expect(saved).toContain(`:${chain} `)
    expect(saved).toContain("KUBE-SERVICES")
  })

  it("pod -> ClusterIP is DNATed to the endpoint", () => {
    const { stack, host } = g1Node()
    const p = tcp("10.0.0.2", 40000, "172.30.0.41", 80)
    expect(receive(stack, host, p, CNI0, 0).verdict).toBe(Verdict.ACCEPT)
    expect(`${formatIpv4(p.dstAddr)}:${p.dstPort}`).toBe("10.180.0.1:80")
  })

  it("pod -> svc4 reaches both endpoints", () => {
    const { stack, host } = g1Node()
    const seen = new Set<string>()
    for (let i = 0; i < 64; i++) {
      const p = tcp("10.0.0.2", 30000 + i, "172.30.0.44", 80)
      receive(stack, host, p, CNI0, i)
      seen.add(`${formatIpv4(p.dstAddr)}:${p.dstPort}`)
    }
    expect([...seen].sort()).toEqual(["10.180.0.4:80", "10.180.0.5:80"])
  })

  it("node -> ETP=Local external IP is served (short-circuit) and masqueraded", () => {
    const { stack } = g1Node()
    const p = tcp("192.168.0.2", 40001, "192.168.99.22", 80)
    expect(send(stack, p, 0).verdict).toBe(Verdict.ACCEPT)
    expect(`${formatIpv4(p.dstAddr)}:${p.dstPort}`).toBe("10.180.0.2:80")
    // "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" marked it; KUBE-POSTROUTING's
    // MASQUERADE takes the address of the outgoing interface (cni0, routes: 10.0.0.0/8 via cni0).
    expect(p.mark & 0x4000).toBe(0)
    expect(formatIpv4(p.srcAddr)).toBe("10.0.0.1")
  })

  it("external -> ETP=Local external IP without local endpoints is dropped", () => {
    const { stack, host } = g1Node()
    expect(receive(stack, host, tcp("203.0.113.2", 40002, "192.168.99.22", 80), ETH0, 0).verdict).toBe(Verdict.DROP)
  })

  it("service without endpoints is rejected", () => {
    const { stack, host } = g1Node()
    expect(receive(stack, host, tcp("10.0.0.2", 40003, "172.30.0.46", 80), CNI0, 0).verdict).toBe(Verdict.REJECT)
  })
})
