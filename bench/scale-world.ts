/**
 * Set-up shared by the heap benches (bench/node-bytes.ts, bench/nft-retained.ts): builds the
 * bench/cluster-scale.ts scenario with 20 clients, loads it through the real loader, builds the
 * world with lazy pods, and runs it in 10 ms slices of simulated time (userspace mode: 1 s slices
 * while no node's sync ends within one) until the first request completed (every node synced),
 * calling `afterSlice` after each slice.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { World } from "../src/cluster/index.ts"
import { loadScenario } from "../src/scenario/load.ts"
import { NS_PER_MS } from "../src/sim/time.ts"
import { clusterScaleYaml, userspaceHorizon } from "./cluster-scale.ts"

export interface ScaleWorldOptions {
  readonly nodes: number
  readonly services: number
  readonly pods: number
  readonly mode: string
}

export function runScaleWorldToFirstRequest(o: ScaleWorldOptions, afterSlice: () => void = () => {}): World {
  const dir = mkdtempSync(join(tmpdir(), "kube-netsim-scale-world-"))
  const file = join(dir, "scenario.yaml")
  writeFileSync(
    file,
    clusterScaleYaml({
      nodes: o.nodes,
      services: o.services,
      pods: o.pods,
      clients: 20,
      workloads: 2,
      count: 2,
      // userspace mode's first sync lands after minutes of simulated time (userspaceHorizon).
      duration: o.mode === "userspace" ? userspaceHorizon(o.services) : "30s",
      mode: o.mode,
    }),
  )
  const loaded = loadScenario(file)
  rmSync(dir, { recursive: true, force: true })
  if (!loaded.ok) throw new Error("scenario does not load")
  const spec = loaded.scenario.spec
  const world = new World(spec, spec.seed, { lazyPods: true })
  const scheduler = world.scheduler
  // The collector's counters, read directly: its results() summary per slice was most of the
  // CPU of a userspace run (hours of simulated time before the first sync ends).
  const counts = world.collector.workloads
  const completed = (): number => {
    let n = 0
    for (const w of counts) n += w.completed
    return n
  }
  // userspace mode: 1 s slices until a node's first sync is about to end (results do not depend
  // on the slicing, as in bench/cluster-scale.ts), then 10 ms slices as in the other modes.
  const coarse = spec.kubeProxy.mode === "userspace"
  const nodes = [...world.nodes.values()]
  const syncEndsWithinCoarseSlice = (): boolean => {
    for (const n of nodes) {
      const endNs = n.proxy.runningSyncEndNs
      if (endNs === null || endNs <= scheduler.nowNs + 1000 * NS_PER_MS) return true
    }
    return false
  }
  while (completed() === 0 && scheduler.nowNs < spec.durationNs) {
    const sliceNs = coarse && !syncEndsWithinCoarseSlice() ? 1000 * NS_PER_MS : 10 * NS_PER_MS
    const end = scheduler.nowNs + sliceNs
    scheduler.run({ timeNsMax: end, eventCountMax: Number.MAX_SAFE_INTEGER })
    scheduler.nowNs = end
    afterSlice()
  }
  return world
}

/** `--name VALUE` from the command line, or `fallback`. */
export function benchArg(name: string, fallback: string): string {
  const argv = process.argv.slice(2)
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback
}

/** The heap benches measure after forced collections: `node --expose-gc` is required. */
export function requireGc(): () => void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("run with node --expose-gc")
  return gc
}
