/**
 * What a cluster-scale run holds once every node synced (issue 10, nftables at the large point):
 * builds the bench/cluster-scale.ts scenario, runs it to the first completed request, forces a
 * GC and prints the V8 heap; with `--heap-profile FILE` it also writes a sampling heap profile of
 * the objects still live then (by allocation site; open in DevTools' Memory tab), and with
 * `--peak 1` it samples the heap after every 10 ms slice of simulated time and prints the largest.
 * Usage: node --expose-gc --max-old-space-size=8192 --import tsx bench/nft-retained.ts --mode nftables --nodes 1000 --services 10000 --pods 30000
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { World } from "../src/cluster/index.ts"
import { loadScenario } from "../src/scenario/load.ts"
import { NS_PER_MS } from "../src/sim/time.ts"
import { clusterScaleYaml } from "./cluster-scale.ts"

const argv = process.argv.slice(2)
const arg = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback
}
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with node --expose-gc")
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
const dir = mkdtempSync(join(tmpdir(), "kube-netsim-nft-retained-"))
const file = join(dir, "scenario.yaml")
writeFileSync(
  file,
  clusterScaleYaml({ nodes, services, pods, clients: 20, workloads: 2, count: 2, duration: "30s", mode }),
)
const loaded = loadScenario(file)
rmSync(dir, { recursive: true, force: true })
if (!loaded.ok) throw new Error("scenario does not load")
const spec = loaded.scenario.spec
const world = new World(spec, spec.seed, { lazyPods: true })
const scheduler = world.scheduler
const completed = (): number => {
  let n = 0
  for (const w of world.workloads) n += world.collector.results(w.index, []).requests.completed
  return n
}
let peakHeap = 0
while (completed() === 0 && scheduler.nowNs < spec.durationNs) {
  const end = scheduler.nowNs + 10 * NS_PER_MS
  scheduler.run({ timeNsMax: end, eventCountMax: Number.MAX_SAFE_INTEGER })
  scheduler.nowNs = end
  if (peak) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)
}
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
