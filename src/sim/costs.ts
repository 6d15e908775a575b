/**
 * The cost parameters of a calibration profile (profiles/*.yaml; the format is shared with the
 * `calibrate` command): one distribution per parameter, resolved by the scenario loader from the
 * default profile, the scenario's profile and its per-parameter overrides. Plain data (distribution
 * specs, integer-free) so it travels in the decoded scenario; `compileCosts` turns it into samplers.
 */
import { Distribution, type DistributionSpec } from "./distribution.ts"

/** Every parameter a profile can set (the profile format's list, in its order). */
export const COST_PARAMETERS = [
  "vethHopNs",
  "bridgeHopNs",
  "nodeFabricSameZoneNs",
  "nodeFabricCrossZoneNs",
  "externalNs",
  "iptablesFilterRuleNs",
  "iptablesNatRuleNs",
  "conntrackNewNs",
  "conntrackLookupNs",
  "nftSetLookupNs",
  "nftExpressionNs",
  "iptablesRestoreBaseNs",
  "iptablesRestorePerRuleNs",
  "nftApplyBaseNs",
  "nftApplyPerElementNs",
  "hostStackNs",
] as const

export type CostParameter = (typeof COST_PARAMETERS)[number]

/** One distribution per parameter, with where it came from. */
export type CostParameters = Readonly<Record<CostParameter, DistributionSpec>>
export type CostSources = Readonly<Partial<Record<CostParameter, string>>>

export function isCostParameter(name: string): name is CostParameter {
  return (COST_PARAMETERS as readonly string[]).includes(name)
}

/** The samplers of a CostParameters (one Distribution per parameter). */
export type CostSamplers = Readonly<Record<CostParameter, Distribution>>

export function compileCosts(costs: CostParameters): CostSamplers {
  const out = {} as Record<CostParameter, Distribution>
  for (const name of COST_PARAMETERS) out[name] = new Distribution(costs[name])
  return out
}
