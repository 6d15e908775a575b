/**
 * Calibration profiles without a kernel (quick tier): the shipped profile of this machine reads
 * back under the contract, the writer's durations round-trip exactly, the fits and quantiles the
 * command computes are right, and profileToScenarioOverrides maps each parameter to the knob
 * MODEL.md "Calibration" names.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { fitLine, quantileOfSorted } from "../../src/calibrate/calibrate.ts"
import { profileToScenarioOverrides } from "../../src/calibrate/overrides.ts"
import {
  distributionQuantileNs,
  formatDurationNs,
  parseProfile,
  ProfileError,
  stringifyProfile,
  type CalibrationProfile,
} from "../../src/calibrate/profile.ts"
import { parseDurationNs } from "../../src/scenario/units.ts"
import { PROFILE_FILE } from "./calibrated-profile.ts"

const hand: CalibrationProfile = {
  name: "hand",
  date: "2026-12-03",
  kernel: "6.18.0",
  parameters: {
    vethHopNs: {
      distribution: { kind: "empirical", quantiles: { p0: 300, p50: 700, p90: 900, p100: 1_000 } },
      source: "test",
    },
    bridgeHopNs: { distribution: { kind: "empirical", quantiles: { p0: 100, p50: 500, p100: 600 } }, source: "test" },
    iptablesFilterRuleNs: { distribution: { kind: "fixed", valueNs: 12 }, source: "test" },
    iptablesNatRuleNs: { distribution: { kind: "fixed", valueNs: 21 }, source: "test" },
    nftExpressionNs: { distribution: { kind: "fixed", valueNs: 3 }, source: "test" },
    nftSetLookupNs: { distribution: { kind: "fixed", valueNs: 65 }, source: "test" },
    iptablesRestoreBaseNs: { distribution: { kind: "fixed", valueNs: 40_000_000 }, source: "test" },
    iptablesRestorePerRuleNs: { distribution: { kind: "fixed", valueNs: 50_000 }, source: "test", method: "fit" },
  },
}

describe("calibration profiles", () => {
  it("the shipped profile of this machine follows the contract and round-trips", () => {
    const text = readFileSync(PROFILE_FILE, "utf8")
    const profile = parseProfile(text, PROFILE_FILE)
    for (const name of ["vethHopNs", "bridgeHopNs", "iptablesFilterRuleNs", "iptablesNatRuleNs", "conntrackNewNs"])
      expect(profile.parameters[name], name).toBeDefined()
    for (const [name, p] of Object.entries(profile.parameters)) {
      expect(p.source, name).not.toBe("")
      expect(p.method, name).toBeDefined()
    }
    expect(parseProfile(stringifyProfile(profile))).toEqual(profile)
  })

  it("durations are written exactly and read back by the scenario duration parser", () => {
    for (const ns of [0, 1, 999, 1_000, 2_531, 12_345_678, 1_500_000_000])
      expect(parseDurationNs(formatDurationNs(ns))).toBe(ns)
  })

  it("empirical quantiles interpolate linearly between the given levels", () => {
    const d = hand.parameters.vethHopNs?.distribution
    if (d === undefined) throw new Error("no vethHopNs")
    expect(distributionQuantileNs(d, 0.5)).toBe(700)
    expect(distributionQuantileNs(d, 0.7)).toBe(800)
    expect(distributionQuantileNs(d, 0.95)).toBe(950)
    expect(quantileOfSorted([1, 2, 3, 4], 0.5)).toBe(2.5)
  })

  it("the rule-cost fit is least squares", () => {
    const fit = fitLine([
      [0, 100],
      [1_000, 20_100],
      [2_000, 40_100],
    ])
    expect(fit.slopeNs).toBeCloseTo(20, 9)
    expect(fit.interceptNs).toBeCloseTo(100, 6)
    expect(fit.r2).toBeCloseTo(1, 9)
  })

  it("profileToScenarioOverrides puts each median on its scenario knob", () => {
    expect(profileToScenarioOverrides(hand)).toEqual({
      // veth 700 + bridge 500 / 2: two pod links per pod-to-pod path = 2 veth + 1 bridge.
      cluster: { network: { sameNodeLatency: "950ns" } },
      kubeProxy: {
        ruleCost: "21ns",
        nftables: { expressionCost: "3ns", lookupCost: "65ns" },
        syncCost: { iptables: { fixed: "40ms", perRule: "50us", perLine: "0ns" } },
      },
    })
    expect(profileToScenarioOverrides({ ...hand, parameters: {} })).toEqual({})
  })

  it("a profile that breaks the contract is refused with the field path", () => {
    const bad = `apiVersion: kube-netsim/v1
kind: CalibrationProfile
metadata: { name: x, date: 2026-12-03, kernel: k }
parameters:
  vethHopNs: { distribution: { fixed: 20 microseconds }, source: s }
  bridgeHopNs: { distribution: { empirical: { p50: 2us } }, source: s }
`
    let error: unknown
    try {
      parseProfile(bad, "bad.yaml")
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ProfileError)
    const problems = (error as ProfileError).problems.join("\n")
    expect(problems).toContain("parameters.vethHopNs.distribution.fixed")
    expect(problems).toContain("parameters.bridgeHopNs.distribution.empirical: p0 and p100 are required")
  })
})
