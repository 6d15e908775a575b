/**
 * The control plane in simulated time: API store, IPAM, the scheduler, the Deployment, ReplicaSet,
 * EndpointSlice, Endpoints and EndpointSlice-mirroring controllers, and the kubelet's pod lifecycle
 * (start, readiness, graceful termination). No packets: the runtime watches the store (ApiListener)
 * and turns pods into network namespaces and Services/EndpointSlices into kube-proxy syncs.
 *
 * Every controller step is a scheduler event (kind, a, b) with a = an integer object id; steps run
 * after a named latency (ControlPlaneTiming, defaults and rationale in TIMING_DEFAULTS). Controller
 * work for one object is coalesced while a sync is pending (a workqueue deduplicates keys).
 *
 * Deterministic orders (where upstream's is unspecified or random):
 * - objects are listed by (namespace, name);
 * - scheduling: least non-terminated pods per node, ties by node name (see `pickNode`);
 * - scale-down: upstream's ActivePodsWithRanks order, final ties by pod name (see `deletionOrder`);
 * - random names, ClusterIPs and NodePorts from named Rng streams.
 */
import { assert } from "../sim/assert.ts"
import { Rng } from "../sim/rng.ts"
import type { EventHandler, Scheduler } from "../sim/scheduler.ts"
import { NS_PER_MS, NS_PER_S } from "../sim/time.ts"
import { cidr, formatCidr, formatIpv4, parseIpv4, type Ipv4 } from "../wire/ipv4.ts"
import { applyTopologyModeHints, topologyAnnotationHintsEnabled, endpointsSubsets, isPodReady, podSlicePorts, podToEndpoint, portsKey, sameData, shouldPodBeInEndpoints, type SlicePort } from "./endpoints.ts"
import { LoadBalancerPool, NodeCidrAllocator, NodePortAllocator, parsePortRange, RangeAllocator, ServiceIpAllocator } from "./ipam.ts"
import { issueAt, type IssueLocate, type K8sIssue, type ManifestInput } from "./issues.ts"
import { matchesSelector, matchesServiceSelector } from "./labels.ts"
import { computeHash, generateName } from "./names.ts"
import { ApiStore, objectKey, type ApiListener } from "./store.ts"
import {
  LABEL_HOSTNAME,
  LABEL_MANAGED_BY,
  LABEL_POD_TEMPLATE_HASH,
  LABEL_SERVICE_NAME,
  LABEL_TOPOLOGY_ZONE,
  type Deployment,
  type Endpoint,
  type EndpointSlice,
  type Endpoints,
  type KubeObject,
  type Node,
  type OwnerReference,
  type Pod,
  type PodCondition,
  type ReplicaSet,
  type Service,
  type ServicePort,
} from "./types.ts"

export const MANAGED_BY_ENDPOINTSLICE = "endpointslice-controller.k8s.io"
export const MANAGED_BY_MIRRORING = "endpointslicemirroring-controller.k8s.io"
export const LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
export const LABEL_HEADLESS = "service.kubernetes.io/headless"
export const ANNOTATION_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
/** Per-pod override of the SIGTERM -> exit delay, in (fractional) seconds, e.g. "5" or "0.5". */
export const ANNOTATION_EXIT_AFTER_SIGTERM = "kube-netsim.io/exit-after-sigterm-seconds"
/** --max-endpoints-per-slice default (kube-controller-manager). */
export const MAX_ENDPOINTS_PER_SLICE = 100
/** --mirroring-max-endpoints-per-subset default. */
export const MIRRORING_MAX_ENDPOINTS_PER_SUBSET = 1000
/** PodSpec.terminationGracePeriodSeconds default. */
export const TERMINATION_GRACE_PERIOD_SECONDS_DEFAULT = 30
/** Probe defaults (core/v1 Probe). */
export const PROBE_PERIOD_SECONDS_DEFAULT = 10
export const PROBE_SUCCESS_THRESHOLD_DEFAULT = 1

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
}

export interface NodeInfo {
  readonly name: string
  readonly zone: string
  readonly ip: string
  /** Node pod CIDR (bridge CNI); undefined for aws-vpc. */
  readonly podCIDR: string | undefined
}

const API_SERVER_PORT = 6443

interface PodRecord {
  readonly id: number
  readonly namespace: string
  readonly name: string
  running: boolean
  ready: boolean
  /** Simulated time the pod last became Ready (for scale-down ranking). */
  readyAtNs: number
  ip: Ipv4 | undefined
  ipNode: string | undefined
  removed: boolean
}

/** Integer ids for keys, so events carry numbers. */
class KeyIds {
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

function splitKey(key: string): [string, string] {
  const slash = key.indexOf("/")
  return [key.slice(0, slash), key.slice(slash + 1)]
}

export class ControlPlane implements EventHandler {
  readonly store = new ApiStore()
  readonly timing: ControlPlaneTiming
  /** Problems found while building the cluster (node IP clashes...). */
  readonly bootstrapIssues: K8sIssue[] = []

  private readonly kindBind: number
  private readonly kindStart: number
  private readonly kindReady: number
  private readonly kindExit: number
  private readonly kindRemove: number
  private readonly kindReplicaSetSync: number
  private readonly kindDeploymentSync: number
  private readonly kindEndpointsSync: number

  private readonly rngs = new Map<string, Rng>()
  private readonly pods: PodRecord[] = []
  private readonly podIdByKey = new Map<string, number>()
  private readonly replicaSetIds = new KeyIds()
  private readonly deploymentIds = new KeyIds()
  private readonly serviceIds = new KeyIds()
  private readonly pendingReplicaSet = new Set<number>()
  private readonly pendingDeployment = new Set<number>()
  private readonly pendingEndpoints = new Set<number>()

  private readonly nodeInfos: NodeInfo[] = []
  private readonly podAllocators = new Map<string, RangeAllocator>()
  private readonly vpcAllocator: RangeAllocator | undefined
  private readonly serviceIps: ServiceIpAllocator
  private readonly nodePorts: NodePortAllocator
  private readonly loadBalancerPool: LoadBalancerPool

  constructor(
    private readonly scheduler: Scheduler,
    readonly config: ControlPlaneConfig,
    listeners: readonly ApiListener[] = [],
  ) {
    this.timing = { ...TIMING_DEFAULTS, ...config.timing }
    this.kindBind = scheduler.registerKind("k8s/scheduler-bind", this)
    this.kindStart = scheduler.registerKind("k8s/kubelet-start", this)
    this.kindReady = scheduler.registerKind("k8s/kubelet-ready", this)
    this.kindExit = scheduler.registerKind("k8s/kubelet-exit", this)
    this.kindRemove = scheduler.registerKind("k8s/kubelet-remove", this)
    this.kindReplicaSetSync = scheduler.registerKind("k8s/replicaset-sync", this)
    this.kindDeploymentSync = scheduler.registerKind("k8s/deployment-sync", this)
    this.kindEndpointsSync = scheduler.registerKind("k8s/endpoints-sync", this)
    for (const listener of listeners) this.store.addListener(listener)

    this.serviceIps = new ServiceIpAllocator(cidr(config.serviceCIDR), this.rng("k8s/ipallocator/services"))
    const portRange = config.serviceNodePortRange === undefined ? undefined : parsePortRange(config.serviceNodePortRange)
    assert(config.serviceNodePortRange === undefined || portRange !== undefined, `bad --service-node-port-range ${config.serviceNodePortRange}`)
    this.nodePorts = portRange === undefined ? new NodePortAllocator(this.rng("k8s/portallocator/nodeports")) : new NodePortAllocator(this.rng("k8s/portallocator/nodeports"), portRange.base, portRange.size)
    this.loadBalancerPool = new LoadBalancerPool(config.loadBalancerPool)
    const nodeNet = cidr(config.nodeCIDR)
    const nodeBroadcast = (nodeNet.address + 2 ** (32 - nodeNet.prefixLength) - 1) >>> 0
    // Bridge: node addresses like kind's docker network (.1 gateway, nodes from .2).
    // aws-vpc: the VPC subnet; AWS reserves network+0..+3 and the broadcast address, so nodes and
    // pods share [network+4, broadcast-1], nodes first, pods round-robin after them.
    const nodeIps =
      config.cni === "aws-vpc"
        ? new RangeAllocator({ rangeStart: nodeNet.address + 4, rangeEnd: nodeBroadcast - 1 })
        : RangeAllocator.hostLocal(nodeNet)
    this.vpcAllocator = config.cni === "aws-vpc" ? nodeIps : undefined
    this.bootstrapNodes(nodeIps)
    for (const name of ["default", "kube-node-lease", "kube-public", "kube-system"]) this.ensureNamespace(name)
    if (config.systemServices !== false) this.bootstrapSystemServices()
  }

  // ---------------------------------------------------------------------------------------------
  // Public API

  get nowNs(): number {
    return this.scheduler.nowNs
  }

  nodes(): readonly NodeInfo[] {
    return this.nodeInfos
  }

  node(name: string): NodeInfo | undefined {
    return this.nodeInfos.find((n) => n.name === name)
  }

  /** True while the pod's containers run (between start and exit). */
  isContainerRunning(namespace: string, name: string): boolean {
    const id = this.podIdByKey.get(objectKey(namespace, name))
    return id !== undefined && this.pods[id].running
  }

  /** Applies manifests (kubectl apply). Rejected objects are not stored; their issues are returned. */
  apply(objects: readonly ManifestInput[]): K8sIssue[] {
    const issues: K8sIssue[] = []
    const order = ["Namespace", "Service", "Endpoints", "EndpointSlice", "Deployment", "ReplicaSet", "Pod"]
    const sorted = [...objects].sort((a, b) => order.indexOf(a.object.kind) - order.indexOf(b.object.kind))
    for (const input of sorted) this.applyOne(input.object, input.locate, issues)
    return issues
  }

  /** Timeline `scale`: target "deployment/NAME", "replicaset/NAME" or a bare deployment name. */
  scale(namespace: string, target: string, replicas: number): K8sIssue[] {
    assert(Number.isInteger(replicas) && replicas >= 0, `replicas ${replicas}`)
    const [kind, name] = parseTarget(target, "deployment")
    if (kind === "deployment") {
      const deployment = this.store.get("Deployment", namespace, name)
      if (deployment === undefined) return [notFound("deployments.apps", name)]
      this.store.put("Deployment", { ...deployment, spec: { ...deployment.spec, replicas } })
      this.enqueueDeployment(objectKey(namespace, name))
      return []
    }
    if (kind === "replicaset") {
      const replicaSet = this.store.get("ReplicaSet", namespace, name)
      if (replicaSet === undefined) return [notFound("replicasets.apps", name)]
      this.store.put("ReplicaSet", { ...replicaSet, spec: { ...replicaSet.spec, replicas } })
      this.enqueueReplicaSet(objectKey(namespace, name))
      return []
    }
    return [{ severity: "error", path: [], message: `cannot scale ${target}: only deployments and replicasets scale` }]
  }

  /** Timeline `delete`: "pod/NAME", "deployment/NAME", "replicaset/NAME", "service/NAME", "endpoints/NAME". */
  delete(namespace: string, target: string): K8sIssue[] {
    const [kind, name] = parseTarget(target, "pod")
    switch (kind) {
      case "pod": {
        const id = this.podIdByKey.get(objectKey(namespace, name))
        if (id === undefined || this.pods[id].removed) return [notFound("pods", name)]
        this.beginPodDeletion(this.pods[id])
        return []
      }
      case "deployment": {
        const deployment = this.store.get("Deployment", namespace, name)
        if (deployment === undefined) return [notFound("deployments.apps", name)]
        this.store.delete("Deployment", namespace, name)
        for (const replicaSet of this.ownedReplicaSets(deployment)) this.deleteReplicaSet(replicaSet)
        return []
      }
      case "replicaset": {
        const replicaSet = this.store.get("ReplicaSet", namespace, name)
        if (replicaSet === undefined) return [notFound("replicasets.apps", name)]
        this.deleteReplicaSet(replicaSet)
        return []
      }
      case "service": {
        const service = this.store.get("Service", namespace, name)
        if (service === undefined) return [notFound("services", name)]
        this.releaseServiceAllocations(service)
        this.store.delete("Service", namespace, name)
        this.enqueueEndpoints(objectKey(namespace, name))
        return []
      }
      case "endpoints": {
        if (!this.store.delete("Endpoints", namespace, name)) return [notFound("endpoints", name)]
        this.enqueueEndpoints(objectKey(namespace, name))
        return []
      }
      default:
        return [{ severity: "error", path: [], message: `cannot delete ${target}: unsupported kind` }]
    }
  }

  handleEvent(kind: number, a: number): void {
    if (kind === this.kindBind) this.bindPod(this.pods[a])
    else if (kind === this.kindStart) this.startPod(this.pods[a])
    else if (kind === this.kindReady) this.markReady(this.pods[a])
    else if (kind === this.kindExit) this.exitPod(this.pods[a])
    else if (kind === this.kindRemove) this.removePod(this.pods[a])
    else if (kind === this.kindReplicaSetSync) {
      this.pendingReplicaSet.delete(a)
      this.syncReplicaSet(this.replicaSetIds.keys[a])
    } else if (kind === this.kindDeploymentSync) {
      this.pendingDeployment.delete(a)
      this.syncDeployment(this.deploymentIds.keys[a])
    } else if (kind === this.kindEndpointsSync) {
      this.pendingEndpoints.delete(a)
      this.syncEndpoints(this.serviceIds.keys[a])
    } else assert(false, `k8s: unknown event kind ${kind}`)
  }

  // ---------------------------------------------------------------------------------------------
  // Bootstrap

  private rng(name: string): Rng {
    let rng = this.rngs.get(name)
    if (rng === undefined) {
      rng = Rng.stream(this.config.seed, name)
      this.rngs.set(name, rng)
    }
    return rng
  }

  /** A UUID-looking uid from the "k8s/uids" stream (the API server uses random v4 UUIDs). */
  private newUid(): string {
    const rng = this.rng("k8s/uids")
    const hex = (n: number, digits: number): string => n.toString(16).padStart(8, "0").slice(8 - digits)
    const a = rng.uint32()
    const b = rng.uint32()
    const c = rng.uint32()
    const d = rng.uint32()
    return `${hex(a, 8)}-${hex(b >>> 16, 4)}-4${hex(b & 0xfff, 3)}-${hex(0x8000 | (c >>> 18), 4)}-${hex(c & 0xffff, 4)}${hex(d, 8)}`
  }

  private bootstrapNodes(nodeIps: RangeAllocator): void {
    const { nodes } = this.config
    const explicit: (Ipv4 | undefined)[] = []
    nodes.forEach((node, index) => {
      if (node.ip === undefined) return void explicit.push(undefined)
      const ip = parseIpv4(node.ip)
      if (ip === undefined) {
        this.bootstrapIssues.push({ severity: "error", path: ["cluster", "nodes", index, "ip"], message: `node ${node.name}: invalid IP ${node.ip}` })
        return void explicit.push(undefined)
      }
      if (nodeIps.isReserved(ip)) {
        this.bootstrapIssues.push({ severity: "error", path: ["cluster", "nodes", index, "ip"], message: `node ${node.name}: IP ${node.ip} is already used by another node` })
      } else if (!nodeIps.reserve(ip) && this.config.cni === "aws-vpc") {
        this.bootstrapIssues.push({ severity: "warning", path: ["cluster", "nodes", index, "ip"], message: `node ${node.name}: IP ${node.ip} is outside the VPC subnet ${this.config.nodeCIDR}` })
      }
      explicit.push(ip)
    })
    const podCidrs = this.config.cni === "bridge" ? new NodeCidrAllocator(cidr(this.config.podCIDR), this.config.nodeCidrMaskSize) : undefined
    nodes.forEach((spec, index) => {
      let ip = explicit[index]
      if (ip === undefined) ip = nodeIps.allocate()
      assert(ip !== undefined, `node CIDR ${this.config.nodeCIDR} has no address left for node ${spec.name}`)
      let podCIDR: string | undefined
      if (podCidrs !== undefined) {
        const block = podCidrs.allocateNext()
        assert(block !== undefined, `pod CIDR ${this.config.podCIDR} has no /${podCidrs.maskSize} left for node ${spec.name}`)
        podCIDR = formatCidr(block)
        this.podAllocators.set(spec.name, RangeAllocator.hostLocal(block))
      }
      const info: NodeInfo = { name: spec.name, zone: spec.zone, ip: formatIpv4(ip), podCIDR }
      this.nodeInfos.push(info)
      const labels: Record<string, string> = {
        "kubernetes.io/arch": "amd64",
        [LABEL_HOSTNAME]: spec.name,
        "kubernetes.io/os": "linux",
        [LABEL_TOPOLOGY_ZONE]: spec.zone,
        ...spec.labels,
      }
      const node: Node = {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: spec.name, labels, uid: this.newUid(), creationTimestampNs: this.nowNs },
        spec: podCIDR === undefined ? {} : { podCIDR, podCIDRs: [podCIDR] },
        status: { addresses: [{ type: "InternalIP", address: info.ip }, { type: "Hostname", address: spec.name }] },
      }
      this.store.put("Node", node)
    })
  }

  private ensureNamespace(name: string): void {
    if (this.store.get("Namespace", "", name) !== undefined) return
    this.store.put("Namespace", { apiVersion: "v1", kind: "Namespace", metadata: { name, uid: this.newUid(), creationTimestampNs: this.nowNs } })
  }

  /**
   * `default/kubernetes` gets the first service address (the apiserver's kubernetes-service
   * reconciler), `kube-system/kube-dns` the tenth (kubeadm sets clusterIP = 10th address of the
   * service CIDR, hence 10.96.0.10). kube-dns pods are not created here (the DNS layer adds them);
   * until then its Endpoints and placeholder slice are empty. The `kubernetes` endpoints point at
   * apiServerAddress (default first node IP):6443 like a kubeadm control-plane node; nothing
   * answers there unless the runtime models an API server.
   */
  private bootstrapSystemServices(): void {
    const first = this.serviceIps.nth(0)
    const issues: K8sIssue[] = []
    this.applyService(
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "kubernetes", namespace: "default", labels: { component: "apiserver", provider: "kubernetes" } },
        spec: { type: "ClusterIP", clusterIP: formatIpv4(first), ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: API_SERVER_PORT }] },
      },
      undefined,
      issues,
    )
    const apiServerIp = this.config.apiServerAddress ?? this.nodeInfos[0]?.ip
    if (apiServerIp !== undefined) {
      const port = { name: "https", port: API_SERVER_PORT, protocol: "TCP" as const }
      this.store.put("Endpoints", {
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: { name: "kubernetes", namespace: "default", labels: { [LABEL_SKIP_MIRROR]: "true" }, creationTimestampNs: this.nowNs },
        subsets: [{ addresses: [{ ip: apiServerIp }], ports: [port] }],
      })
      this.store.put("EndpointSlice", {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: "kubernetes", namespace: "default", labels: { [LABEL_SERVICE_NAME]: "kubernetes" }, creationTimestampNs: this.nowNs },
        addressType: "IPv4",
        endpoints: [{ addresses: [apiServerIp], conditions: { ready: true } }],
        ports: [port],
      })
    }
    if (this.serviceIps.cidr.prefixLength <= 28) {
      this.applyService(
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: {
            name: "kube-dns",
            namespace: "kube-system",
            labels: { "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS" },
          },
          spec: {
            type: "ClusterIP",
            clusterIP: formatIpv4(this.serviceIps.nth(9)),
            selector: { "k8s-app": "kube-dns" },
            ports: [
              { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
              { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
              { name: "metrics", port: 9153, protocol: "TCP", targetPort: 9153 },
            ],
          },
        },
        undefined,
        issues,
      )
    }
    this.bootstrapIssues.push(...issues)
  }

  // ---------------------------------------------------------------------------------------------
  // Apply

  private applyOne(object: KubeObject, locate: IssueLocate | undefined, issues: K8sIssue[]): void {
    if (object.kind === "Namespace") {
      this.ensureNamespace(object.metadata.name)
      return
    }
    const namespace = object.metadata.namespace ?? "default"
    if (this.store.get("Namespace", "", namespace) === undefined) {
      issues.push(issueAt("warning", ["metadata", "namespace"], `namespace "${namespace}" did not exist; created it`, locate))
      this.ensureNamespace(namespace)
    }
    const metadata = { ...object.metadata, namespace }
    switch (object.kind) {
      case "Service":
        this.applyService({ ...object, metadata }, locate, issues)
        return
      case "Endpoints":
        this.store.put("Endpoints", { ...object, metadata: this.stamp(metadata, "Endpoints") })
        this.enqueueEndpoints(objectKey(namespace, metadata.name))
        return
      case "EndpointSlice":
        this.store.put("EndpointSlice", { ...object, metadata: this.stamp(metadata, "EndpointSlice") })
        return
      case "Deployment":
        this.store.put("Deployment", { ...object, metadata: this.stamp(metadata, "Deployment") })
        this.enqueueDeployment(objectKey(namespace, metadata.name))
        return
      case "ReplicaSet":
        this.store.put("ReplicaSet", { ...object, metadata: this.stamp(metadata, "ReplicaSet") })
        this.enqueueReplicaSet(objectKey(namespace, metadata.name))
        return
      case "Pod":
        if (this.store.get("Pod", namespace, metadata.name) !== undefined) {
          issues.push(issueAt("warning", ["metadata", "name"], `pod "${metadata.name}" already exists; pod updates are not modelled`, locate))
          return
        }
        this.createPod({ ...object, metadata })
        return
    }
  }

  /** Keeps uid and creation time of an existing object; assigns them to a new one. */
  private stamp<M extends { name: string; namespace?: string; uid?: string; creationTimestampNs?: number }>(metadata: M, kind: "Endpoints" | "EndpointSlice" | "Deployment" | "ReplicaSet" | "Service"): M {
    const existing = this.store.get(kind, metadata.namespace ?? "default", metadata.name)
    return { ...metadata, uid: existing?.metadata.uid ?? this.newUid(), creationTimestampNs: existing?.metadata.creationTimestampNs ?? this.nowNs }
  }

  /**
   * Service admission: defaults (type ClusterIP, protocol TCP, targetPort = port, sessionAffinity
   * None, externalTrafficPolicy Cluster for NodePort/LoadBalancer, internalTrafficPolicy Cluster),
   * ClusterIP, NodePorts, healthCheckNodePort (type LoadBalancer with ETP Local only, as upstream
   * NeedsHealthCheck), LoadBalancer ingress from the pool. Error messages follow the API server's.
   */
  private applyService(input: Service, locate: IssueLocate | undefined, issues: K8sIssue[]): void {
    const namespace = input.metadata.namespace ?? "default"
    const name = input.metadata.name
    const previous = this.store.get("Service", namespace, name)
    const spec = { ...input.spec }
    const type = spec.type ?? "ClusterIP"
    spec.type = type
    const errorsBefore = issues.filter((i) => i.severity === "error").length
    const taken: { ip?: Ipv4; nodePorts: number[]; lb?: Ipv4 } = { nodePorts: [] }

    // ClusterIP
    if (type === "ExternalName") {
      delete spec.clusterIP
    } else if (spec.clusterIP === "None") {
      spec.clusterIPs = ["None"]
    } else if (previous !== undefined && previous.spec.clusterIP !== undefined && previous.spec.clusterIP !== "None") {
      if (spec.clusterIP !== undefined && spec.clusterIP !== "" && spec.clusterIP !== previous.spec.clusterIP) {
        issues.push(issueAt("error", ["spec", "clusterIP"], `Service "${name}" is invalid: spec.clusterIP: Invalid value: "${spec.clusterIP}": field is immutable`, locate))
      }
      spec.clusterIP = previous.spec.clusterIP
      spec.clusterIPs = [previous.spec.clusterIP]
    } else if (spec.clusterIP !== undefined && spec.clusterIP !== "") {
      const ip = parseIpv4(spec.clusterIP)
      const result = ip === undefined ? "out-of-range" : this.serviceIps.allocate(ip)
      if (result === "ok" && ip !== undefined) {
        taken.ip = ip
        spec.clusterIPs = [spec.clusterIP]
      } else {
        const why =
          result === "allocated"
            ? "provided IP is already allocated"
            : `provided IP is not in the valid range. The range of valid IPs is ${this.config.serviceCIDR}`
        issues.push(issueAt("error", ["spec", "clusterIP"], `Service "${name}" is invalid: spec.clusterIP: Invalid value: "${spec.clusterIP}": ${why}`, locate))
      }
    } else {
      const ip = this.serviceIps.allocateNext()
      if (ip === undefined) {
        issues.push(issueAt("error", ["spec", "clusterIP"], `Service "${name}": failed to allocate a serviceIP: range is full`, locate))
      } else {
        taken.ip = ip
        spec.clusterIP = formatIpv4(ip)
        spec.clusterIPs = [spec.clusterIP]
      }
    }

    // Ports and NodePorts
    const wantsNodePorts = type === "NodePort" || type === "LoadBalancer"
    // storage/alloc.go shouldAllocateNodePorts: allocateLoadBalancerNodePorts false (default true)
    // allocates none for a LoadBalancer; a nodePort the user gives or the Service had is kept.
    const allocateNodePorts = type === "NodePort" || (type === "LoadBalancer" && spec.allocateLoadBalancerNodePorts !== false)
    const ports: ServicePort[] = []
    const previousPorts = previous?.spec.ports ?? []
    const ownPorts = new Map<number, string>()
    ;(spec.ports ?? []).forEach((inputPort, index) => {
      const port: ServicePort = { ...inputPort, protocol: inputPort.protocol ?? "TCP", targetPort: inputPort.targetPort ?? inputPort.port }
      if (wantsNodePorts) {
        const path = ["spec", "ports", index, "nodePort"]
        const reused = previousPorts.find((p) => p.port === port.port && (p.protocol ?? "TCP") === port.protocol)?.nodePort
        if (port.nodePort !== undefined) {
          if (reused === port.nodePort || ownPorts.get(port.nodePort) !== undefined && ownPorts.get(port.nodePort) !== port.protocol) {
            // Same port kept across updates, or shared by TCP and UDP of this service: allowed.
          } else {
            const result = this.nodePorts.allocate(port.nodePort)
            if (result === "ok") taken.nodePorts.push(port.nodePort)
            else {
              const why =
                result === "allocated"
                  ? "provided port is already allocated"
                  : `provided port is not in the valid range. The range of valid ports is ${this.nodePorts.rangeText}`
              issues.push(issueAt("error", path, `Service "${name}" is invalid: spec.ports[${index}].nodePort: Invalid value: ${port.nodePort}: ${why}`, locate))
            }
          }
        } else if (reused !== undefined) {
          port.nodePort = reused
        } else if (allocateNodePorts) {
          const allocated = this.nodePorts.allocateNext()
          if (allocated === undefined) issues.push(issueAt("error", path, `Service "${name}": failed to allocate a nodePort: range is full`, locate))
          else {
            port.nodePort = allocated
            taken.nodePorts.push(allocated)
          }
        }
        if (port.nodePort !== undefined) ownPorts.set(port.nodePort, port.protocol ?? "TCP")
      } else {
        delete port.nodePort
      }
      ports.push(port)
    })
    spec.ports = ports
    if (type !== "ExternalName") {
      spec.sessionAffinity = spec.sessionAffinity ?? "None"
      spec.internalTrafficPolicy = spec.internalTrafficPolicy ?? "Cluster"
      spec.ipFamilies = spec.ipFamilies ?? ["IPv4"]
    }
    if (wantsNodePorts) spec.externalTrafficPolicy = spec.externalTrafficPolicy ?? "Cluster"
    else if (spec.externalTrafficPolicy === "Local") {
      issues.push(issueAt("error", ["spec", "externalTrafficPolicy"], `Service "${name}" is invalid: spec.externalTrafficPolicy: Invalid value: "Local": may only be set when \`type\` is 'NodePort' or 'LoadBalancer'`, locate))
    }

    // healthCheckNodePort
    if (type === "LoadBalancer" && spec.externalTrafficPolicy === "Local") {
      const kept = previous?.spec.healthCheckNodePort
      if (spec.healthCheckNodePort !== undefined && spec.healthCheckNodePort !== kept) {
        const result = this.nodePorts.allocate(spec.healthCheckNodePort)
        if (result === "ok") taken.nodePorts.push(spec.healthCheckNodePort)
        else issues.push(issueAt("error", ["spec", "healthCheckNodePort"], `Service "${name}" is invalid: spec.healthCheckNodePort: Invalid value: ${spec.healthCheckNodePort}: ${result === "allocated" ? "provided port is already allocated" : `provided port is not in the valid range. The range of valid ports is ${this.nodePorts.rangeText}`}`, locate))
      } else if (kept !== undefined) spec.healthCheckNodePort = kept
      else {
        const allocated = this.nodePorts.allocateNext()
        if (allocated !== undefined) {
          spec.healthCheckNodePort = allocated
          taken.nodePorts.push(allocated)
        }
      }
    } else {
      // dropTypeDependentFields clears an unchanged port on update; a new one is invalid.
      if (input.spec.healthCheckNodePort !== undefined && input.spec.healthCheckNodePort !== previous?.spec.healthCheckNodePort) {
        issues.push(issueAt("error", ["spec", "healthCheckNodePort"], `Service "${name}" is invalid: spec.healthCheckNodePort: Invalid value: ${input.spec.healthCheckNodePort}: may only be set when \`type\` is 'LoadBalancer' and \`externalTrafficPolicy\` is 'Local'`, locate))
      }
      delete spec.healthCheckNodePort
    }

    // LoadBalancer ingress
    let status: Service["status"] = { loadBalancer: {} }
    if (type === "LoadBalancer") {
      const kept = previous?.status?.loadBalancer?.ingress
      // An ingress given with the object is what the load-balancer controller wrote (kubectl apply
      // drops status; `kubectl patch --subresource=status` or a cloud provider set it): kept as is.
      const given = input.status?.loadBalancer?.ingress
      if (given !== undefined && given.length > 0) {
        status = { loadBalancer: { ingress: given.map((ingress) => ({ ...ingress })) } }
        for (const ingress of given) {
          const ip = ingress.ip === undefined ? undefined : parseIpv4(ingress.ip)
          const wasKept = kept?.some((k) => k.ip === ingress.ip) === true
          if (ip !== undefined && !wasKept && this.loadBalancerPool.allocate(ip) === "ok" && taken.lb === undefined) taken.lb = ip
        }
      } else if (kept !== undefined && kept.length > 0) status = { loadBalancer: { ingress: kept } }
      else if (this.loadBalancerPool.enabled) {
        let ip: Ipv4 | undefined
        if (spec.loadBalancerIP !== undefined) {
          const wanted = parseIpv4(spec.loadBalancerIP)
          if (wanted !== undefined && this.loadBalancerPool.allocate(wanted) === "ok") ip = wanted
          else issues.push(issueAt("warning", ["spec", "loadBalancerIP"], `Service "${name}": loadBalancerIP ${spec.loadBalancerIP} is not available in the pool; EXTERNAL-IP stays <pending>`, locate))
        } else ip = this.loadBalancerPool.allocateNext()
        if (ip !== undefined) {
          taken.lb = ip
          status = { loadBalancer: { ingress: [{ ip: formatIpv4(ip), ipMode: "VIP" }] } }
        }
      }
    }

    if (issues.filter((i) => i.severity === "error").length > errorsBefore) {
      if (taken.ip !== undefined) this.serviceIps.release(taken.ip)
      for (const port of taken.nodePorts) this.nodePorts.release(port)
      if (taken.lb !== undefined) this.loadBalancerPool.release(taken.lb)
      return
    }
    if (previous !== undefined) this.releaseUnused(previous, spec, status)
    const service: Service = { ...input, spec, status, metadata: this.stamp({ ...input.metadata, namespace }, "Service") }
    this.store.put("Service", service)
    this.enqueueEndpoints(objectKey(namespace, name))
  }

  private releaseUnused(previous: Service, spec: Service["spec"], status: Service["status"]): void {
    const keep = new Set<number>((spec.ports ?? []).map((p) => p.nodePort ?? -1))
    if (spec.healthCheckNodePort !== undefined) keep.add(spec.healthCheckNodePort)
    for (const port of previous.spec.ports ?? []) if (port.nodePort !== undefined && !keep.has(port.nodePort)) this.nodePorts.release(port.nodePort)
    const hc = previous.spec.healthCheckNodePort
    if (hc !== undefined && !keep.has(hc)) this.nodePorts.release(hc)
    const keptLb = new Set((status?.loadBalancer?.ingress ?? []).map((i) => i.ip))
    for (const ingress of previous.status?.loadBalancer?.ingress ?? []) {
      const ip = ingress.ip === undefined ? undefined : parseIpv4(ingress.ip)
      if (ip !== undefined && !keptLb.has(ingress.ip)) this.loadBalancerPool.release(ip)
    }
  }

  private releaseServiceAllocations(service: Service): void {
    const ip = service.spec.clusterIP === undefined ? undefined : parseIpv4(service.spec.clusterIP)
    if (ip !== undefined) this.serviceIps.release(ip)
    this.releaseUnused(service, { ports: [] }, { loadBalancer: {} })
  }

  // ---------------------------------------------------------------------------------------------
  // Work queues

  private enqueueDeployment(key: string): void {
    const id = this.deploymentIds.id(key)
    if (this.pendingDeployment.has(id)) return
    this.pendingDeployment.add(id)
    this.scheduler.scheduleIn(this.timing.controllerSyncNs, this.kindDeploymentSync, id, 0)
  }

  private enqueueReplicaSet(key: string): void {
    const id = this.replicaSetIds.id(key)
    if (this.pendingReplicaSet.has(id)) return
    this.pendingReplicaSet.add(id)
    this.scheduler.scheduleIn(this.timing.controllerSyncNs, this.kindReplicaSetSync, id, 0)
  }

  private enqueueEndpoints(key: string): void {
    const id = this.serviceIds.id(key)
    if (this.pendingEndpoints.has(id)) return
    this.pendingEndpoints.add(id)
    this.scheduler.scheduleIn(this.timing.endpointsSyncNs, this.kindEndpointsSync, id, 0)
  }

  /** Services whose selector matches the pod: their endpoints must be recomputed. */
  private enqueueServicesFor(pod: Pod): void {
    const namespace = pod.metadata.namespace ?? "default"
    for (const service of this.store.list("Service", namespace)) {
      if (matchesServiceSelector(service.spec.selector, pod.metadata.labels)) this.enqueueEndpoints(objectKey(namespace, service.metadata.name))
    }
  }

  private enqueueOwner(pod: Pod): void {
    const owner = pod.metadata.ownerReferences?.find((o) => o.controller === true && o.kind === "ReplicaSet")
    if (owner !== undefined) this.enqueueReplicaSet(objectKey(pod.metadata.namespace ?? "default", owner.name))
  }

  // ---------------------------------------------------------------------------------------------
  // Deployment and ReplicaSet controllers

  private ownedReplicaSets(deployment: Deployment): ReplicaSet[] {
    const namespace = deployment.metadata.namespace ?? "default"
    return this.store.list("ReplicaSet", namespace).filter((rs) => rs.metadata.ownerReferences?.some((o) => o.controller === true && o.uid === deployment.metadata.uid))
  }

  private deleteReplicaSet(replicaSet: ReplicaSet): void {
    const namespace = replicaSet.metadata.namespace ?? "default"
    this.store.delete("ReplicaSet", namespace, replicaSet.metadata.name)
    for (const record of this.ownedPods(replicaSet)) this.beginPodDeletion(record)
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
    const deployment = this.store.get("Deployment", namespace, name)
    if (deployment === undefined) return
    const hash = computeHash(deployment.spec.template)
    const replicas = deployment.spec.replicas ?? 1
    const rsName = `${name}-${hash}`
    const owned = this.ownedReplicaSets(deployment)
    for (const old of owned) {
      if (old.metadata.name !== rsName && (old.spec.replicas ?? 1) !== 0) {
        this.store.put("ReplicaSet", { ...old, spec: { ...old.spec, replicas: 0 } })
        this.enqueueReplicaSet(objectKey(namespace, old.metadata.name))
      }
    }
    const current = this.store.get("ReplicaSet", namespace, rsName)
    if (current === undefined) {
      const templateLabels = { ...deployment.spec.template.metadata?.labels, [LABEL_POD_TEMPLATE_HASH]: hash }
      const template = { ...deployment.spec.template, metadata: { ...deployment.spec.template.metadata, labels: templateLabels } }
      const selector = { ...deployment.spec.selector, matchLabels: { ...deployment.spec.selector.matchLabels, [LABEL_POD_TEMPLATE_HASH]: hash } }
      const owner: OwnerReference = { apiVersion: "apps/v1", kind: "Deployment", name, uid: deployment.metadata.uid ?? "", controller: true }
      this.store.put("ReplicaSet", {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: { name: rsName, namespace, labels: templateLabels, ownerReferences: [owner], uid: this.newUid(), creationTimestampNs: this.nowNs },
        spec: { replicas, selector, template },
      })
      this.enqueueReplicaSet(objectKey(namespace, rsName))
    } else if ((current.spec.replicas ?? 1) !== replicas) {
      this.store.put("ReplicaSet", { ...current, spec: { ...current.spec, replicas } })
      this.enqueueReplicaSet(objectKey(namespace, rsName))
    }
  }

  private ownedPods(replicaSet: ReplicaSet): PodRecord[] {
    const namespace = replicaSet.metadata.namespace ?? "default"
    const out: PodRecord[] = []
    for (const pod of this.store.list("Pod", namespace)) {
      if (!pod.metadata.ownerReferences?.some((o) => o.controller === true && o.uid === replicaSet.metadata.uid)) continue
      const id = this.podIdByKey.get(objectKey(namespace, pod.metadata.name))
      if (id !== undefined) out.push(this.pods[id])
    }
    return out
  }

  /**
   * ReplicaSet controller manageReplicas: active pods (not terminating, not terminal) are counted;
   * missing ones are created at once (slowStartBatch ends in one batch at these sizes), surplus
   * ones deleted in `deletionOrder`. Pods are named generateName("<rs>-"); a name clash (possible
   * with 27^5 names) draws again instead of failing the create and retrying.
   */
  private syncReplicaSet(key: string): void {
    const [namespace, name] = splitKey(key)
    const replicaSet = this.store.get("ReplicaSet", namespace, name)
    if (replicaSet === undefined) return
    const active = this.ownedPods(replicaSet).filter((record) => {
      const pod = this.podOf(record)
      return pod !== undefined && pod.metadata.deletionTimestampNs === undefined && pod.status?.phase !== "Succeeded" && pod.status?.phase !== "Failed"
    })
    const desired = replicaSet.spec.replicas ?? 1
    if (active.length < desired) {
      const rng = this.rng(`k8s/replicaset/${namespace}/${name}/names`)
      const template = replicaSet.spec.template
      const owner: OwnerReference = { apiVersion: "apps/v1", kind: "ReplicaSet", name, uid: replicaSet.metadata.uid ?? "", controller: true }
      for (let i = active.length; i < desired; i++) {
        let podName = generateName(`${name}-`, rng)
        while (this.store.get("Pod", namespace, podName) !== undefined) podName = generateName(`${name}-`, rng)
        const metadata: Pod["metadata"] = { name: podName, namespace, generateName: `${name}-`, ownerReferences: [owner] }
        if (template.metadata?.labels !== undefined) metadata.labels = { ...template.metadata.labels }
        if (template.metadata?.annotations !== undefined) metadata.annotations = { ...template.metadata.annotations }
        this.createPod({ apiVersion: "v1", kind: "Pod", metadata, spec: structuredClone(template.spec) })
      }
    } else if (active.length > desired) {
      const victims = this.deletionOrder(active, replicaSet).slice(0, active.length - desired)
      for (const record of victims) this.beginPodDeletion(record)
    }
    this.updateReplicaSetStatus(namespace, name)
  }

  private updateReplicaSetStatus(namespace: string, name: string): void {
    const replicaSet = this.store.get("ReplicaSet", namespace, name)
    if (replicaSet === undefined) return
    const pods = this.ownedPods(replicaSet).map((r) => this.podOf(r)).filter((p): p is Pod => p !== undefined && p.metadata.deletionTimestampNs === undefined)
    const status = { replicas: pods.length, readyReplicas: pods.filter(isPodReady).length }
    if (!sameData(status, replicaSet.status)) this.store.put("ReplicaSet", { ...replicaSet, status })
    const owner = replicaSet.metadata.ownerReferences?.find((o) => o.kind === "Deployment")
    if (owner === undefined) return
    const deployment = this.store.get("Deployment", namespace, owner.name)
    if (deployment === undefined) return
    let replicas = 0
    let readyReplicas = 0
    for (const rs of this.ownedReplicaSets(deployment)) {
      replicas += rs.status?.replicas ?? 0
      readyReplicas += rs.status?.readyReplicas ?? 0
    }
    const deploymentStatus = { replicas, readyReplicas }
    if (!sameData(deploymentStatus, deployment.status)) this.store.put("Deployment", { ...deployment, status: deploymentStatus })
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
      const node = this.podOf(record)?.spec.nodeName ?? ""
      onNode.set(node, (onNode.get(node) ?? 0) + 1)
    }
    void replicaSet
    const info = records.map((record) => {
      const pod = this.podOf(record)
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

  // ---------------------------------------------------------------------------------------------
  // Pods: scheduler and kubelet

  private podOf(record: PodRecord): Pod | undefined {
    return record.removed ? undefined : this.store.get("Pod", record.namespace, record.name)
  }

  private updatePod(record: PodRecord, change: (pod: Pod) => Pod): Pod | undefined {
    const pod = this.podOf(record)
    if (pod === undefined) return undefined
    const next = this.store.put("Pod", change(pod))
    this.enqueueServicesFor(next)
    this.enqueueOwner(next)
    return next
  }

  private createPod(pod: Pod): void {
    const namespace = pod.metadata.namespace ?? "default"
    const record: PodRecord = { id: this.pods.length, namespace, name: pod.metadata.name, running: false, ready: false, readyAtNs: 0, ip: undefined, ipNode: undefined, removed: false }
    this.pods.push(record)
    this.podIdByKey.set(objectKey(namespace, pod.metadata.name), record.id)
    const stored = this.store.put("Pod", {
      ...pod,
      metadata: { ...pod.metadata, namespace, uid: this.newUid(), creationTimestampNs: this.nowNs },
      status: { phase: "Pending" },
    })
    this.enqueueServicesFor(stored)
    if (pod.spec.nodeName !== undefined) this.scheduler.scheduleIn(this.timing.podStartupNs, this.kindStart, record.id, 0)
    else this.scheduler.scheduleIn(this.timing.schedulerBindNs, this.kindBind, record.id, 0)
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
    for (const other of this.store.list("Pod")) {
      const node = other.spec.nodeName
      if (node === undefined || other.status?.phase === "Succeeded" || other.status?.phase === "Failed") continue
      counts.set(node, (counts.get(node) ?? 0) + 1)
    }
    let best: Node | undefined
    for (const node of this.store.list("Node")) {
      if (node.spec.unschedulable === true) continue
      if (pod.spec.nodeSelector !== undefined && !matchesSelector({ matchLabels: pod.spec.nodeSelector }, node.metadata.labels)) continue
      if (best === undefined || (counts.get(node.metadata.name) ?? 0) < (counts.get(best.metadata.name) ?? 0)) best = node
    }
    return best
  }

  private bindPod(record: PodRecord): void {
    const pod = this.podOf(record)
    if (pod === undefined || pod.metadata.deletionTimestampNs !== undefined) return
    const node = this.pickNode(pod)
    const nodeCount = this.store.count("Node")
    if (node === undefined) {
      const message = `0/${nodeCount} nodes are available: ${nodeCount} node(s) didn't match Pod's node affinity/selector.`
      this.updatePod(record, (p) => ({ ...p, status: { ...p.status, phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message, lastTransitionTimeNs: this.nowNs }] } }))
      return
    }
    this.updatePod(record, (p) => ({
      ...p,
      spec: { ...p.spec, nodeName: node.metadata.name },
      status: { ...p.status, phase: "Pending", conditions: [{ type: "PodScheduled", status: "True", lastTransitionTimeNs: this.nowNs }] },
    }))
    this.scheduler.scheduleIn(this.timing.podStartupNs, this.kindStart, record.id, 0)
  }

  /** Pod IP: hostNetwork -> node IP; bridge -> host-local on the node's pod CIDR; aws-vpc -> VPC subnet. */
  private allocatePodIp(record: PodRecord, pod: Pod, nodeName: string): Ipv4 | undefined {
    const info = this.node(nodeName)
    if (info === undefined) return undefined
    if (pod.spec.hostNetwork === true) return parseIpv4(info.ip)
    const allocator = this.vpcAllocator ?? this.podAllocators.get(nodeName)
    const ip = allocator?.allocate()
    if (ip !== undefined) {
      record.ip = ip
      record.ipNode = nodeName
    }
    return ip
  }

  private startPod(record: PodRecord): void {
    const pod = this.podOf(record)
    if (pod === undefined || pod.metadata.deletionTimestampNs !== undefined) return
    const nodeName = pod.spec.nodeName
    if (nodeName === undefined || this.node(nodeName) === undefined) return // no such kubelet: stays Pending
    const ip = this.allocatePodIp(record, pod, nodeName)
    if (ip === undefined) return // address pool exhausted: stays ContainerCreating
    const readyDelayNs = readinessDelayNs(pod)
    record.running = true
    const ready = readyDelayNs === 0
    if (ready) {
      record.ready = true
      record.readyAtNs = this.nowNs
    }
    const hostIP = this.node(nodeName)?.ip ?? ""
    const now = this.nowNs
    this.updatePod(record, (p) => ({
      ...p,
      status: {
        phase: "Running",
        podIP: formatIpv4(ip),
        hostIP,
        startTimeNs: now,
        conditions: podConditions(ready, now),
      },
    }))
    if (!ready) this.scheduler.scheduleIn(readyDelayNs, this.kindReady, record.id, 0)
  }

  private markReady(record: PodRecord): void {
    if (!record.running || record.ready) return
    const pod = this.podOf(record)
    if (pod === undefined) return
    record.ready = true
    record.readyAtNs = this.nowNs
    const now = this.nowNs
    this.updatePod(record, (p) => ({ ...p, status: { ...p.status, conditions: podConditions(true, now) } }))
  }

  /**
   * Graceful deletion: deletionTimestamp set now (endpoints turn terminating: ready=false,
   * serving=Ready, terminating=true); the container gets SIGTERM and exits after
   * exitAfterSigtermNs (or the pod's annotation), at most terminationGracePeriodSeconds (SIGKILL);
   * after exit the Ready condition drops (serving=false) and podRemovalAfterExitNs later the pod
   * object is deleted and its IP released. A pod that never started is deleted at once.
   */
  private beginPodDeletion(record: PodRecord): void {
    const pod = this.podOf(record)
    if (pod === undefined || pod.metadata.deletionTimestampNs !== undefined) return
    const graceSeconds = pod.spec.terminationGracePeriodSeconds ?? TERMINATION_GRACE_PERIOD_SECONDS_DEFAULT
    if (!record.running) {
      this.updatePod(record, (p) => ({ ...p, metadata: { ...p.metadata, deletionTimestampNs: this.nowNs } }))
      this.removePod(record)
      return
    }
    this.updatePod(record, (p) => ({ ...p, metadata: { ...p.metadata, deletionTimestampNs: this.nowNs + graceSeconds * NS_PER_S } }))
    const annotated = Number(pod.metadata.annotations?.[ANNOTATION_EXIT_AFTER_SIGTERM])
    const exitNs = Number.isFinite(annotated) && annotated >= 0 ? Math.round(annotated * NS_PER_S) : this.timing.exitAfterSigtermNs
    this.scheduler.scheduleIn(Math.min(exitNs, graceSeconds * NS_PER_S), this.kindExit, record.id, 0)
  }

  private exitPod(record: PodRecord): void {
    if (!record.running) return
    record.running = false
    record.ready = false
    const now = this.nowNs
    this.updatePod(record, (p) => ({ ...p, status: { ...p.status, conditions: podConditions(false, now) } }))
    this.scheduler.scheduleIn(this.timing.podRemovalAfterExitNs, this.kindRemove, record.id, 0)
  }

  private removePod(record: PodRecord): void {
    const pod = this.podOf(record)
    if (pod === undefined) return
    record.removed = true
    record.running = false
    record.ready = false
    if (record.ip !== undefined && record.ipNode !== undefined) {
      const allocator = this.vpcAllocator ?? this.podAllocators.get(record.ipNode)
      allocator?.release(record.ip)
    }
    this.podIdByKey.delete(objectKey(record.namespace, record.name))
    this.store.delete("Pod", record.namespace, record.name)
    this.enqueueServicesFor(pod)
    this.enqueueOwner(pod)
  }

  // ---------------------------------------------------------------------------------------------
  // Endpoint controllers

  private syncEndpoints(key: string): void {
    const [namespace, name] = splitKey(key)
    const service = this.store.get("Service", namespace, name)
    if (namespace === "default" && name === "kubernetes") return // written by the apiserver itself
    const selector = service?.spec.selector
    const hasSelector = selector !== undefined && Object.keys(selector).length > 0
    if (service === undefined || service.spec.type === "ExternalName" || !hasSelector) {
      this.reconcileSlices(namespace, name, MANAGED_BY_ENDPOINTSLICE, new Map(), MAX_ENDPOINTS_PER_SLICE, undefined, false)
      this.syncMirroring(namespace, name, service)
      if (service === undefined && hasSelector === false) {
        const endpoints = this.store.get("Endpoints", namespace, name)
        if (endpoints !== undefined && endpoints.metadata.ownerReferences?.some((o) => o.kind === "Service")) this.store.delete("Endpoints", namespace, name)
      }
      return
    }
    this.reconcileSlices(namespace, name, MANAGED_BY_MIRRORING, new Map(), MIRRORING_MAX_ENDPOINTS_PER_SUBSET, undefined, false)
    const pods = this.store.list("Pod", namespace).filter((pod) => matchesServiceSelector(selector, pod.metadata.labels))
    // EndpointSlice controller.
    const groups = new Map<string, SliceGroup>()
    for (const pod of pods) {
      if (!shouldPodBeInEndpoints(pod, true)) continue
      const ports = podSlicePorts(service, pod)
      const groupKey = portsKey(ports)
      let group = groups.get(groupKey)
      if (group === undefined) {
        group = { ports, endpoints: [] }
        groups.set(groupKey, group)
      }
      const zone = pod.spec.nodeName === undefined ? undefined : this.node(pod.spec.nodeName)?.zone
      group.endpoints.push(podToEndpoint(pod, service, zone))
    }
    if (topologyAnnotationHintsEnabled(service.metadata.annotations)) applyTopologyModeHints(service, [...groups.values()].flatMap((g) => g.endpoints), this.nodeInfos.map((n) => n.zone))
    this.reconcileSlices(namespace, name, MANAGED_BY_ENDPOINTSLICE, groups, MAX_ENDPOINTS_PER_SLICE, service, true)
    // Endpoints controller.
    const subsets = endpointsSubsets(service, pods)
    const existing = this.store.get("Endpoints", namespace, name)
    const labels: Record<string, string> = { ...service.metadata.labels }
    if (service.spec.clusterIP === "None") labels[LABEL_HEADLESS] = ""
    if (existing === undefined || !sameData(existing.subsets ?? [], subsets) || !sameData(existing.metadata.labels ?? {}, labels)) {
      this.store.put("Endpoints", {
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: {
          name,
          namespace,
          labels,
          uid: existing?.metadata.uid ?? this.newUid(),
          creationTimestampNs: existing?.metadata.creationTimestampNs ?? this.nowNs,
          ownerReferences: [{ apiVersion: "v1", kind: "Service", name, uid: service.metadata.uid ?? "", controller: true }],
        },
        subsets,
      })
    }
  }

  /**
   * EndpointSlice mirroring (pkg/controller/endpointslicemirroring): a Service without selector
   * and a hand-written Endpoints (without the skip-mirror label) get slices managed by
   * endpointslicemirroring-controller.k8s.io, one group per subset; addresses -> ready=true,
   * notReadyAddresses -> ready=false (serving/terminating left unset, as upstream).
   */
  private syncMirroring(namespace: string, name: string, service: Service | undefined): void {
    const endpoints = this.store.get("Endpoints", namespace, name)
    const groups = new Map<string, SliceGroup>()
    const mirror =
      service !== undefined &&
      service.spec.type !== "ExternalName" &&
      endpoints !== undefined &&
      endpoints.metadata.labels?.[LABEL_SKIP_MIRROR] !== "true" &&
      !endpoints.metadata.ownerReferences?.some((o) => o.kind === "Service")
    if (mirror) {
      for (const subset of endpoints.subsets ?? []) {
        const ports: SlicePort[] = (subset.ports ?? []).map((p) => ({ name: p.name ?? "", port: p.port, protocol: p.protocol ?? "TCP" }))
        const groupKey = portsKey(ports)
        let group = groups.get(groupKey)
        if (group === undefined) {
          group = { ports, endpoints: [] }
          groups.set(groupKey, group)
        }
        for (const [list, ready] of [[subset.addresses ?? [], true], [subset.notReadyAddresses ?? [], false]] as const) {
          for (const address of list) {
            const endpoint: Endpoint = { addresses: [address.ip], conditions: { ready } }
            if (address.hostname !== undefined) endpoint.hostname = address.hostname
            if (address.nodeName !== undefined) endpoint.nodeName = address.nodeName
            if (address.targetRef !== undefined) endpoint.targetRef = address.targetRef
            group.endpoints.push(endpoint)
          }
        }
      }
    }
    this.reconcileSlices(namespace, name, MANAGED_BY_MIRRORING, groups, MIRRORING_MAX_ENDPOINTS_PER_SUBSET, mirror ? service : undefined, false)
  }

  /**
   * The slice reconciler (staging/src/k8s.io/endpointslice reconciler.go, simplified):
   * - endpoints are grouped by port set; each group fills slices of at most `maxPerSlice`;
   * - existing slices keep their endpoints that are still desired (updated in place), new
   *   endpoints fill existing slices with room first (slice name order), then new slices
   *   `<service>-<5 chars>`; slices left empty are deleted;
   * - a selector service with no endpoints keeps one placeholder slice (no ports, no endpoints);
   * - unchanged slices are not written.
   * New endpoints are appended in pod (namespace, name) order.
   */
  private reconcileSlices(
    namespace: string,
    serviceName: string,
    managedBy: string,
    groups: Map<string, SliceGroup>,
    maxPerSlice: number,
    service: Service | undefined,
    placeholder: boolean,
  ): void {
    const existing = this.store.endpointSlicesFor(namespace, serviceName).filter((s) => s.metadata.labels?.[LABEL_MANAGED_BY] === managedBy)
    if (service === undefined) {
      for (const slice of existing) this.store.delete("EndpointSlice", namespace, slice.metadata.name)
      return
    }
    const labels: Record<string, string> = {}
    const source = managedBy === MANAGED_BY_MIRRORING ? this.store.get("Endpoints", namespace, serviceName)?.metadata.labels : service.metadata.labels
    for (const [key, value] of Object.entries(source ?? {})) if (key !== LABEL_SERVICE_NAME && key !== LABEL_MANAGED_BY) labels[key] = value
    if (service.spec.clusterIP === "None") labels[LABEL_HEADLESS] = ""
    labels[LABEL_SERVICE_NAME] = serviceName
    labels[LABEL_MANAGED_BY] = managedBy
    if (placeholder && groups.size === 0) groups.set("", { ports: [], endpoints: [] })

    const desiredByKey = new Map<string, { endpoint: Endpoint; groupKey: string }>()
    for (const [groupKey, group] of groups) for (const endpoint of group.endpoints) desiredByKey.set(endpointIdentity(endpoint), { endpoint, groupKey })
    const placed = new Set<string>()
    const plans: { slice: EndpointSlice | undefined; groupKey: string; endpoints: Endpoint[] }[] = []
    for (const slice of existing) {
      const groupKey = portsKey(slice.ports ?? [])
      if (!groups.has(groupKey)) {
        plans.push({ slice, groupKey, endpoints: [] })
        continue
      }
      const kept: Endpoint[] = []
      for (const endpoint of slice.endpoints) {
        const identity = endpointIdentity(endpoint)
        const desired = desiredByKey.get(identity)
        if (desired !== undefined && desired.groupKey === groupKey && !placed.has(identity)) {
          kept.push(desired.endpoint)
          placed.add(identity)
        }
      }
      plans.push({ slice, groupKey, endpoints: kept })
    }
    for (const [groupKey, group] of groups) {
      const fresh = group.endpoints.filter((e) => !placed.has(endpointIdentity(e)))
      let cursor = 0
      for (const plan of plans) {
        if (plan.groupKey !== groupKey) continue
        while (cursor < fresh.length && plan.endpoints.length < maxPerSlice) plan.endpoints.push(fresh[cursor++])
      }
      while (cursor < fresh.length) {
        const chunk = fresh.slice(cursor, cursor + maxPerSlice)
        cursor += chunk.length
        plans.push({ slice: undefined, groupKey, endpoints: chunk })
      }
      if (group.endpoints.length === 0 && !plans.some((p) => p.groupKey === groupKey)) plans.push({ slice: undefined, groupKey, endpoints: [] })
    }
    const rngName = managedBy === MANAGED_BY_MIRRORING ? "endpointslicemirroring" : "endpointslice"
    for (const plan of plans) {
      const group = groups.get(plan.groupKey)
      const keepEmpty = placeholder && plan.groupKey === "" && group !== undefined && group.endpoints.length === 0
      if (plan.endpoints.length === 0 && !keepEmpty) {
        if (plan.slice !== undefined) this.store.delete("EndpointSlice", namespace, plan.slice.metadata.name)
        continue
      }
      const ports = (group?.ports ?? []).map((p) => ({ ...p }))
      if (plan.slice !== undefined) {
        if (sameData(plan.slice.endpoints, plan.endpoints) && sameData(plan.slice.ports ?? [], ports) && sameData(plan.slice.metadata.labels ?? {}, labels)) continue
        this.store.put("EndpointSlice", { ...plan.slice, metadata: { ...plan.slice.metadata, labels }, endpoints: plan.endpoints, ports })
        continue
      }
      const rng = this.rng(`k8s/${rngName}/${namespace}/${serviceName}/names`)
      let sliceName = generateName(`${serviceName}-`, rng)
      while (this.store.get("EndpointSlice", namespace, sliceName) !== undefined) sliceName = generateName(`${serviceName}-`, rng)
      this.store.put("EndpointSlice", {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: sliceName,
          namespace,
          generateName: `${serviceName}-`,
          labels,
          uid: this.newUid(),
          creationTimestampNs: this.nowNs,
          ownerReferences: [{ apiVersion: "v1", kind: managedBy === MANAGED_BY_MIRRORING ? "Endpoints" : "Service", name: serviceName, uid: service.metadata.uid ?? "", controller: true }],
        },
        addressType: "IPv4",
        endpoints: plan.endpoints,
        ports,
      })
    }
  }
}

interface SliceGroup {
  ports: SlicePort[]
  endpoints: Endpoint[]
}

function endpointIdentity(endpoint: Endpoint): string {
  const ref = endpoint.targetRef
  return ref !== undefined ? `${ref.kind}/${ref.namespace ?? ""}/${ref.name}` : `ip/${endpoint.addresses[0] ?? ""}`
}

function podConditions(ready: boolean, nowNs: number): PodCondition[] {
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

function parseTarget(target: string, defaultKind: string): [string, string] {
  const slash = target.indexOf("/")
  if (slash < 0) return [defaultKind, target]
  const kind = target.slice(0, slash).toLowerCase()
  const aliases: Record<string, string> = {
    po: "pod",
    pods: "pod",
    deploy: "deployment",
    deployments: "deployment",
    rs: "replicaset",
    replicasets: "replicaset",
    svc: "service",
    services: "service",
    ep: "endpoints",
  }
  return [aliases[kind] ?? kind, target.slice(slash + 1)]
}

function notFound(resource: string, name: string): K8sIssue {
  return { severity: "error", path: [], message: `Error from server (NotFound): ${resource} "${name}" not found` }
}


