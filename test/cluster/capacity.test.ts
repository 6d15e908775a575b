/**
 * Capacity through the runtime: the 10,000,000-replica scenario finishes with 330 pods Running
 * and the rest Pending, in a bounded number of events; maxPods from an instance type (aws-vpc);
 * scenario limits (pods at run time, nodes and Services at load time) as input errors naming them.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runScenario } from "../../src/cluster/index.ts"
import { ScenarioIssues } from "../../src/cluster/spec.ts"
import { stringifyResults } from "../../src/stats/document.ts"
import { renderSummary } from "../../src/stats/render.ts"
import { decodeScenarioText } from "../../src/scenario/load.ts"
import { ROOT, cli, scenarioSpec, specFromText } from "./helpers.ts"

function scenario(cluster: string, replicas: number, extra = ""): string {
  return `apiVersion: kube-netsim/v1
kind: Scenario
metadata: { name: capacity }
duration: 10s
cluster:
${cluster}
${extra}
# Pod capacity, not DNS: no CoreDNS pods competing for the slots.
dns: { mode: static }
manifests:
  - inline:
      apiVersion: apps/v1
      kind: Deployment
      metadata: { name: web }
      spec:
        replicas: ${replicas}
        selector: { matchLabels: { app: web } }
        template:
          metadata: { labels: { app: web } }
          spec: { containers: [{ name: web, image: gasbugs/http-go }] }
`
}

function issues(text: string) {
  const result = decodeScenarioText(join(ROOT, "scenarios", "inline.yaml"), text)
  return result.ok
    ? []
    : result.issues.map((i) => ({ path: i.path.join("."), message: i.message, line: i.position?.line }))
}

describe("capacity through the runtime", () => {
  it("10,000,000 replicas on 3 nodes: 330 Running, the rest Pending, bounded events", () => {
    const spec = scenarioSpec("scenarios/capacity-10m-replicas.yaml")
    const doc = runScenario(spec, { seed: spec.seed })
    expect(doc.endReason).toBe("duration")
    // The ReplicaSet's first sync (200 ms) creates 30 pods (client burst), then one per 50 ms
    // (20 qps) until 30 s: 30 + (30,000 - 200) / 50 = 626 pod objects.
    expect(doc.pods).toEqual({ total: 626, running: 330, pending: 296, unschedulable: 295, terminating: 0, failed: 0 })
    // The pod created at exactly 30 s has not had its scheduling attempt yet.
    expect(doc.wall.events).toBeLessThan(10_000)
    expect(JSON.parse(stringifyResults(doc)).pods).toEqual(doc.pods)
    expect(renderSummary(doc)).toContain(
      "pods  626  running 330  pending 296 (unschedulable 295)  terminating 0  failed 0",
    )
  })

  it("aws-vpc: a t3.medium node runs 17 pods (ENI limit), the rest stay Pending", () => {
    const spec = specFromText(scenario("  cni: aws-vpc\n  instanceType: t3.medium\n  nodes: { count: 1 }", 20))
    expect(spec.cluster.nodes[0]?.instanceType).toBe("t3.medium")
    const doc = runScenario(spec, { seed: 1 })
    expect(doc.pods).toMatchObject({ total: 20, running: 17, pending: 3, unschedulable: 3 })
  })

  it("cluster.maxPods and a node's own maxPods", () => {
    const spec = specFromText(scenario("  maxPods: 3\n  nodes:\n    - { name: a }\n    - { name: b, maxPods: 5 }", 10))
    const doc = runScenario(spec, { seed: 1 })
    expect(doc.pods).toMatchObject({ total: 10, running: 8, pending: 2 })
  })

  it("cluster.controllerManager sets the client's rate limit (--kube-api-qps/--kube-api-burst)", () => {
    const spec = specFromText(
      scenario(
        "  nodes: { count: 1 }\n  maxPods: 1000\n  controllerManager: { kubeApiQps: 100, kubeApiBurst: 10 }",
        1000,
      ).replace("duration: 10s", "duration: 2200ms"),
    )
    const doc = runScenario(spec, { seed: 1 })
    // 10 at the first ReplicaSet sync (200 ms), then one per 10 ms until 2.2 s.
    expect(doc.pods?.total).toBe(10 + 200)
  })

  it("limits.pods: a run that would create more pod objects stops with an input error naming it", () => {
    const spec = specFromText(scenario("  nodes: { count: 1 }", 200, "limits: { pods: 100 }"))
    expect(spec.limits.podsMax).toBe(100)
    let thrown: unknown
    try {
      runScenario(spec, { seed: 1 })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ScenarioIssues)
    const issue = (thrown as ScenarioIssues).issues[0]
    expect(issue?.path).toEqual(["limits", "pods"])
    expect(issue?.message).toMatch(/^the cluster would exceed limits\.pods \(100 pod objects\) at /)
  })

  it("limits.pods through the CLI: exit code 2, the issue at the limits.pods line", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "kube-netsim-capacity-")), "limit.yaml")
    writeFileSync(file, scenario("  nodes: { count: 1 }", 50, "limits: { pods: 40 }"))
    const run = await cli(["run", file])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:7:\\d+: limits\\.pods: the cluster would exceed limits\\.pods \\(40 pod objects\\) at `,
        "m",
      ),
    )
  })

  it("limits default to Kubernetes' scalability thresholds", () => {
    const spec = specFromText(scenario("  nodes: { count: 1 }", 1))
    expect(spec.limits).toEqual({ eventCountMax: 100_000_000, nodesMax: 5000, podsMax: 150_000, servicesMax: 10_000 })
  })

  it("limits.nodes and limits.services are checked at load, with the field's position", () => {
    expect(issues(scenario("  nodes: { count: 6000 }", 1))).toEqual([
      { path: "cluster.nodes.count", message: "the cluster has 6000 nodes, more than limits.nodes (5000)", line: 6 },
    ])
    expect(issues(scenario("  nodes: { count: 3 }", 1, "limits: { nodes: 2 }"))).toEqual([
      { path: "limits.nodes", message: "the cluster has 3 nodes, more than limits.nodes (2)", line: 7 },
    ])
    const twoServices = `${scenario("  nodes: { count: 1 }", 1, "limits: { services: 1 }")}  - inline: { apiVersion: v1, kind: Service, metadata: { name: a }, spec: { ports: [{ port: 80 }] } }
  - inline: { apiVersion: v1, kind: Service, metadata: { name: b }, spec: { ports: [{ port: 80 }] } }
`
    expect(issues(twoServices)).toEqual([
      { path: "limits.services", message: "the scenario defines 2 Services, more than limits.services (1)", line: 7 },
    ])
  })

  it("an unknown instance type is an input error", () => {
    const found = issues(scenario("  cni: aws-vpc\n  nodes: [{ name: a, instanceType: m9.huge }]", 1))
    expect(found).toHaveLength(1)
    expect(found[0]?.path).toBe("cluster.nodes.0.instanceType")
    expect(found[0]?.message).toMatch(/unknown instance type "m9.huge"/)
  })
})
