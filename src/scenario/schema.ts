/**
 * The effect Schema of the scenario file as written (apiVersion kube-netsim/v1, kind Scenario):
 * human unit strings, optional fields, unknown fields rejected. `decode.ts` turns the decoded value
 * into a `ScenarioSpec` (defaults filled, units converted, manifests decoded). The reference for
 * every field is docs/scenario.md.
 */
import { Schema } from "effect"
import { INSTANCE_TYPES } from "../k8s/capacity.ts"
import { RACE_FIXES } from "../netfilter/conntrack.ts"
import { parsePoolRange, parsePortRange } from "../k8s/ipam.ts"
import { ipv6NotModelled, isIpv6, parseAddress, parsePrefix } from "./address.ts"
import {
  BandwidthString,
  BytesValue,
  CidrString,
  DurationString,
  exactlyOneOf,
  Ipv4String,
  LossValue,
  NonNegativeInt,
  Port,
  PositiveInt,
  RateString,
} from "./schema-util.ts"

const opt = Schema.optionalKey

/** A DNS-1123 label (node names, workload names, object names are checked more loosely). */
const Name = Schema.String.check(
  Schema.makeFilter((text: string) =>
    /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(text) && text.length <= 253
      ? undefined
      : `invalid name "${text}": lowercase letters, digits, "-" and ".", starting and ending with a letter or digit`,
  ),
)

/** An EC2 instance type of k8s/capacity.ts's table (its ENI limit gives maxPods with aws-vpc). */
const InstanceType = Schema.String.check(
  Schema.makeFilter((text: string) =>
    INSTANCE_TYPES[text] !== undefined
      ? undefined
      : `unknown instance type "${text}" (known: ${Object.keys(INSTANCE_TYPES).join(", ")}); set maxPods instead`,
  ),
)

/** The simulated kernel's conntrack behaviour (cluster-wide or per node; docs/scenario.md). */
const NodeConntrack = Schema.Struct({
  /** Fixes of the UDP clash race at confirm time the kernel has (dns.md §4.1). */
  raceFix: opt(Schema.Literals(RACE_FIXES)),
  /** Share of same-flow UDP packets in the race window processed concurrently (0..1 or "N%"). */
  raceProbability: opt(LossValue),
  /** nf_conntrack_buckets at boot (the module's hashsize); kube-proxy raises it to max / 4. */
  buckets: opt(PositiveInt),
})

const NodeEntry = Schema.Struct({
  name: Name,
  zone: opt(Schema.String),
  labels: opt(Schema.Record(Schema.String, Schema.String)),
  ip: opt(Ipv4String),
  /** kubelet maxPods of this node. */
  maxPods: opt(PositiveInt),
  instanceType: opt(InstanceType),
  /** CPUs of this node (kube-proxy sizes nf_conntrack_max by them). */
  cpus: opt(PositiveInt),
  conntrack: opt(NodeConntrack),
})

const NodeCount = Schema.Struct({
  /** At most limits.nodes (default 5,000, Kubernetes' own scalability threshold). */
  count: PositiveInt,
  zones: opt(Schema.Array(Schema.String)),
})

export const Nodes = Schema.Union([Schema.Array(NodeEntry), NodeCount])

const Network = Schema.Struct({
  /** A calibration profile: profiles/NAME.yaml relative to the scenario, or a shipped name (default). */
  profile: opt(Schema.String),
  // Per-parameter overrides of the profile (a distribution, or a bare duration = fixed); decoded
  // by scenario/profile.ts decodeDistribution, which reports positions below the key.
  vethHopNs: opt(Schema.Unknown),
  bridgeHopNs: opt(Schema.Unknown),
  nodeFabricSameZoneNs: opt(Schema.Unknown),
  nodeFabricCrossZoneNs: opt(Schema.Unknown),
  externalNs: opt(Schema.Unknown),
  iptablesFilterRuleNs: opt(Schema.Unknown),
  iptablesNatRuleNs: opt(Schema.Unknown),
  conntrackNewNs: opt(Schema.Unknown),
  conntrackLookupNs: opt(Schema.Unknown),
  nftSetLookupNs: opt(Schema.Unknown),
  nftExpressionNs: opt(Schema.Unknown),
  hostStackNs: opt(Schema.Unknown),
  iptablesRestoreBaseNs: opt(Schema.Unknown),
  iptablesRestorePerRuleNs: opt(Schema.Unknown),
  nftApplyBaseNs: opt(Schema.Unknown),
  nftApplyPerElementNs: opt(Schema.Unknown),
  sameNodeLatency: opt(DurationString),
  crossNodeLatency: opt(DurationString),
  crossZoneLatency: opt(DurationString),
  externalLatency: opt(DurationString),
  bandwidth: opt(BandwidthString),
  mtu: opt(
    Schema.Number.check(
      Schema.isInt({ message: "expected an integer" }),
      Schema.isBetween({ minimum: 576, maximum: 65535 }, { message: "must be between 576 and 65535" }),
    ),
  ),
  loss: opt(LossValue),
  queue: opt(PositiveInt),
  /** net.core.netdev_max_backlog of every node (per CPU ingress backlog, packets). */
  netdevMaxBacklog: opt(PositiveInt),
  /** RX descriptors per NIC queue (one queue per CPU) of every node. */
  rxRingSize: opt(PositiveInt),
})

const Cluster = Schema.Struct({
  nodes: opt(Nodes),
  cni: opt(Schema.Literals(["bridge", "aws-vpc"])),
  podCIDR: opt(CidrString),
  serviceCIDR: opt(CidrString),
  nodeCIDR: opt(CidrString),
  clusterDomain: opt(Schema.String),
  network: opt(Network),
  /** kube-apiserver --service-node-port-range: "MIN-MAX", "BASE+OFFSET" or "PORT". */
  serviceNodePortRange: opt(
    Schema.String.check(
      Schema.makeFilter((text: string) =>
        parsePortRange(text) !== undefined
          ? undefined
          : `invalid port range "${text}": expected MIN-MAX with ports between 1 and 65535, e.g. 30000-32767`,
      ),
    ),
  ),
  /** Create the default/kubernetes and kube-system/kube-dns Services. */
  systemServices: opt(Schema.Boolean),
  /** kubelet maxPods of every node (a node's own maxPods wins). */
  maxPods: opt(PositiveInt),
  /** Instance type of every node (a node's own instanceType wins). */
  instanceType: opt(InstanceType),
  /** CPUs of every node (a node's own cpus wins). */
  cpus: opt(PositiveInt),
  /** Kernel conntrack behaviour of every node (a node's own conntrack fields win). */
  conntrack: opt(NodeConntrack),
  /** kube-controller-manager's API client: --kube-api-qps, --kube-api-burst. */
  controllerManager: opt(Schema.Struct({ kubeApiQps: opt(PositiveInt), kubeApiBurst: opt(PositiveInt) })),
})

const Conntrack = Schema.Struct({
  max: opt(PositiveInt),
  maxPerCore: opt(NonNegativeInt),
  min: opt(NonNegativeInt),
  tcpBeLiberal: opt(Schema.Boolean),
  tcpEstablishedTimeout: opt(DurationString),
  tcpCloseWaitTimeout: opt(DurationString),
  udpTimeout: opt(DurationString),
  udpStreamTimeout: opt(DurationString),
})

/** kube-proxy's --proxy-mode values (the loader refuses those not simulated yet). */
const ProxyModeName = Schema.Literals(["iptables", "ipvs", "nftables", "userspace"])

const Ipvs = Schema.Struct({
  /** The kernel schedulers the simulator models (net/netfilter/ipvs/ip_vs_*.c). */
  scheduler: opt(Schema.Literals(["rr", "wrr", "lc", "wlc", "sh", "dh", "mh"])),
  strictARP: opt(Schema.Boolean),
  tcpTimeout: opt(DurationString),
  tcpFinTimeout: opt(DurationString),
  udpTimeout: opt(DurationString),
  excludeCIDRs: opt(Schema.Array(CidrString)),
  /** Simulated duration of a sync in IPVS mode (proxy/sync-cost.ts IpvsSyncCost). */
  syncCost: opt(
    Schema.Struct({ fixed: opt(DurationString), perOperation: opt(DurationString), perObject: opt(DurationString) }),
  ),
})

const KubeProxy = Schema.Struct({
  mode: opt(ProxyModeName),
  syncPeriod: opt(DurationString),
  minSyncPeriod: opt(DurationString),
  masqueradeAll: opt(Schema.Boolean),
  masqueradeBit: opt(
    Schema.Number.check(
      Schema.isInt({ message: "expected an integer" }),
      Schema.isBetween({ minimum: 0, maximum: 31 }, { message: "must be between 0 and 31" }),
    ),
  ),
  clusterCIDR: opt(CidrString),
  localhostNodePorts: opt(Schema.Boolean),
  nfacct: opt(Schema.Boolean),
  randomFully: opt(Schema.Boolean),
  /** --nodeport-addresses: CIDRs, or [primary]. */
  nodePortAddresses: opt(Schema.Array(Schema.String)),
  ruleCost: opt(DurationString),
  /** Simulated duration of a sync, per mode (only iptables is simulated so far). */
  syncCost: opt(
    Schema.Struct({
      iptables: opt(
        Schema.Struct({ fixed: opt(DurationString), perRule: opt(DurationString), perLine: opt(DurationString) }),
      ),
      nftables: opt(
        Schema.Struct({
          fixed: opt(DurationString),
          perCommand: opt(DurationString),
          perObject: opt(DurationString),
        }),
      ),
    }),
  ),
  /** nftables mode: per-expression packet cost and the full-sync period. */
  nftables: opt(
    Schema.Struct({
      expressionCost: opt(DurationString),
      lookupCost: opt(DurationString),
      fullSyncPeriod: opt(DurationString),
    }),
  ),
  conntrack: opt(Conntrack),
  /** userspace mode (kube-proxy <= v1.25): proxy ports and the cost of copying through user space. */
  userspace: opt(
    Schema.Struct({
      proxyPortRange: opt(Schema.String),
      udpIdleTimeout: opt(DurationString),
      connectCost: opt(DurationString),
      copyCost: opt(Schema.Struct({ perMessage: opt(DurationString), perKiB: opt(DurationString) })),
    }),
  ),
  /** KubeProxyIPVSConfiguration (mode ipvs). */
  ipvs: opt(Ipvs),
})

const Dns = Schema.Struct({
  /** How workloads resolve names: `static` table (no packets) or `packets` (stub resolvers + CoreDNS pods). */
  mode: opt(Schema.Literals(["static", "packets"])),
  nodeLocal: opt(Schema.Struct({ enabled: opt(Schema.Boolean), address: opt(Ipv4String) })),
  /** kubelet's --cluster-dns (the pods' `nameserver`); absent: the kube-dns Service's ClusterIP. */
  clusterDNS: opt(Ipv4String),
  /** The nodes' own resolv.conf search domains (kubelet appends them for ClusterFirst pods). */
  nodeSearchDomains: opt(Schema.Array(Schema.String)),
  /** The nodes' resolv.conf nameserver: a simulated resolver answering externalHosts names. */
  nodeResolver: opt(Ipv4String),
})

const LoadBalancer = Schema.Struct({
  pool: opt(
    Schema.Array(
      Schema.String.check(
        Schema.makeFilter((text: string) => {
          // The allocator's own parser decides (a well-formed entry it cannot parse was an internal error).
          if (parsePoolRange(text) !== undefined) return undefined
          const dash = text.indexOf("-")
          const parts = dash < 0 ? [text.trim()] : [text.slice(0, dash).trim(), text.slice(dash + 1).trim()]
          if (parts.some(isIpv6)) return ipv6NotModelled(text, "pool entry")
          if (dash >= 0) {
            for (const part of parts) {
              const bound = parseAddress(part, "range bound")
              if (!bound.ok) return `invalid pool entry "${text}": ${bound.message}`
            }
            return `invalid pool entry "${text}": expected a range FIRST-LAST of IPv4 addresses with FIRST <= LAST (192.168.1.240-192.168.1.250)`
          }
          if (text.includes("/")) {
            const prefix = parsePrefix(text.trim(), "pool entry")
            if (!prefix.ok) return prefix.message
          }
          return `invalid pool entry "${text}": expected a CIDR (192.168.1.240/28) or a range (192.168.1.240-192.168.1.250)`
        }),
      ),
    ),
  ),
  /** cloud: edge load balancer to NodePorts (default); l2: MetalLB layer-2 speaker election. */
  mode: opt(Schema.Literals(["cloud", "l2"])),
  /** Cloud health check of healthCheckNodePort (GCE provider defaults). */
  healthCheck: opt(
    Schema.Struct({
      interval: opt(DurationString),
      timeout: opt(DurationString),
      healthyThreshold: opt(PositiveInt),
      unhealthyThreshold: opt(PositiveInt),
    }),
  ),
})

const Server = Schema.Struct({
  serviceTime: opt(Schema.Union([DurationString, Schema.Struct({ exponential: DurationString })])),
  /** Service time per image (repository name, e.g. http-go, or program: nginx, generic): a distribution. */
  images: opt(Schema.Record(Schema.String, Schema.Unknown)),
  /** CPUs each application server serves requests on (default: its node's CPUs); 0 = unlimited. */
  cpus: opt(NonNegativeInt),
})

const ExternalHost = Schema.Struct({
  name: Name,
  ip: Ipv4String,
  httpPorts: opt(Schema.Array(Port)),
})

/** A manifest source: a file relative to the scenario, or inline Kubernetes YAML. */
export const ManifestSource = Schema.Struct({
  path: opt(Schema.String),
  inline: opt(Schema.Unknown),
  /** Namespace for objects that name none, like `kubectl apply -n NAMESPACE`. */
  namespace: opt(Schema.String),
}).check(exactlyOneOf(["path", "inline"]))

const Arrival = Schema.Struct({
  poisson: opt(RateString),
  every: opt(DurationString),
  closedLoop: opt(PositiveInt),
}).check(exactlyOneOf(["poisson", "every", "closedLoop"]))

const Workload = Schema.Struct({
  name: Name,
  from: Schema.String,
  namespace: opt(Schema.String),
  to: Schema.String,
  arrival: opt(Arrival),
  count: opt(PositiveInt),
  /** A time (`start: 2s`), or `{ at: 0s, waitFor: none }` to skip the wait for the target. */
  start: opt(
    Schema.Union([
      DurationString,
      Schema.Struct({ at: opt(DurationString), waitFor: opt(Schema.Literals(["ready", "none"])) }),
    ]),
  ),
  duration: opt(DurationString),
  connection: opt(Schema.Literals(["new", "keepAlive"])),
  requestBytes: opt(BytesValue),
  responseBytes: opt(BytesValue),
  timeout: opt(DurationString),
})

const TimelineStep = Schema.Struct({
  at: DurationString,
  scale: opt(Schema.String),
  replicas: opt(NonNegativeInt),
  delete: opt(Schema.String),
  apply: opt(ManifestSource),
  namespace: opt(Schema.String),
  /** kube-proxy's next `count` (default 1) iptables-restore runs on `node` fail. */
  failRestore: opt(Schema.Struct({ node: Schema.String, count: opt(PositiveInt) })),
  /**
   * The node-local-dns pod on `node` (absent: every node): `stop` = SIGTERM (node-cache tears its
   * rules and interface down), `crash` = killed without teardown, `start` = the pod runs again.
   */
  nodeLocalDns: opt(Schema.Struct({ node: opt(Schema.String), event: Schema.Literals(["stop", "crash", "start"]) })),
}).check(exactlyOneOf(["scale", "delete", "apply", "failRestore", "nodeLocalDns"]))

const Expectation = Schema.Struct({
  workload: Schema.String,
  /** Only for runs in these kube-proxy modes (absent: every mode). */
  modes: opt(Schema.Array(ProxyModeName)),
  completedAtLeast: opt(NonNegativeInt),
  failedAtMost: opt(NonNegativeInt),
  sentAtLeast: opt(NonNegativeInt),
  p50Below: opt(DurationString),
  p99Below: opt(DurationString),
  meanBelow: opt(DurationString),
  maxBelow: opt(DurationString),
  jainAtLeast: opt(
    Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 }, { message: "must be between 0 and 1" })),
  ),
  endpointsAtLeast: opt(NonNegativeInt),
  endpointsAtMost: opt(NonNegativeInt),
  completedAtMost: opt(NonNegativeInt),
  failedAtLeast: opt(NonNegativeInt),
  /** A latency tail at least this long (e.g. DNS timeouts that must show). */
  p99AtLeast: opt(DurationString),
  maxAtLeast: opt(DurationString),
}).check(
  Schema.makeFilter((value: object) =>
    Object.keys(value).filter((key) => key !== "modes").length > 1
      ? undefined
      : "expected at least one condition (completedAtLeast, completedAtMost, failedAtMost, failedAtLeast, sentAtLeast, p50Below, p99Below, meanBelow, maxBelow, jainAtLeast, endpointsAtLeast, endpointsAtMost, p99AtLeast, maxAtLeast)",
  ),
)

export const ScenarioFile = Schema.Struct({
  apiVersion: Schema.Literal("kube-netsim/v1"),
  kind: Schema.Literal("Scenario"),
  metadata: Schema.Struct({ name: Name, description: opt(Schema.String) }),
  seed: opt(
    Schema.Number.check(
      Schema.isInt({ message: "expected an integer" }),
      Schema.isBetween({ minimum: 0, maximum: 2 ** 32 - 1 }, { message: "must be between 0 and 4294967295" }),
    ),
  ),
  duration: opt(DurationString),
  cluster: opt(Cluster),
  kubeProxy: opt(KubeProxy),
  dns: opt(Dns),
  loadBalancer: opt(LoadBalancer),
  server: opt(Server),
  externalHosts: opt(Schema.Array(ExternalHost)),
  manifests: opt(Schema.Array(ManifestSource)),
  workloads: opt(Schema.Array(Workload)),
  timeline: opt(Schema.Array(TimelineStep)),
  expect: opt(Schema.Array(Expectation)),
  /** Outputs of `run` (docs/outputs.md): the time series' interval. */
  output: opt(Schema.Struct({ interval: opt(DurationString) })),
  limits: opt(
    Schema.Struct({
      events: opt(PositiveInt),
      nodes: opt(PositiveInt),
      pods: opt(PositiveInt),
      services: opt(PositiveInt),
    }),
  ),
})

export type ScenarioFile = typeof ScenarioFile.Type
export type WorkloadEntry = typeof Workload.Type
export type TimelineEntry = typeof TimelineStep.Type
export type ManifestSourceEntry = typeof ManifestSource.Type
export type ExpectationEntry = typeof Expectation.Type
