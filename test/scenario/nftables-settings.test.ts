/**
 * Goal: the nftables mode settings decode with their defaults and units, and bad values are refused
 * with the field's path and position (kubeProxy.nftables.*, kubeProxy.syncCost.nftables.*).
 */
import { describe, expect, it } from "vitest"
import { DEFAULT_NFTABLES_MODE } from "../../src/cluster/backend-nftables.ts"
import { DEFAULT_NFTABLES_SYNC_COST } from "../../src/proxy/sync-cost.ts"
import { decodeScenarioText } from "../../src/scenario/load.ts"

const HEAD = "apiVersion: kube-netsim/v1\nkind: Scenario\nmetadata: { name: t }\n"

function decode(text: string) {
  return decodeScenarioText("s.yaml", HEAD + text, () => {
    throw Object.assign(new Error("ENOENT"), { code: "ENOENT" })
  })
}

describe("kubeProxy nftables settings", () => {
  it("defaults: 2 ns per expression, 60 ns per set lookup, full sync every hour, the measured sync cost", () => {
    const r = decode("kubeProxy: { mode: nftables }\n")
    if (!r.ok) throw new Error(r.issues.map((i) => i.message).join("; "))
    const kp = r.scenario.spec.kubeProxy
    expect(kp.mode).toBe("nftables")
    expect(kp.nftables).toEqual(DEFAULT_NFTABLES_MODE)
    expect(DEFAULT_NFTABLES_MODE).toEqual({ expressionCostNs: 2, lookupCostNs: 60, fullSyncPeriodNs: 3600e9 })
    // The default profile's nftApplyBaseNs / nftApplyPerElementNs (fixed, at the measured figures).
    expect(kp.syncCost.nftables).toEqual({
      ...DEFAULT_NFTABLES_SYNC_COST,
      fixedDistribution: { kind: "fixed", valueNs: DEFAULT_NFTABLES_SYNC_COST.fixedNs },
      perCommandDistribution: { kind: "fixed", valueNs: DEFAULT_NFTABLES_SYNC_COST.perCommandNs },
    })
  })

  it("reads every field with its unit", () => {
    const r = decode(
      "kubeProxy:\n  mode: nftables\n  nftables: { expressionCost: 10ns, lookupCost: 70ns, fullSyncPeriod: 5m }\n" +
        "  syncCost: { nftables: { fixed: 1ms, perCommand: 2us, perObject: 3ns } }\n",
    )
    if (!r.ok) throw new Error(r.issues.map((i) => i.message).join("; "))
    const kp = r.scenario.spec.kubeProxy
    expect(kp.nftables).toEqual({ expressionCostNs: 10, lookupCostNs: 70, fullSyncPeriodNs: 300e9 })
    expect(kp.syncCost.nftables).toEqual({
      fixedNs: 1e6,
      perCommandNs: 2000,
      perTableObjectNs: 3,
      fixedDistribution: { kind: "fixed", valueNs: 1e6 },
      perCommandDistribution: { kind: "fixed", valueNs: 2000 },
    })
  })

  it("refuses a zero full-sync period and a malformed cost, with the field path", () => {
    const zero = decode("kubeProxy: { nftables: { fullSyncPeriod: 0s } }\n")
    expect(zero.ok).toBe(false)
    if (!zero.ok) expect(zero.issues.map((i) => i.path.join("."))).toEqual(["kubeProxy.nftables.fullSyncPeriod"])
    const bad = decode("kubeProxy: { nftables: { expressionCost: fast } }\n")
    expect(bad.ok).toBe(false)
    if (!bad.ok) expect(bad.issues.map((i) => i.path.join("."))).toEqual(["kubeProxy.nftables.expressionCost"])
  })
})
