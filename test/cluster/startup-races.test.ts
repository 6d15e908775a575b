/**
 * Start-up races: a workload that does not wait for its target (`start: { waitFor: none }`), and
 * kube-proxy's path after a failed iptables-restore (upstream pkg/proxy/iptables/proxier.go
 * syncProxyRules: the deferred `if !success` block calls proxier.syncRunner.RetryAfter(syncPeriod)
 * and sets needFullSync, and nothing after the restore runs).
 */
import { describe, expect, it } from "vitest"
import { runScenario, World } from "../../src/cluster/index.ts"
import { NS_PER_S } from "../../src/sim/time.ts"
import { specFromText } from "./helpers.ts"

function scenario(start: string, timeline = "", count = 100): string {
  return `
apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: races }
seed: 7
duration: 20s
cluster: { nodes: { count: 2 } }
# Instant syncs: these tests pin the runner's and the proxier's failure path at exact instants
# (test/cluster/sync-cost.test.ts covers syncs that take time).
kubeProxy: { syncPeriod: 10s, minSyncPeriod: 1s, syncCost: { iptables: { fixed: 0, perRule: 0, perLine: 0 } } }
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
      - apiVersion: v1
        kind: Service
        metadata: { name: web }
        spec: { selector: { app: web }, ports: [ { port: 80, targetPort: 8080 } ] }
workloads:
  - name: load
    from: node/node-1
    to: http://web:80/
    arrival: { every: 20ms }
    count: ${count}
    timeout: 1s
    start: ${start}
${timeline}`
}

describe("start: { waitFor }", () => {
  it("by default (waitFor: ready) the workload starts once the Service is served: no failure", () => {
    const doc = runScenario(specFromText(scenario("0s")), { seed: 7 })
    const load = doc.workloads.load.requests
    expect(load.failed).toBe(0)
    expect(load.completed).toBe(100)
    const starts = doc.steps.find((s) => s.description === "workload load starts")
    expect(starts?.atNs).toBeGreaterThan(0)
  })

  it("with waitFor: none a workload at 0 s runs before endpoints and rules exist and its failures are counted by reason", () => {
    const spec = specFromText(scenario("{ at: 0s, waitFor: none }"))
    expect(spec.workloads[0].waitFor).toBe("none")
    const doc = runScenario(spec, { seed: 7 })
    const starts = doc.steps.find((s) => s.description === "workload load starts")
    expect(starts?.atNs).toBe(0)
    const load = doc.workloads.load.requests
    expect(load.sent).toBe(100)
    expect(load.failed).toBeGreaterThan(0)
    // Every failure has a reason, and the later requests (after the endpoints are programmed) succeed.
    expect(Object.values(load.failedByReason).reduce((a, b) => a + b, 0)).toBe(load.failed)
    expect(load.completed).toBeGreaterThan(0)
    expect(load.completed + load.failed).toBe(100)
  })

  it("refuses an unknown waitFor value with its path", () => {
    expect(() => specFromText(scenario("{ at: 0s, waitFor: never }"))).toThrow(/workloads\.0\.start/)
  })
})

const SERVICE_CHANGE_AT_5S = `  - at: 5s
    apply:
      inline:
        - apiVersion: v1
          kind: Service
          metadata: { name: web }
          spec: { selector: { app: web }, ports: [ { name: http, port: 80, targetPort: 8080 }, { name: alt, port: 81, targetPort: 8080 } ] }
`

/** Runs the races scenario with `failures` injected on node-2 at 4 s and a new Service port at 5 s. */
function runWithFailures(failures: number, untilNs: number): World {
  const timeline = `timeline:\n  - at: 4s\n    failRestore: { node: node-2, count: ${failures} }\n${SERVICE_CHANGE_AT_5S}`
  // 950 requests every 20 ms keep the run going past the retry (the world stops once all is done).
  const world = new World(specFromText(scenario("0s", timeline, 950)), 7)
  world.scheduler.run({ timeNsMax: untilNs, eventCountMax: 50_000_000 })
  return world
}

function proxies(world: World) {
  const healthy = world.nodes.get("node-1")?.proxy
  const failing = world.nodes.get("node-2")?.proxy
  if (healthy === undefined || failing === undefined) throw new Error("no nodes")
  return { healthy, failing }
}

describe("kube-proxy after a failed iptables-restore", () => {
  it("parses failRestore steps (count defaults to 1)", () => {
    const spec = specFromText(scenario("0s", `timeline:\n  - at: 4s\n    failRestore: { node: node-2 }\n`))
    expect(spec.timeline[0].action).toEqual({ kind: "failRestore", node: "node-2", count: 1 })
  })

  it("a failed restore applies nothing of its sync; the next sync is full and applies the change", () => {
    const before = proxies(runWithFailures(1, 5 * NS_PER_S + 50_000_000))
    expect(before.healthy.failedSyncsNs).toEqual([])
    expect(before.failing.failedSyncsNs).toEqual([5 * NS_PER_S])
    expect(before.healthy.rules(false)).toContain("--dport 81")
    expect(before.failing.rules(false)).not.toContain("--dport 81")
    const after = proxies(runWithFailures(1, 20 * NS_PER_S))
    const next = after.failing.syncs.find((s) => s.atNs > 5 * NS_PER_S)
    // The EndpointSlice update 100 ms later asks for a sync: it is full (needFullSync) while node-1's
    // sync of the same change is partial. Without needFullSync it would be partial, and the
    // changes the failed sync consumed would never be written.
    expect(next?.atNs).toBe(5 * NS_PER_S + 100_000_000)
    expect(next?.fullSync).toBe(true)
    expect(after.healthy.syncs.find((s) => s.atNs === next?.atNs)?.fullSync).toBe(false)
    expect(after.failing.rules(false)).toContain("--dport 81")
  })

  it("when nothing else asks for a sync, the retry comes syncPeriod after the last failure (RetryAfter)", () => {
    // Both change-triggered syncs (5 s, 5.1 s) fail; the next attempt is the runner's timer.
    const world = runWithFailures(2, 20 * NS_PER_S)
    const { failing } = proxies(world)
    expect(failing.failedSyncsNs).toEqual([5 * NS_PER_S, 5 * NS_PER_S + 100_000_000])
    const next = failing.syncs.find((s) => s.atNs > 5 * NS_PER_S)
    expect(next?.atNs).toBe(5 * NS_PER_S + 100_000_000 + 10 * NS_PER_S)
    expect(next?.fullSync).toBe(true)
    expect(failing.rules(false)).toContain("--dport 81")
  })

  it("records each failed sync as a step of the results", () => {
    const timeline = `timeline:\n  - at: 4s\n    failRestore: { node: node-2 }\n${SERVICE_CHANGE_AT_5S}`
    const doc = runScenario(specFromText(scenario("0s", timeline, 400)), { seed: 7 })
    expect(doc.steps.filter((s) => s.description.startsWith("kube-proxy on node-2"))).toEqual([
      { atNs: 4 * NS_PER_S, description: "kube-proxy on node-2: the next iptables-restore fails" },
      {
        atNs: 5 * NS_PER_S,
        description: "kube-proxy on node-2: iptables-restore failed; nothing applied, a full sync within 10s",
      },
    ])
  })

  it("refuses failRestore for a node that does not exist", () => {
    expect(() => specFromText(scenario("0s", "timeline:\n  - at: 1s\n    failRestore: { node: nope }\n"))).toThrow(
      /timeline\.0\.failRestore\.node: no node "nope"/,
    )
  })
})
