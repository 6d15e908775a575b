/**
 * The Deployment controller (pkg/controller/deployment): one ReplicaSet per pod template, named
 * after its pod-template-hash, rolled out by the Deployment's strategy as upstream does it. One sync
 * per Deployment key, coalesced while pending, controllerSyncNs after the change; ReplicaSet status
 * changes and (Recreate) the last pod's removal enqueue it, as the informer handlers do
 * (deployment_controller.go updateReplicaSet, deletePod).
 *
 * syncDeployment's order (deployment_controller.go): a scaling event (an active ReplicaSet's
 * desired-replicas annotation differs from spec.replicas) goes to `sync` (sync.go scale:
 * proportional scaling while a rollout is in progress); otherwise the strategy's rollout:
 * - RollingUpdate (default; rolling.go): the new ReplicaSet grows within replicas + maxSurge
 *   (NewRSNewReplicas), old ones shrink so that at least replicas - maxUnavailable pods stay
 *   available (reconcileOldReplicaSets: unhealthy old replicas first, then oldest ReplicaSets
 *   first); maxSurge 25% rounded up, maxUnavailable 25% rounded down, 1 when both resolve to 0
 *   (deployment_util.go ResolveFenceposts).
 * - Recreate (recreate.go): old ReplicaSets go to 0, the new one is created and scaled up only
 *   once no old pod is left (terminating pods included: oldPodsRunning).
 * A pod is available once Ready for minReadySeconds (ReplicaSet status.availableReplicas).
 *
 * Not modelled: paused Deployments, rollbacks, revision annotations and revisionHistoryLimit
 * cleanup (old ReplicaSets stay at 0), progressDeadlineSeconds and the Deployment conditions,
 * pod-template-hash collisions (collisionCount).
 */
import { assert } from "../../sim/assert.ts"
import type { EventHandler } from "../../sim/scheduler.ts"
import { computeHash } from "../names.ts"
import { objectKey } from "../store.ts"
import {
  LABEL_POD_TEMPLATE_HASH,
  type Deployment,
  type IntOrPercent,
  type OwnerReference,
  type PodTemplateSpec,
  type ReplicaSet,
} from "../types.ts"
import { KeyIds, splitKey, type ControllerContext } from "./context.ts"
import type { ReplicaSetController } from "./replicaset.ts"

/** deployment_util.go DesiredReplicasAnnotation / MaxReplicasAnnotation. */
export const ANNOTATION_DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
export const ANNOTATION_MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
/** apps/v1 defaults (SetDefaults_Deployment): RollingUpdate with maxSurge and maxUnavailable 25%. */
export const DEFAULT_MAX_SURGE = "25%"
export const DEFAULT_MAX_UNAVAILABLE = "25%"

/**
 * intstr.GetScaledValueFromIntOrPercent: a count as is, a percentage of `total` rounded up or
 * down. The manifest decoder has validated the form ("N%" or a non-negative integer).
 */
export function scaledValue(value: IntOrPercent, total: number, roundUp: boolean): number {
  if (typeof value === "number") return value
  const percent = Number(value.slice(0, -1))
  const scaled = (percent * total) / 100
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled)
}

/** deployment_util.go ResolveFenceposts: [maxSurge, maxUnavailable] as pod counts. */
export function resolveFenceposts(deployment: Deployment): [number, number] {
  const replicas = deployment.spec.replicas ?? 1
  const rolling = deployment.spec.strategy?.rollingUpdate
  const surge = scaledValue(rolling?.maxSurge ?? DEFAULT_MAX_SURGE, replicas, true)
  let unavailable = scaledValue(rolling?.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE, replicas, false)
  // "Validation should never allow the user to explicitly use zero values for both maxSurge
  // maxUnavailable. Due to rounding down maxUnavailable though, it may resolve to zero."
  if (surge === 0 && unavailable === 0) unavailable = 1
  return [surge, unavailable]
}

const isRollingUpdate = (d: Deployment): boolean => (d.spec.strategy?.type ?? "RollingUpdate") === "RollingUpdate"
/** deployment_util.go MaxSurge: 0 unless RollingUpdate. */
const maxSurge = (d: Deployment): number => (isRollingUpdate(d) ? resolveFenceposts(d)[0] : 0)
const specReplicas = (rs: ReplicaSet): number => rs.spec.replicas ?? 1
const available = (rs: ReplicaSet): number => rs.status?.availableReplicas ?? 0
const sumReplicas = (list: readonly ReplicaSet[]): number => list.reduce((n, rs) => n + specReplicas(rs), 0)
const active = (list: readonly ReplicaSet[]): ReplicaSet[] => list.filter((rs) => specReplicas(rs) > 0)
const createdNs = (rs: ReplicaSet): number => rs.metadata.creationTimestampNs ?? 0
/** controller.ReplicaSetsByCreationTimestamp: oldest first, then by name. */
const byCreation = (a: ReplicaSet, b: ReplicaSet): number =>
  createdNs(a) - createdNs(b) || (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0)

export class DeploymentController implements EventHandler {
  private readonly kindDeploymentSync: number
  private readonly deploymentIds = new KeyIds()
  private readonly pendingDeployment = new Set<number>()
  /**
   * computeHash of each template object, kept: API objects are immutable values (store.ts), and a
   * Deployment is synced at every status change of its ReplicaSet (hundreds of thousands of syncs
   * at 150,000 pods), each hashing the template's canonical JSON otherwise.
   */
  private readonly templateHashes = new WeakMap<PodTemplateSpec, string>()

  constructor(
    private readonly ctx: ControllerContext,
    private readonly replicaSets: ReplicaSetController,
  ) {
    this.kindDeploymentSync = ctx.scheduler.registerKind("k8s/deployment-sync", this)
    replicaSets.deployments = this
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

  private templateHash(template: PodTemplateSpec): string {
    let hash = this.templateHashes.get(template)
    if (hash === undefined) {
      hash = computeHash(template)
      this.templateHashes.set(template, hash)
    }
    return hash
  }

  private syncDeployment(key: string): void {
    const [namespace, name] = splitKey(key)
    const deployment = this.ctx.store.get("Deployment", namespace, name)
    if (deployment === undefined) return
    const rsName = `${name}-${this.templateHash(deployment.spec.template)}`
    const owned = this.replicaSets.ownedReplicaSets(deployment)
    const newRS = owned.find((rs) => rs.metadata.name === rsName)
    const oldRSs = owned.filter((rs) => rs !== newRS).sort(byCreation)
    if (this.isScalingEvent(deployment, owned)) {
      this.scale(deployment, newRS, oldRSs)
      return
    }
    if (isRollingUpdate(deployment)) this.rolloutRolling(deployment, newRS, oldRSs)
    else this.rolloutRecreate(deployment, newRS, oldRSs)
  }

  /** isScalingEvent: an active ReplicaSet was sized for another spec.replicas. */
  private isScalingEvent(deployment: Deployment, owned: readonly ReplicaSet[]): boolean {
    const replicas = deployment.spec.replicas ?? 1
    for (const rs of active(owned)) {
      const desired = rs.metadata.annotations?.[ANNOTATION_DESIRED_REPLICAS]
      if (desired !== undefined && Number(desired) !== replicas) return true
    }
    return false
  }

  // ------------------------------------------------------------------ RollingUpdate (rolling.go)

  private rolloutRolling(d: Deployment, existing: ReplicaSet | undefined, oldRSs: ReplicaSet[]): void {
    const newRS = existing ?? this.createNewReplicaSet(d, oldRSs)
    if (existing !== undefined) this.syncNewReplicaSet(d, existing)
    if (this.reconcileNewReplicaSet(d, newRS, oldRSs)) return
    this.reconcileOldReplicaSets(d, newRS, oldRSs)
  }

  /** deployment_util.go NewRSNewReplicas for RollingUpdate: grow within replicas + maxSurge. */
  private newRSNewReplicas(d: Deployment, newRSReplicas: number, allReplicas: number): number {
    const replicas = d.spec.replicas ?? 1
    if (!isRollingUpdate(d)) return replicas
    const maxTotalPods = replicas + resolveFenceposts(d)[0]
    if (allReplicas >= maxTotalPods) return newRSReplicas
    return newRSReplicas + Math.min(maxTotalPods - allReplicas, replicas - newRSReplicas)
  }

  private reconcileNewReplicaSet(d: Deployment, newRS: ReplicaSet, oldRSs: readonly ReplicaSet[]): boolean {
    const replicas = d.spec.replicas ?? 1
    const current = specReplicas(newRS)
    if (current === replicas) return false
    if (current > replicas) return this.scaleReplicaSet(newRS, replicas, d)
    const target = this.newRSNewReplicas(d, current, sumReplicas(oldRSs) + current)
    return this.scaleReplicaSet(newRS, target, d)
  }

  private reconcileOldReplicaSets(d: Deployment, newRS: ReplicaSet, oldRSs: readonly ReplicaSet[]): boolean {
    const olds = active(oldRSs)
    if (sumReplicas(olds) === 0) return false
    const allPodsCount = sumReplicas(olds) + specReplicas(newRS)
    const minAvailable = (d.spec.replicas ?? 1) - resolveFenceposts(d)[1]
    const newRSUnavailable = specReplicas(newRS) - available(newRS)
    const maxScaledDown = allPodsCount - minAvailable - newRSUnavailable
    if (maxScaledDown <= 0) return false
    // cleanupUnhealthyReplicas: old replicas that are not available go first, oldest ReplicaSet first.
    let cleaned = 0
    const current = new Map<string, number>()
    for (const rs of olds) {
      current.set(rs.metadata.name, specReplicas(rs))
      if (cleaned >= maxScaledDown) continue
      const unhealthy = specReplicas(rs) - available(rs)
      if (unhealthy <= 0) continue
      const count = Math.min(maxScaledDown - cleaned, unhealthy)
      this.scaleReplicaSet(rs, specReplicas(rs) - count, d)
      current.set(rs.metadata.name, specReplicas(rs) - count)
      cleaned += count
    }
    // scaleDownOldReplicaSetsForRollingUpdate: down to minAvailable available pods, oldest first.
    let scaledDown = 0
    let availablePods = available(newRS)
    for (const rs of olds) availablePods += available(rs)
    if (availablePods > minAvailable) {
      const total = availablePods - minAvailable
      for (const rs of olds) {
        if (scaledDown >= total) break
        const size = current.get(rs.metadata.name) ?? 0
        if (size === 0) continue
        const count = Math.min(size, total - scaledDown)
        this.scaleReplicaSet(rs, size - count, d)
        scaledDown += count
      }
    }
    return cleaned + scaledDown > 0
  }

  // ------------------------------------------------------------------ Recreate (recreate.go)

  private rolloutRecreate(d: Deployment, existing: ReplicaSet | undefined, oldRSs: readonly ReplicaSet[]): void {
    let scaledDown = false
    for (const rs of active(oldRSs)) scaledDown = this.scaleReplicaSet(rs, 0, d) || scaledDown
    if (scaledDown) return
    // oldPodsRunning: an old ReplicaSet still counts pods, or any of its pods has not ended
    // (a terminating pod still runs until it exits).
    if (oldRSs.some((rs) => (rs.status?.replicas ?? 0) > 0 || this.replicaSets.hasUnfinishedPods(rs))) return
    const newRS = existing ?? this.createNewReplicaSet(d, oldRSs)
    if (existing !== undefined) this.syncNewReplicaSet(d, existing)
    this.scaleReplicaSet(newRS, d.spec.replicas ?? 1, d)
  }

  // ------------------------------------------------------------------ scaling events (sync.go)

  private scale(d: Deployment, newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): void {
    const replicas = d.spec.replicas ?? 1
    // FindActiveOrLatest: one active ReplicaSet takes the whole count; none: the newest one.
    const all = newRS === undefined ? [...oldRSs] : [...oldRSs, newRS]
    const actives = active(all)
    if (all.length > 0 && actives.length <= 1) {
      const target = actives[0] ?? newRS ?? [...oldRSs].sort(byCreation)[oldRSs.length - 1]
      if (specReplicas(target) !== replicas) this.scaleReplicaSet(target, replicas, d)
      else this.setReplicasAnnotations(target, d)
      return
    }
    if (actives.length === 0) return
    // IsSaturated: the new ReplicaSet runs the whole count: old ones go to 0.
    if (
      newRS !== undefined &&
      specReplicas(newRS) === replicas &&
      Number(newRS.metadata.annotations?.[ANNOTATION_DESIRED_REPLICAS]) === replicas &&
      available(newRS) === replicas
    ) {
      for (const rs of active(oldRSs)) this.scaleReplicaSet(rs, 0, d)
      return
    }
    if (!isRollingUpdate(d)) return
    // Proportional scaling: each active ReplicaSet gets its share of the change, the leftover goes
    // to the first (largest) one.
    const allowedSize = replicas > 0 ? replicas + maxSurge(d) : 0
    const toAdd = allowedSize - sumReplicas(actives)
    if (toAdd > 0)
      actives.sort((a, b) => specReplicas(b) - specReplicas(a) || byCreation(b, a)) // ReplicaSetsBySizeNewer
    else if (toAdd < 0) actives.sort((a, b) => specReplicas(b) - specReplicas(a) || byCreation(a, b)) // BySizeOlder
    let added = 0
    const sizes = actives.map((rs) => {
      if (toAdd === 0) return specReplicas(rs)
      const proportion = this.proportion(rs, d, toAdd, added)
      added += proportion
      return specReplicas(rs) + proportion
    })
    actives.forEach((rs, i) => {
      let size = sizes[i]
      if (i === 0 && toAdd !== 0) size = Math.max(0, size + toAdd - added)
      this.scaleReplicaSet(rs, size, d)
    })
  }

  /** deployment_util.go GetProportion with getReplicaSetFraction. */
  private proportion(rs: ReplicaSet, d: Deployment, toAdd: number, added: number): number {
    if (specReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0
    const replicas = d.spec.replicas ?? 1
    let fraction: number
    if (replicas === 0) fraction = -specReplicas(rs)
    else {
      let before = Number(rs.metadata.annotations?.[ANNOTATION_MAX_REPLICAS] ?? "0")
      if (!Number.isFinite(before) || before === 0) before = d.status?.replicas ?? 0
      if (before === 0) return 0
      // integer.RoundToInt32: round half away from zero.
      const size = (specReplicas(rs) * (replicas + maxSurge(d))) / before
      fraction = Math.sign(size) * Math.round(Math.abs(size)) - specReplicas(rs)
    }
    const allowed = toAdd - added
    return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed)
  }

  // ------------------------------------------------------------------ ReplicaSet writes

  /**
   * scaleReplicaSet: spec.replicas and the desired/max replicas annotations (SetReplicasAnnotations).
   * True when spec.replicas changed.
   */
  private scaleReplicaSet(rs: ReplicaSet, replicas: number, d: Deployment): boolean {
    const namespace = rs.metadata.namespace ?? "default"
    const current = this.ctx.store.get("ReplicaSet", namespace, rs.metadata.name) ?? rs
    const sizeChanged = specReplicas(current) !== replicas
    const annotations = this.replicasAnnotations(current, d)
    if (!sizeChanged && annotations === null) return false
    const next: ReplicaSet = {
      ...current,
      metadata: annotations === null ? current.metadata : { ...current.metadata, annotations },
      spec: { ...current.spec, replicas },
    }
    this.ctx.store.put("ReplicaSet", next)
    // The caller's view follows the write (upstream replaces its copy with the update's result).
    Object.assign(rs, next)
    if (sizeChanged) this.replicaSets.enqueueReplicaSet(objectKey(namespace, rs.metadata.name))
    return sizeChanged
  }

  private setReplicasAnnotations(rs: ReplicaSet, d: Deployment): void {
    const annotations = this.replicasAnnotations(rs, d)
    if (annotations === null) return
    const next: ReplicaSet = { ...rs, metadata: { ...rs.metadata, annotations } }
    this.ctx.store.put("ReplicaSet", next)
    Object.assign(rs, next)
  }

  /** The annotations with desired/max replicas for `d`, or null when they are already so. */
  private replicasAnnotations(rs: ReplicaSet, d: Deployment): Record<string, string> | null {
    const desired = String(d.spec.replicas ?? 1)
    const max = String((d.spec.replicas ?? 1) + maxSurge(d))
    const a = rs.metadata.annotations ?? {}
    if (a[ANNOTATION_DESIRED_REPLICAS] === desired && a[ANNOTATION_MAX_REPLICAS] === max) return null
    return { ...a, [ANNOTATION_DESIRED_REPLICAS]: desired, [ANNOTATION_MAX_REPLICAS]: max }
  }

  /** getNewReplicaSet on an existing one: minReadySeconds follows the Deployment's. */
  private syncNewReplicaSet(d: Deployment, rs: ReplicaSet): void {
    const minReadySeconds = d.spec.minReadySeconds ?? 0
    if ((rs.spec.minReadySeconds ?? 0) === minReadySeconds) return
    const next: ReplicaSet = { ...rs, spec: { ...rs.spec, minReadySeconds } }
    this.ctx.store.put("ReplicaSet", next)
    Object.assign(rs, next)
    this.replicaSets.enqueueReplicaSet(objectKey(rs.metadata.namespace ?? "default", rs.metadata.name))
  }

  /**
   * getNewReplicaSet creating one: `<name>-<pod-template-hash>` (ComputeHash of the template,
   * collisionCount 0) with the hash added to its selector, template labels and own labels, sized
   * by NewRSNewReplicas against the old ReplicaSets.
   */
  private createNewReplicaSet(deployment: Deployment, oldRSs: readonly ReplicaSet[]): ReplicaSet {
    const namespace = deployment.metadata.namespace ?? "default"
    const name = deployment.metadata.name
    const hash = this.templateHash(deployment.spec.template)
    const rsName = `${name}-${hash}`
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
    const replicas = this.newRSNewReplicas(deployment, 0, sumReplicas(oldRSs))
    const rs: ReplicaSet = {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: {
        name: rsName,
        namespace,
        labels: templateLabels,
        annotations: {
          [ANNOTATION_DESIRED_REPLICAS]: String(deployment.spec.replicas ?? 1),
          [ANNOTATION_MAX_REPLICAS]: String((deployment.spec.replicas ?? 1) + maxSurge(deployment)),
        },
        ownerReferences: [owner],
        uid: this.ctx.newUid(),
        creationTimestampNs: this.ctx.nowNs,
      },
      spec: { replicas, selector, template, minReadySeconds: deployment.spec.minReadySeconds ?? 0 },
    }
    this.ctx.store.put("ReplicaSet", rs)
    this.replicaSets.enqueueReplicaSet(objectKey(namespace, rsName))
    return rs
  }
}
