/**
 * Calibration profiles (scenario/profile.ts) and their use in scenarios (scenario/load.ts costs):
 * the shipped profiles are complete and valid, a scenario's profile and per-parameter overrides
 * apply in that order, the constant keys of earlier versions pin fixed values, and bad input is
 * reported with the profile's or scenario's file, line and column.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { decodeScenarioText } from "../../src/scenario/load.ts"
import { decodeProfileText, defaultCosts, SHIPPED_PROFILES_DIR } from "../../src/scenario/profile.ts"
import { COST_PARAMETERS } from "../../src/sim/costs.ts"

const ROOT = join(import.meta.dirname, "..", "..")

function scenario(network: string, files: Record<string, string> = {}, kubeProxy = "") {
  const text = `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: p }
cluster:
  nodes: { count: 1 }
  network:
${network}
${kubeProxy}`
  const file = join(ROOT, "scenarios", "p.yaml")
  return decodeScenarioText(file, text, (path) => {
    const name = Object.keys(files).find((f) => path.endsWith(f))
    if (name !== undefined) return files[name]
    return readFileSync(path, "utf8")
  })
}

describe("calibration profiles", () => {
  it("the shipped profiles set every parameter, each with a source", () => {
    for (const name of ["default", "constant"]) {
      const file = join(SHIPPED_PROFILES_DIR, `${name}.yaml`)
      const r = decodeProfileText(file, readFileSync(file, "utf8"))
      expect(r.ok, JSON.stringify(r)).toBe(true)
      if (!r.ok) continue
      expect(Object.keys(r.profile.parameters).sort()).toEqual([...COST_PARAMETERS].sort())
      for (const p of COST_PARAMETERS) expect(r.profile.sources[p]).toBeTruthy()
    }
    expect(defaultCosts().costs.vethHopNs).toEqual({ kind: "lognormal", medianNs: 6000, p99Ns: 40000 })
  })

  it("reports a bad profile with its own file, line and column", () => {
    const text = `apiVersion: kube-netsim/v1
kind: CalibrationProfile
metadata: { name: x, date: 2026-12-03, kernel: "6.1" }
parameters:
  vethHopNs:
    distribution: { lognormal: { median: 5us, p99: 2us } }
    source: test
  bogusNs:
    distribution: { fixed: 1us }
    source: test
  bridgeHopNs:
    distribution: { empirical: { p50: 1us, p100: 2us } }
    source: test
`
    const r = decodeProfileText("/x/bad.yaml", text)
    expect(r.ok).toBe(false)
    if (r.ok) return
    const lines = r.issues.map((i) => `${i.position?.line}:${i.position?.column} ${i.message}`)
    expect(lines).toEqual([
      "6:32 profile: vethHopNs: lognormal: p99 must be at least the median",
      expect.stringMatching(/^8:3 profile: unknown parameter bogusNs/),
      "12:32 profile: bridgeHopNs: empirical: p0 is required",
    ])
    expect(r.issues.every((i) => i.position?.file === "/x/bad.yaml")).toBe(true)
  })

  it("a scenario's profile, then its overrides, then the legacy constant keys", () => {
    const profile = `apiVersion: kube-netsim/v1
kind: CalibrationProfile
metadata: { name: mine, date: 2026-12-03, kernel: "6.1" }
parameters:
  vethHopNs: { distribution: { fixed: 3us }, source: test }
  externalNs: { distribution: { exponential: { mean: 2ms } }, source: test }
`
    const r = scenario(
      `    profile: profiles/mine.yaml
    nodeFabricSameZoneNs: { empirical: { p0: 100us, p50: 120us, p100: 400us } }
    externalNs: 7.5ms
    crossZoneLatency: 2ms`,
      { "profiles/mine.yaml": profile },
      "kubeProxy: { ruleCost: 70ns }",
    )
    expect(r.ok, JSON.stringify(!r.ok && r.issues)).toBe(true)
    if (!r.ok) return
    const costs = r.scenario.spec.cluster.network.costs!
    expect(costs.vethHopNs).toEqual({ kind: "fixed", valueNs: 3000 })
    expect(costs.externalNs).toEqual({ kind: "fixed", valueNs: 7_500_000 })
    expect(costs.nodeFabricSameZoneNs.kind).toBe("empirical")
    expect(costs.nodeFabricCrossZoneNs).toEqual({ kind: "fixed", valueNs: 2_000_000 })
    expect(costs.iptablesFilterRuleNs).toEqual({ kind: "fixed", valueNs: 70 })
    expect(costs.iptablesNatRuleNs).toEqual({ kind: "fixed", valueNs: 70 })
    // Unset parameters keep the default profile's.
    expect(costs.conntrackNewNs).toEqual(defaultCosts().costs.conntrackNewNs)
    expect(r.scenario.spec.cluster.network.sameNodeLatencyNs).toBe(3000)
  })

  it("a shipped name and bad overrides: errors at the scenario field's position", () => {
    const ok = scenario("    profile: constant")
    expect(ok.ok).toBe(true)
    if (ok.ok) expect(ok.scenario.spec.cluster.network.costs!.vethHopNs).toEqual({ kind: "fixed", valueNs: 20_000 })
    const bad = scenario(`    profile: nope
    vethHopNs: { lognormal: { median: 5us } }`)
    expect(bad.ok).toBe(false)
    if (bad.ok) return
    const lines = bad.issues.map((i) => `${i.position?.line}:${i.position?.column} ${i.path.join(".")}: ${i.message}`)
    expect(lines).toEqual([
      expect.stringMatching(/^7:14 cluster\.network\.profile: cannot read profile .*nope\.yaml: no such file/),
      "8:29 cluster.network.vethHopNs.lognormal: lognormal: p99 is required",
    ])
  })
})

describe("a profile written by kube-netsim calibrate", () => {
  const CALIBRATED = "../profiles/amd-epyc-2vcpu-vm-linux-6.18-2026-12.yaml"

  it("loads in a scenario, with its nft expression cost and the host stack time it separates", () => {
    const r = scenario(`    profile: ${CALIBRATED}`)
    expect(r.ok, r.ok ? "" : r.issues.map((i) => i.message).join("\n")).toBe(true)
    if (!r.ok) return
    const costs = r.scenario.spec.cluster.network.costs!
    // calibrate measures the socket work at both ends apart from the veth hop (half the loopback
    // round trip), so a profile of its own charges it per delivered packet; the default profile's
    // veth hop holds it and sets 0 (docs/calibration.md).
    expect(costs.hostStackNs.kind).toBe("empirical")
    expect(defaultCosts().costs.hostStackNs).toEqual({ kind: "fixed", valueNs: 0 })
    expect(r.scenario.spec.kubeProxy.nftables!.expressionCostNs).toBeGreaterThan(0)
    // kubeProxy.nftables.expressionCost still pins the expression cost.
    const pinned = scenario(`    profile: ${CALIBRATED}`, {}, "kubeProxy: { nftables: { expressionCost: 7ns } }\n")
    expect(pinned.ok && pinned.scenario.spec.kubeProxy.nftables!.expressionCostNs).toBe(7)
  })
})

describe("hostStackNs", () => {
  it("is charged once per packet delivered to a local socket", async () => {
    const { runScenario } = await import("../../src/cluster/index.ts")
    const p50 = (network: string): number => {
      const text = `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: h }
duration: 3s
cluster: { nodes: { count: 2 }, network: ${network} }
dns: { mode: static }
manifests:
  - inline:
      - { apiVersion: v1, kind: Pod, metadata: { name: s, labels: { app: s } }, spec: { nodeName: node-2, containers: [ { name: s, image: nginx, ports: [ { containerPort: 80 } ] } ] } }
      - { apiVersion: v1, kind: Service, metadata: { name: s }, spec: { selector: { app: s }, ports: [ { port: 80 } ] } }
      - { apiVersion: v1, kind: Pod, metadata: { name: c }, spec: { nodeName: node-1, containers: [ { name: c, image: busybox } ] } }
workloads:
  - { name: w, from: pod/c, to: "http://s/", arrival: { every: 10ms }, count: 20 }
`
      const r = decodeScenarioText(join(ROOT, "scenarios", "h.yaml"), text)
      if (!r.ok) throw new Error(r.issues.map((i) => i.message).join("\n"))
      const w = runScenario(r.scenario.spec, { seed: 1 }).workloads.w
      expect(w.requests.completed).toBe(20)
      return w.latencyNs.p50
    }
    // An HTTP request on a new connection waits for four deliveries (SYN, SYN-ACK, request,
    // response): 4 x 50 us more with hostStackNs 50us (the rest of the run is the same draws);
    // percentiles come from the latency histogram, exact to within 1/128 of a power of two.
    const added = p50("{ profile: constant, hostStackNs: 50us }") - p50("{ profile: constant }")
    expect(added).toBeGreaterThanOrEqual(190_000)
    expect(added).toBeLessThan(300_000)
  })
})
