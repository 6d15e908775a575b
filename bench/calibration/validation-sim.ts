/**
 * The simulator's medians of the calibration validation's cases with the shipped profile (no
 * kernel needed): `npx tsx bench/calibration/validation-sim.ts [SERVICES=5000]`.
 */
import { simRtts, tuningFromProfile } from "../../test/kernel/validation-sim.ts"
import { CLUSTER_IP, TARGET, validationRules } from "../../test/kernel/validation-rules.ts"

const services = Number(process.argv[2] ?? 5000)
const { tuning, hostRttNs } = tuningFromProfile()
console.log(`tuning ${JSON.stringify(tuning)} host RTT ${hostRttNs} ns`)
for (const extra of [0, services]) {
  const { text, position } = validationRules(extra)
  for (const [name, dst, mode] of [
    ["pod-to-pod", TARGET.ip, "same"],
    ["ClusterIP established", CLUSTER_IP, "same"],
    ["ClusterIP new flows", CLUSTER_IP, "new"],
  ] as const) {
    let counters = ""
    let walked = 0
    const rtts = simRtts(text, tuning, dst, mode, 50, (world) => {
      counters = world.stack.save({ counters: true })
      walked = world.stack.rulesEvaluated
    })
      .map((v) => v + hostRttNs)
      .sort((a, b) => a - b)
    const p50 = rtts[Math.floor(rtts.length / 2)] ?? NaN
    console.log(
      `${extra} Services (target #${position + 1}) ${name}: sim p50 ${(p50 / 1000).toFixed(1)} us; rules evaluated ${walked} over 50 echoes`,
    )
    if (process.env.COUNTERS === "1")
      for (const l of counters.split("\n").filter((x) => /^\[\d+:/.test(x) && !x.startsWith("[0:0]")))
        console.log(`  ${l}`)
  }
}
