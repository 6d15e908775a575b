/**
 * kube-proxy syncs in simulated time, end to end (cluster/kube-proxy.ts, proxy/sync-cost.ts,
 * stats/syncs.ts): the rules of a sync take effect at its end (iptables-restore commits the table
 * when it finishes), its duration grows with the rules of the replaced tables, and each
 * Service/EndpointSlice write is timed to the end of the sync that programmed it.
 */
import { describe, expect, it } from "vitest"
import { renderRules, runScenario, World } from "../../src/cluster/index.ts"
import { renderSummary } from "../../src/stats/render.ts"
import { aggregateRuns, renderAggregate } from "../../src/stats/aggregate.ts"
import { stringifyResults } from "../../src/stats/document.ts"
import { DEFAULT_IPTABLES_SYNC_COST } from "../../src/proxy/sync-cost.ts"
import { NS_PER_MS, NS_PER_S } from "../../src/sim/time.ts"
import { scenarioSpec, specFromText } from "./helpers.ts"

const SYNC_MS = 100

function scenario(syncCost: string): string {
  return `
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: sync-cost }
seed: 3
duration: 10s
cluster: { nodes: { count: 2 }, systemServices: false }
kubeProxy: { minSyncPeriod: 1s, syncPeriod: 30s, syncCost: { iptables: ${syncCost} } }
manifests:
  - inline:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: { name: web }
        spec:
          replicas: 2
          selector: { matchLabels: { app: web } }
          template:
            metadata: { labels: { app: web } }
            spec: { containers: [ { name: web, image: example/web, ports: [ { containerPort: 8080 } ] } ] }
# Keeps the run going past the timeline (a run ends once its workloads are done).
workloads:
  - { name: probe, from: node/node-1, to: "http://late:81/", arrival: { every: 100ms }, count: 3, start: 9s }
timeline:
  - at: 5s
    apply:
      inline:
        - { apiVersion: v1, kind: Service, metadata: { name: late }, spec: { selector: { app: web }, ports: [ { port: 81, targetPort: 8080 } ] } }
`
}

/** Fixed 100 ms per sync, nothing per rule: exact instants. */
const FIXED = `{ fixed: ${SYNC_MS}ms, perRule: 0, perLine: 0 }`

function worldAt(text: string, untilNs: number): World {
  const world = new World(specFromText(text), 3)
  world.scheduler.run({ timeNsMax: untilNs, eventCountMax: 10_000_000 })
  return world
}

function node1(world: World) {
  const node = world.nodes.get("node-1")
  if (node === undefined) throw new Error("no node-1")
  return node.proxy
}

describe("kube-proxy syncs take simulated time", () => {
  it("the rules of a sync are not in the kernel before it ends, and are at its end", () => {
    const syncEndNs = 5 * NS_PER_S + SYNC_MS * NS_PER_MS
    // The Service write at 5 s starts a sync at once (a token is left); it ends 100 ms later.
    const during = node1(worldAt(scenario(FIXED), syncEndNs - 1))
    expect(during.runner.running).toBe(true)
    expect(during.rules(false)).not.toContain("default/late")
    const after = node1(worldAt(scenario(FIXED), syncEndNs))
    // (No endpoint yet: its REJECT rule; the EndpointSlice goes in the next sync.)
    expect(after.rules(false)).toContain('"default/late has no endpoints"')
    const sync = after.syncs.find((s) => s.atNs === 5 * NS_PER_S)
    expect(sync).toMatchObject({ atNs: 5 * NS_PER_S, endNs: syncEndNs, durationNs: SYNC_MS * NS_PER_MS })
  })

  it("kube-netsim rules without --at shows the node once its start-up sync ended; --at 0 before", () => {
    const spec = specFromText(scenario(FIXED))
    expect(renderRules(spec, { node: "node-1", sorted: true })).toContain(":KUBE-SERVICES")
    expect(renderRules(spec, { node: "node-1", atNs: SYNC_MS * NS_PER_MS - 1, sorted: true })).not.toContain(
      "KUBE-SERVICES",
    )
  })

  it("with instant syncs (cost 0) the rules are there at the write's instant, as before the model", () => {
    const world = worldAt(scenario("{ fixed: 0, perRule: 0, perLine: 0 }"), 5 * NS_PER_S)
    expect(node1(world).rules(false)).toContain('"default/late has no endpoints"')
  })

  it("lag: each write is timed to the end of the first sync that started after it", () => {
    const world = worldAt(scenario(FIXED), 8 * NS_PER_S)
    const proxy = node1(world)
    const first = proxy.syncs.find((s) => s.atNs === 5 * NS_PER_S)
    // The Service write at 5 s: programmed by the sync 5.0 -> 5.1 s.
    expect(first?.lagsNs).toEqual([SYNC_MS * NS_PER_MS])
    // Its EndpointSlice, written by the controller after that sync started, goes in the next one
    // (5.1 -> 5.2 s; the second token of the burst): lag = 5.2 s - write, within (0, 200 ms].
    const second = proxy.syncs.find((s) => s.atNs === first?.endNs)
    expect(second?.endNs).toBe(5 * NS_PER_S + 2 * SYNC_MS * NS_PER_MS)
    expect(second?.lagsNs.length).toBeGreaterThan(0)
    for (const lag of second?.lagsNs ?? []) {
      expect(lag).toBeGreaterThanOrEqual(SYNC_MS * NS_PER_MS)
      expect(lag).toBeLessThanOrEqual(2 * SYNC_MS * NS_PER_MS)
    }
    // The results document carries the same figures.
    const doc = runScenario(specFromText(scenario(FIXED)), { seed: 3 })
    const syncs = doc.kubeProxy?.syncs
    expect(syncs?.byNode["node-1"]?.maxLagNs).toBe(Math.max(...proxy.syncs.flatMap((s) => s.lagsNs)))
    expect(syncs?.durationNs.min).toBe(SYNC_MS * NS_PER_MS)
    expect(syncs?.durationNs.max).toBe(SYNC_MS * NS_PER_MS)
    expect(syncs?.count).toBe((syncs?.full ?? 0) + (syncs?.partial ?? 0))
  })

  it("a failed restore programs nothing: its writes are timed to the next successful sync", () => {
    const text = scenario(FIXED).replace("timeline:\n", "timeline:\n  - at: 4s\n    failRestore: { node: node-1 }\n")
    const proxy = node1(worldAt(text, 9 * NS_PER_S))
    expect(proxy.failedSyncs).toEqual([{ atNs: 5 * NS_PER_S, endNs: 5 * NS_PER_S + SYNC_MS * NS_PER_MS }])
    const next = proxy.syncs.find((s) => s.atNs > 5 * NS_PER_S)
    // The Service write at 5 s is in the first successful sync after the failure, not lost.
    expect(next?.lagsNs).toContain((next?.endNs ?? 0) - 5 * NS_PER_S)
  })
})

describe("scenarios/sync-at-scale.yaml", () => {
  it("sync duration grows with the rules of the replaced tables (default, measured cost model)", () => {
    const doc = runScenario(scenarioSpec("scenarios/sync-at-scale.yaml"), { seed: 1 })
    const syncs = doc.kubeProxy?.syncs
    if (syncs === undefined) throw new Error("no kubeProxy.syncs")
    expect(doc.workloads.probe.requests.failed).toBe(0)
    expect(syncs.failed).toBe(0)
    expect(syncs.tableRulesMax).toBeGreaterThan(2000)
    // Every sync costs at least the model's fixed part plus its table's rules.
    const p = DEFAULT_IPTABLES_SYNC_COST
    const bins = Object.keys(syncs.byTableRules)
      .map(Number)
      .sort((a, b) => a - b)
    for (const bin of bins) {
      const b = syncs.byTableRules[String(bin)]
      expect(b.maxDurationNs).toBeGreaterThanOrEqual(p.fixedNs + p.perTableRuleNs * bin)
    }
    // The largest tables' syncs take several times the smallest tables' (a model ignoring the
    // table size would give the same durations).
    const smallest = syncs.byTableRules[String(bins[0])]
    const largest = syncs.byTableRules[String(bins[bins.length - 1])]
    expect(largest.meanDurationNs).toBeGreaterThan(3 * smallest.meanDurationNs)
    // The summary shows it.
    const summary = renderSummary(doc)
    expect(summary).toContain("kube-proxy syncs")
    expect(summary).toContain("duration by table size")
    expect(summary).toMatch(/2,048-4,095\s+\d+\s+\S+ms/)
    // The canonical document keeps the section, and --runs aggregates it in time units.
    expect(JSON.parse(stringifyResults(doc)).kubeProxy.syncs.byNode["node-2"].count).toBe(syncs.byNode["node-2"].count)
    const aggregate = renderAggregate(aggregateRuns([doc, doc]))
    expect(aggregate).toMatch(/kubeProxy\/syncs\/durationNs\/p99\s+\d+(\.\d+)?ms/)
    expect(aggregate).toMatch(/kubeProxy\/syncs\/durationNs\/count\s+\d+\s/)
  })
})
