/**
 * The API server's side of the control plane: admission (defaults, validation and error messages
 * as kube-apiserver writes them), IPAM (node addresses, node pod CIDRs as node-ipam-controller
 * allocates them, ClusterIPs, NodePorts, LoadBalancer addresses), bootstrap objects (nodes,
 * namespaces, the `kubernetes` and `kube-dns` Services), and the verbs the scenario timeline uses
 * (apply, scale, delete). Writes are handed to the controllers that watch them.
 */
import { assert } from "../../sim/assert.ts"
import { cidr, formatCidr, formatIpv4, parseIpv4, type Ipv4 } from "../../wire/ipv4.ts"
import { resolveMaxPods } from "../capacity.ts"
import {
  LoadBalancerPool,
  NodeCidrAllocator,
  NodePortAllocator,
  parsePortRange,
  RangeAllocator,
  ServiceIpAllocator,
} from "../ipam.ts"
import { issueAt, type IssueLocate, type K8sIssue, type ManifestInput } from "../issues.ts"
import { objectKey } from "../store.ts"
import {
  LABEL_HOSTNAME,
  LABEL_SERVICE_NAME,
  LABEL_TOPOLOGY_ZONE,
  type KubeObject,
  type Node,
  type Service,
  type ServicePort,
} from "../types.ts"
import type { ControllerContext, NodeInfo } from "./context.ts"
import type { DeploymentController } from "./deployment.ts"
import { LABEL_SKIP_MIRROR, type EndpointSliceController } from "./endpointslice.ts"
import type { Kubelet } from "./kubelet.ts"
import type { ReplicaSetController } from "./replicaset.ts"

const API_SERVER_PORT = 6443

/** The controllers the API server hands writes to (their informers' event handlers). */
export interface Watchers {
  readonly kubelet: Kubelet
  readonly replicaSets: ReplicaSetController
  readonly deployments: DeploymentController
  readonly endpoints: EndpointSliceController
}

export class ApiServer {
  /** Problems found while building the cluster (node IP clashes...). */
  readonly bootstrapIssues: K8sIssue[] = []
  private readonly kubelet: Kubelet
  private readonly replicaSets: ReplicaSetController
  private readonly deployments: DeploymentController
  private readonly endpoints: EndpointSliceController
  private readonly serviceIps: ServiceIpAllocator
  private readonly nodePorts: NodePortAllocator
  private readonly loadBalancerPool: LoadBalancerPool

  constructor(
    private readonly ctx: ControllerContext,
    watchers: Watchers,
  ) {
    this.kubelet = watchers.kubelet
    this.replicaSets = watchers.replicaSets
    this.deployments = watchers.deployments
    this.endpoints = watchers.endpoints
    const config = ctx.config
    this.serviceIps = new ServiceIpAllocator(cidr(config.serviceCIDR), ctx.rng("k8s/ipallocator/services"))
    const portRange =
      config.serviceNodePortRange === undefined ? undefined : parsePortRange(config.serviceNodePortRange)
    assert(
      config.serviceNodePortRange === undefined || portRange !== undefined,
      `bad --service-node-port-range ${config.serviceNodePortRange}`,
    )
    this.nodePorts =
      portRange === undefined
        ? new NodePortAllocator(ctx.rng("k8s/portallocator/nodeports"))
        : new NodePortAllocator(ctx.rng("k8s/portallocator/nodeports"), portRange.base, portRange.size)
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
    ctx.vpcAllocator = config.cni === "aws-vpc" ? nodeIps : undefined
    this.bootstrapNodes(nodeIps)
    for (const name of ["default", "kube-node-lease", "kube-public", "kube-system"]) this.ensureNamespace(name)
    if (config.systemServices !== false) this.bootstrapSystemServices()
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
      const deployment = this.ctx.store.get("Deployment", namespace, name)
      if (deployment === undefined) return [notFound("deployments.apps", name)]
      this.ctx.store.put("Deployment", { ...deployment, spec: { ...deployment.spec, replicas } })
      this.deployments.enqueueDeployment(objectKey(namespace, name))
      return []
    }
    if (kind === "replicaset") {
      const replicaSet = this.ctx.store.get("ReplicaSet", namespace, name)
      if (replicaSet === undefined) return [notFound("replicasets.apps", name)]
      this.ctx.store.put("ReplicaSet", { ...replicaSet, spec: { ...replicaSet.spec, replicas } })
      this.replicaSets.enqueueReplicaSet(objectKey(namespace, name))
      return []
    }
    return [{ severity: "error", path: [], message: `cannot scale ${target}: only deployments and replicasets scale` }]
  }

  /** Timeline `delete`: "pod/NAME", "deployment/NAME", "replicaset/NAME", "service/NAME", "endpoints/NAME". */
  delete(namespace: string, target: string): K8sIssue[] {
    const [kind, name] = parseTarget(target, "pod")
    switch (kind) {
      case "pod": {
        const id = this.ctx.podIdByKey.get(objectKey(namespace, name))
        if (id === undefined || this.ctx.pods[id].removed) return [notFound("pods", name)]
        this.kubelet.beginPodDeletion(this.ctx.pods[id])
        return []
      }
      case "deployment": {
        const deployment = this.ctx.store.get("Deployment", namespace, name)
        if (deployment === undefined) return [notFound("deployments.apps", name)]
        this.ctx.store.delete("Deployment", namespace, name)
        for (const replicaSet of this.replicaSets.ownedReplicaSets(deployment))
          this.replicaSets.deleteReplicaSet(replicaSet)
        return []
      }
      case "replicaset": {
        const replicaSet = this.ctx.store.get("ReplicaSet", namespace, name)
        if (replicaSet === undefined) return [notFound("replicasets.apps", name)]
        this.replicaSets.deleteReplicaSet(replicaSet)
        return []
      }
      case "service": {
        const service = this.ctx.store.get("Service", namespace, name)
        if (service === undefined) return [notFound("services", name)]
        this.releaseServiceAllocations(service)
        this.ctx.store.delete("Service", namespace, name)
        this.endpoints.enqueueEndpoints(objectKey(namespace, name))
        return []
      }
      case "endpoints": {
        if (!this.ctx.store.delete("Endpoints", namespace, name)) return [notFound("endpoints", name)]
        this.endpoints.enqueueEndpoints(objectKey(namespace, name))
        return []
      }
      default:
        return [{ severity: "error", path: [], message: `cannot delete ${target}: unsupported kind` }]
    }
  }

  private bootstrapNodes(nodeIps: RangeAllocator): void {
    const { nodes } = this.ctx.config
    const explicit: (Ipv4 | undefined)[] = []
    nodes.forEach((node, index) => {
      if (node.ip === undefined) return void explicit.push(undefined)
      const ip = parseIpv4(node.ip)
      if (ip === undefined) {
        this.bootstrapIssues.push({
          severity: "error",
          path: ["cluster", "nodes", index, "ip"],
          message: `node ${node.name}: invalid IP ${node.ip}`,
        })
        return void explicit.push(undefined)
      }
      if (nodeIps.isReserved(ip)) {
        this.bootstrapIssues.push({
          severity: "error",
          path: ["cluster", "nodes", index, "ip"],
          message: `node ${node.name}: IP ${node.ip} is already used by another node`,
        })
      } else if (!nodeIps.reserve(ip) && this.ctx.config.cni === "aws-vpc") {
        this.bootstrapIssues.push({
          severity: "warning",
          path: ["cluster", "nodes", index, "ip"],
          message: `node ${node.name}: IP ${node.ip} is outside the VPC subnet ${this.ctx.config.nodeCIDR}`,
        })
      }
      explicit.push(ip)
    })
    const podCidrs =
      this.ctx.config.cni === "bridge"
        ? new NodeCidrAllocator(cidr(this.ctx.config.podCIDR), this.ctx.config.nodeCidrMaskSize)
        : undefined
    nodes.forEach((spec, index) => {
      let ip = explicit[index]
      if (ip === undefined) ip = nodeIps.allocate()
      assert(ip !== undefined, `node CIDR ${this.ctx.config.nodeCIDR} has no address left for node ${spec.name}`)
      let podCIDR: string | undefined
      if (podCidrs !== undefined) {
        const block = podCidrs.allocateNext()
        assert(
          block !== undefined,
          `pod CIDR ${this.ctx.config.podCIDR} has no /${podCidrs.maskSize} left for node ${spec.name}`,
        )
        podCIDR = formatCidr(block)
        this.ctx.podAllocators.set(spec.name, RangeAllocator.hostLocal(block))
      }
      const maxPods = resolveMaxPods(this.ctx.config.cni, spec, this.ctx.config.maxPods)
      const info: NodeInfo = { name: spec.name, zone: spec.zone, ip: formatIpv4(ip), podCIDR, maxPods }
      this.ctx.nodeInfos.push(info)
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
        metadata: { name: spec.name, labels, uid: this.ctx.newUid(), creationTimestampNs: this.ctx.nowNs },
        spec: podCIDR === undefined ? {} : { podCIDR, podCIDRs: [podCIDR] },
        status: {
          addresses: [
            { type: "InternalIP", address: info.ip },
            { type: "Hostname", address: spec.name },
          ],
          capacity: { pods: String(maxPods) },
          allocatable: { pods: String(maxPods) },
        },
      }
      this.ctx.store.put("Node", node)
    })
  }

  private ensureNamespace(name: string): void {
    if (this.ctx.store.get("Namespace", "", name) !== undefined) return
    this.ctx.store.put("Namespace", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name, uid: this.ctx.newUid(), creationTimestampNs: this.ctx.nowNs },
    })
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
        metadata: {
          name: "kubernetes",
          namespace: "default",
          labels: { component: "apiserver", provider: "kubernetes" },
        },
        spec: {
          type: "ClusterIP",
          clusterIP: formatIpv4(first),
          ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: API_SERVER_PORT }],
        },
      },
      undefined,
      issues,
    )
    const apiServerIp = this.ctx.config.apiServerAddress ?? this.ctx.nodeInfos[0]?.ip
    if (apiServerIp !== undefined) {
      const port = { name: "https", port: API_SERVER_PORT, protocol: "TCP" as const }
      this.ctx.store.put("Endpoints", {
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: {
          name: "kubernetes",
          namespace: "default",
          labels: { [LABEL_SKIP_MIRROR]: "true" },
          creationTimestampNs: this.ctx.nowNs,
        },
        subsets: [{ addresses: [{ ip: apiServerIp }], ports: [port] }],
      })
      this.ctx.store.put("EndpointSlice", {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: "kubernetes",
          namespace: "default",
          labels: { [LABEL_SERVICE_NAME]: "kubernetes" },
          creationTimestampNs: this.ctx.nowNs,
        },
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

  private applyOne(object: KubeObject, locate: IssueLocate | undefined, issues: K8sIssue[]): void {
    if (object.kind === "Namespace") {
      this.ensureNamespace(object.metadata.name)
      return
    }
    const namespace = object.metadata.namespace ?? "default"
    if (this.ctx.store.get("Namespace", "", namespace) === undefined) {
      issues.push(
        issueAt("warning", ["metadata", "namespace"], `namespace "${namespace}" did not exist; created it`, locate),
      )
      this.ensureNamespace(namespace)
    }
    const metadata = { ...object.metadata, namespace }
    switch (object.kind) {
      case "Service":
        this.applyService({ ...object, metadata }, locate, issues)
        return
      case "Endpoints":
        this.ctx.store.put("Endpoints", { ...object, metadata: this.stamp(metadata, "Endpoints") })
        this.endpoints.enqueueEndpoints(objectKey(namespace, metadata.name))
        return
      case "EndpointSlice":
        this.ctx.store.put("EndpointSlice", { ...object, metadata: this.stamp(metadata, "EndpointSlice") })
        return
      case "Deployment":
        this.ctx.store.put("Deployment", { ...object, metadata: this.stamp(metadata, "Deployment") })
        this.deployments.enqueueDeployment(objectKey(namespace, metadata.name))
        return
      case "ReplicaSet":
        this.ctx.store.put("ReplicaSet", { ...object, metadata: this.stamp(metadata, "ReplicaSet") })
        this.replicaSets.enqueueReplicaSet(objectKey(namespace, metadata.name))
        return
      case "Pod":
        if (this.ctx.store.get("Pod", namespace, metadata.name) !== undefined) {
          issues.push(
            issueAt(
              "warning",
              ["metadata", "name"],
              `pod "${metadata.name}" already exists; pod updates are not modelled`,
              locate,
            ),
          )
          return
        }
        this.ctx.createPod({ ...object, metadata })
        return
    }
  }

  /** Keeps uid and creation time of an existing object; assigns them to a new one. */
  private stamp<M extends { name: string; namespace?: string; uid?: string; creationTimestampNs?: number }>(
    metadata: M,
    kind: "Endpoints" | "EndpointSlice" | "Deployment" | "ReplicaSet" | "Service",
  ): M {
    const existing = this.ctx.store.get(kind, metadata.namespace ?? "default", metadata.name)
    return {
      ...metadata,
      uid: existing?.metadata.uid ?? this.ctx.newUid(),
      creationTimestampNs: existing?.metadata.creationTimestampNs ?? this.ctx.nowNs,
    }
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
    const previous = this.ctx.store.get("Service", namespace, name)
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
        issues.push(
          issueAt(
            "error",
            ["spec", "clusterIP"],
            `Service "${name}" is invalid: spec.clusterIP: Invalid value: "${spec.clusterIP}": field is immutable`,
            locate,
          ),
        )
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
            : `provided IP is not in the valid range. The range of valid IPs is ${this.ctx.config.serviceCIDR}`
        issues.push(
          issueAt(
            "error",
            ["spec", "clusterIP"],
            `Service "${name}" is invalid: spec.clusterIP: Invalid value: "${spec.clusterIP}": ${why}`,
            locate,
          ),
        )
      }
    } else {
      const ip = this.serviceIps.allocateNext()
      if (ip === undefined) {
        issues.push(
          issueAt(
            "error",
            ["spec", "clusterIP"],
            `Service "${name}": failed to allocate a serviceIP: range is full`,
            locate,
          ),
        )
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
    const allocateNodePorts =
      type === "NodePort" || (type === "LoadBalancer" && spec.allocateLoadBalancerNodePorts !== false)
    const ports: ServicePort[] = []
    const previousPorts = previous?.spec.ports ?? []
    const ownPorts = new Map<number, string>()
    ;(spec.ports ?? []).forEach((inputPort, index) => {
      const port: ServicePort = {
        ...inputPort,
        protocol: inputPort.protocol ?? "TCP",
        targetPort: inputPort.targetPort ?? inputPort.port,
      }
      if (wantsNodePorts) {
        const path = ["spec", "ports", index, "nodePort"]
        const reused = previousPorts.find(
          (p) => p.port === port.port && (p.protocol ?? "TCP") === port.protocol,
        )?.nodePort
        if (port.nodePort !== undefined) {
          if (
            reused === port.nodePort ||
            (ownPorts.get(port.nodePort) !== undefined && ownPorts.get(port.nodePort) !== port.protocol)
          ) {
            // Same port kept across updates, or shared by TCP and UDP of this service: allowed.
          } else {
            const result = this.nodePorts.allocate(port.nodePort)
            if (result === "ok") taken.nodePorts.push(port.nodePort)
            else {
              const why =
                result === "allocated"
                  ? "provided port is already allocated"
                  : `provided port is not in the valid range. The range of valid ports is ${this.nodePorts.rangeText}`
              issues.push(
                issueAt(
                  "error",
                  path,
                  `Service "${name}" is invalid: spec.ports[${index}].nodePort: Invalid value: ${port.nodePort}: ${why}`,
                  locate,
                ),
              )
            }
          }
        } else if (reused !== undefined) {
          port.nodePort = reused
        } else if (allocateNodePorts) {
          const allocated = this.nodePorts.allocateNext()
          if (allocated === undefined)
            issues.push(
              issueAt("error", path, `Service "${name}": failed to allocate a nodePort: range is full`, locate),
            )
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
      issues.push(
        issueAt(
          "error",
          ["spec", "externalTrafficPolicy"],
          `Service "${name}" is invalid: spec.externalTrafficPolicy: Invalid value: "Local": may only be set when \`type\` is 'NodePort' or 'LoadBalancer'`,
          locate,
        ),
      )
    }

    // healthCheckNodePort
    if (type === "LoadBalancer" && spec.externalTrafficPolicy === "Local") {
      const kept = previous?.spec.healthCheckNodePort
      if (spec.healthCheckNodePort !== undefined && spec.healthCheckNodePort !== kept) {
        const result = this.nodePorts.allocate(spec.healthCheckNodePort)
        if (result === "ok") taken.nodePorts.push(spec.healthCheckNodePort)
        else
          issues.push(
            issueAt(
              "error",
              ["spec", "healthCheckNodePort"],
              `Service "${name}" is invalid: spec.healthCheckNodePort: Invalid value: ${spec.healthCheckNodePort}: ${result === "allocated" ? "provided port is already allocated" : `provided port is not in the valid range. The range of valid ports is ${this.nodePorts.rangeText}`}`,
              locate,
            ),
          )
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
      if (
        input.spec.healthCheckNodePort !== undefined &&
        input.spec.healthCheckNodePort !== previous?.spec.healthCheckNodePort
      ) {
        issues.push(
          issueAt(
            "error",
            ["spec", "healthCheckNodePort"],
            `Service "${name}" is invalid: spec.healthCheckNodePort: Invalid value: ${input.spec.healthCheckNodePort}: may only be set when \`type\` is 'LoadBalancer' and \`externalTrafficPolicy\` is 'Local'`,
            locate,
          ),
        )
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
          if (ip !== undefined && !wasKept && this.loadBalancerPool.allocate(ip) === "ok" && taken.lb === undefined)
            taken.lb = ip
        }
      } else if (kept !== undefined && kept.length > 0) status = { loadBalancer: { ingress: kept } }
      else if (this.loadBalancerPool.enabled) {
        let ip: Ipv4 | undefined
        if (spec.loadBalancerIP !== undefined) {
          const wanted = parseIpv4(spec.loadBalancerIP)
          if (wanted !== undefined && this.loadBalancerPool.allocate(wanted) === "ok") ip = wanted
          else
            issues.push(
              issueAt(
                "warning",
                ["spec", "loadBalancerIP"],
                `Service "${name}": loadBalancerIP ${spec.loadBalancerIP} is not available in the pool; EXTERNAL-IP stays <pending>`,
                locate,
              ),
            )
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
    const service: Service = {
      ...input,
      spec,
      status,
      metadata: this.stamp({ ...input.metadata, namespace }, "Service"),
    }
    this.ctx.store.put("Service", service)
    this.endpoints.enqueueEndpoints(objectKey(namespace, name))
  }

  private releaseUnused(previous: Service, spec: Service["spec"], status: Service["status"]): void {
    const keep = new Set<number>((spec.ports ?? []).map((p) => p.nodePort ?? -1))
    if (spec.healthCheckNodePort !== undefined) keep.add(spec.healthCheckNodePort)
    for (const port of previous.spec.ports ?? [])
      if (port.nodePort !== undefined && !keep.has(port.nodePort)) this.nodePorts.release(port.nodePort)
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
