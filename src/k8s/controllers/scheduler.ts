/**
 * kube-scheduler (pkg/scheduler): binds each unassigned pod to a node after schedulerBindNs.
 * Deterministic node choice (see `pickNode`); a pod no node fits stays Pending with
 * PodScheduled=False, reason Unschedulable, and upstream's message.
 */
import { assert } from "../../sim/assert.ts"
import type { EventHandler } from "../../sim/scheduler.ts"
import { matchesSelector } from "../labels.ts"
import type { Node, Pod } from "../types.ts"
import type { ControllerContext, PodRecord } from "./context.ts"

export class KubeScheduler implements EventHandler {
  private readonly kindBind: number

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

  /**
   * Node choice: nodes whose labels match spec.nodeSelector; among them the one with the fewest
   * non-terminated pods, ties by node name. The real kube-scheduler scores with several plugins
   * (NodeResourcesFit LeastAllocated, PodTopologySpread, ImageLocality, ...) and picks randomly
   * among equal top scores; for identical pods without resource requests its outcome is close to
   * "spread evenly", which this reproduces deterministically.
   */
  private pickNode(pod: Pod): Node | undefined {
    const counts = new Map<string, number>()
    for (const other of this.ctx.store.list("Pod")) {
      const node = other.spec.nodeName
      if (node === undefined || other.status?.phase === "Succeeded" || other.status?.phase === "Failed") continue
      counts.set(node, (counts.get(node) ?? 0) + 1)
    }
    let best: Node | undefined
    for (const node of this.ctx.store.list("Node")) {
      if (node.spec.unschedulable === true) continue
      if (pod.spec.nodeSelector !== undefined && !matchesSelector({ matchLabels: pod.spec.nodeSelector }, node.metadata.labels)) continue
      if (best === undefined || (counts.get(node.metadata.name) ?? 0) < (counts.get(best.metadata.name) ?? 0)) best = node
    }
    return best
  }

  private bindPod(record: PodRecord): void {
    const ctx = this.ctx
    const pod = ctx.podOf(record)
    if (pod === undefined || pod.metadata.deletionTimestampNs !== undefined) return
    const node = this.pickNode(pod)
    const nodeCount = ctx.store.count("Node")
    if (node === undefined) {
      const message = `0/${nodeCount} nodes are available: ${nodeCount} node(s) didn't match Pod's node affinity/selector.`
      ctx.updatePod(record, (p) => ({ ...p, status: { ...p.status, phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message, lastTransitionTimeNs: ctx.nowNs }] } }))
      return
    }
    ctx.updatePod(record, (p) => ({
      ...p,
      spec: { ...p.spec, nodeName: node.metadata.name },
      status: { ...p.status, phase: "Pending", conditions: [{ type: "PodScheduled", status: "True", lastTransitionTimeNs: ctx.nowNs }] },
    }))
    ctx.podBound(record)
  }
}
