/**
 * Example: kube-netsim as a library in a vitest suite. `scenarioArbitrary` turns a base scenario
 * and the fields to vary into a fast-check arbitrary of scenarios; `simulate` runs one through the
 * simulator `kube-netsim run` uses. fast-check shrinks a failure to the smallest scenario.
 * (Part of `npm test`; a few cases keep it around a second.)
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { scenarioArbitrary, simulate } from "kube-netsim"

describe("kube-netsim as a library (examples/fairness.test.ts)", () => {
  it("iptables mode sends new connections to every replica, for 1 to 4 replicas", () => {
    const scenarios = scenarioArbitrary({
      // A Deployment `web` behind a Service, a client pod sending `requests` (new connection each).
      scenario: "../properties/base/uniform.yaml",
      baseDir: import.meta.dirname,
      vary: [
        { name: "replicas", path: "manifests[Deployment/web].spec.replicas", int: { min: 1, max: 4 } },
        { name: "requests", path: "workloads[requests].count", int: { min: 40, max: 60 } },
        { name: "seed", path: "seed", int: { min: 0, max: 4294967295 } },
      ],
    })
    fc.assert(
      fc.property(scenarios, (scenario) => {
        const results = simulate(scenario).workloads.requests
        expect(results.requests.failed).toBe(0)
        expect(results.requests.completed).toBe(scenario.values.requests)
        // Every replica served some of the 40..60 requests (a miss has probability < 1e-6).
        const served = Object.values(results.distribution.byEndpoint).filter((count) => count > 0)
        expect(served).toHaveLength(scenario.values.replicas as number)
      }),
      { numRuns: 2, seed: 1 },
    )
  })
})
