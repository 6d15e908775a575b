/**
 * The ReplicaSet controller (pkg/controller/replicaset): keeps spec.replicas active pods per
 * ReplicaSet, creating missing ones and deleting surplus ones in upstream's ranking order, and
 * writes ReplicaSet and Deployment status. One sync per ReplicaSet key, coalesced while pending,
 * controllerSyncNs after the change (pod creates, updates and deletes of its pods enqueue it, as
 * the pod informer's handlers do).
 *
 * Bounded work, as upstream (replica_set.go manageReplicas):
 * - one sync creates or deletes at most burstReplicas (500) pods;
 * - expectations: while creates or deletes of the last sync are still outstanding, a sync only
 *   writes status (rsNeedsSync false); the next burst starts with the sync after the last one;
 * - every create and delete is an API request through the controller's client, whose token bucket
 *   (kube-controller-manager --kube-api-qps 20, --kube-api-burst 30) spaces them: 30 at once, then
 *   one per 50 ms. So a Deployment of 10,000,000 replicas gets about 20 pods per simulated second,
 *   as on a real cluster, and never 10,000,000 objects in a short run.
 * slowStartBatch's batches (1, 2, 4, ...) only change the outcome when a create fails (the rest of
 * the burst is skipped); no create fails here (limits.pods stops the run), so creates simply go
 * one after another as the client releases them. Status writes do not take tokens here.
 */
import { assert } from "../../sim/assert.ts"
import type { EventHandler } from "../../sim/scheduler.ts"
import { CONTROLLER_CLIENT_BURST_DEFAULT, CONTROLLER_CLIENT_QPS_DEFAULT, TokenBucket } from "../capacity.ts"
import { isPodReady, sameData } from "../endpoints.ts"
import { generateName } from "../names.ts"
import { NS_PER_S } from "../../sim/time.ts"
import { objectKey } from "../store.ts"
import type { Deployment, OwnerReference, Pod, ReplicaSet } from "../types.ts"
import { KeyIds, splitKey, type ControllerContext, type PodRecord } from "./context.ts"
import type { Kubelet } from "./kubelet.ts"

export const ANNOTATION_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
/** replicaset.BurstReplicas: at most this many creates or deletes per sync. */
export const BURST_REPLICAS = 500

export class ReplicaSetController implements EventHandler {
  private readonly kindReplicaSetSync: number
  private readonly kindCreate: number
  private readonly kindDelete: number
  private readonly replicaSetIds = new KeyIds()
  private readonly pendingReplicaSet = new Set<number>()
  /** Per ReplicaSet id: creates of the current burst not yet issued (expectations). */
  private readonly createsLeft: number[] = []
  /** Per ReplicaSet id: deletes waiting for a client token (expectations). */
  private readonly deletesLeft: number[] = []
  /** The controller's API client rate limit. */
  private readonly client: TokenBucket
  /** The Deployment controller, told about its ReplicaSets' status changes (set by it). */
  deployments: { enqueueDeployment(key: string): void } | null = null

  constructor(
    private readonly ctx: ControllerContext,
    private readonly kubelet: Kubelet,
  ) {
    this.kindReplicaSetSync = ctx.scheduler.registerKind("k8s/replicaset-sync", this)
    this.kindCreate = ctx.scheduler.registerKind("k8s/replicaset-create", this)
    this.kindDelete = ctx.scheduler.registerKind("k8s/replicaset-delete", this)
    this.client = new TokenBucket(
      ctx.config.controllerClientQps ?? CONTROLLER_CLIENT_QPS_DEFAULT,
      ctx.config.controllerClientBurst ?? CONTROLLER_CLIENT_BURST_DEFAULT,
    )
  }

  handleEvent(kind: number, a: number, b: number): void {
    if (kind === this.kindReplicaSetSync) {
      this.pendingReplicaSet.delete(a)
      this.syncReplicaSet(this.replicaSetIds.keys[a])
    } else if (kind === this.kindCreate) {
      // The create whose token this event waited for, then the rest of the burst.
      const [namespace, name] = splitKey(this.replicaSetIds.keys[a])
      const replicaSet = this.ctx.store.get("ReplicaSet", namespace, name)
      if (replicaSet === undefined) this.createsLeft[a] = 0
      else {
        this.createsLeft[a]--
        this.createPod(replicaSet)
        this.issueCreates(a)
      }
    } else if (kind === this.kindDelete) {
      this.deletesLeft[b]--
      this.kubelet.beginPodDeletion(this.ctx.pods[a])
    } else assert(false, `k8s/replicaset: unknown event kind ${kind}`)
  }

  enqueueReplicaSet(key: string): void {
    const id = this.replicaSetIds.id(key)
    if (this.pendingReplicaSet.has(id)) return
    this.pendingReplicaSet.add(id)
    this.ctx.scheduler.scheduleIn(this.ctx.timing.controllerSyncNs, this.kindReplicaSetSync, id, 0)
  }

  enqueueOwner(pod: Pod): void {
    const owner = pod.metadata.ownerReferences?.find((o) => o.controller === true && o.kind === "ReplicaSet")
    if (owner !== undefined) this.enqueueReplicaSet(objectKey(pod.metadata.namespace ?? "default", owner.name))
  }

  ownedReplicaSets(deployment: Deployment): ReplicaSet[] {
    const namespace = deployment.metadata.namespace ?? "default"
    // The owner index, not a scan of the namespace's ReplicaSets (same ones, same order).
    return this.ctx.store.ownedBy("ReplicaSet", namespace, deployment.metadata.uid)
  }

  /**
   * A pod was removed from the store: a Recreate Deployment left without any pod may now create
   * its new ReplicaSet (deployment_controller.go deletePod: enqueue when numPods == 0).
   */
  podGone(pod: Pod): void {
    const namespace = pod.metadata.namespace ?? "default"
    const owner = pod.metadata.ownerReferences?.find((o) => o.controller === true && o.kind === "ReplicaSet")
    if (owner === undefined || this.deployments === null) return
    const replicaSet = this.ctx.store.get("ReplicaSet", namespace, owner.name)
    const dOwner = replicaSet?.metadata.ownerReferences?.find((o) => o.controller === true && o.kind === "Deployment")
    if (dOwner === undefined) return
    const deployment = this.ctx.store.get("Deployment", namespace, dOwner.name)
    if (deployment === undefined || deployment.spec.strategy?.type !== "Recreate") return
    for (const rs of this.ownedReplicaSets(deployment)) if (this.ownedPods(rs).length > 0) return
    this.deployments.enqueueDeployment(objectKey(namespace, dOwner.name))
  }

  /** Has the ReplicaSet a pod that has not ended (Succeeded/Failed), terminating ones included? */
  hasUnfinishedPods(replicaSet: ReplicaSet): boolean {
    return this.ownedPods(replicaSet).some((record) => {
      const phase = this.ctx.podOf(record)?.status?.phase
      return phase !== "Succeeded" && phase !== "Failed"
    })
  }

  deleteReplicaSet(replicaSet: ReplicaSet): void {
    const namespace = replicaSet.metadata.namespace ?? "default"
    this.ctx.store.delete("ReplicaSet", namespace, replicaSet.metadata.name)
    for (const record of this.ownedPods(replicaSet)) this.kubelet.beginPodDeletion(record)
  }

  private ownedPods(replicaSet: ReplicaSet): PodRecord[] {
    const namespace = replicaSet.metadata.namespace ?? "default"
    const out: PodRecord[] = []
    // The owner index, not a scan of the namespace's Pods (same pods, same order).
    for (const pod of this.ctx.store.ownedBy("Pod", namespace, replicaSet.metadata.uid)) {
      const id = this.ctx.podIdByKey.get(objectKey(namespace, pod.metadata.name))
      if (id !== undefined) out.push(this.ctx.pods[id])
    }
    return out
  }

  /**
   * ReplicaSet controller manageReplicas: active pods (not terminating, not terminal) are counted;
   * up to burstReplicas missing ones are created, or surplus ones deleted in `deletionOrder`, each
   * when the client's token bucket lets the request go. Pods are named generateName("<rs>-"); a
   * name clash (possible with 27^5 names) draws again instead of failing the create and retrying.
   */
  private syncReplicaSet(key: string): void {
    const [namespace, name] = splitKey(key)
    const replicaSet = this.ctx.store.get("ReplicaSet", namespace, name)
    if (replicaSet === undefined) return
    const id = this.replicaSetIds.id(key)
    if ((this.createsLeft[id] ?? 0) > 0 || (this.deletesLeft[id] ?? 0) > 0) {
      // Expectations not satisfied: the last burst is still going out.
      this.updateReplicaSetStatus(namespace, name)
      return
    }
    const active = this.ownedPods(replicaSet).filter((record) => {
      const pod = this.ctx.podOf(record)
      return (
        pod !== undefined &&
        pod.metadata.deletionTimestampNs === undefined &&
        pod.status?.phase !== "Succeeded" &&
        pod.status?.phase !== "Failed"
      )
    })
    const desired = replicaSet.spec.replicas ?? 1
    if (active.length < desired) {
      this.createsLeft[id] = Math.min(desired - active.length, BURST_REPLICAS)
      this.issueCreates(id)
    } else if (active.length > desired) {
      const victims = this.deletionOrder(active, replicaSet).slice(0, Math.min(active.length - desired, BURST_REPLICAS))
      for (const record of victims) {
        const waitNs = this.client.reserve(this.ctx.nowNs)
        if (waitNs === 0) this.kubelet.beginPodDeletion(record)
        else {
          this.deletesLeft[id] = (this.deletesLeft[id] ?? 0) + 1
          this.ctx.scheduler.scheduleIn(waitNs, this.kindDelete, record.id, id)
        }
      }
    }
    this.updateReplicaSetStatus(namespace, name)
  }

  /** Issues the burst's creates while the client has tokens; then waits for the next token. */
  private issueCreates(id: number): void {
    const [namespace, name] = splitKey(this.replicaSetIds.keys[id])
    while ((this.createsLeft[id] ?? 0) > 0) {
      const replicaSet = this.ctx.store.get("ReplicaSet", namespace, name)
      if (replicaSet === undefined) {
        this.createsLeft[id] = 0
        return
      }
      const waitNs = this.client.reserve(this.ctx.nowNs)
      if (waitNs > 0) {
        this.ctx.scheduler.scheduleIn(waitNs, this.kindCreate, id, 0)
        return
      }
      this.createsLeft[id]--
      this.createPod(replicaSet)
    }
  }

  private createPod(replicaSet: ReplicaSet): void {
    const namespace = replicaSet.metadata.namespace ?? "default"
    const name = replicaSet.metadata.name
    const rng = this.ctx.rng(`k8s/replicaset/${namespace}/${name}/names`)
    const template = replicaSet.spec.template
    const owner: OwnerReference = {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      name,
      uid: replicaSet.metadata.uid ?? "",
      controller: true,
    }
    let podName = generateName(`${name}-`, rng)
    while (this.ctx.store.get("Pod", namespace, podName) !== undefined) podName = generateName(`${name}-`, rng)
    const metadata: Pod["metadata"] = { name: podName, namespace, generateName: `${name}-`, ownerReferences: [owner] }
    if (template.metadata?.labels !== undefined) metadata.labels = { ...template.metadata.labels }
    if (template.metadata?.annotations !== undefined) metadata.annotations = { ...template.metadata.annotations }
    // The template's spec object itself: API objects are immutable values (store.ts; every write
    // copies what it changes, as the scheduler's bind copies spec), so pods share it instead of a
    // deep copy each (150,000 pods at the cluster-scale bench).
    this.ctx.createPod({ apiVersion: "v1", kind: "Pod", metadata, spec: template.spec })
  }

  private updateReplicaSetStatus(namespace: string, name: string): void {
    const replicaSet = this.ctx.store.get("ReplicaSet", namespace, name)
    if (replicaSet === undefined) return
    const pods = this.ownedPods(replicaSet)
      .map((r) => this.ctx.podOf(r))
      .filter((p): p is Pod => p !== undefined && p.metadata.deletionTimestampNs === undefined)
    // calculateStatus: available = Ready for at least minReadySeconds (podutil.IsPodAvailable).
    const minReadyNs = (replicaSet.spec.minReadySeconds ?? 0) * NS_PER_S
    let readyReplicas = 0
    let availableReplicas = 0
    for (const pod of pods) {
      if (!isPodReady(pod)) continue
      readyReplicas++
      const record = this.ctx.pods[this.ctx.podIdByKey.get(objectKey(namespace, pod.metadata.name)) ?? -1]
      if (minReadyNs === 0 || (record !== undefined && record.readyAtNs + minReadyNs <= this.ctx.nowNs))
        availableReplicas++
    }
    const status = { replicas: pods.length, readyReplicas, availableReplicas }
    const changed = !sameData(status, replicaSet.status)
    if (changed) this.ctx.store.put("ReplicaSet", { ...replicaSet, status })
    // syncReplicaSet: all ready but not yet all available: look again once minReadySeconds passed.
    const desired = replicaSet.spec.replicas ?? 1
    if (minReadyNs > 0 && readyReplicas === desired && availableReplicas !== desired) {
      const id = this.replicaSetIds.id(objectKey(namespace, name))
      if (!this.pendingReplicaSet.has(id)) {
        this.pendingReplicaSet.add(id)
        this.ctx.scheduler.scheduleIn(minReadyNs, this.kindReplicaSetSync, id, 0)
      }
    }
    const owner = replicaSet.metadata.ownerReferences?.find((o) => o.kind === "Deployment")
    if (owner === undefined) return
    const deployment = this.ctx.store.get("Deployment", namespace, owner.name)
    if (deployment === undefined) return
    // deployment_controller.go updateReplicaSet: a controlled ReplicaSet's update enqueues its owner.
    if (changed) this.deployments?.enqueueDeployment(objectKey(namespace, owner.name))
    let replicas = 0
    let ready = 0
    let availableSum = 0
    for (const rs of this.ownedReplicaSets(deployment)) {
      replicas += rs.status?.replicas ?? 0
      ready += rs.status?.readyReplicas ?? 0
      availableSum += rs.status?.availableReplicas ?? 0
    }
    const deploymentStatus = { replicas, readyReplicas: ready, availableReplicas: availableSum }
    if (!sameData(deploymentStatus, deployment.status))
      this.ctx.store.put("Deployment", { ...deployment, status: deploymentStatus })
  }

  /**
   * Scale-down victims first, after pkg/controller/controller_utils.go ActivePodsWithRanks.Less
   * (with ranks from getPodsRankedByRelatedPodsOnSameNode):
   *   1. unassigned before assigned; 2. Pending before Running; 3. not ready before ready;
   *   4. lower controller.kubernetes.io/pod-deletion-cost first; 5. more related pods on the same
   *   node first; 6. ready more recently first; 7. (restart counts: always 0 here);
   *   8. created more recently first.
   * Upstream compares 6 and 8 on a log2 scale (LogarithmicScaleDown) and leaves remaining ties to
   * an unstable sort; we compare exact times and break ties by pod name.
   */
  private deletionOrder(records: readonly PodRecord[], replicaSet: ReplicaSet): PodRecord[] {
    const onNode = new Map<string, number>()
    for (const record of records) {
      const node = this.ctx.podOf(record)?.spec.nodeName ?? ""
      onNode.set(node, (onNode.get(node) ?? 0) + 1)
    }
    void replicaSet
    const info = records.map((record) => {
      const pod = this.ctx.podOf(record)
      const nodeName = pod?.spec.nodeName
      const phase = pod?.status?.phase ?? "Pending"
      const cost = Number(pod?.metadata.annotations?.[ANNOTATION_DELETION_COST] ?? "0")
      return {
        record,
        assigned: nodeName === undefined ? 0 : 1,
        phase: phase === "Pending" ? 0 : phase === "Unknown" ? 1 : 2,
        ready: record.ready ? 1 : 0,
        cost: Number.isFinite(cost) ? cost : 0,
        rank: onNode.get(nodeName ?? "") ?? 0,
        readyAtNs: record.ready ? record.readyAtNs : 0,
        createdNs: pod?.metadata.creationTimestampNs ?? 0,
      }
    })
    info.sort(
      (a, b) =>
        a.assigned - b.assigned ||
        a.phase - b.phase ||
        a.ready - b.ready ||
        a.cost - b.cost ||
        b.rank - a.rank ||
        b.readyAtNs - a.readyAtNs ||
        b.createdNs - a.createdNs ||
        (a.record.name < b.record.name ? -1 : a.record.name > b.record.name ? 1 : 0),
    )
    return info.map((i) => i.record)
  }
}
