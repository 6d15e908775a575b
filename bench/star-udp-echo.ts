/**
 * Star UDP echo benchmark: 100 client pods x 1 UDP request per ms x 2 simulated s = 200,000 echoes
 * through one ClusterIP Service to 10 echo pods on 10 nodes, run end to end with runScenario as
 * `kube-netsim run` runs it (scenario loaded once, world built per run). Two variants (bench/star.ts):
 * `keepAlive` (scenarios/bench/star-udp-echo.yaml, 100 long-lived flows, the nat chains walked once
 * per flow) and `new` (scenarios/bench/star-udp-echo-new.yaml, a new flow, conntrack entry and nat
 * walk per echo).
 *
 * Figures per variant: echoesPerWallSecond = completed echoes / mean wall seconds of one whole run
 * (world build included, benny); echoesPerCpuSecond = echoes / CPU seconds of the process in a
 * plain run; events and eventsPerSecond from the run's scheduler. No target is printed: a ratio to
 * ns-3 is only meaningful when both are measured side by side on the same machine at the same load,
 * which bench/compare-ns3.ts does (`npx tsx bench/compare-ns3.ts`).
 *
 * Usage: npx tsx bench/star-udp-echo.ts [--connection keepAlive|new|both] [--mode all|MODE,...]
 *   (default both connections, the scenario files' mode (iptables); one JSON line per mode and
 *   variant, the last line printed is a JSON object)
 */
import { loadavg } from "node:os"
import { timeRuns } from "./timing.ts"
import { connectionsArg, loadStar, modesArg, runStar, starScenarioPath } from "./star.ts"

const argv = process.argv.slice(2)
// --mode given: ours under each of those kube-proxy modes; absent: the scenario files as they are.
const modes = argv.includes("--mode") ? modesArg(argv) : [undefined]
for (const mode of modes)
  for (const connection of connectionsArg(argv)) {
    const spec = loadStar(connection, mode)
    // Two plain runs first: determinism (same fingerprint) and JIT warm-up; the second is reported.
    const check = runStar(spec)
    const plain = runStar(spec)
    if (plain.fingerprint !== check.fingerprint) throw new Error(`star-udp-echo (${connection}) is not deterministic`)
    if (plain.echoes !== plain.sent)
      throw new Error(`star-udp-echo (${connection}): ${plain.sent - plain.echoes} echoes missing`)

    const { secondsMean, secondsMedian, samples, relativeMarginOfErrorPercent } = await timeRuns(
      `star UDP echo, connection ${connection}: 100 clients x 1/ms x 2 s -> ClusterIP -> 10 echo pods, 10 nodes`,
      `runScenario(${starScenarioPath(connection).replace(/.*\/scenarios\//, "scenarios/")})`,
      () => {
        runStar(spec)
      },
      { minSamples: 5, maxTime: 10 },
    )

    console.log(
      JSON.stringify({
        benchmark: "star-udp-echo",
        mode: spec.kubeProxy.mode,
        connection,
        node: process.version,
        echoes: plain.echoes,
        events: plain.events,
        echoesPerWallSecond: Math.round(plain.echoes / secondsMean),
        echoesPerWallSecondMedian: Math.round(plain.echoes / secondsMedian),
        eventsPerSecond: Math.round(plain.events / secondsMean),
        runSecondsMean: Number(secondsMean.toFixed(4)),
        relativeMarginOfErrorPercent,
        samples,
        plainRunSeconds: Number(plain.wallSeconds.toFixed(4)),
        plainRunCpuSeconds: Number(plain.cpuSeconds.toFixed(4)),
        echoesPerCpuSecond: Math.round(plain.echoes / plain.cpuSeconds),
        conntrackPeakEntriesPerNode: plain.conntrackPeakEntries,
        loadavg: loadavg().map((l) => Number(l.toFixed(2))),
        simulatedNs: plain.simulatedNs,
        fingerprint: plain.fingerprint,
      }),
    )
  }
