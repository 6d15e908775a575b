/**
 * Generation without simulating: every kind of variable stays in its range, cases are a pure
 * function of the fast-check seed, and a failing case shrinks toward each range's start (a stub
 * runtime stands in for the simulator, so this is fast).
 */
import { join } from "node:path"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { checkProperty } from "../../src/check/check.ts"
import { valuesArbitrary, writtenValues } from "../../src/check/generate.ts"
import { decodePropertyText, type Property } from "../../src/check/property.ts"
import type { ScenarioSpec } from "../../src/cluster/spec.ts"
import type { ResultsDocument } from "../../src/stats/results.ts"

const FILE = join(import.meta.dirname, "..", "..", "properties", "gen.yaml")

const PROPERTY = `apiVersion: kube-netsim/v1
kind: Property
metadata: { name: gen }
scenario: base/affinity.yaml
vary:
  - { name: replicas, path: "manifests[Deployment/web].spec.replicas", int: { min: 2, max: 9 } }
  - { name: nodes, path: cluster.nodes.count, int: { min: 1, max: 3 } }
  - { name: policy, path: "manifests[Service/web].spec.internalTrafficPolicy", oneOf: [Cluster, Local] }
  - { name: zones, path: cluster.nodes.zones, subset: { of: [a, b, c], minSize: 1 } }
  - { name: stop, path: "workloads[requests].duration", duration: { min: 1s, max: 3s, step: 500ms } }
  - { name: seed, path: seed, int: { min: 0, max: 4294967295 } }
holds:
  - { workload: requests, endpointsAtLeast: { var: replicas } }
`

function property(): Property {
  const result = decodePropertyText(FILE, PROPERTY)
  if (!result.ok) throw new Error(JSON.stringify(result.issues))
  return result.property
}

/** A results document whose `requests` workload reached `endpoints` of the replicas. */
function stubRun(endpoints: (spec: ScenarioSpec) => number) {
  return (spec: ScenarioSpec): ResultsDocument => {
    const byEndpoint: Record<string, number> = {}
    for (let i = 0; i < endpoints(spec); i++) byEndpoint[`web-${i}`] = 10
    return {
      fingerprint: `f${spec.seed}`,
      workloads: {
        requests: {
          requests: { sent: 10, completed: 10, failed: 0, failedByReason: {} },
          distribution: { byEndpoint, jain: 1, maxOverMean: 1, cv: 0, chiSquareP: 1 },
        },
      },
    } as unknown as ResultsDocument
  }
}

function replicasOf(spec: ScenarioSpec): number {
  const web = spec.manifests.find((m) => m.object.kind === "Deployment" && m.object.metadata.name === "web")
  return (web?.object as unknown as { spec: { replicas: number } }).spec.replicas
}

describe("generation", () => {
  it("keeps every kind of variable in its range", () => {
    const p = property()
    for (const values of fc.sample(valuesArbitrary(p), { numRuns: 50, seed: 3 })) {
      const written = writtenValues(p, values)
      expect(written.replicas).toBeGreaterThanOrEqual(2)
      expect(written.replicas).toBeLessThanOrEqual(9)
      expect(["Cluster", "Local"]).toContain(written.policy)
      const zones = written.zones as string[]
      expect(zones.length).toBeGreaterThanOrEqual(1)
      expect(zones.every((z) => ["a", "b", "c"].includes(z))).toBe(true)
      expect(["1s", "1500ms", "2s", "2500ms", "3s"]).toContain(written.stop)
    }
  })

  it("generates the same cases from the same seed, other cases from another", () => {
    const p = property()
    const run = (seed: number) =>
      checkProperty(p, { runs: 5, seed, runScenario: stubRun(replicasOf) }).cases.map((c) => c.values)
    expect(run(7)).toEqual(run(7))
    expect(run(7)).not.toEqual(run(8))
  })

  it("shrinks a failure toward each range's start and reports the path", () => {
    // Fails whenever there are more than 3 replicas: only 3 are ever reached.
    const report = checkProperty(property(), {
      runs: 20,
      seed: 1,
      runScenario: stubRun((spec) => Math.min(3, replicasOf(spec))),
    })
    expect(report.holds).toBe(false)
    // Sub-lists shrink by length (which element stays is fast-check's choice).
    const { zones, ...rest } = report.counterexample?.values ?? {}
    expect(rest).toEqual({ replicas: 4, nodes: 1, policy: "Cluster", stop: "1s", seed: 0 })
    expect(zones).toHaveLength(1)
    expect(report.counterexample?.failures).toEqual(["requests: expected endpointsAtLeast: 4 (= replicas), got 3"])
    expect(report.shrinkPath[0]).toEqual(report.failedCases[0])
    expect(report.counterexample?.scenarioText).toContain("endpointsAtLeast: 4")
  })
})
