/**
 * Deployment rollouts as upstream's controller does them (pkg/controller/deployment rolling.go,
 * recreate.go, sync.go; deployment_util.go ResolveFenceposts/NewRSNewReplicas): a changed pod
 * template is rolled out within the strategy's budget, watched at every 10 ms of simulated time.
 * - RollingUpdate (default 25%/25%): never more than replicas + maxSurge pods, never fewer than
 *   replicas - maxUnavailable available ones;
 * - maxUnavailable 0: an old pod goes only once a new one has been available for minReadySeconds;
 * - Recreate: no new pod while any old pod (terminating included) exists;
 * - maxSurge 0 / maxUnavailable 100%: every old pod terminating before the first new one is created;
 * - a scale during a rollout ends with the new count, all on the new template.
 */
import { describe, expect, it } from "vitest"
import { Scheduler } from "../../src/sim/scheduler.ts"
import { NS_PER_MS, NS_PER_S } from "../../src/sim/time.ts"
import { ControlPlane, type ControlPlaneConfig } from "../../src/k8s/control-plane.ts"
import { isPodReady } from "../../src/k8s/endpoints.ts"
import { resolveFenceposts, scaledValue } from "../../src/k8s/controllers/deployment.ts"
import type { Deployment, DeploymentStrategy, Pod } from "../../src/k8s/types.ts"

const BASE: ControlPlaneConfig = {
  seed: 1,
  nodes: [
    { name: "node-1", zone: "a", labels: {} },
    { name: "node-2", zone: "b", labels: {} },
  ],
  cni: "bridge",
  podCIDR: "10.244.0.0/16",
  serviceCIDR: "10.96.0.0/12",
  nodeCIDR: "172.18.0.0/16",
  loadBalancerPool: [],
}

function web(replicas: number, version: string, strategy?: DeploymentStrategy, minReadySeconds?: number): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: {
      replicas,
      selector: { matchLabels: { app: "web" } },
      ...(strategy !== undefined ? { strategy } : {}),
      ...(minReadySeconds !== undefined ? { minReadySeconds } : {}),
      template: {
        metadata: { labels: { app: "web" }, annotations: { version } },
        spec: { terminationGracePeriodSeconds: 5, containers: [{ name: "web", image: "nginx" }] },
      },
    },
  }
}

interface Sample {
  readonly timeNs: number
  /** Pods of each template, not terminating. */
  readonly old: number
  readonly next: number
  /** Pods of the old template that still exist (terminating included). */
  readonly oldExisting: number
  readonly readyOld: number
  readonly readyNext: number
}

const versionOf = (pod: Pod): string => pod.metadata.annotations?.version ?? ""

/** Runs the rollout from v1 to v2 (applied at 10 s), sampling every 10 ms until `endS`. */
function rollout(
  replicas: number,
  strategy: DeploymentStrategy | undefined,
  options: { minReadySeconds?: number; endS?: number; scaleAtS?: number; scaleTo?: number } = {},
): { samples: Sample[]; cp: ControlPlane } {
  const scheduler = new Scheduler()
  const cp = new ControlPlane(scheduler, BASE)
  cp.apply([{ object: web(replicas, "v1", strategy, options.minReadySeconds) }])
  const samples: Sample[] = []
  const endNs = (options.endS ?? 60) * NS_PER_S
  let applied = false
  let scaled = false
  for (let t = 0; t <= endNs; t += 10 * NS_PER_MS) {
    scheduler.run({ timeNsMax: t, eventCountMax: 1_000_000 })
    if (scheduler.nowNs < t) scheduler.nowNs = t
    if (!applied && t >= 10 * NS_PER_S) {
      applied = true
      cp.apply([{ object: web(replicas, "v2", strategy, options.minReadySeconds) }])
    }
    if (!scaled && options.scaleAtS !== undefined && t >= options.scaleAtS * NS_PER_S) {
      scaled = true
      cp.scale("default", "deployment/web", options.scaleTo ?? replicas)
    }
    const pods = cp.store.list("Pod", "default")
    const live = pods.filter((p) => p.metadata.deletionTimestampNs === undefined)
    samples.push({
      timeNs: t,
      old: live.filter((p) => versionOf(p) === "v1").length,
      next: live.filter((p) => versionOf(p) === "v2").length,
      oldExisting: pods.filter((p) => versionOf(p) === "v1").length,
      readyOld: live.filter((p) => versionOf(p) === "v1" && isPodReady(p)).length,
      readyNext: live.filter((p) => versionOf(p) === "v2" && isPodReady(p)).length,
    })
  }
  return { samples, cp }
}

const during = (samples: readonly Sample[]): Sample[] => samples.filter((s) => s.timeNs >= 10 * NS_PER_S)

describe("deployment_util.go fenceposts", () => {
  it("rounds maxSurge up and maxUnavailable down, and makes 0/0 into 0/1", () => {
    expect(scaledValue("25%", 3, true)).toBe(1)
    expect(scaledValue("25%", 3, false)).toBe(0)
    expect(scaledValue(2, 10, false)).toBe(2)
    expect(resolveFenceposts(web(3, "v1"))).toEqual([1, 0])
    expect(resolveFenceposts(web(10, "v1"))).toEqual([3, 2])
    expect(resolveFenceposts(web(1, "v1", { rollingUpdate: { maxSurge: "10%", maxUnavailable: "10%" } }))).toEqual([
      1, 0,
    ])
    expect(resolveFenceposts(web(4, "v1", { rollingUpdate: { maxSurge: 0, maxUnavailable: "10%" } }))).toEqual([0, 1])
  })
})

describe("rollouts", () => {
  it("RollingUpdate 25%/25% with 8 replicas stays within 10 pods and keeps 6 ready, then runs only v2", () => {
    const { samples } = rollout(8, undefined)
    const settled = samples.filter((s) => s.timeNs >= 9 * NS_PER_S && s.timeNs < 10 * NS_PER_S)
    expect(settled.every((s) => s.readyOld === 8)).toBe(true)
    for (const s of during(samples)) {
      expect(s.old + s.next, `pods at ${s.timeNs}`).toBeLessThanOrEqual(8 + 2)
      expect(s.readyOld + s.readyNext, `ready at ${s.timeNs}`).toBeGreaterThanOrEqual(8 - 2)
    }
    // Both templates run side by side at some point: a rolling update, not a replacement.
    expect(during(samples).some((s) => s.readyOld > 0 && s.readyNext > 0)).toBe(true)
    const last = samples[samples.length - 1]
    expect(last).toMatchObject({ old: 0, next: 8, readyNext: 8 })
  })

  it("maxUnavailable 0: an old pod goes only after a new one has been available for minReadySeconds", () => {
    const { samples } = rollout(
      3,
      { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      {
        minReadySeconds: 3,
      },
    )
    for (const s of during(samples)) {
      expect(s.readyOld + s.readyNext).toBeGreaterThanOrEqual(3)
      expect(s.old + s.next).toBeLessThanOrEqual(4)
    }
    const firstReadyNew = during(samples).find((s) => s.readyNext > 0)!
    const firstOldGone = during(samples).find((s) => s.old < 3)!
    expect(firstOldGone.timeNs - firstReadyNew.timeNs).toBeGreaterThanOrEqual(3 * NS_PER_S)
    expect(samples[samples.length - 1]).toMatchObject({ old: 0, next: 3, readyNext: 3 })
  })

  it("Recreate creates no new pod while an old one exists, terminating ones included", () => {
    const { samples } = rollout(3, { type: "Recreate" })
    for (const s of during(samples)) if (s.oldExisting > 0) expect(s.next, `at ${s.timeNs}`).toBe(0)
    // The outage Recreate is known for: a time with no ready pod at all.
    expect(during(samples).some((s) => s.readyOld + s.readyNext === 0)).toBe(true)
    expect(samples[samples.length - 1]).toMatchObject({ oldExisting: 0, next: 3, readyNext: 3 })
  })

  it("maxSurge 0 / maxUnavailable 100% terminates every old pod, then creates the new ones before they exit", () => {
    const { samples } = rollout(3, { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: "100%" } })
    const firstNew = during(samples).find((s) => s.next > 0)!
    expect(firstNew.old).toBe(0)
    expect(firstNew.oldExisting).toBe(3)
    expect(samples[samples.length - 1]).toMatchObject({ oldExisting: 0, next: 3, readyNext: 3 })
  })

  it("a scale during a rollout ends with the new count on the new template", () => {
    const { samples, cp } = rollout(8, undefined, { scaleAtS: 10.5, scaleTo: 12 })
    expect(samples[samples.length - 1]).toMatchObject({ old: 0, next: 12, readyNext: 12 })
    for (const rs of cp.store.list("ReplicaSet", "default"))
      expect(rs.metadata.annotations?.["deployment.kubernetes.io/desired-replicas"]).toBe("12")
  })
})
