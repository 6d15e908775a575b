/**
 * The decoded scenario: what scenario/ produces from a scenario file (after effect Schema
 * decoding, unit conversion and manifest decoding) and what cluster/ compiles into a running world.
 * Plain data, integer nanoseconds and bits per second, no effect types.
 */
import type { IssueLocate, IssuePosition, K8sIssue } from "../k8s/issues.ts"
import type { KubeObject } from "../k8s/types.ts"
import type { LoadBalancerSpec } from "../lb/loadbalancer.ts"
import type { NetworkLinkSpec } from "../net/cni.ts"
import type { RaceFix } from "../netfilter/conntrack.ts"
import type { DistributionSpec } from "../sim/distribution.ts"
import type { IptablesSyncCost, IpvsSyncCost, NftablesSyncCost } from "../proxy/sync-cost.ts"

/**
 * Positions and issues are defined by k8s/ (the lowest layer that reports them) and shared here:
 * a place in an input file (1-based line and column), a resolver from a field path to its place,
 * and an issue with its severity, field path (from the scenario root, or the manifest root for
 * manifest issues) and message.
 */
export type SourcePosition = IssuePosition
export type Locate = IssueLocate
export type Issue = K8sIssue

/** Thrown by cluster/ when a decoded scenario cannot be compiled (clashing IPs, missing pods...). */
export class ScenarioIssues extends Error {
  override readonly name = "ScenarioIssues"
  constructor(readonly issues: readonly Issue[]) {
    super(issues.map((i) => i.message).join("; "))
  }
}

export interface NodeSpec {
  readonly name: string
  readonly zone: string
  readonly labels: Readonly<Record<string, string>>
  /** Node InternalIP; allocated from the node CIDR when absent. */
  readonly ip?: string
  /** kubelet maxPods; absent: cluster.maxPods, else the instance type's ENI limit (aws-vpc), else 110. */
  readonly maxPods?: number
  /** EC2 instance type (k8s/capacity.ts INSTANCE_TYPES). */
  readonly instanceType?: string
  /** CPUs (kube-proxy's detectNumCPU, for nf_conntrack_max); absent: cluster.cpus, else 2. */
  readonly cpus?: number
  /** This node's kernel conntrack behaviour; absent fields: cluster.conntrack's, else the defaults. */
  readonly conntrack?: NodeConntrackSpec
}

/** The simulated kernel's conntrack behaviour on a node (not kube-proxy's settings). */
export interface NodeConntrackSpec {
  /** Fixes of the UDP clash race the kernel has (netfilter/conntrack.ts RaceFix; default clash-insert). */
  readonly raceFix?: RaceFix
  /**
   * Parts per million of UDP packets meeting a not-yet-confirmed entry of their own flow that are
   * processed concurrently on another CPU and race it (default 0).
   */
  readonly racePpm?: number
  /**
   * nf_conntrack_buckets at boot (the nf_conntrack module's `hashsize` parameter); absent: the
   * kernel's autosize for the default 8 GiB node, 262144. kube-proxy raises it to
   * nf_conntrack_max / 4 when smaller (proxy/conntrack-sysctls.ts).
   */
  readonly buckets?: number
}

/** The link model (latencies, bandwidth, MTU, loss, queue); defined by net/, which uses it. */
export type NetworkSpec = NetworkLinkSpec
export type { LoadBalancerSpec }

export interface ClusterSpec {
  readonly nodes: readonly NodeSpec[]
  readonly cni: "bridge" | "aws-vpc"
  readonly podCIDR: string
  readonly serviceCIDR: string
  /** Node addresses (bridge) or the VPC subnet node and pod IPs come from (aws-vpc). */
  readonly nodeCIDR: string
  readonly network: NetworkSpec
  /** Cluster domain used by DNS names (cluster.local). */
  readonly clusterDomain: string
  /** kube-apiserver --service-node-port-range, "MIN-MAX" (default 30000-32767). */
  readonly serviceNodePortRange?: string
  /** Create the default/kubernetes and kube-system/kube-dns Services (default true). */
  readonly systemServices?: boolean
  /** Cluster-wide kubelet maxPods (a node's own maxPods wins). */
  readonly maxPods?: number
  /** CPUs of every node (a node's own cpus wins; absent: 2). */
  readonly cpus?: number
  /** Kernel conntrack behaviour of every node (a node's own fields win). */
  readonly conntrack?: NodeConntrackSpec
  /** kube-controller-manager --kube-api-qps / --kube-api-burst (defaults 20 / 30). */
  readonly controllerManager?: { readonly kubeApiQps?: number; readonly kubeApiBurst?: number }
}

/** kube-proxy's conntrack settings (proxy/conntrack-sysctls.ts applies them per node). */
export interface ConntrackSpec {
  /**
   * nf_conntrack_max when kube-proxy leaves it alone (maxPerCore 0): the scenario's `max` (old
   * kube-proxy's absolute --conntrack-max), else the kernel default.
   */
  readonly max: number
  /** --conntrack-max-per-core (0 when `max` is given); nf_conntrack_max = max(this x CPUs, min). */
  readonly maxPerCore: number
  /** --conntrack-min. */
  readonly min: number
  /** --conntrack-tcp-be-liberal: nf_conntrack_tcp_be_liberal = 1. */
  readonly tcpBeLiberal: boolean
  readonly tcpEstablishedTimeoutNs: number
  readonly tcpCloseWaitTimeoutNs: number
  readonly udpTimeoutNs: number
  readonly udpStreamTimeoutNs: number
}

export interface NftablesModeSpec {
  /** Simulated CPU per nft kernel expression a packet evaluates, set/map lookups aside. */
  readonly expressionCostNs: number
  /** Simulated CPU per set or map lookup (whatever the set's size). */
  readonly lookupCostNs: number
  /** proxyutil.FullSyncPeriod: a sync is a full one at least this often. */
  readonly fullSyncPeriodNs: number
}

export interface KubeProxySpec {
  readonly mode: "iptables" | "ipvs" | "nftables" | "userspace"
  readonly syncPeriodNs: number
  readonly minSyncPeriodNs: number
  readonly masqueradeAll: boolean
  readonly masqueradeBit: number
  /** --cluster-cidr for the local-traffic detector; defaults to the cluster pod CIDR. */
  readonly clusterCIDR: string | null
  readonly localhostNodePorts: boolean
  /** Emit `-m nfacct` counters as recent kube-proxy does when the kernel supports them. */
  readonly nfacct: boolean
  /** MASQUERADE --random-fully (iptables >= 1.6.2 supports it). */
  readonly randomFully: boolean
  /**
   * --nodeport-addresses as written (CIDRs or [primary]); null = unset. Each mode's default applies
   * at the backend (proxy/node-port-addresses.ts effectiveNodePortAddresses), so one scenario runs
   * under every mode with that mode's default.
   */
  readonly nodePortAddresses: readonly string[] | null
  /** Simulated CPU cost of evaluating one iptables rule. */
  readonly ruleCostNs: number
  /** How long a sync takes in simulated time, per mode (proxy/sync-cost.ts). */
  readonly syncCost: { readonly iptables: IptablesSyncCost; readonly nftables?: NftablesSyncCost }
  /** nftables mode (kubeProxy.nftables); absent = the defaults of cluster/backend-nftables.ts. */
  readonly nftables?: NftablesModeSpec
  readonly conntrack: ConntrackSpec
  /** userspace mode only (kubeProxy.userspace); absent = the defaults of proxy/userspace. */
  readonly userspace?: UserspaceProxySpec
  /** kubeProxy.ipvs (used in mode ipvs; the loader always fills it, hand-built specs may omit it). */
  readonly ipvs?: IpvsProxySpec
}

/** kube-proxy --proxy-mode=userspace settings and the modelled cost of proxying in user space. */
export interface UserspaceProxySpec {
  /** --proxy-port-range as [base, size]; null = empty (each proxy port chosen by the kernel). */
  readonly proxyPortRange: readonly [number, number] | null
  /** --udp-timeout: idle time after which a UDP client's proxy connection is dropped. */
  readonly udpIdleTimeoutNs: number
  /** Per proxied connection (TCP accept / new UDP client) before the dial to the endpoint. */
  readonly connectCostNs: number
  /** Per message copied through the proxy, plus per KiB of it. */
  readonly copyCostPerMessageNs: number
  readonly copyCostPerKiBNs: number
}

/** KubeProxyIPVSConfiguration fields the IPVS backend uses, and its sync cost (MODEL.md "IPVS mode"). */
export interface IpvsProxySpec {
  /** ipvs.scheduler: rr (default), wrr, lc, wlc, sh, dh, mh. */
  readonly scheduler: string
  /** ipvs.strictARP: kube-proxy sets arp_ignore=1 / arp_announce=2 (printed; ARP is not simulated). */
  readonly strictARP: boolean
  /** ipvs.tcpTimeout / tcpFinTimeout / udpTimeout in whole seconds; 0 keeps the kernel's. */
  readonly tcpTimeoutS: number
  readonly tcpFinTimeoutS: number
  readonly udpTimeoutS: number
  /** ipvs.excludeCIDRs: virtual servers there are never cleaned up. */
  readonly excludeCIDRs: readonly string[]
  readonly syncCost: IpvsSyncCost
}

export interface DnsSpec {
  /**
   * `static`: names answered by the runtime's table once per workload, no packet (dns/resolve.ts).
   * `packets`: a CoreDNS Deployment behind kube-dns and each pod's stub resolver per connection.
   */
  readonly mode: "static" | "packets"
  readonly nodeLocalEnabled: boolean
  readonly nodeLocalAddress: string
  /**
   * kubelet's --cluster-dns, the `nameserver` of ClusterFirst pods; null = the kube-dns Service's
   * ClusterIP. kubespray points it at the NodeLocal DNSCache address (seed 004: 169.254.25.10).
   */
  readonly clusterDNS?: string | null
  /**
   * The search domains of the nodes' own /etc/resolv.conf (kubelet --resolv-conf): appended after
   * the cluster's three by kubelet for ClusterFirst pods, and the whole search list of Default and
   * hostNetwork pods. Absent: none (dns.md §2.5 H = 0).
   */
  readonly nodeSearchDomains?: readonly string[]
  /** The nameserver of the nodes' resolv.conf (apps/node-resolver.ts); absent: NODE_RESOLVER_DEFAULT. */
  readonly nodeResolver?: string
}

export interface ExternalHostSpec {
  readonly name: string
  readonly ip: string
  /** Servers the host runs: ports it answers HTTP on (for selectorless Services). */
  readonly httpPorts: readonly number[]
}

export interface ServerSpec {
  /** Service time per request: fixed, or exponential with this mean. */
  readonly serviceTimeNs: number
  readonly serviceTimeDistribution: "fixed" | "exponential"
  /** server.serviceTime was written: it applies to every image (the registry's defaults do not). */
  readonly serviceTimePinned?: boolean
  /** Service-time distribution per image repository name or program name (server.images). */
  readonly byImage?: Readonly<Record<string, DistributionSpec>>
  /** CPUs each application server serves on (absent: its node's CPUs; 0: unlimited). */
  readonly cpus?: number
}

export type WorkloadSource =
  | { readonly kind: "pod"; readonly name: string; readonly namespace: string }
  | { readonly kind: "deployment"; readonly name: string; readonly namespace: string }
  | { readonly kind: "node"; readonly name: string }
  | { readonly kind: "external"; readonly name: string }

export interface WorkloadTarget {
  readonly scheme: "http" | "tcp" | "udp" | "icmp"
  /** A DNS name (service, service.namespace, FQDN), a ClusterIP, a pod IP, a node IP... */
  readonly host: string
  readonly port: number
  readonly path: string
}

export type Arrival =
  | { readonly kind: "poisson"; readonly ratePerSecond: number }
  | { readonly kind: "every"; readonly intervalNs: number }
  | { readonly kind: "closedLoop"; readonly concurrency: number }

export interface WorkloadSpec {
  readonly name: string
  readonly from: WorkloadSource
  readonly to: WorkloadTarget
  readonly arrival: Arrival
  /** Requests per source (per replica for deployment sources); null = until durationNs ends. */
  readonly count: number | null
  readonly startNs: number
  /**
   * "ready" (default): from startNs, wait until the sources run and the target is served (see
   * World.workloadReady). "none": wait only for the source containers to run (a client is a
   * process in its pod), so start-up races (no endpoints, rules not yet synced) show as failures.
   */
  readonly waitFor: "ready" | "none"
  /** Stop issuing new requests after this long (null = scenario duration). */
  readonly durationNs: number | null
  /** "new": a new connection per request; "keepAlive": reuse connections. */
  readonly connection: "new" | "keepAlive"
  readonly requestBytes: number
  readonly responseBytes: number
  /** A request not answered within this time fails with reason "timeout". */
  readonly timeoutNs: number
  readonly position: SourcePosition | null
}

export type TimelineAction =
  | { readonly kind: "scale"; readonly target: string; readonly namespace: string; readonly replicas: number }
  | { readonly kind: "delete"; readonly target: string; readonly namespace: string }
  | { readonly kind: "apply"; readonly objects: readonly ManifestObject[] }
  /** The next `count` iptables-restore runs of kube-proxy on `node` fail (cluster/kube-proxy.ts). */
  | { readonly kind: "failRestore"; readonly node: string; readonly count: number }
  /** node-local-dns on `node` (null: every node): graceful stop, crash (no teardown) or start. */
  | { readonly kind: "nodeLocalDns"; readonly node: string | null; readonly event: "stop" | "crash" | "start" }

export interface TimelineStep {
  readonly atNs: number
  readonly action: TimelineAction
  readonly position: SourcePosition | null
}

export interface ManifestObject {
  readonly object: KubeObject
  /** Where the object's fields are in its file. */
  readonly locate: Locate
}

export interface ScenarioSpec {
  readonly name: string
  readonly file: string
  readonly seed: number
  readonly durationNs: number
  readonly cluster: ClusterSpec
  readonly kubeProxy: KubeProxySpec
  readonly dns: DnsSpec
  readonly loadBalancer: LoadBalancerSpec
  readonly server: ServerSpec
  readonly externalHosts: readonly ExternalHostSpec[]
  readonly manifests: readonly ManifestObject[]
  readonly workloads: readonly WorkloadSpec[]
  readonly timeline: readonly TimelineStep[]
  readonly limits: ScenarioLimits
  /** `output:` (docs/outputs.md); absent: defaults (time-series interval 100 ms). */
  readonly output?: { readonly intervalNs?: number }
}

/**
 * Scenario-level limits: past them the run stops with an input error naming the limit instead of
 * exhausting memory. Defaults (scenario/load.ts) are Kubernetes' scalability thresholds.
 */
export interface ScenarioLimits {
  /** Events simulated at most; the run then ends with endReason "event-limit". */
  readonly eventCountMax: number
  /** Pod objects in the cluster at once (absent: no limit). */
  readonly podsMax?: number
  /** Nodes (checked when the scenario loads). */
  readonly nodesMax?: number
  /** Services in manifests and timeline applies (checked when the scenario loads). */
  readonly servicesMax?: number
}
