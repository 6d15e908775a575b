/**
 * Set-up shared by the heap benches (bench/node-bytes.ts, bench/nft-retained.ts): builds the
 * bench/cluster-scale.ts scenario with 20 clients, loads it through the real loader, builds the
 * world with lazy pods, and runs it in 10 ms slices of simulated time until the first request
 * completed (every node synced), calling `afterSlice` after each slice.
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
  const completed = (): number => {
    let n = 0
    for (const w of world.workloads) n += world.collector.results(w.index, []).requests.completed
    return n
  }
  while (completed() === 0 && scheduler.nowNs < spec.durationNs) {
    const end = scheduler.nowNs + 10 * NS_PER_MS
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
