/**
 * The control plane in simulated time: API store, IPAM, the scheduler, the Deployment, ReplicaSet,
 * EndpointSlice, Endpoints and EndpointSlice-mirroring controllers, and the kubelet's pod lifecycle
 * (start, readiness, graceful termination). No packets: the runtime watches the store (ApiListener)
 * and turns pods into network namespaces and Services/EndpointSlices into kube-proxy syncs.
 *
 * One file per controller under controllers/, as upstream's pkg/controller/* are split:
 * admission.ts (API admission, IPAM, bootstrap objects, the timeline's verbs), deployment.ts,
 * replicaset.ts, scheduler.ts (kube-scheduler), kubelet.ts, endpointslice.ts (Endpoints,
 * EndpointSlice, mirroring). This class builds them, and routes pod watch events to the
 * controllers that watch pods (the informers' event handlers).
 *
 * Every controller step is a scheduler event (kind, a, b) with a = an integer object id, handled
 * by the controller that registered the kind; steps run after a named latency (ControlPlaneTiming,
 * defaults and rationale in TIMING_DEFAULTS). Controller work for one object is coalesced while a
 * sync is pending (a workqueue deduplicates keys).
 *
 * Deterministic orders (where upstream's is unspecified or random):
 * - objects are listed by (namespace, name);
 * - scheduling: least non-terminated pods per node, ties by node name (see `pickNode`);
 * - scale-down: upstream's ActivePodsWithRanks order, final ties by pod name (see `deletionOrder`);
 * - random names, ClusterIPs and NodePorts from named Rng streams.
 */
import type { Scheduler } from "../sim/scheduler.ts"
import type { K8sIssue, ManifestInput } from "./issues.ts"
import type { ApiListener, ApiStore } from "./store.ts"
import type { Pod } from "./types.ts"
import { ApiServer } from "./controllers/admission.ts"
import {
  ControllerContext,
  type ControlPlaneConfig,
  type ControlPlaneTiming,
  type NodeInfo,
  type PodRecord,
  type PodWatch,
} from "./controllers/context.ts"
import { DeploymentController } from "./controllers/deployment.ts"
import { EndpointSliceController } from "./controllers/endpointslice.ts"
import { Kubelet } from "./controllers/kubelet.ts"
import { ReplicaSetController } from "./controllers/replicaset.ts"
import { KubeScheduler } from "./controllers/scheduler.ts"

export {
  TIMING_DEFAULTS,
  type ControlPlaneConfig,
  type ControlPlaneNode,
  type ControlPlaneTiming,
  type NodeInfo,
} from "./controllers/context.ts"
export {
  LABEL_HEADLESS,
  LABEL_SKIP_MIRROR,
  MANAGED_BY_ENDPOINTSLICE,
  MANAGED_BY_MIRRORING,
  MAX_ENDPOINTS_PER_SLICE,
  MIRRORING_MAX_ENDPOINTS_PER_SUBSET,
} from "./controllers/endpointslice.ts"
export {
  ANNOTATION_EXIT_AFTER_SIGTERM,
  PROBE_PERIOD_SECONDS_DEFAULT,
  PROBE_SUCCESS_THRESHOLD_DEFAULT,
  TERMINATION_GRACE_PERIOD_SECONDS_DEFAULT,
  readinessDelayNs,
} from "./controllers/kubelet.ts"
export { ANNOTATION_DELETION_COST } from "./controllers/replicaset.ts"

export class ControlPlane implements PodWatch {
  readonly store: ApiStore
  readonly timing: ControlPlaneTiming
  /** Problems found while building the cluster (node IP clashes...). */
  readonly bootstrapIssues: readonly K8sIssue[]

  private readonly ctx: ControllerContext
  private readonly kubeScheduler: KubeScheduler
  private readonly kubelet: Kubelet
  private readonly replicaSets: ReplicaSetController
  private readonly deployments: DeploymentController
  private readonly endpoints: EndpointSliceController
  private readonly apiServer: ApiServer

  constructor(
    scheduler: Scheduler,
    readonly config: ControlPlaneConfig,
    listeners: readonly ApiListener[] = [],
  ) {
    const ctx = new ControllerContext(scheduler, config, this)
    this.ctx = ctx
    this.store = ctx.store
    this.timing = ctx.timing
    // Construction order = event kind registration order (kind ids enter the trace fingerprint).
    this.kubeScheduler = new KubeScheduler(ctx)
    this.kubelet = new Kubelet(ctx)
    this.replicaSets = new ReplicaSetController(ctx, this.kubelet)
    this.deployments = new DeploymentController(ctx, this.replicaSets)
    this.endpoints = new EndpointSliceController(ctx)
    for (const listener of listeners) this.store.addListener(listener)
    this.apiServer = new ApiServer(ctx, {
      kubelet: this.kubelet,
      replicaSets: this.replicaSets,
      deployments: this.deployments,
      endpoints: this.endpoints,
    })
    this.bootstrapIssues = this.apiServer.bootstrapIssues
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  get nowNs(): number {
    return this.ctx.nowNs
  }

  nodes(): readonly NodeInfo[] {
    return this.ctx.nodeInfos
  }

  node(name: string): NodeInfo | undefined {
    return this.ctx.node(name)
  }

  /** Nodes kube-scheduler looked at to place pods so far (scale-shape test: per pod, not per pod x node). */
  get schedulerNodesExamined(): number {
    return this.kubeScheduler.nodesExamined
  }

  /** True while the pod's containers run (between start and exit). */
  isContainerRunning(namespace: string, name: string): boolean {
    return this.kubelet.isContainerRunning(namespace, name)
  }

  /** Applies manifests (kubectl apply). Rejected objects are not stored; their issues are returned. */
  apply(objects: readonly ManifestInput[]): K8sIssue[] {
    return this.apiServer.apply(objects)
  }

  /** Timeline `scale`: target "deployment/NAME", "replicaset/NAME" or a bare deployment name. */
  scale(namespace: string, target: string, replicas: number): K8sIssue[] {
    return this.apiServer.scale(namespace, target, replicas)
  }

  /** Timeline `delete`: "pod/NAME", "deployment/NAME", "replicaset/NAME", "service/NAME", "endpoints/NAME". */
  delete(namespace: string, target: string): K8sIssue[] {
    return this.apiServer.delete(namespace, target)
  }

  // ---------------------------------------------------------------------------------------------
  // Pod watch: who reacts to pod writes

  podCreated(record: PodRecord, pod: Pod): void {
    this.endpoints.enqueueServicesFor(pod)
    this.replicaSets.enqueueOwner(pod)
    if (pod.spec.nodeName !== undefined) {
      this.kubeScheduler.podAssigned(pod.spec.nodeName)
      this.kubelet.podAssigned(record)
    } else this.kubeScheduler.enqueue(record)
  }

  podUpdated(pod: Pod): void {
    this.endpoints.enqueueServicesFor(pod)
    this.replicaSets.enqueueOwner(pod)
  }

  podBound(record: PodRecord): void {
    this.kubelet.podAssigned(record)
  }

  podFailed(_record: PodRecord, nodeName: string): void {
    this.kubeScheduler.slotFreed(nodeName)
  }

  podDeleted(record: PodRecord, pod: Pod): void {
    this.endpoints.enqueueServicesFor(pod)
    this.replicaSets.enqueueOwner(pod)
    this.replicaSets.podGone(pod)
    this.kubeScheduler.podDeleted(record, pod)
  }
}
