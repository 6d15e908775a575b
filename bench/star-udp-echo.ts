/**
 * Star UDP echo benchmark: scenarios/bench/star-udp-echo.yaml (100 client pods x 1 UDP request per
 * ms x 2 simulated s = 200,000 echoes through a ClusterIP to 10 echo pods on 10 nodes) run end to
 * end with runScenario, as `kube-netsim run` runs it (scenario loaded once, world built per run).
 *
 * Figures: echoesPerWallSecond = completed echoes / wall seconds of one whole run (world build
 * included); events and eventsPerSecond from the run's scheduler. The issue's target is 134,000
 * echoes per wall second (10x ns-3's 13,400 for its star UDP echo example).
 *
 * Usage: npx tsx bench/star-udp-echo.ts   (the last line printed is a JSON object)
 */
import { fileURLToPath } from "node:url"
import { runScenario } from "../src/cluster/index.ts"
import type { ResultsDocument } from "../src/stats/results.ts"
import { loadScenario } from "../src/scenario/load.ts"
import { timeRuns } from "./timing.ts"

const TARGET_ECHOES_PER_WALL_SECOND = 134_000
const file = fileURLToPath(new URL("../scenarios/bench/star-udp-echo.yaml", import.meta.url))
const loaded = loadScenario(file)
if (!loaded.ok) throw new Error(`scenario does not load: ${loaded.issues.map((i) => i.message).join("; ")}`)
const spec = loaded.scenario.spec

const wallClockMs = (): number => Number(process.hrtime.bigint()) / 1e6

function run(): ResultsDocument {
  return runScenario(spec, { seed: spec.seed, wallClockMs })
}

function completedEchoes(doc: ResultsDocument): number {
  let completed = 0
  for (const w of Object.values(doc.workloads)) completed += w.requests.completed
  return completed
}

// Two plain runs first: determinism (same fingerprint) and JIT warm-up; the second is reported.
const check = run()
const doc = run()
if (doc.fingerprint !== check.fingerprint) throw new Error("star-udp-echo is not deterministic")
const completed = completedEchoes(doc)
const plainSeconds = doc.wall.seconds

const { secondsMean, secondsMedian, samples, relativeMarginOfErrorPercent } = await timeRuns(
  "star UDP echo: 100 clients x 1/ms x 2 s -> ClusterIP -> 10 echo pods, 10 nodes",
  "runScenario(star-udp-echo)",
  () => {
    run()
  },
  { minSamples: 5, maxTime: 10 },
)

const echoesPerWallSecond = Math.round(completed / secondsMean)
console.log(
  JSON.stringify({
    benchmark: "star-udp-echo",
    node: process.version,
    echoes: completed,
    events: doc.wall.events,
    echoesPerWallSecond,
    echoesPerWallSecondMedian: Math.round(completed / secondsMedian),
    eventsPerSecond: Math.round(doc.wall.events / secondsMean),
    runSecondsMean: Number(secondsMean.toFixed(4)),
    relativeMarginOfErrorPercent,
    samples,
    plainRunSeconds: Number(plainSeconds.toFixed(4)),
    plainRunEchoesPerWallSecond: Math.round(completed / plainSeconds),
    targetEchoesPerWallSecond: TARGET_ECHOES_PER_WALL_SECOND,
    meetsTarget: echoesPerWallSecond >= TARGET_ECHOES_PER_WALL_SECOND,
    simulatedNs: doc.simulatedNs,
    fingerprint: doc.fingerprint,
  }),
)
