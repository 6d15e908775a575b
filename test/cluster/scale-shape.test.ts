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

interface PodShape {
  readonly fingerprint: string
  readonly completed: number
  readonly pods: number
  readonly podNetworksBuilt: number
  readonly namespaces: number
  readonly nodeRoutes: number
  readonly nodesExamined: number
  readonly nodesListed: number
}

/** Nodes, pods that carry no traffic (bare), a few clients: what gets built, scanned and routed. */
function podShape(nodes: number, lazyPods: boolean): PodShape {
  const spec = specFromText(
    clusterScaleYaml({
      nodes,
      services: 4,
      pods: 4,
      clients: 2,
      workloads: 2,
      count: 2,
      duration: "2s",
      barePods: 30,
    }),
  )
  const world = new World(spec, spec.seed, { lazyPods })
  world.scheduler.run({ timeNsMax: spec.durationNs, eventCountMax: Number.MAX_SAFE_INTEGER })
  let completed = 0
  for (const w of world.workloads) completed += world.collector.results(w.index, []).requests.completed
  let namespaces = 0
  for (const ns of world.network.namespaces) if (ns !== undefined) namespaces++
  let nodeRoutes = 0
  for (const n of world.nodes.values()) nodeRoutes += n.net.ns.routes.routes.length
  return {
    fingerprint: world.scheduler.fingerprint(),
    completed,
    pods: world.controlPlane.store.count("Pod"),
    podNetworksBuilt: world.clusterNet.podsBuilt,
    namespaces,
    nodeRoutes,
    nodesExamined: world.controlPlane.schedulerNodesExamined,
    nodesListed: world.controlPlane.store.listedObjects.Node,
  }
}

describe("cluster scale: pods, routes and placement cost what carries traffic", () => {
  it("builds only the pods packets reach, with the results of building all; routes and placement per node, per pod", () => {
    const lazy = podShape(6, true)
    const eager = podShape(6, false)
    // Same simulation either way (pod networks are built under reserved ids, servers at reserved indices).
    expect(lazy.fingerprint).toBe(eager.fingerprint)
    expect(lazy.completed).toBe(eager.completed)
    expect(lazy.completed).toBeGreaterThan(0)
    // 4 echo pods + 30 bare + 2 clients: eager builds all; lazy only the clients and the echo pods
    // the requests reached (the bare pods are never built).
    expect(eager.podNetworksBuilt).toBe(lazy.pods)
    expect(lazy.podNetworksBuilt).toBeLessThanOrEqual(2 + 4)
    expect(lazy.namespaces).toBe(eager.namespaces - (eager.podNetworksBuilt - lazy.podNetworksBuilt))
    // Each node holds its own few routes; the routes to the other nodes' pod CIDRs are shared
    // (nodes x nodes per-node copies would be 6 x 5 more).
    const perNode = lazy.nodeRoutes / 6
    expect(perNode).toBeLessThanOrEqual(4)
    // kube-scheduler: one node looked at per placement (the heap's top), the node list read once.
    expect(lazy.nodesExamined).toBe(lazy.pods)
    expect(lazy.nodesListed).toBe(6)
  })
})
