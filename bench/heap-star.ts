/**
 * Allocation profile of one star run (issue 8): V8's sampling heap profiler with objects the
 * minor and major GCs collected included. Writes the profile to --out (a .heapprofile file).
 * Usage: npx tsx bench/heap-star.ts --mode MODE --connection keepAlive|new --out FILE
 */
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { argValue, loadStar, modesArg, runStar } from "./star.ts"

const argv = process.argv.slice(2)
const [mode] = modesArg(argv)
const spec = loadStar(argValue(argv, "connection", "keepAlive") as "keepAlive" | "new", mode)
runStar(spec) // warm-up
const session = new Session()
session.connect()
await session.post("HeapProfiler.startSampling", {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
})
runStar(spec)
const { profile } = await session.post("HeapProfiler.stopSampling")
writeFileSync(argValue(argv, "out", "star.heapprofile"), JSON.stringify(profile))
