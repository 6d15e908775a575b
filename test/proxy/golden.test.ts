/**
 * Golden tests: the compiler reproduces upstream kube-proxy unit-test expectations byte for byte
 * after the same normalisation (sortIPTablesRules). Inputs are plain Kubernetes YAML fixtures.
 * Sources: kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go TestOverallIPTablesRules (G1)
 * and TestSyncProxyRulesRepeated (G2), transcribed in ../shared/reference/kube-proxy-golden.md.
 */
import { describe, expect, it } from "vitest"
import { compileIptables } from "../../src/proxy/iptables/compile.ts"
import { sortIptablesRules } from "../../src/proxy/iptables/sort.ts"
import { FAKE_CONFIG, FAKE_NODE, loadManifests, readFixture } from "./helpers.ts"

describe("golden iptables dumps", () => {
  it("G1 TestOverallIPTablesRules", () => {
    const { services, slices } = loadManifests("g1-overall.yaml")
    const result = compileIptables(services, slices, FAKE_NODE, FAKE_CONFIG)
    expect(sortIptablesRules(result.restoreInput)).toBe(readFixture("g1-expected.rules"))
  })

  it("G2 TestSyncProxyRulesRepeated first sync", () => {
    const { services, slices } = loadManifests("g2-repeated.yaml")
    const result = compileIptables(services, slices, FAKE_NODE, FAKE_CONFIG)
    expect(sortIptablesRules(result.restoreInput)).toBe(readFixture("g2-expected.rules"))
  })
})
