// Tests whose subject is the constant cost arithmetic (a rule walk charged rules x 50 ns, say) run
// their scenarios with profiles/constant.yaml, the costs kube-netsim used before cost profiles.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { ScenarioSpec } from "../src/cluster/spec.ts"
import { decodeProfileText, SHIPPED_PROFILES_DIR } from "../src/scenario/profile.ts"
import type { CostParameters } from "../src/sim/costs.ts"

export function constantCosts(): CostParameters {
  const file = join(SHIPPED_PROFILES_DIR, "constant.yaml")
  const result = decodeProfileText(file, readFileSync(file, "utf8"))
  if (!result.ok) throw new Error(result.issues.map((i) => i.message).join("\n"))
  return result.profile.parameters as CostParameters
}

/** `spec` with every cost a constant (the network's costs; kube-proxy's were decoded already). */
export function withConstantCosts(spec: ScenarioSpec): ScenarioSpec {
  return { ...spec, cluster: { ...spec.cluster, network: { ...spec.cluster.network, costs: constantCosts() } } }
}
