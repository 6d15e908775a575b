/**
 * What the controllers share: the API store, the simulated clock, named Rng streams, uids, the node
 * table with its address pools, and the pod records (integer ids, so scheduler events carry
 * numbers). Pod writes go through `createPod` / `updatePod` here and are announced on the
 * `PodWatch` (ControlPlane, which routes them to the controllers as their informers would).
 */
import { Rng } from "../../sim/rng.ts"
import type { Scheduler } from "../../sim/scheduler.ts"
import { NS_PER_MS, NS_PER_S } from "../../sim/time.ts"
import type { Ipv4 } from "../../wire/ipv4.ts"
import type { RangeAllocator } from "../ipam.ts"
import { ApiStore, objectKey } from "../store.ts"
import type { Pod } from "../types.ts"

/** Modelled latencies of the control plane. All integer ns. */
export interface ControlPlaneTiming {
  /** Watch event -> Deployment/ReplicaSet controller reconcile -> API write. */
  readonly controllerSyncNs: number
  /** Pod created -> kube-scheduler binds it to a node. */
  readonly schedulerBindNs: number
  /** Pod bound -> sandbox + CNI ADD (pod IP) + image present + container started (phase Running). */
  readonly podStartupNs: number
  /** Pod/Service change -> EndpointSlice/Endpoints controllers write the new objects. */
  readonly endpointsSyncNs: number
  /** SIGTERM -> container exit (0 = the process dies on SIGTERM, Go/nginx-style default action). */
  readonly exitAfterSigtermNs: number
  /** Container exit -> kubelet removes the pod object from the API. */
  readonly podRemovalAfterExitNs: number
}

/**
 * Defaults and rationale (MODEL.md):
 * - controllerSyncNs 100 ms: informer delivery + workqueue + one API write; no upstream constant
 *   (kube-controller-manager reacts to watch events, not on a period).
 * - schedulerBindNs 10 ms: kube-scheduler's scheduling cycle + bind for a small cluster; the
 *   scheduler SLO is far looser (p99 < 5 s incl. startup), small clusters bind in milliseconds.
 * - podStartupNs 1 s: image already on the node (IfNotPresent), sandbox + CNI + container start;
 *   inside the Kubernetes pod-startup SLO (p99 <= 5 s excluding image pulls).
 * - endpointsSyncNs 100 ms: --endpointslice-updates-batch-period defaults to 0, so the delay is the
 *   watch + write round trip; observed tens to hundreds of ms.
 * - exitAfterSigtermNs 0: simple servers (gasbugs/http-go, a Go binary without a signal handler)
 *   die at once on SIGTERM; override per pod with ANNOTATION_EXIT_AFTER_SIGTERM, capped at the
 *   grace period (then SIGKILL).
 * - podRemovalAfterExitNs 1 s: kubelet pod worker + status manager final sync and delete.
 */
export const TIMING_DEFAULTS: ControlPlaneTiming = {
  controllerSyncNs: 100 * NS_PER_MS,
  schedulerBindNs: 10 * NS_PER_MS,
  podStartupNs: 1 * NS_PER_S,
  endpointsSyncNs: 100 * NS_PER_MS,
  exitAfterSigtermNs: 0,
  podRemovalAfterExitNs: 1 * NS_PER_S,
}

export interface ControlPlaneNode {
  readonly name: string
  readonly zone: string
  readonly labels: Readonly<Record<string, string>>
  readonly ip?: string
  /** kubelet maxPods (default: see capacity.ts resolveMaxPods). */
  readonly maxPods?: number
  /** EC2 instance type (aws-vpc: its ENI limit gives the default maxPods). */
  readonly instanceType?: string
}

export interface ControlPlaneConfig {
  readonly seed: number
  readonly nodes: readonly ControlPlaneNode[]
  readonly cni: "bridge" | "aws-vpc"
  readonly podCIDR: string
  readonly serviceCIDR: string
  readonly nodeCIDR: string
  /** MetalLB-style ranges or CIDRs; empty = no provider (EXTERNAL-IP stays <pending>). */
  readonly loadBalancerPool: readonly string[]
  /** --node-cidr-mask-size (default 24). */
  readonly nodeCidrMaskSize?: number
  readonly timing?: Partial<ControlPlaneTiming>
  /** Create `default/kubernetes` and `kube-system/kube-dns` (default true). */
  readonly systemServices?: boolean
  /** kube-apiserver --service-node-port-range (default "30000-32767"; see ipam.ts parsePortRange). */
  readonly serviceNodePortRange?: string
  /** Address the `kubernetes` Service's endpoints point at (default: the first node's IP, port 6443). */
  readonly apiServerAddress?: string
  /** Cluster-wide kubelet maxPods (a node's own setting wins). */
  readonly maxPods?: number
  /** Scenario limit on pod objects; creating one more throws PodLimitExceeded (default: none). */
  readonly podsMax?: number
  /** kube-controller-manager --kube-api-qps / --kube-api-burst (defaults 20 / 30). */
  readonly controllerClientQps?: number
  readonly controllerClientBurst?: number
}

export interface NodeInfo {
  readonly name: string
  readonly zone: string
  readonly ip: string
  /** Node pod CIDR (bridge CNI); undefined for aws-vpc. */
  readonly podCIDR: string | undefined
  /** kubelet maxPods: the node's allocatable pods. */
  readonly maxPods: number
}

export interface PodRecord {
  readonly id: number
  readonly namespace: string
  readonly name: string
  /** The store key (`objectKey(namespace, name)`), made once: a pod's many reads hash it once. */
  readonly key: string
  running: boolean
  ready: boolean
  /** Simulated time the pod last became Ready (for scale-down ranking). */
  readyAtNs: number
  ip: Ipv4 | undefined
  ipNode: string | undefined
  removed: boolean
}

/**
 * Pod watch events, as the controllers' informers would see them; ControlPlane routes each to
 * the controllers that watch it (EndpointSlice/Endpoints, the owner ReplicaSet, kube-scheduler,
 * the node's kubelet).
 */
export interface PodWatch {
  /** A pod object was created (nodeName set: straight to the kubelet; else to kube-scheduler). */
  podCreated(record: PodRecord, pod: Pod): void
  /** A pod object was written (status, conditions, nodeName, deletionTimestamp). */
  podUpdated(pod: Pod): void
  /** kube-scheduler bound the pod to a node: that node's kubelet takes it. */
  podBound(record: PodRecord): void
  /** The kubelet rejected the pod (phase Failed): it no longer takes a slot on `nodeName`. */
  podFailed(record: PodRecord, nodeName: string): void
  /** The pod object was deleted. */
  podDeleted(record: PodRecord, pod: Pod): void
}

/**
 * Thrown when a pod create would exceed the scenario's limits.pods: the run stops with an input
 * error naming the limit instead of growing until memory runs out (cluster/ turns it into one).
 */
export class PodLimitExceeded extends Error {
  override readonly name = "PodLimitExceeded"
  constructor(
    readonly podsMax: number,
    readonly atNs: number,
  ) {
    super(`the cluster would exceed limits.pods (${podsMax} pod objects)`)
  }
}

/** Integer ids for keys, so events carry numbers. */
export class KeyIds {
  private readonly ids = new Map<string, number>()
  readonly keys: string[] = []
  id(key: string): number {
    let id = this.ids.get(key)
    if (id === undefined) {
      id = this.keys.length
      this.ids.set(key, id)
      this.keys.push(key)
    }
    return id
  }
}

const HEX_DIGITS = "0123456789abcdef"

export function splitKey(key: string): [string, string] {
  const slash = key.indexOf("/")
  return [key.slice(0, slash), key.slice(slash + 1)]
}

export class ControllerContext {
  readonly store = new ApiStore()
  readonly timing: ControlPlaneTiming
  readonly nodeInfos: NodeInfo[] = []
  /** Pod address pools: host-local per node (bridge CNI), or the VPC subnet shared with nodes. */
  readonly podAllocators = new Map<string, RangeAllocator>()
  vpcAllocator: RangeAllocator | undefined
  readonly pods: PodRecord[] = []
  readonly podIdByKey = new Map<string, number>()
  private readonly rngs = new Map<string, Rng>()

  constructor(
    readonly scheduler: Scheduler,
    readonly config: ControlPlaneConfig,
    private readonly watch: PodWatch,
  ) {
    this.timing = { ...TIMING_DEFAULTS, ...config.timing }
  }

  get nowNs(): number {
    return this.scheduler.nowNs
  }

  /**
   * The node's info (the first of that name in nodeInfos, as a scan finds it), through a map kept
   * in step with nodeInfos (admission appends to it): the kubelet and the EndpointSlice controller
   * ask per pod, so a scan would cost pods x nodes.
   */
  node(name: string): NodeInfo | undefined {
    const byName = this.nodeInfoByName
    for (let i = this.nodeInfosIndexed; i < this.nodeInfos.length; i++) {
      const info = this.nodeInfos[i]
      if (!byName.has(info.name)) byName.set(info.name, info)
    }
    this.nodeInfosIndexed = this.nodeInfos.length
    return byName.get(name)
  }

  private readonly nodeInfoByName = new Map<string, NodeInfo>()
  private nodeInfosIndexed = 0

  rng(name: string): Rng {
    let rng = this.rngs.get(name)
    if (rng === undefined) {
      rng = Rng.stream(this.config.seed, name)
      this.rngs.set(name, rng)
    }
    return rng
  }

  /** A UUID-looking uid from the "k8s/uids" stream (the API server uses random v4 UUIDs). */
  newUid(): string {
    const rng = this.rng("k8s/uids")
    // The last `digits` hex digits of n (n.toString(16).padStart(8, "0").slice(8 - digits)), by
    // table: every pod and EndpointSlice gets a uid.
    const hex = (n: number, digits: number): string => {
      let out = ""
      for (let shift = 4 * (digits - 1); shift >= 0; shift -= 4) out += HEX_DIGITS[(n >>> shift) & 15]
      return out
    }
    const a = rng.uint32()
    const b = rng.uint32()
    const c = rng.uint32()
    const d = rng.uint32()
    return `${hex(a, 8)}-${hex(b >>> 16, 4)}-4${hex(b & 0xfff, 3)}-${hex(0x8000 | (c >>> 18), 4)}-${hex(c & 0xffff, 4)}${hex(d, 8)}`
  }

  podOf(record: PodRecord): Pod | undefined {
    return record.removed ? undefined : this.store.getByKey("Pod", record.key)
  }

  updatePod(record: PodRecord, change: (pod: Pod) => Pod): Pod | undefined {
    const pod = this.podOf(record)
    if (pod === undefined) return undefined
    const next = this.store.put("Pod", change(pod))
    this.watch.podUpdated(next)
    return next
  }

  /** The API server's pod create: uid, creation time, phase Pending. */
  createPod(pod: Pod): void {
    const podsMax = this.config.podsMax
    if (podsMax !== undefined && this.store.count("Pod") >= podsMax) throw new PodLimitExceeded(podsMax, this.nowNs)
    const namespace = pod.metadata.namespace ?? "default"
    const key = objectKey(namespace, pod.metadata.name)
    const record: PodRecord = {
      id: this.pods.length,
      namespace,
      name: pod.metadata.name,
      key,
      running: false,
      ready: false,
      readyAtNs: 0,
      ip: undefined,
      ipNode: undefined,
      removed: false,
    }
    this.pods.push(record)
    this.podIdByKey.set(key, record.id)
    const stored = this.store.put("Pod", {
      ...pod,
      metadata: { ...pod.metadata, namespace, uid: this.newUid(), creationTimestampNs: this.nowNs },
      status: { phase: "Pending" },
    })
    this.watch.podCreated(record, stored)
  }

  /** kube-scheduler wrote spec.nodeName: announced so that the node's kubelet takes the pod. */
  podBound(record: PodRecord): void {
    this.watch.podBound(record)
  }

  /** The kubelet wrote phase Failed: announced so that kube-scheduler frees the pod's slot. */
  podFailed(record: PodRecord, nodeName: string): void {
    this.watch.podFailed(record, nodeName)
  }

  /** The pod object leaves the API (its record stays, marked removed, so stale events are inert). */
  deletePod(record: PodRecord, pod: Pod): void {
    this.podIdByKey.delete(objectKey(record.namespace, record.name))
    this.store.delete("Pod", record.namespace, record.name)
    this.watch.podDeleted(record, pod)
  }
}
