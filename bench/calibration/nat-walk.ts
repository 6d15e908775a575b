/**
 * Diagnosis of the calibration validation's new-flow case (test/kernel/calibration-validation.test.ts):
 * which nat chains the kernel walks, and how often, for a UDP echo from the client pod to a
 * ClusterIP whose endpoint is on the same bridge (br_netfilter path), with 0 and N other Services.
 * After each batch of echoes it prints the node's rule counters (`iptables-save -c`) of the chains
 * the path crosses, and the RTT quantiles, with the load average.
 *
 *   sudo [SIM=1] [PIN=0] [SETTLE_MS=0] [GAP_US=0] [ZERO=0] [ORDER=same,new] [BATCHES=1] [QUIET=1] npx tsx bench/calibration/nat-walk.ts [SERVICES=5000] [ECHOES=300] [ROUNDS=1]
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { KernelLab, removeStaleNamespaces, run } from "../../test/kernel/lab.ts"
import { CLUSTER_IP, PORT, TARGET, validationRules } from "../../test/kernel/validation-rules.ts"
import { simRtts, tuningFromProfile } from "../../test/kernel/validation-sim.ts"

const services = Number(process.argv[2] ?? 5000)
const echoes = Number(process.argv[3] ?? 300)
const rounds = Number(process.argv[4] ?? 1)
/** ZERO=0: leave the counters alone (`iptables -Z` under iptables-nft replaces every rule). */
const zero = process.env.ZERO !== "0"
/** ORDER=same,new: established flows first (the validation test's order). */
const order = (process.env.ORDER ?? "new,same").split(",") as ("new" | "same")[]
const quiet = process.env.QUIET === "1"
/** BATCHES=n: measure each rule set n times after one load. */
const batches = Number(process.env.BATCHES ?? 1)
/** GAP_US=n: idle time between echoes (probe ping's GAP_US). */
const gapUs = process.env.GAP_US ?? "0"
/** SETTLE_MS=n: wait after loading rules (the kernel frees the old ruleset in a work queue). */
const settleMs = Number(process.env.SETTLE_MS ?? 0)
/** PIN=cpu: client and server pinned to one CPU (taskset), so the whole echo runs on it. */
const pin = process.env.PIN
/** SIM=1: run the simulator's case (200 echoes) right before each kernel batch, as the old test did. */
const simBetween = process.env.SIM === "1"
const pinned = (argv: string[]): string[] => (pin === undefined ? argv : ["taskset", "-c", pin, ...argv])

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
}

async function main(): Promise<void> {
  removeStaleNamespaces()
  const dir = mkdtempSync(join(tmpdir(), "kube-netsim-natwalk-"))
  const probe = join(dir, "probe")
  execFileSync("gcc", ["-O2", "-o", probe, join(import.meta.dirname, "..", "..", "src", "calibrate", "probe.c")])
  const lab = new KernelLab("nw")
  await lab.setup()
  const epNs = lab.ns.ep.get(TARGET.name) ?? ""
  await run("ip", ["netns", "exec", epNs, "nft", "flush", "ruleset"])
  const server = spawn("ip", ["netns", "exec", epNs, ...pinned([probe, "echo", TARGET.ip, String(PORT)])], {
    stdio: "ignore",
  })
  await new Promise((r) => setTimeout(r, 500))
  try {
    for (let round = 0; round < rounds; round++)
      for (const extra of [0, services]) {
        const { text, position } = validationRules(extra)
        await lab.loadRules(text)
        await new Promise((r) => setTimeout(r, settleMs))
        for (let batch = 0; batch < batches; batch++)
          for (const mode of order) {
            await lab.flushConntrack(true)
            if (zero) {
              await run("ip", ["netns", "exec", lab.ns.node, "iptables", "-t", "nat", "-Z"])
              await run("ip", ["netns", "exec", lab.ns.node, "iptables", "-t", "filter", "-Z"])
            }
            if (simBetween) simRtts(text, tuningFromProfile().tuning, CLUSTER_IP, mode, 200)
            const load = loadavg()[0]?.toFixed(2)
            const r = await run(
              "ip",
              [
                "netns",
                "exec",
                lab.ns.pc,
                ...pinned([probe, "ping", CLUSTER_IP, String(PORT), String(echoes), mode, "0", gapUs]),
              ],
              "",
              300_000,
            )
            const rtts = r.stdout
              .split("\n")
              .filter((x) => x !== "")
              .map(Number)
              .filter((v) => v >= 0)
              .sort((a, b) => a - b)
            const us = (v: number) => (v / 1000).toFixed(1)
            console.log(
              `\n== ${extra} Services (target rule #${position + 1}), ${mode}, ${rtts.length} echoes, load ${load}: RTT p10/p50/p90 ${us(quantile(rtts, 0.1))}/${us(quantile(rtts, 0.5))}/${us(quantile(rtts, 0.9))} us`,
            )
            const saved = await run("ip", ["netns", "exec", lab.ns.node, "iptables-save", "-c"])
            const interesting = saved.stdout
              .split("\n")
              .filter((l) => /^\[(\d+):/.test(l) && !/^\[0:0\]/.test(l))
              .filter((l) => !l.includes("172.30.1.") || l.includes("KUBE-SERVICES"))
            if (quiet) continue
            for (const l of interesting.slice(0, 60)) console.log(`  ${l}`)
            const policies = saved.stdout.split("\n").filter((l) => l.startsWith(":") && !l.endsWith("[0:0]"))
            for (const l of policies) console.log(`  policy ${l}`)
          }
      }
  } finally {
    server.kill("SIGKILL")
    await lab.teardown()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
