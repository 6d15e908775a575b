/**
 * Kubernetes API objects, in the shape `kubectl apply` accepts and the API server returns (the
 * subset of fields the data plane depends on). Field names are the API's own; optional fields are
 * optional exactly as in the API. These are plain data: decoded from manifests in k8s/decode.ts,
 * mutated only by controllers, read by kube-proxy's compilers.
 */

export interface ObjectMeta {
  name: string
  namespace?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  /** Set by controllers (ReplicaSet owner of a Pod, etc.). */
  ownerReferences?: OwnerReference[]
  generateName?: string
  /** Simulated creation time in ns (the API's creationTimestamp, in simulated time). */
  creationTimestampNs?: number
  /** Set when deletion starts (graceful termination). */
  deletionTimestampNs?: number
  uid?: string
  /** Store write counter at the object's last write (the API's resourceVersion, as a decimal string). */
  resourceVersion?: string
}

export interface OwnerReference {
  apiVersion: string
  kind: string
  name: string
  uid: string
  controller?: boolean
}

export interface LabelSelectorRequirement {
  key: string
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist"
  values?: string[]
}

export interface LabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: LabelSelectorRequirement[]
}

export type ProtocolName = "TCP" | "UDP" | "SCTP"

export interface ContainerPort {
  name?: string
  containerPort: number
  protocol?: ProtocolName
  hostPort?: number
}

export interface Probe {
  initialDelaySeconds?: number
  periodSeconds?: number
  timeoutSeconds?: number
  successThreshold?: number
  failureThreshold?: number
  httpGet?: { path?: string; port: number | string }
  tcpSocket?: { port: number | string }
  exec?: { command: string[] }
}

export interface Container {
  name: string
  image: string
  ports?: ContainerPort[]
  command?: string[]
  args?: string[]
  readinessProbe?: Probe
  livenessProbe?: Probe
}

export interface PodSpec {
  containers: Container[]
  nodeName?: string
  nodeSelector?: Record<string, string>
  hostNetwork?: boolean
  dnsPolicy?: "ClusterFirst" | "ClusterFirstWithHostNet" | "Default" | "None"
  /** core/v1 PodDNSConfig: merged into the resolv.conf kubelet writes (dns/resolv-conf.ts). */
  dnsConfig?: {
    nameservers?: string[]
    searches?: string[]
    options?: { name: string; value?: string }[]
  }
  terminationGracePeriodSeconds?: number
  hostname?: string
  subdomain?: string
}

export interface PodCondition {
  type: "Ready" | "PodScheduled" | "ContainersReady" | "Initialized"
  status: "True" | "False" | "Unknown"
  /** e.g. "Unschedulable" on PodScheduled=False. */
  reason?: string
  message?: string
  /** Simulated time of the last status change of this condition. */
  lastTransitionTimeNs?: number
}

export interface PodStatus {
  phase?: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown"
  /** Why the pod is in this phase (e.g. "OutOfpods" when the kubelet rejected it); kubectl shows it as STATUS. */
  reason?: string
  message?: string
  podIP?: string
  hostIP?: string
  conditions?: PodCondition[]
  /** Simulated time the kubelet started the pod (status.startTime). */
  startTimeNs?: number
}

export interface Pod {
  apiVersion: "v1"
  kind: "Pod"
  metadata: ObjectMeta
  spec: PodSpec
  status?: PodStatus
}

export interface PodTemplateSpec {
  metadata?: Omit<ObjectMeta, "name"> & { name?: string }
  spec: PodSpec
}

export interface ReplicaSet {
  apiVersion: "apps/v1"
  kind: "ReplicaSet"
  metadata: ObjectMeta
  spec: { replicas?: number; selector: LabelSelector; template: PodTemplateSpec; minReadySeconds?: number }
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number }
}

/** apps/v1 IntOrString for maxSurge / maxUnavailable: a count or a percentage ("25%"). */
export type IntOrPercent = number | string

export interface DeploymentStrategy {
  type?: "RollingUpdate" | "Recreate"
  rollingUpdate?: { maxSurge?: IntOrPercent; maxUnavailable?: IntOrPercent }
}

export interface Deployment {
  apiVersion: "apps/v1"
  kind: "Deployment"
  metadata: ObjectMeta
  spec: {
    replicas?: number
    selector: LabelSelector
    template: PodTemplateSpec
    strategy?: DeploymentStrategy
    minReadySeconds?: number
  }
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number }
}

export interface Namespace {
  apiVersion: "v1"
  kind: "Namespace"
  metadata: ObjectMeta
}

export interface ServicePort {
  name?: string
  protocol?: ProtocolName
  port: number
  /** Number or the name of a container port. Defaults to `port`. */
  targetPort?: number | string
  nodePort?: number
  appProtocol?: string
}

export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName"

export interface ServiceSpec {
  type?: ServiceType
  selector?: Record<string, string>
  ports?: ServicePort[]
  clusterIP?: string
  clusterIPs?: string[]
  externalIPs?: string[]
  externalName?: string
  sessionAffinity?: "None" | "ClientIP"
  sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } }
  externalTrafficPolicy?: "Cluster" | "Local"
  internalTrafficPolicy?: "Cluster" | "Local"
  healthCheckNodePort?: number
  loadBalancerIP?: string
  loadBalancerSourceRanges?: string[]
  loadBalancerClass?: string
  publishNotReadyAddresses?: boolean
  ipFamilies?: ("IPv4" | "IPv6")[]
  /** Only SingleStack/PreferDualStack pass admission: the simulated cluster is IPv4 single-stack. */
  ipFamilyPolicy?: "SingleStack" | "PreferDualStack" | "RequireDualStack"
  /** type LoadBalancer only; false = no NodePorts allocated unless given (defaults to true). */
  allocateLoadBalancerNodePorts?: boolean
  /** PreferClose (and its 1.33 alias PreferSameZone): same-zone hints on EndpointSlices. */
  trafficDistribution?: "PreferClose" | "PreferSameZone" | "PreferSameNode"
}

export interface LoadBalancerIngress {
  ip?: string
  hostname?: string
  ipMode?: "VIP" | "Proxy"
}

export interface Service {
  apiVersion: "v1"
  kind: "Service"
  metadata: ObjectMeta
  spec: ServiceSpec
  status?: { loadBalancer?: { ingress?: LoadBalancerIngress[] } }
}

export interface EndpointAddress {
  ip: string
  nodeName?: string
  hostname?: string
  targetRef?: { kind: string; name: string; namespace?: string; uid?: string }
}

export interface EndpointPort {
  name?: string
  port: number
  protocol?: ProtocolName
}

export interface Endpoints {
  apiVersion: "v1"
  kind: "Endpoints"
  metadata: ObjectMeta
  subsets?: { addresses?: EndpointAddress[]; notReadyAddresses?: EndpointAddress[]; ports?: EndpointPort[] }[]
}

export interface EndpointConditions {
  ready?: boolean
  serving?: boolean
  terminating?: boolean
}

export interface Endpoint {
  addresses: string[]
  conditions?: EndpointConditions
  nodeName?: string
  zone?: string
  hostname?: string
  targetRef?: { kind: string; name: string; namespace?: string; uid?: string }
  hints?: { forZones?: { name: string }[]; forNodes?: { name: string }[] }
}

export interface EndpointSlice {
  apiVersion: "discovery.k8s.io/v1"
  kind: "EndpointSlice"
  metadata: ObjectMeta
  addressType: "IPv4" | "IPv6" | "FQDN"
  endpoints: Endpoint[]
  ports?: { name?: string; port?: number; protocol?: ProtocolName; appProtocol?: string }[]
}

/**
 * A cluster node. Nodes come from the scenario's `cluster.nodes`, not from manifests, so Node is
 * deliberately not a member of KubeObject (decoders need not handle it).
 */
export interface Node {
  apiVersion: "v1"
  kind: "Node"
  metadata: ObjectMeta
  spec: { podCIDR?: string; podCIDRs?: string[]; unschedulable?: boolean }
  status?: {
    addresses?: { type: "InternalIP" | "ExternalIP" | "Hostname"; address: string }[]
    /** Resource quantities as strings, as the API writes them; here only "pods" (kubelet maxPods). */
    capacity?: Record<string, string>
    allocatable?: Record<string, string>
  }
}

export type KubeObject = Namespace | Pod | ReplicaSet | Deployment | Service | Endpoints | EndpointSlice

/** The label EndpointSlices carry to name their Service (discovery.k8s.io/service-name). */
export const LABEL_SERVICE_NAME = "kubernetes.io/service-name"
export const LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
/** Well-known node labels (k8s.io/api/core/v1 well_known_labels.go). */
export const LABEL_HOSTNAME = "kubernetes.io/hostname"
export const LABEL_TOPOLOGY_ZONE = "topology.kubernetes.io/zone"
/** Label the Deployment controller adds to ReplicaSets and their pods. */
export const LABEL_POD_TEMPLATE_HASH = "pod-template-hash"
