/**
 * The kubelet's pod lifecycle (pkg/kubelet): sandbox + CNI ADD (the pod IP), container start,
 * readiness from the readiness probes, graceful termination (SIGTERM, exit, grace period) and the
 * final delete of the pod object. One instance serves every node (pods carry their nodeName).
 */
import { assert } from "../../sim/assert.ts"
import type { EventHandler } from "../../sim/scheduler.ts"
import { NS_PER_S } from "../../sim/time.ts"
import { formatIpv4, parseIpv4, type Ipv4 } from "../../wire/ipv4.ts"
import { objectKey } from "../store.ts"
import type { Pod, PodCondition } from "../types.ts"
import type { ControllerContext, PodRecord } from "./context.ts"

/** Per-pod override of the SIGTERM -> exit delay, in (fractional) seconds, e.g. "5" or "0.5". */
export const ANNOTATION_EXIT_AFTER_SIGTERM = "kube-netsim.io/exit-after-sigterm-seconds"
/** PodSpec.terminationGracePeriodSeconds default. */
export const TERMINATION_GRACE_PERIOD_SECONDS_DEFAULT = 30
/** Probe defaults (core/v1 Probe). */
export const PROBE_PERIOD_SECONDS_DEFAULT = 10
export const PROBE_SUCCESS_THRESHOLD_DEFAULT = 1

export class Kubelet implements EventHandler {
  private readonly kindStart: number
  private readonly kindReady: number
  private readonly kindExit: number
  private readonly kindRemove: number
  /** Pods the kubelets admitted (record ids) and their count per node, until the object is deleted. */
  private readonly admitted = new Set<number>()
  private readonly admittedOnNode = new Map<string, number>()

  constructor(private readonly ctx: ControllerContext) {
    const scheduler = ctx.scheduler
    this.kindStart = scheduler.registerKind("k8s/kubelet-start", this)
    this.kindReady = scheduler.registerKind("k8s/kubelet-ready", this)
    this.kindExit = scheduler.registerKind("k8s/kubelet-exit", this)
    this.kindRemove = scheduler.registerKind("k8s/kubelet-remove", this)
  }

  handleEvent(kind: number, a: number): void {
    const record = this.ctx.pods[a]
    if (kind === this.kindStart) this.startPod(record)
    else if (kind === this.kindReady) this.markReady(record)
    else if (kind === this.kindExit) this.exitPod(record)
    else if (kind === this.kindRemove) this.removePod(record)
    else assert(false, `k8s/kubelet: unknown event kind ${kind}`)
  }

  /**
   * A pod was assigned to a node (bound, or created with spec.nodeName). The node's kubelet admits
   * it (canAdmitPod: the pod count check of lifecycle/predicate.go against the pods it already
   * admitted) and starts it after podStartupNs; past maxPods it rejects it as rejectPod does:
   * phase Failed, reason OutOfpods. Only pods that bypassed the scheduler can be rejected, since
   * the scheduler never binds past maxPods.
   */
  podAssigned(record: PodRecord): void {
    const ctx = this.ctx
    const nodeName = ctx.podOf(record)?.spec.nodeName
    const info = nodeName === undefined ? undefined : ctx.node(nodeName)
    if (nodeName !== undefined && info !== undefined) {
      const used = this.admittedOnNode.get(nodeName) ?? 0
      if (used + 1 > info.maxPods) {
        const message = `Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: ${used}, capacity: ${info.maxPods}`
        ctx.updatePod(record, (p) => ({ ...p, status: { ...p.status, phase: "Failed", reason: "OutOfpods", message } }))
        ctx.podFailed(record, nodeName)
        return
      }
      this.admitted.add(record.id)
      this.admittedOnNode.set(nodeName, used + 1)
    }
    ctx.scheduler.scheduleIn(ctx.timing.podStartupNs, this.kindStart, record.id, 0)
  }

  /** True while the pod's containers run (between start and exit). */
  isContainerRunning(namespace: string, name: string): boolean {
    const id = this.ctx.podIdByKey.get(objectKey(namespace, name))
    return id !== undefined && this.ctx.pods[id].running
  }

  /** Pod IP: hostNetwork -> node IP; bridge -> host-local on the node's pod CIDR; aws-vpc -> VPC subnet. */
  private allocatePodIp(record: PodRecord, pod: Pod, nodeName: string): Ipv4 | undefined {
    const info = this.ctx.node(nodeName)
    if (info === undefined) return undefined
    if (pod.spec.hostNetwork === true) return parseIpv4(info.ip)
    const allocator = this.ctx.vpcAllocator ?? this.ctx.podAllocators.get(nodeName)
    const ip = allocator?.allocate()
    if (ip !== undefined) {
      record.ip = ip
      record.ipNode = nodeName
    }
    return ip
  }

  private startPod(record: PodRecord): void {
    const ctx = this.ctx
    const pod = ctx.podOf(record)
    if (pod === undefined || pod.metadata.deletionTimestampNs !== undefined) return
    const nodeName = pod.spec.nodeName
    if (nodeName === undefined || ctx.node(nodeName) === undefined) return // no such kubelet: stays Pending
    const ip = this.allocatePodIp(record, pod, nodeName)
    if (ip === undefined) return // address pool exhausted: stays ContainerCreating
    const readyDelayNs = readinessDelayNs(pod)
    record.running = true
    const ready = readyDelayNs === 0
    if (ready) {
      record.ready = true
      record.readyAtNs = ctx.nowNs
    }
    const hostIP = ctx.node(nodeName)?.ip ?? ""
    const now = ctx.nowNs
    ctx.updatePod(record, (p) => ({
      ...p,
      status: {
        phase: "Running",
        podIP: formatIpv4(ip),
        hostIP,
        startTimeNs: now,
        conditions: podConditions(ready, now),
      },
    }))
    if (!ready) ctx.scheduler.scheduleIn(readyDelayNs, this.kindReady, record.id, 0)
  }

  private markReady(record: PodRecord): void {
    if (!record.running || record.ready) return
    const pod = this.ctx.podOf(record)
    if (pod === undefined) return
    record.ready = true
    record.readyAtNs = this.ctx.nowNs
    const now = this.ctx.nowNs
    this.ctx.updatePod(record, (p) => ({ ...p, status: { ...p.status, conditions: podConditions(true, now) } }))
  }

  /**
   * Graceful deletion: deletionTimestamp set now (endpoints turn terminating: ready=false,
   * serving=Ready, terminating=true); the container gets SIGTERM and exits after
   * exitAfterSigtermNs (or the pod's annotation), at most terminationGracePeriodSeconds (SIGKILL);
   * after exit the Ready condition drops (serving=false) and podRemovalAfterExitNs later the pod
   * object is deleted and its IP released. A pod that never started is deleted at once.
   */
  beginPodDeletion(record: PodRecord): void {
    const ctx = this.ctx
    const pod = ctx.podOf(record)
    if (pod === undefined || pod.metadata.deletionTimestampNs !== undefined) return
    const graceSeconds = pod.spec.terminationGracePeriodSeconds ?? TERMINATION_GRACE_PERIOD_SECONDS_DEFAULT
    if (!record.running) {
      ctx.updatePod(record, (p) => ({ ...p, metadata: { ...p.metadata, deletionTimestampNs: ctx.nowNs } }))
      this.removePod(record)
      return
    }
    ctx.updatePod(record, (p) => ({
      ...p,
      metadata: { ...p.metadata, deletionTimestampNs: ctx.nowNs + graceSeconds * NS_PER_S },
    }))
    const annotated = Number(pod.metadata.annotations?.[ANNOTATION_EXIT_AFTER_SIGTERM])
    const exitNs =
      Number.isFinite(annotated) && annotated >= 0 ? Math.round(annotated * NS_PER_S) : ctx.timing.exitAfterSigtermNs
    ctx.scheduler.scheduleIn(Math.min(exitNs, graceSeconds * NS_PER_S), this.kindExit, record.id, 0)
  }

  private exitPod(record: PodRecord): void {
    if (!record.running) return
    record.running = false
    record.ready = false
    const now = this.ctx.nowNs
    this.ctx.updatePod(record, (p) => ({ ...p, status: { ...p.status, conditions: podConditions(false, now) } }))
    this.ctx.scheduler.scheduleIn(this.ctx.timing.podRemovalAfterExitNs, this.kindRemove, record.id, 0)
  }

  private removePod(record: PodRecord): void {
    const ctx = this.ctx
    const pod = ctx.podOf(record)
    if (pod === undefined) return
    record.removed = true
    record.running = false
    record.ready = false
    if (record.ip !== undefined && record.ipNode !== undefined) {
      const allocator = ctx.vpcAllocator ?? ctx.podAllocators.get(record.ipNode)
      allocator?.release(record.ip)
    }
    const nodeName = pod.spec.nodeName
    if (this.admitted.delete(record.id) && nodeName !== undefined)
      this.admittedOnNode.set(nodeName, (this.admittedOnNode.get(nodeName) ?? 0) - 1)
    ctx.deletePod(record, pod)
  }
}

export function podConditions(ready: boolean, nowNs: number): PodCondition[] {
  const status = ready ? "True" : "False"
  return [
    { type: "Initialized", status: "True", lastTransitionTimeNs: nowNs },
    { type: "Ready", status, lastTransitionTimeNs: nowNs },
    { type: "ContainersReady", status, lastTransitionTimeNs: nowNs },
    { type: "PodScheduled", status: "True", lastTransitionTimeNs: nowNs },
  ]
}

/**
 * Container start -> Ready, from the readiness probes (kubelet prober worker): the worker probes
 * at start and every periodSeconds; results before initialDelaySeconds count as failures; Ready
 * after successThreshold consecutive successes. The probed server is assumed to answer (probe
 * failures are not modelled), so Ready comes at the first tick >= initialDelaySeconds plus
 * (successThreshold - 1) periods; all containers must be ready (max over containers). The worker's
 * start jitter (only right after kubelet restart) and probe round-trip time are not modelled.
 */
export function readinessDelayNs(pod: Pod): number {
  let delayNs = 0
  for (const container of pod.spec.containers) {
    const probe = container.readinessProbe
    if (probe === undefined) continue
    const period = probe.periodSeconds ?? PROBE_PERIOD_SECONDS_DEFAULT
    const initial = probe.initialDelaySeconds ?? 0
    const successes = probe.successThreshold ?? PROBE_SUCCESS_THRESHOLD_DEFAULT
    const seconds = Math.ceil(initial / period) * period + (successes - 1) * period
    delayNs = Math.max(delayNs, seconds * NS_PER_S)
  }
  return delayNs
}
