/**
 * The Deployment controller (pkg/controller/deployment): one ReplicaSet per pod template, named
 * after its pod-template-hash. One sync per Deployment key, coalesced while pending,
 * controllerSyncNs after the change.
 */
import { assert } from "../../sim/assert.ts"
import type { EventHandler } from "../../sim/scheduler.ts"
import { computeHash } from "../names.ts"
import { objectKey } from "../store.ts"
import { LABEL_POD_TEMPLATE_HASH, type OwnerReference } from "../types.ts"
import { KeyIds, splitKey, type ControllerContext } from "./context.ts"
import type { ReplicaSetController } from "./replicaset.ts"

export class DeploymentController implements EventHandler {
  private readonly kindDeploymentSync: number
  private readonly deploymentIds = new KeyIds()
  private readonly pendingDeployment = new Set<number>()

  constructor(
    private readonly ctx: ControllerContext,
    private readonly replicaSets: ReplicaSetController,
  ) {
    this.kindDeploymentSync = ctx.scheduler.registerKind("k8s/deployment-sync", this)
  }

  handleEvent(kind: number, a: number): void {
    assert(kind === this.kindDeploymentSync, `k8s/deployment: unknown event kind ${kind}`)
    this.pendingDeployment.delete(a)
    this.syncDeployment(this.deploymentIds.keys[a])
  }

  enqueueDeployment(key: string): void {
    const id = this.deploymentIds.id(key)
    if (this.pendingDeployment.has(id)) return
    this.pendingDeployment.add(id)
    this.ctx.scheduler.scheduleIn(this.ctx.timing.controllerSyncNs, this.kindDeploymentSync, id, 0)
  }

  /**
   * Deployment controller: the ReplicaSet for the current template is `<name>-<pod-template-hash>`
   * (ComputeHash of the template, collisionCount 0) with the hash added to its selector, template
   * labels and own labels. Replicas follow spec.replicas (default 1). A changed template gets a new
   * ReplicaSet and older ones are scaled to 0 at once (Recreate-like; RollingUpdate's surge and
   * unavailability budget is not modelled).
   */
  private syncDeployment(key: string): void {
    const [namespace, name] = splitKey(key)
    const deployment = this.ctx.store.get("Deployment", namespace, name)
    if (deployment === undefined) return
    const hash = computeHash(deployment.spec.template)
    const replicas = deployment.spec.replicas ?? 1
    const rsName = `${name}-${hash}`
    const owned = this.replicaSets.ownedReplicaSets(deployment)
    for (const old of owned) {
      if (old.metadata.name !== rsName && (old.spec.replicas ?? 1) !== 0) {
        this.ctx.store.put("ReplicaSet", { ...old, spec: { ...old.spec, replicas: 0 } })
        this.replicaSets.enqueueReplicaSet(objectKey(namespace, old.metadata.name))
      }
    }
    const current = this.ctx.store.get("ReplicaSet", namespace, rsName)
    if (current === undefined) {
      const templateLabels = { ...deployment.spec.template.metadata?.labels, [LABEL_POD_TEMPLATE_HASH]: hash }
      const template = {
        ...deployment.spec.template,
        metadata: { ...deployment.spec.template.metadata, labels: templateLabels },
      }
      const selector = {
        ...deployment.spec.selector,
        matchLabels: { ...deployment.spec.selector.matchLabels, [LABEL_POD_TEMPLATE_HASH]: hash },
      }
      const owner: OwnerReference = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name,
        uid: deployment.metadata.uid ?? "",
        controller: true,
      }
      this.ctx.store.put("ReplicaSet", {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: {
          name: rsName,
          namespace,
          labels: templateLabels,
          ownerReferences: [owner],
          uid: this.ctx.newUid(),
          creationTimestampNs: this.ctx.nowNs,
        },
        spec: { replicas, selector, template },
      })
      this.replicaSets.enqueueReplicaSet(objectKey(namespace, rsName))
    } else if ((current.spec.replicas ?? 1) !== replicas) {
      this.ctx.store.put("ReplicaSet", { ...current, spec: { ...current.spec, replicas } })
      this.replicaSets.enqueueReplicaSet(objectKey(namespace, rsName))
    }
  }
}
