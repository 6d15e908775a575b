/**
 * Goal: `kube-netsim trace` in nftables mode shows the nft base chains a packet runs through, the
 * chains it enters from them and the expressions evaluated, next to conntrack and NAT, and the
 * hook's cost includes them (expressionCost per expression, lookupCost per set lookup).
 * Method: quickstart.yaml with kubeProxy.mode nftables, traced from the client pod to the Service.
 */
import { withConstantCosts } from "../constant-costs.ts"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { decodeScenarioText } from "../../src/scenario/load.ts"
import type { HookEvent, NftStep } from "../../src/trace/events.ts"
import { formatTrace } from "../../src/trace/format.ts"
import { traceScenario } from "../../src/trace/engine.ts"
import { withMode } from "../cluster/mode-helpers.ts"

const QUICKSTART = join(import.meta.dirname, "..", "..", "scenarios", "quickstart.yaml")

describe("trace in nftables mode", () => {
  it("reports the nft chains traversed, with the expressions charged", () => {
    const loaded = decodeScenarioText(QUICKSTART, withMode(readFileSync(QUICKSTART, "utf8"), "nftables"))
    if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join("\n"))
    // The hook's cost below is the constant model's (100 ns lookup, 400 ns new entry).
    const spec = withConstantCosts(loaded.scenario.spec)
    const r = traceScenario(spec, { from: "pod/busybox", to: "http-go-svc:80" })
    const hooks = r.events.filter((e): e is HookEvent => e.kind === "hook")
    const pre = hooks.find((h) => h.hook === "PREROUTING")
    expect(pre).toBeDefined()
    const nft = pre!.steps.filter((s): s is NftStep => s.kind === "nft")
    expect(nft.map((s) => s.chain)).toEqual(["filter-prerouting-pre-dnat", "nat-prerouting"])
    const nat = nft[1]!
    expect(nat.chains.slice(0, 2)).toEqual(["nat-prerouting", "services"])
    expect(nat.chains[2]).toMatch(/^service-[A-Z2-7]{8}-default\/http-go-svc\/tcp\/$/)
    expect(nat.chains[3]).toMatch(/^endpoint-[A-Z2-7]{8}-default\/http-go-svc\/tcp\/__10\.244\.\d+\.\d+\/8080$/)
    // The hook's cost: conntrack lookup + new entry, the nft expressions and lookups at their costs.
    const expressions = nft.reduce((n, s) => n + s.evaluated, 0)
    const lookups = nft.reduce((n, s) => n + s.lookups, 0)
    // @firewall-ips, @service-ips, the service chain's `numgen random mod 1 vmap`.
    expect(lookups).toBe(3)
    const { expressionCostNs, lookupCostNs } = spec.kubeProxy.nftables!
    expect(pre!.costNs).toBe(100 + 400 + (expressions - lookups) * expressionCostNs + lookups * lookupCostNs)
    expect(pre!.nat).toEqual([expect.objectContaining({ type: "DNAT", from: "10.109.93.202:80", by: "rule" })])
    expect(formatTrace(r, { verbose: false })).toContain("nft ip kube-proxy: nat-prerouting -> services -> service-")
  })
})
