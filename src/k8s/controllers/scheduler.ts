/**
 * kube-scheduler (pkg/scheduler): binds each unassigned pod to a node after schedulerBindNs.
 *
 * Filters, as the default plugins do for the pods modelled here: NodeUnschedulable
 * (spec.unschedulable), NodeAffinity (spec.nodeSelector) and NodeResourcesFit's pod count (the
 * node's non-terminated pods + 1 <= allocatable pods, i.e. kubelet maxPods; a terminating pod
 * still counts until its object is deleted, as in the scheduler's NodeInfo). A pod no node passes
 * stays Pending with PodScheduled=False, reason Unschedulable, and upstream's FitError message
 * ("0/3 nodes are available: 3 Too many pods."), and waits in the unschedulable queue.
 *
 * Re-queueing: upstream moves unschedulable pods back to the active queue on cluster events that
 * may make them schedulable (here: a pod bound to a node is deleted; nodes do not change at run
 * time). Each freed slot on node N re-queues the first waiting pod (queue order) that N's labels
 * and schedulability admit: only N gained room since that pod failed, so only such a pod can now
 * fit, and one slot fits one pod. This gives upstream's outcome (the oldest fitting pod binds)
 * without retrying every waiting pod per deletion; the 5-minute flush of the unschedulable queue
 * (podMaxInUnschedulablePodsDuration) is not modelled, since a retry without a capacity change
 * fails again. Backoff (1 s doubling to 10 s per failed attempt) is not modelled either: a
 * re-queued pod binds schedulerBindNs later.
 */
import { assert } from "../../sim/assert.ts"
import type { EventHandler } from "../../sim/scheduler.ts"
import { matchesSelector } from "../labels.ts"
import type { Node, Pod } from "../types.ts"
import type { ControllerContext, PodRecord } from "./context.ts"

const REASON_UNSCHEDULABLE = "node(s) were unschedulable"
const REASON_SELECTOR = "node(s) didn't match Pod's node affinity/selector"
const REASON_TOO_MANY_PODS = "Too many pods"

export class KubeScheduler implements EventHandler {
  private readonly kindBind: number
  /** Non-terminated pods bound to each node (pod objects with spec.nodeName). */
  private readonly podsOnNode = new Map<string, number>()
  /** Unschedulable pods by record id, in the order they failed (Set keeps insertion order). */
  private readonly unschedulable = new Set<number>()

  constructor(private readonly ctx: ControllerContext) {
    this.kindBind = ctx.scheduler.registerKind("k8s/scheduler-bind", this)
  }

  handleEvent(kind: number, a: number): void {
    if (kind === this.kindBind) this.bindPod(this.ctx.pods[a])
    else assert(false, `k8s/scheduler: unknown event kind ${kind}`)
  }

  /** A new unassigned pod enters the scheduling queue. */
  enqueue(record: PodRecord): void {
    this.ctx.scheduler.scheduleIn(this.ctx.timing.schedulerBindNs, this.kindBind, record.id, 0)
  }

  /** Pods waiting in the unschedulable queue. */
  get unschedulableCount(): number {
    return this.unschedulable.size
  }

  /** A pod object now occupies a slot on `nodeName` (bound, or created with spec.nodeName). */
  podAssigned(nodeName: string): void {
    this.podsOnNode.set(nodeName, (this.podsOnNode.get(nodeName) ?? 0) + 1)
  }

  /** A pod object was deleted: its slot frees (if it had one), or it leaves the waiting queue. */
  podDeleted(record: PodRecord, pod: Pod): void {
    this.unschedulable.delete(record.id)
    const nodeName = pod.spec.nodeName
    // A terminal pod gave its slot back when it ended (the scheduler's cache drops terminal pods).
    if (nodeName === undefined || pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded") return
    this.slotFreed(nodeName)
  }

  /** A pod on `nodeName` ended or was deleted: re-queue the oldest waiting pod that fits there. */
  slotFreed(nodeName: string): void {
    this.podsOnNode.set(nodeName, (this.podsOnNode.get(nodeName) ?? 0) - 1)
    const node = this.ctx.store.get("Node", "", nodeName)
    if (node === undefined || node.spec.unschedulable === true) return
    for (const id of this.unschedulable) {
      const waiting = this.ctx.podOf(this.ctx.pods[id])
      if (waiting === undefined || waiting.metadata.deletionTimestampNs !== undefined) {
        this.unschedulable.delete(id)
        continue
      }
      if (!selectorMatches(waiting, node)) continue
      this.unschedulable.delete(id)
      this.enqueue(this.ctx.pods[id])
      return
    }
  }

  /**
   * Node choice: the nodes that pass the filters; among them the one with the fewest
   * non-terminated pods, ties by node name. The real kube-scheduler scores with several plugins
   * (NodeResourcesFit LeastAllocated, PodTopologySpread, ImageLocality, ...) and picks randomly
   * among equal top scores; for identical pods without resource requests its outcome is close to
   * "spread evenly", which this reproduces deterministically. `reasons` collects, per filter
   * failure, how many nodes failed it (the FitError histogram).
   */
  private pickNode(pod: Pod, reasons: Map<string, number>): Node | undefined {
    let best: Node | undefined
    let bestCount = 0
    for (const node of this.ctx.store.list("Node")) {
      let reason: string | undefined
      const count = this.podsOnNode.get(node.metadata.name) ?? 0
      if (node.spec.unschedulable === true) reason = REASON_UNSCHEDULABLE
      else if (!selectorMatches(pod, node)) reason = REASON_SELECTOR
      else if (count + 1 > allocatablePods(node)) reason = REASON_TOO_MANY_PODS
      if (reason !== undefined) {
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
        continue
      }
      if (best === undefined || count < bestCount) {
        best = node
        bestCount = count
      }
    }
    return best
  }

  private bindPod(record: PodRecord): void {
    const ctx = this.ctx
    const pod = ctx.podOf(record)
    if (pod === undefined || pod.metadata.deletionTimestampNs !== undefined) return
    const reasons = new Map<string, number>()
    const node = this.pickNode(pod, reasons)
    if (node === undefined) {
      const message = fitErrorMessage(ctx.store.count("Node"), reasons)
      this.unschedulable.add(record.id)
      ctx.updatePod(record, (p) => ({
        ...p,
        status: {
          ...p.status,
          phase: "Pending",
          conditions: [
            {
              type: "PodScheduled",
              status: "False",
              reason: "Unschedulable",
              message,
              lastTransitionTimeNs: ctx.nowNs,
            },
          ],
        },
      }))
      return
    }
    this.podAssigned(node.metadata.name)
    ctx.updatePod(record, (p) => ({
      ...p,
      spec: { ...p.spec, nodeName: node.metadata.name },
      status: {
        ...p.status,
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "True", lastTransitionTimeNs: ctx.nowNs }],
      },
    }))
    ctx.podBound(record)
  }
}

function selectorMatches(pod: Pod, node: Node): boolean {
  return (
    pod.spec.nodeSelector === undefined || matchesSelector({ matchLabels: pod.spec.nodeSelector }, node.metadata.labels)
  )
}

/** The node's allocatable pods (status.allocatable.pods, written from kubelet maxPods). */
function allocatablePods(node: Node): number {
  const text = node.status?.allocatable?.pods
  return text === undefined ? Number.POSITIVE_INFINITY : Number(text)
}

/**
 * FitError.Error() (pkg/scheduler/framework/types.go): "0/N nodes are available: " then the
 * reasons histogram as "<count> <reason>" strings, sorted as strings and joined by ", ", then ".".
 */
export function fitErrorMessage(nodeCount: number, reasons: ReadonlyMap<string, number>): string {
  const histogram = [...reasons].map(([reason, count]) => `${count} ${reason}`).sort()
  return `0/${nodeCount} nodes are available: ${histogram.join(", ")}.`
}
