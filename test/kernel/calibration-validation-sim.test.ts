/**
 * Quick-tier representative of the kernel validation (calibration-validation.test.ts, extensive):
 * the simulator's side of it, without a kernel. It pins what the kernel's rule counters showed on
 * this machine (bench/calibration/nat-walk.ts, MODEL.md "Kernel validation"): a new flow from a
 * pod to a ClusterIP whose endpoint is on the same bridge walks nat KUBE-SERVICES once (nat
 * PREROUTING, run by br_netfilter's br_nf_pre_routing on the bridge port; ip_sabotage_in keeps IP
 * input from running PREROUTING a second time, net/bridge/br_netfilter_hooks.c) and
 * KUBE-POSTROUTING once (br_nf_post_routing); an established flow walks neither. So the new-flow
 * RTT grows by exactly the extra KUBE-SERVICES rules walked x the per-rule cost, and the
 * established RTT does not grow.
 */
import { describe, expect, it } from "vitest"
import { simRtts, tuningFromProfile } from "./validation-sim.ts"
import { CLUSTER_IP, validationRules } from "./validation-rules.ts"
import type { SimWorld } from "./sim-world.ts"

const SERVICES = 200
const ECHOES = 10

/** `[packets:bytes] -A CHAIN ...` counter of the first saved rule that starts with `prefix`. */
function packets(world: SimWorld, prefix: string): number {
  const line = world.stack
    .save({ counters: true })
    .split("\n")
    .find((l) => l.replace(/^\[\d+:\d+\] /, "").startsWith(prefix))
  if (line === undefined) throw new Error(`no rule ${prefix}`)
  return Number(/^\[(\d+):/.exec(line)?.[1] ?? Number.NaN)
}

describe("calibration validation, simulator side (quick tier)", () => {
  const { tuning } = tuningFromProfile()
  const ruleCostNs = tuning.stack?.ruleCostNs ?? 0

  it("a new flow walks nat KUBE-SERVICES and KUBE-POSTROUTING once, an established flow never", () => {
    const { text } = validationRules(SERVICES)
    for (const mode of ["new", "same"] as const) {
      let prerouting = -1
      let postrouting = -1
      simRtts(text, tuning, CLUSTER_IP, mode, ECHOES, (world) => {
        prerouting = packets(world, '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
        postrouting = packets(world, '-A POSTROUTING -m comment --comment "kubernetes postrouting rules"')
      })
      expect([mode, prerouting, postrouting]).toEqual([mode, mode === "new" ? ECHOES : 1, mode === "new" ? ECHOES : 1])
    }
  })

  it("new-flow RTT grows by the extra KUBE-SERVICES rules walked x the per-rule cost; established stays flat", () => {
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN
    const none = validationRules(0)
    const many = validationRules(SERVICES)
    const newGrowth =
      median(simRtts(many.text, tuning, CLUSTER_IP, "new", ECHOES)) -
      median(simRtts(none.text, tuning, CLUSTER_IP, "new", ECHOES))
    const establishedGrowth =
      median(simRtts(many.text, tuning, CLUSTER_IP, "same", ECHOES)) -
      median(simRtts(none.text, tuning, CLUSTER_IP, "same", ECHOES))
    expect(ruleCostNs).toBeGreaterThan(0)
    expect(newGrowth).toBe((many.position - none.position) * ruleCostNs)
    expect(establishedGrowth).toBe(0)
  })
})
