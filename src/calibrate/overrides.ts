/**
 * A calibration profile as the scenario's existing constant knobs, until scenarios read
 * `cluster.network.profile` themselves: each knob gets the median of the profile parameter(s) it
 * stands for. The result is a partial scenario document (the shape of scenario/schema.ts), to be
 * merged under a scenario's own settings.
 *
 * What maps where, and what cannot be carried (MODEL.md "Calibration"):
 * - cluster.network.sameNodeLatency (one pod <-> node link, cni.ts) = vethHop + bridgeHop / 2:
 *   a pod-to-pod packet on one node crosses two such links, and the kernel path is two veth hops
 *   and one bridge hop;
 * - kubeProxy.ruleCost (one cost for every iptables rule) = iptablesNatRuleNs: the rules that grow
 *   with the Service count (KUBE-SERVICES and the per-Service chains) are in the nat table, which
 *   only a flow's first packet walks; iptablesFilterRuleNs has no knob of its own;
 * - kubeProxy.nftables.expressionCost / lookupCost = nftExpressionNs / nftSetLookupNs;
 * - kubeProxy.syncCost.iptables.fixed / perRule = iptablesRestoreBaseNs / iptablesRestorePerRuleNs
 *   (perLine 0: the per-rule figure is a fit over full restores, whose line count grows with the
 *   rule count, so it already includes the per-line parsing);
 * - kubeProxy.syncCost.nftables.fixed / perCommand = nftApplyBaseNs / nftApplyPerElementNs
 *   (perObject 0, for the same reason);
 * - conntrackNewNs, conntrackLookupNs, hostStackNs and the distributions' spread have no scenario
 *   knob yet: the profile keeps them for `cluster.network.profile`.
 */
import { formatDurationNs, medianNs, type CalibrationProfile } from "./profile.ts"

export interface ScenarioOverrides {
  readonly cluster?: { readonly network?: { readonly sameNodeLatency?: string } }
  readonly kubeProxy?: {
    readonly ruleCost?: string
    readonly nftables?: { readonly expressionCost?: string; readonly lookupCost?: string }
    readonly syncCost?: {
      readonly iptables?: { readonly fixed?: string; readonly perRule?: string; readonly perLine?: string }
      readonly nftables?: { readonly fixed?: string; readonly perCommand?: string; readonly perObject?: string }
    }
  }
}

/** The profile's medians as scenario knobs (only the knobs whose parameters the profile has). */
export function profileToScenarioOverrides(profile: CalibrationProfile): ScenarioOverrides {
  const p = profile.parameters
  const median = (name: string): number | undefined => {
    const parameter = p[name]
    return parameter === undefined ? undefined : Math.round(medianNs(parameter))
  }
  const d = (ns: number | undefined): string | undefined => (ns === undefined ? undefined : formatDurationNs(ns))
  const veth = median("vethHopNs")
  const bridge = median("bridgeHopNs")
  const sameNode = veth === undefined ? undefined : veth + Math.round((bridge ?? 0) / 2)
  // Drops unset knobs (and empty sections) so the overrides name only what the profile gives.
  const defined = (o: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined => {
    const entries = Object.entries(o).filter(([, v]) => v !== undefined)
    return entries.length === 0 ? undefined : Object.fromEntries(entries)
  }
  const network = defined({ sameNodeLatency: d(sameNode) })
  const restoreBase = median("iptablesRestoreBaseNs")
  const restorePerRule = median("iptablesRestorePerRuleNs")
  const nftBase = median("nftApplyBaseNs")
  const nftPerElement = median("nftApplyPerElementNs")
  const iptablesSync =
    restoreBase === undefined && restorePerRule === undefined
      ? undefined
      : defined({ fixed: d(restoreBase), perRule: d(restorePerRule), perLine: "0ns" })
  const nftablesSync =
    nftBase === undefined && nftPerElement === undefined
      ? undefined
      : defined({ fixed: d(nftBase), perCommand: d(nftPerElement), perObject: "0ns" })
  const kubeProxy = defined({
    ruleCost: d(median("iptablesNatRuleNs")),
    nftables: defined({ expressionCost: d(median("nftExpressionNs")), lookupCost: d(median("nftSetLookupNs")) }),
    syncCost: defined({ iptables: iptablesSync, nftables: nftablesSync }),
  })
  // The shape is ScenarioOverrides by construction: every value is a duration string or a section.
  return (defined({ cluster: network === undefined ? undefined : { network }, kubeProxy }) ?? {}) as ScenarioOverrides
}
