/**
 * The shape of the cost as the cluster grows (issue 10), with counts, not timings: kube-proxy's
 * per-Service work is shared between nodes (shared-service-ports.ts, IptablesFragments,
 * RuleParseCache), so what is compiled and parsed grows with Services and endpoints, not with
 * Services x nodes. The same scenario at 2 and 6 nodes (one replica per Service, so each Service
 * has exactly one hosting node whatever the node count) must compile about the same number of
 * fragments and per-Service views; without sharing both would triple.
 */
import { describe, expect, it } from "vitest"
import { World } from "../../src/cluster/index.ts"
import { clusterScaleYaml } from "../../bench/cluster-scale.ts"
import { specFromText } from "./helpers.ts"

interface Shape {
  readonly nodes: number
  readonly fragmentsCompiled: number
  readonly serviceBuilds: number
  readonly snapshots: number
  readonly nodeViews: number
  readonly linesShared: number
  readonly syncs: number
  readonly completed: number
}

function shape(nodes: number): Shape {
  const spec = specFromText(
    clusterScaleYaml({
      nodes,
      services: 12,
      pods: 12,
      clients: 2,
      workloads: 2,
      count: 2,
      duration: "2s",
    }),
  )
  const world = new World(spec, spec.seed)
  world.scheduler.run({ timeNsMax: spec.durationNs, eventCountMax: Number.MAX_SAFE_INTEGER })
  const shared = world.sharedProxy.iptables
  let syncs = 0
  for (const n of world.nodes.values()) syncs += n.proxy.syncs.length
  let completed = 0
  for (const w of world.workloads) completed += world.collector.results(w.index, []).requests.completed
  return {
    nodes,
    fragmentsCompiled: shared.fragments.compiled,
    serviceBuilds: shared.servicePorts.serviceBuilds,
    snapshots: shared.servicePorts.snapshotsBuilt,
    nodeViews: shared.servicePorts.nodeViews,
    linesShared: world.ruleCache.hits,
    syncs,
    completed,
  }
}

describe("cluster scale: per-Service work is shared between nodes", () => {
  it("compiles fragments and builds Service views per Service, not per node", () => {
    const small = shape(2)
    const large = shape(6)
    // The runs do real work: every node synced, requests were answered.
    expect(small.syncs).toBeGreaterThanOrEqual(2)
    expect(large.syncs).toBeGreaterThanOrEqual(6)
    expect(small.completed).toBeGreaterThan(0)
    expect(large.completed).toBe(small.completed)
    expect(small.fragmentsCompiled).toBeGreaterThanOrEqual(12)
    // Three times the nodes: about the same shared work (unshared, it would be ~3x).
    expect(large.fragmentsCompiled).toBeLessThanOrEqual(small.fragmentsCompiled * 1.5)
    expect(large.serviceBuilds).toBeLessThanOrEqual(small.serviceBuilds * 1.5)
    // Each node assembles its own port list once per state it syncs against (a pointer copy).
    expect(large.nodeViews).toBeLessThanOrEqual(large.syncs)
    // The other nodes restore rule lines the first node already parsed.
    expect(large.linesShared).toBeGreaterThan(small.linesShared)
  })
})
