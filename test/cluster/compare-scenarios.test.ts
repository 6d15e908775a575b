/**
 * The proxy-mode scenarios (issue 8 part 7) run under every simulated mode and meet the
 * expectations that apply to that mode (`modes:` filters). Modes come from the registry
 * (cluster/proxy-backends.ts), so a mode registered later is checked here without change.
 * The quick tier runs only the pairs no other quick-tier file runs with the same check (the file's
 * expectations for that mode, seed as shipped): the iptables runs are test/cluster/runtime.test.ts's
 * `run` of every shipped scenario, the nftables and IPVS ones test/cluster/mode-nftables.test.ts's
 * and test/cluster/mode-ipvs.test.ts's runs of the shipped scenarios under that mode (which keep
 * these scenarios in their quick tier for that reason); userspace runs here. The extensive tier
 * runs every pair here.
 * Also: the committed sync-at-scale.yaml is its generator's default output.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { DEFAULT_SYNC_AT_SCALE, syncAtScaleYaml } from "../../bench/gen-sync-at-scale.ts"
import { runScenario } from "../../src/cluster/index.ts"
import { simulatedProxyModes } from "../../src/cluster/proxy-backends.ts"
import { checkExpectations, expectationApplies } from "../../src/scenario/expect.ts"
import { loadScenario } from "../../src/scenario/load.ts"
import { extensive } from "../tier.ts"
import { ROOT } from "./helpers.ts"
import { RUNTIME_EXTENSIVE_ONLY } from "./quick-scenarios.ts"

const SCENARIOS = ["proxy-modes", "ipvs-rr-unevenness", "graceful-termination", "sync-at-scale"]

/** Modes whose run of a scenario another quick-tier file already makes, with that file. */
function ranElsewhere(name: string, mode: string): string | undefined {
  if (extensive) return undefined
  if (mode === "iptables" && !RUNTIME_EXTENSIVE_ONLY.has(`${name}.yaml`)) return "runtime.test.ts"
  // mode-nftables/mode-ipvs leave sync-at-scale to the extensive tier (slow to build).
  if (name === "sync-at-scale") return mode === "iptables" ? undefined : "the extensive tier"
  if (mode === "nftables") return "mode-nftables.test.ts"
  if (mode === "ipvs") return "mode-ipvs.test.ts"
  return undefined
}

describe("proxy-mode scenarios", () => {
  for (const name of SCENARIOS) {
    for (const mode of simulatedProxyModes()) {
      const elsewhere = ranElsewhere(name, mode)
      it.skipIf(elsewhere !== undefined)(
        `${name} meets its ${mode} expectations${elsewhere ? ` (quick tier: in ${elsewhere})` : ""}`,
        () => {
          const loaded = loadScenario(join(ROOT, "scenarios", `${name}.yaml`))
          if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join("\n"))
          const { spec, expectations, warnings } = loaded.scenario
          expect(warnings).toEqual([])
          // Each scenario states something for this mode beyond the shared expectations, or at least some.
          expect(expectations.filter((e) => expectationApplies(e, mode)).length).toBeGreaterThan(0)
          const doc = runScenario({ ...spec, kubeProxy: { ...spec.kubeProxy, mode } }, { seed: spec.seed })
          expect(checkExpectations(expectations, doc, mode).map((f) => f.message)).toEqual([])
        },
      )
    }
  }

  it("every mode-filtered expectation names a kube-proxy mode and some are mode-specific", () => {
    let filtered = 0
    for (const name of SCENARIOS) {
      const loaded = loadScenario(join(ROOT, "scenarios", `${name}.yaml`))
      if (!loaded.ok) throw new Error(name)
      for (const e of loaded.scenario.expectations) if (e.modes !== undefined) filtered++
    }
    expect(filtered).toBeGreaterThanOrEqual(6)
  })

  it("scenarios/sync-at-scale.yaml is bench/gen-sync-at-scale.ts's default output", () => {
    expect(readFileSync(join(ROOT, "scenarios", "sync-at-scale.yaml"), "utf8")).toBe(
      syncAtScaleYaml(DEFAULT_SYNC_AT_SCALE),
    )
    const ipvs = syncAtScaleYaml({ ...DEFAULT_SYNC_AT_SCALE, mode: "ipvs" })
    expect(ipvs).toContain("kubeProxy: { mode: ipvs }")
  })
})
