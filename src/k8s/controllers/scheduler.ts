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
 *
 * Cost per pod independent of the node count: a pod without a nodeSelector (every pod of most
 * scenarios) takes its node from a min-heap of the nodes with room, keyed (pods on the node, list
 * position): the same node the filter-and-scan picks (fewest pods, ties by name), in O(log nodes).
 * A pod with a nodeSelector, or one no node has room for (its FitError histogram counts every
 * node), is placed by the full scan, as before. Upstream samples nodes instead
 * (percentageOfNodesToScore, pkg/scheduler/schedule_one.go numFeasibleNodesToFind: 50% at 100
 * nodes falling to 5% from 5,000) and picks randomly among equal scores; this keeps the
 * deterministic choice of every node count unchanged.
 */
import { assert } from "../../sim/assert.ts"
import { EMPTY_F64, EMPTY_I32 } from "../../sim/empty.ts"
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
  /** The nodes in `list` order and the heap of those with room (built on first use; nodes are static). */
  private roomy: NodeHeap | null = null
  /** Nodes looked at by placements (a performance invariant: per pod, not per pod x node). */
  nodesExamined = 0

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
    const count = (this.podsOnNode.get(nodeName) ?? 0) + 1
    this.podsOnNode.set(nodeName, count)
    this.roomy?.update(nodeName, count)
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
    const count = (this.podsOnNode.get(nodeName) ?? 0) - 1
    this.podsOnNode.set(nodeName, count)
    this.roomy?.update(nodeName, count)
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
    if (pod.spec.nodeSelector === undefined) {
      const heap = this.nodeHeap()
      const best = heap.top()
      this.nodesExamined++
      if (best !== undefined) return best
    }
    let best: Node | undefined
    let bestCount = 0
    for (const node of this.ctx.store.list("Node")) {
      this.nodesExamined++
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

  private nodeHeap(): NodeHeap {
    const count = this.ctx.store.count("Node")
    if (this.roomy === null || this.roomy.size !== count) {
      this.roomy = new NodeHeap(this.ctx.store.list("Node"))
      for (const [name, pods] of this.podsOnNode) this.roomy.update(name, pods)
    }
    return this.roomy
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

/**
 * The schedulable nodes with room for one more pod (pods + 1 <= allocatable), as a binary min-heap
 * keyed (pods on the node, position in `list` order): its top is the node the scan picks for a pod
 * without a nodeSelector. Node objects do not change at run time; only the counts do.
 */
class NodeHeap {
  private readonly nodes: readonly Node[]
  private readonly positionByName = new Map<string, number>()
  // The columns start as arrays of their kind (the constructor sizes them): see sim/empty.ts.
  private readonly counts: Int32Array = EMPTY_I32
  private readonly capacity: Float64Array = EMPTY_F64
  /** Heap of node positions; slotOf[position] = index in heap, -1 when not in it. */
  private readonly heap: Int32Array = EMPTY_I32
  private readonly slotOf: Int32Array = EMPTY_I32
  private length = 0

  constructor(nodes: readonly Node[]) {
    this.nodes = nodes
    const n = nodes.length
    this.counts = new Int32Array(n)
    this.capacity = new Float64Array(n)
    this.heap = new Int32Array(n)
    this.slotOf = new Int32Array(n).fill(-1)
    nodes.forEach((node, i) => {
      this.positionByName.set(node.metadata.name, i)
      this.capacity[i] = node.spec.unschedulable === true ? 0 : allocatablePods(node)
      if (this.counts[i] + 1 <= this.capacity[i]) this.insert(i)
    })
  }

  get size(): number {
    return this.nodes.length
  }

  top(): Node | undefined {
    return this.length === 0 ? undefined : this.nodes[this.heap[0]]
  }

  update(name: string, count: number): void {
    const i = this.positionByName.get(name)
    if (i === undefined) return
    this.counts[i] = count
    const roomy = count + 1 <= this.capacity[i]
    const slot = this.slotOf[i]
    if (slot < 0) {
      if (roomy) this.insert(i)
      return
    }
    if (!roomy) {
      this.removeAt(slot)
      return
    }
    this.siftUp(slot)
    this.siftDown(this.slotOf[i])
  }

  private less(a: number, b: number): boolean {
    return this.counts[a] < this.counts[b] || (this.counts[a] === this.counts[b] && a < b)
  }

  private place(slot: number, position: number): void {
    this.heap[slot] = position
    this.slotOf[position] = slot
  }

  private insert(position: number): void {
    this.place(this.length++, position)
    this.siftUp(this.length - 1)
  }

  private removeAt(slot: number): void {
    const removed = this.heap[slot]
    const last = this.heap[--this.length]
    this.slotOf[removed] = -1
    if (slot === this.length) return
    this.place(slot, last)
    this.siftUp(slot)
    this.siftDown(this.slotOf[last])
  }

  private siftUp(slot: number): void {
    const position = this.heap[slot]
    while (slot > 0) {
      const parent = (slot - 1) >> 1
      if (!this.less(position, this.heap[parent])) break
      this.place(slot, this.heap[parent])
      slot = parent
    }
    this.place(slot, position)
  }

  private siftDown(slot: number): void {
    const position = this.heap[slot]
    for (;;) {
      let child = 2 * slot + 1
      if (child >= this.length) break
      if (child + 1 < this.length && this.less(this.heap[child + 1], this.heap[child])) child++
      if (!this.less(this.heap[child], position)) break
      this.place(slot, this.heap[child])
      slot = child
    }
    this.place(slot, position)
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
