/**
 * Capacity like a real cluster: kubelet maxPods (110, the EKS ENI formula per instance type),
 * kube-scheduler's pod-count fit with upstream's FitError message, Pending pods re-queued when a
 * slot frees, the ReplicaSet controller's burstReplicas and its client's token bucket
 * (--kube-api-qps 20, --kube-api-burst 30), and limits.pods.
 */
import { describe, expect, it } from "vitest"
import { Scheduler } from "../../src/sim/scheduler.ts"
import { NS_PER_MS, NS_PER_S } from "../../src/sim/time.ts"
import { INSTANCE_TYPES, MAX_PODS_DEFAULT, TokenBucket, eniMaxPods, resolveMaxPods } from "../../src/k8s/capacity.ts"
import { ControlPlane, type ControlPlaneConfig } from "../../src/k8s/control-plane.ts"
import { getPodsWide } from "../../src/k8s/kubectl.ts"
import type { Deployment, KubeObject, Pod } from "../../src/k8s/types.ts"
import { PodLimitExceeded } from "../../src/k8s/controllers/context.ts"
import { fitErrorMessage } from "../../src/k8s/controllers/scheduler.ts"

const BASE: ControlPlaneConfig = {
  seed: 1,
  nodes: [
    { name: "node-1", zone: "a", labels: {}, maxPods: 2 },
    { name: "node-2", zone: "a", labels: {}, maxPods: 2 },
    { name: "node-3", zone: "a", labels: { disk: "ssd" }, maxPods: 2 },
  ],
  cni: "bridge",
  podCIDR: "10.244.0.0/16",
  serviceCIDR: "10.96.0.0/12",
  nodeCIDR: "172.18.0.0/16",
  loadBalancerPool: [],
  systemServices: false,
}

function make(config: Partial<ControlPlaneConfig> = {}): { scheduler: Scheduler; cp: ControlPlane } {
  const scheduler = new Scheduler()
  return { scheduler, cp: new ControlPlane(scheduler, { ...BASE, ...config }) }
}

function runUntil(scheduler: Scheduler, timeNs: number): void {
  scheduler.run({ timeNsMax: timeNs, eventCountMax: 10_000_000 })
  if (scheduler.nowNs < timeNs) scheduler.nowNs = timeNs
}

function deployment(name: string, replicas: number, nodeSelector?: Record<string, string>): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { run: name } },
      template: {
        metadata: { labels: { run: name } },
        spec: {
          containers: [{ name, image: "gasbugs/http-go" }],
          ...(nodeSelector === undefined ? {} : { nodeSelector }),
        },
      },
    },
  }
}

const apply = (cp: ControlPlane, ...objects: KubeObject[]) => cp.apply(objects.map((object) => ({ object })))
const pods = (cp: ControlPlane): Pod[] => cp.store.list("Pod")
const byPhase = (cp: ControlPlane, phase: string): Pod[] => pods(cp).filter((p) => p.status?.phase === phase)
const unscheduled = (cp: ControlPlane): Pod[] => pods(cp).filter((p) => p.spec.nodeName === undefined)

describe("maxPods", () => {
  // aws/amazon-vpc-cni-k8s misc/eni-max-pods.txt ("# of ENI * (# of IPv4 per ENI - 1) + 2").
  const ENI_MAX_PODS_TXT: Record<string, number> = {
    "t3.micro": 4,
    "t3.small": 11,
    "t3.medium": 17,
    "t3.large": 35,
    "t3.xlarge": 58,
    "t3.2xlarge": 58,
    "m5.large": 29,
    "m5.xlarge": 58,
    "m5.2xlarge": 58,
    "m5.4xlarge": 234,
    "m5.8xlarge": 234,
    "m5.12xlarge": 234,
    "m5.16xlarge": 737,
    "m5.24xlarge": 737,
    "c5.large": 29,
    "c5.xlarge": 58,
    "c5.2xlarge": 58,
    "c5.4xlarge": 234,
    "r5.large": 29,
    "r5.xlarge": 58,
    "r5.2xlarge": 58,
  }

  it("the ENI formula gives eni-max-pods.txt's figure for every instance type in the table", () => {
    expect(Object.keys(INSTANCE_TYPES).sort()).toEqual(Object.keys(ENI_MAX_PODS_TXT).sort())
    for (const [type, limits] of Object.entries(INSTANCE_TYPES))
      expect([type, eniMaxPods(limits)]).toEqual([type, ENI_MAX_PODS_TXT[type]])
  })

  it("node setting > cluster setting > aws-vpc instance type > 110 (KubeletConfiguration default)", () => {
    expect(MAX_PODS_DEFAULT).toBe(110)
    expect(resolveMaxPods("bridge", {}, undefined)).toBe(110)
    expect(resolveMaxPods("aws-vpc", { instanceType: "t3.medium" }, undefined)).toBe(17)
    expect(resolveMaxPods("bridge", { instanceType: "t3.medium" }, undefined)).toBe(110)
    expect(resolveMaxPods("aws-vpc", { instanceType: "t3.medium" }, 50)).toBe(50)
    expect(resolveMaxPods("aws-vpc", { instanceType: "t3.medium", maxPods: 7 }, 50)).toBe(7)
  })

  it("writes the node's capacity and allocatable pods", () => {
    const { cp } = make({
      cni: "aws-vpc",
      nodeCIDR: "10.11.0.0/16",
      nodes: [
        { name: "n1", zone: "a", labels: {}, instanceType: "m5.large" },
        { name: "n2", zone: "a", labels: {} },
      ],
    })
    expect(
      cp.store.list("Node").map((n) => [n.metadata.name, n.status?.capacity?.pods, n.status?.allocatable?.pods]),
    ).toEqual([
      ["n1", "29", "29"],
      ["n2", "110", "110"],
    ])
    expect(cp.nodes().map((n) => n.maxPods)).toEqual([29, 110])
  })
})

describe("scheduler: pod count fit", () => {
  it("binds up to maxPods per node; the rest stay Pending, Unschedulable, with upstream's message", () => {
    const { scheduler, cp } = make()
    apply(cp, deployment("web", 8))
    runUntil(scheduler, 5 * NS_PER_S)
    expect(byPhase(cp, "Running")).toHaveLength(6)
    const pending = byPhase(cp, "Pending")
    expect(pending).toHaveLength(2)
    for (const pod of pending) {
      expect(pod.spec.nodeName).toBeUndefined()
      expect(pod.status?.conditions).toEqual([
        {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message: "0/3 nodes are available: 3 Too many pods.",
          lastTransitionTimeNs: expect.any(Number),
        },
      ])
    }
    const perNode = new Map<string, number>()
    for (const pod of byPhase(cp, "Running"))
      perNode.set(pod.spec.nodeName ?? "", (perNode.get(pod.spec.nodeName ?? "") ?? 0) + 1)
    expect([...perNode.values()]).toEqual([2, 2, 2])
    // kubectl get pods -o wide: STATUS Pending, no node.
    const lines = getPodsWide(cp.store, { nowNs: scheduler.nowNs }).trimEnd().split("\n")
    const pendingLines = lines.filter((line) => / Pending /.test(line))
    expect(pendingLines).toHaveLength(2)
    for (const line of pendingLines) expect(line).toMatch(/^web-\S+\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+<none>/)
  })

  it("FitError lists each reason's node count, sorted as strings", () => {
    const { scheduler, cp } = make()
    apply(cp, deployment("ssd", 3, { disk: "ssd" }))
    runUntil(scheduler, 5 * NS_PER_S)
    const pending = byPhase(cp, "Pending")
    expect(pending).toHaveLength(1)
    expect(pending[0]?.status?.conditions?.[0]?.message).toBe(
      "0/3 nodes are available: 1 Too many pods, 2 node(s) didn't match Pod's node affinity/selector.",
    )
    expect(
      fitErrorMessage(
        5,
        new Map([
          ["Too many pods", 3],
          ["node(s) were unschedulable", 2],
        ]),
      ),
    ).toBe("0/5 nodes are available: 2 node(s) were unschedulable, 3 Too many pods.")
  })

  it("a freed slot re-queues the oldest waiting pod that fits the node", () => {
    const { scheduler, cp } = make({ nodes: [{ name: "node-1", zone: "a", labels: {}, maxPods: 2 }] })
    apply(cp, deployment("web", 4))
    runUntil(scheduler, 5 * NS_PER_S)
    const waiting = unscheduled(cp).sort(
      (a, b) =>
        (a.metadata.creationTimestampNs ?? 0) - (b.metadata.creationTimestampNs ?? 0) ||
        (a.metadata.name < b.metadata.name ? -1 : 1),
    )
    expect(waiting).toHaveLength(2)
    const victim = byPhase(cp, "Running")[0]
    expect(victim).toBeDefined()
    expect(cp.delete("default", `pod/${victim?.metadata.name}`)).toEqual([])
    runUntil(scheduler, 15 * NS_PER_S)
    // One of the two waiting pods took the freed slot; the ReplicaSet's replacement waits.
    const running = byPhase(cp, "Running").map((p) => p.metadata.name)
    expect(running).toHaveLength(2)
    expect(waiting.filter((p) => running.includes(p.metadata.name))).toHaveLength(1)
    expect(unscheduled(cp)).toHaveLength(2)
  })

  it("scale-down deletes Pending pods first, and the count check frees nothing twice", () => {
    const { scheduler, cp } = make()
    apply(cp, deployment("web", 9))
    runUntil(scheduler, 5 * NS_PER_S)
    expect(unscheduled(cp)).toHaveLength(3)
    cp.scale("default", "web", 6)
    runUntil(scheduler, 10 * NS_PER_S)
    expect(unscheduled(cp)).toHaveLength(0)
    expect(byPhase(cp, "Running")).toHaveLength(6)
    cp.scale("default", "web", 7)
    runUntil(scheduler, 15 * NS_PER_S)
    expect(unscheduled(cp)).toHaveLength(1)
  })
})

describe("kubelet admission", () => {
  const bare = (name: string, nodeName: string): Pod => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: "bare" } },
    spec: { nodeName, containers: [{ name, image: "busybox" }] },
  })

  it("a nodeName pod past maxPods is rejected: Failed, OutOfpods, and its slot is not counted", () => {
    const { scheduler, cp } = make()
    apply(cp, bare("a", "node-1"), bare("b", "node-1"), bare("c", "node-1"))
    runUntil(scheduler, 5 * NS_PER_S)
    const c = cp.store.get("Pod", "default", "c")
    expect(c?.status).toMatchObject({
      phase: "Failed",
      reason: "OutOfpods",
      message: "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2",
    })
    expect(getPodsWide(cp.store, { nowNs: scheduler.nowNs })).toMatch(/^c\s+0\/1\s+OutOfpods\s/m)
    expect(["a", "b"].map((n) => cp.store.get("Pod", "default", n)?.status?.phase)).toEqual(["Running", "Running"])
    // node-1 holds 2 pods, not 3: once one goes, a pod waiting for node-1 binds.
    apply(cp, deployment("pinned", 1, { "kubernetes.io/hostname": "node-1" }))
    runUntil(scheduler, 10 * NS_PER_S)
    expect(unscheduled(cp)).toHaveLength(1)
    cp.delete("default", "pod/a")
    runUntil(scheduler, 15 * NS_PER_S)
    expect(unscheduled(cp)).toHaveLength(0)
    expect(
      pods(cp)
        .filter((p) => p.metadata.name.startsWith("pinned-"))
        .map((p) => [p.spec.nodeName, p.status?.phase]),
    ).toEqual([["node-1", "Running"]])
  })
})

describe("ReplicaSet controller: burstReplicas and the client's rate limit", () => {
  it("the token bucket lets 30 requests go at once, then one per 50 ms (qps 20, burst 30)", () => {
    const bucket = new TokenBucket(20, 30)
    const waits = Array.from({ length: 33 }, () => bucket.reserve(0))
    expect(waits.slice(0, 30).every((w) => w === 0)).toBe(true)
    expect(waits.slice(30)).toEqual([50 * NS_PER_MS, 100 * NS_PER_MS, 150 * NS_PER_MS])
    // Refills while idle, up to the burst.
    expect(bucket.reserve(10 * NS_PER_S)).toBe(0)
  })

  it("creates 30 pods at the first sync, then 20 per second", () => {
    const { scheduler, cp } = make({ nodes: [{ name: "node-1", zone: "a", labels: {}, maxPods: 5000 }] })
    apply(cp, deployment("big", 1000))
    // Deployment sync at 100 ms writes the ReplicaSet; its sync at 200 ms starts creating.
    runUntil(scheduler, 200 * NS_PER_MS)
    expect(pods(cp)).toHaveLength(30)
    runUntil(scheduler, 1200 * NS_PER_MS)
    expect(pods(cp)).toHaveLength(50)
    runUntil(scheduler, 10_200 * NS_PER_MS)
    expect(pods(cp)).toHaveLength(230)
  })

  it("expectations: syncs during an outstanding burst only write status (one create waits for a token)", () => {
    const { scheduler, cp } = make({ nodes: [{ name: "node-1", zone: "a", labels: {}, maxPods: 5000 }] })
    apply(cp, deployment("big", 1000))
    runUntil(scheduler, 20 * NS_PER_S)
    expect(pods(cp)).toHaveLength(30 + (20_000 - 200) / 50)
    // Each pod creation re-syncs the ReplicaSet; were a sync during the burst to start creating
    // again, every sync would add a chain of waiting creates (220 pending events here, not ~23).
    expect(scheduler.pendingCount).toBeLessThan(40)
  })

  it("one sync creates at most burstReplicas (500); the next burst waits for the last create", () => {
    const { scheduler, cp } = make({
      nodes: [{ name: "node-1", zone: "a", labels: {}, maxPods: 5000 }],
      controllerClientQps: 1e9,
      controllerClientBurst: 1_000_000,
    })
    apply(cp, deployment("big", 1200))
    runUntil(scheduler, 200 * NS_PER_MS)
    expect(pods(cp)).toHaveLength(500)
    runUntil(scheduler, 300 * NS_PER_MS)
    expect(pods(cp)).toHaveLength(1000)
    runUntil(scheduler, 400 * NS_PER_MS)
    expect(pods(cp)).toHaveLength(1200)
  })

  it("scale-down deletes go through the same client: 30 at once, then one per 50 ms", () => {
    const { scheduler, cp } = make({ nodes: [{ name: "node-1", zone: "a", labels: {}, maxPods: 5000 }] })
    apply(cp, deployment("web", 40))
    runUntil(scheduler, 20 * NS_PER_S)
    expect(byPhase(cp, "Running")).toHaveLength(40)
    cp.scale("default", "web", 0)
    // Deployment sync +100 ms, ReplicaSet sync +200 ms: 30 deletions start at once.
    runUntil(scheduler, 20_200 * NS_PER_MS)
    const terminating = () =>
      pods(cp).filter((p) => p.metadata.deletionTimestampNs !== undefined).length + (40 - pods(cp).length)
    expect(terminating()).toBe(30)
    runUntil(scheduler, 20_300 * NS_PER_MS)
    expect(terminating()).toBe(32)
  })
})

describe("limits.pods", () => {
  it("a create past the limit throws PodLimitExceeded naming the limit", () => {
    const { scheduler, cp } = make({ podsMax: 5 })
    apply(cp, deployment("web", 6))
    expect(() => runUntil(scheduler, 5 * NS_PER_S)).toThrow(PodLimitExceeded)
    expect(pods(cp)).toHaveLength(5)
  })
})
