/**
 * What a cluster-scale run holds once every node synced (issue 10, nftables at the large point):
 * builds the bench/cluster-scale.ts scenario, runs it to the first completed request, forces a
 * GC and prints the V8 heap; with `--heap-profile FILE` it also writes a sampling heap profile of
 * the objects still live then (by allocation site; open in DevTools' Memory tab), and with
 * `--peak 1` it samples the heap after every 10 ms slice of simulated time and prints the largest.
 * Usage: node --expose-gc --max-old-space-size=8192 --import tsx bench/nft-retained.ts --mode nftables --nodes 1000 --services 10000 --pods 30000
 */
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import { benchArg, requireGc, runScaleWorldToFirstRequest } from "./scale-world.ts"

const arg = benchArg
const gc = requireGc()
const mode = arg("mode", "nftables")
const nodes = Number(arg("nodes", "1000"))
const services = Number(arg("services", "10000"))
const pods = Number(arg("pods", "30000"))
const profileFile = arg("heap-profile", "")
const peak = arg("peak", "0") === "1"

const session = new Session()
const post = (method: string, params?: object): Promise<unknown> =>
  new Promise((resolve, reject) => session.post(method, params, (e, r) => (e === null ? resolve(r) : reject(e))))
if (profileFile !== "") {
  session.connect()
  await post("HeapProfiler.enable")
  await post("HeapProfiler.startSampling", { samplingInterval: 32768 })
}
let peakHeap = 0
const world = runScaleWorldToFirstRequest({ nodes, services, pods, mode }, () => {
  if (peak) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)
})
const scheduler = world.scheduler
gc()
gc()
const m = process.memoryUsage()
if (profileFile !== "") {
  const r = (await post("HeapProfiler.stopSampling")) as { profile: unknown }
  writeFileSync(profileFile, JSON.stringify(r.profile))
}
console.log(
  JSON.stringify({
    benchmark: "nft-retained",
    mode,
    nodes,
    services,
    pods,
    heapUsedMB: Math.round(m.heapUsed / 2 ** 20),
    arrayBuffersMB: Math.round(m.arrayBuffers / 2 ** 20),
    ...(peak ? { peakHeapUsedMB: Math.round(peakHeap / 2 ** 20) } : {}),
    fingerprint: scheduler.fingerprint(),
  }),
)
void world
