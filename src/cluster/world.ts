/**
 * The world of one run: the scheduler, the simulated network laid out by the CNI, the control plane
 * (controllers in simulated time), kube-proxy and netfilter on every node, the applications pods
 * and external hosts run, the workloads, and the statistics collector.
 *
 * Life of a run: nodes and their kube-proxies exist at t=0; manifests are applied at t=0; the
 * controllers create pods, which get a network namespace and start their servers when the kubelet
 * starts their containers; EndpointSlice and Service changes reach every node's kube-proxy, which
 * syncs after its BoundedFrequencyRunner lag; workloads start at their start time; timeline steps
 * run at theirs. The run ends at the scenario duration, or earlier once every workload has finished
 * and no timeline step is left.
 */
import { compileCosts, type CostSamplers } from "../sim/costs.ts"
import { Apps, type AppsListener } from "../apps/apps.ts"
import { Client, PingClient, UdpEchoClient, type ArrivalModel, type ClientConfig } from "../apps/client.ts"
import { HttpClient, HttpServer, GENERIC_RESPONSE_BYTES } from "../apps/http.ts"
import { coreDnsParams, UPSTREAM_TTL_S_DEFAULT, type CoreDnsEnvironment, type CoreDnsParams } from "../apps/coredns.ts"
import { NodeResolverServer } from "../apps/node-resolver.ts"
import { podServerPlan, startPodServers } from "../apps/images.ts"
import { FailureReason, type ServerIdentity } from "../apps/observer.ts"
import type { Server, ServiceTime } from "../apps/server.ts"
import { ControlPlane } from "../k8s/control-plane.ts"
import type { ApiListener } from "../k8s/store.ts"
import { matchesSelector, matchesServiceSelector } from "../k8s/labels.ts"
import type { Deployment, Pod, Service } from "../k8s/types.ts"
import { NETDEV_MAX_BACKLOG_DEFAULT, RX_RING_SIZE_DEFAULT } from "../net/backlog.ts"
import { ClusterNetwork, type ExternalHost, type NodeNet, type PodNet } from "../net/cni.ts"
import { Network } from "../net/network.ts"
import type { NetNs } from "../net/netns.ts"
import { NODE_CPUS_DEFAULT, nodeConntrackSysctls } from "../proxy/conntrack-sysctls.ts"
import { NetfilterStack } from "../netfilter/stack.ts"
import { Rng } from "../sim/rng.ts"
import { Scheduler, type EventHandler } from "../sim/scheduler.ts"
import { NS_PER_MS } from "../sim/time.ts"
import { formatIpv4, ipv4, type Ipv4 } from "../wire/ipv4.ts"
import { Collector } from "./collector.ts"
import { LoadBalancers } from "../lb/loadbalancer.ts"
import { ChangeLog, KubeProxyNode } from "./kube-proxy.ts"
import { PROXY_BACKENDS, SharedProxyState } from "./proxy-backends.ts"
import { RuleParseCache } from "../netfilter/rule-cache.ts"
import { resolveHost, type NameTables } from "../dns/resolve.ts"
import type { NodeLocalDnsAgent } from "../apps/nodelocal-agent.ts"
import { nodeLocalDnsEvent, startNodeLocalDns } from "../apps/nodelocal-setup.ts"
import {
  ScenarioIssues,
  type Issue,
  type NodeConntrackSpec,
  type NodeSpec,
  type ScenarioSpec,
  type WorkloadSpec,
} from "./spec.ts"
import type { RaceFix } from "../netfilter/conntrack.ts"
import { DnsRuntime, NODE_RESOLVER_HOST } from "./dns-runtime.ts"

/** A timeline apply step's description lists at most this many objects by name. */
const APPLY_NAMES_LISTED_MAX = 10

/** How often a waiting workload checks whether its sources run and its target is programmed. */
const WORKLOAD_WAIT_STEP_NS = 10 * NS_PER_MS

export interface NodeRuntime {
  readonly name: string
  readonly zone: string
  readonly net: NodeNet
  readonly filter: NetfilterStack
  readonly proxy: KubeProxyNode
}

/**
 * A pod's runtime: its network and servers. A pod kept as a compact record (`net` not built:
 * cni.ts PodNet) has its server indices and identity reserved but no servers yet; they start when
 * the network is built (a packet for the pod, or a caller reading `ns`), in the state the pod's
 * container events left them (started, or started and stopped).
 */
class PodRuntime {
  readonly servers: Server[] = []
  /** Servers waiting for the network: their identity and first reserved index; null: none. */
  pending: { readonly pod: Pod; readonly identity: ServerIdentity; readonly indexFirst: number } | null = null
  /** The container stopped after the pending servers "started": they start stopped. */
  pendingStopped = false

  constructor(
    readonly key: string,
    /** The pod's own network (veth/ENI), or null for a hostNetwork pod, which uses its node's. */
    readonly net: PodNet | null,
    private readonly hostNs: NetNs | null,
    readonly ip: Ipv4,
    readonly node: string,
  ) {}

  /** The pod's namespace (builds a lazy pod's network). */
  get ns(): NetNs {
    return this.net !== null ? this.net.ns : (this.hostNs as NetNs)
  }

  /** The namespace if it exists, without building it. */
  get builtNs(): NetNs | null {
    return this.net !== null ? this.net.builtNs : this.hostNs
  }
}

interface WorkloadRuntime {
  readonly spec: WorkloadSpec
  readonly index: number
  readonly clients: Client[]
  /** Service the target resolved through (for the expected endpoints), or null. */
  service: { readonly namespace: string; readonly name: string } | null
  started: boolean
  /**
   * What `workloadReady` reads, versioned, at its last check that found the workload not ready
   * (-1: no such check yet): the store's resourceVersion, successful kube-proxy syncs, the load
   * balancers' state version (see World.workloadReadyNow).
   */
  waitStoreVersion: number
  waitSyncsEnded: number
  waitLoadBalancersVersion: number
}

export interface StepRecord {
  readonly atNs: number
  readonly description: string
}

export class World implements ApiListener, EventHandler, AppsListener {
  readonly scheduler = new Scheduler()
  /** What the nodes' kube-proxies share (compiled per-Service rules): one per cluster. */
  readonly sharedProxy = new SharedProxyState()
  /** The nodes' kube-proxies, in node order (as `nodes`). */
  private readonly proxies: KubeProxyNode[] = []
  /**
   * Indices (in `proxies`) of the kube-proxies a write may need to tell: every one whose
   * `changeIsNoop` is false is here (a runner whose requested run is still pending is not, until
   * its run event is handled: SyncRunner.onRunRequestTaken). Unordered; sorted when read.
   */
  private readonly proxiesAwake: number[] = []
  /** Whether each index of `proxies` is in `proxiesAwake`. */
  private readonly proxyAwake: boolean[] = []
  /**
   * The same for endpoints writes that sync nothing (userspace mode: `endpointWritesSync` false).
   * A node is left out from its watch handling being scheduled until it ran
   * (ProxyBackend.onObjectsTaken) or its requested run was taken, whichever of the two lists.
   */
  private readonly proxiesAwakeForEndpoints: number[] = []
  private readonly proxyAwakeForEndpoints: boolean[] = []
  /**
   * Service and EndpointSlice writes announced to the kube-proxies, kube-proxies visited for them,
   * and told (onChange): visits grow with the calls made, not with writes x nodes (scale-shape test).
   */
  readonly proxyNotices = { writes: 0, visited: 0, told: 0 }
  /** The Service and EndpointSlice writes every node's kube-proxy is told of (kube-proxy.ts ChangeLog). */
  private readonly proxyChanges = new ChangeLog()
  /** Parsed iptables rules the nodes' netfilter stacks share (rule-cache.ts). */
  readonly ruleCache = new RuleParseCache()
  readonly network: Network
  readonly clusterNet: ClusterNetwork
  readonly controlPlane: ControlPlane
  readonly apps: Apps
  readonly collector: Collector
  /** LoadBalancer ingress IPs, externalIPs and kube-proxy's health check servers (lb/loadbalancer.ts). */
  readonly loadBalancers: LoadBalancers
  readonly nodes = new Map<string, NodeRuntime>()
  readonly pods = new Map<string, PodRuntime>()
  readonly externals = new Map<string, ExternalHost>()
  readonly workloads: WorkloadRuntime[]
  readonly steps: StepRecord[] = []
  readonly warnings: Issue[] = []
  /** node-cache per node when dns.nodeLocal.enabled (apps/nodelocal-agent.ts). */
  nodeLocalDns: ReadonlyMap<string, NodeLocalDnsAgent> = new Map()
  /** dns.mode packets: CoreDNS pods and stub resolvers (null in dns.mode static). */
  readonly dns: DnsRuntime | null
  private readonly serverIdentities: ServerIdentity[] = []
  private readonly names: NameTables
  private readonly kindTimeline: number
  private readonly kindWorkloadStart: number
  private readonly kindFinishCheck: number
  private timelineDone = 0
  /** Last time an EndpointSlice or Service changed (for "endpoints programmed" waits). */
  private lastServiceChangeNs = 0
  /** Last time a Service changed (userspace mode programs only these through syncs). */
  private lastServiceWriteNs = 0
  private building = true
  /** The calibration profile's samplers (cluster.network.costs); null for hand-built constant specs. */
  private readonly costSamplers: CostSamplers | null
  /** The scenario's node specs by name (the first of a name, as `find` returned): no scan per pod. */
  private readonly nodeSpecs = new Map<string, NodeSpec>()

  /** Successful kube-proxy syncs on every node so far (a version of what `workloadReady` reads). */
  private syncsEnded = 0
  /** See the constructor's `options.verifyWorkloadWaits`. */
  private readonly verifyWorkloadWaits: boolean

  /** Pods kept as compact records until used (cni.ts); off when an observer sees every device. */
  private readonly lazyPods: boolean
  /** Lazy pods' runtimes by network, for starting their servers once built. */
  private readonly lazyRuntimes = new Map<PodNet, PodRuntime>()

  /**
   * `options.lazyPods` (default true): pod networks and servers are built when a packet or a
   * caller first needs them, with the ids they would have had (same results either way); false
   * builds them when the pod gets its address (packet capture describes every device up front).
   * `options.deferIdleUserspace` (default true): in userspace mode a node's proxier defers its
   * ports and shuffles until a packet or a reader needs them (same results either way).
   * `options.verifyWorkloadWaits` (default false; tests): a waiting workload's readiness is
   * evaluated at every check, and a check whose answer the kept one would have hidden throws.
   */
  constructor(
    readonly spec: ScenarioSpec,
    readonly seed: number,
    options: {
      readonly lazyPods?: boolean
      readonly deferIdleUserspace?: boolean
      readonly verifyWorkloadWaits?: boolean
    } = {},
  ) {
    this.lazyPods = options.lazyPods ?? true
    this.sharedProxy.deferIdleUserspace = options.deferIdleUserspace ?? true
    const scheduler = this.scheduler
    this.network = new Network(scheduler, seed)
    this.kindTimeline = scheduler.registerKind("cluster/timeline", this)
    this.kindWorkloadStart = scheduler.registerKind("cluster/workload-start", this)
    this.kindFinishCheck = scheduler.registerKind("cluster/finish-check", this)
    this.collector = new Collector(spec.workloads.length)
    this.apps = new Apps(scheduler, this.network, this.collector)
    this.apps.listener = this
    this.verifyWorkloadWaits = options.verifyWorkloadWaits ?? false
    this.workloads = spec.workloads.map((w, index) => ({
      spec: w,
      index,
      clients: [],
      service: null,
      started: false,
      waitStoreVersion: -1,
      waitSyncsEnded: -1,
      waitLoadBalancersVersion: -1,
    }))

    const c = spec.cluster
    for (const n of c.nodes) if (!this.nodeSpecs.has(n.name)) this.nodeSpecs.set(n.name, n)
    this.costSamplers = c.network.costs === undefined ? null : compileCosts(c.network.costs)
    this.clusterNet = new ClusterNetwork(this.network, {
      cni: c.cni,
      network: c.network,
      nodeCidr: c.nodeCIDR,
      podCidr: c.podCIDR,
    })
    this.clusterNet.onPodBuilt = (net) => this.onPodNetworkBuilt(net)
    this.controlPlane = new ControlPlane(
      scheduler,
      {
        seed,
        nodes: c.nodes,
        cni: c.cni,
        podCIDR: c.podCIDR,
        serviceCIDR: c.serviceCIDR,
        nodeCIDR: c.nodeCIDR,
        loadBalancerPool: spec.loadBalancer.pool,
        ...(c.serviceNodePortRange !== undefined ? { serviceNodePortRange: c.serviceNodePortRange } : {}),
        ...(c.systemServices !== undefined ? { systemServices: c.systemServices } : {}),
        ...(c.maxPods !== undefined ? { maxPods: c.maxPods } : {}),
        ...(c.controllerManager?.kubeApiQps !== undefined
          ? { controllerClientQps: c.controllerManager.kubeApiQps }
          : {}),
        ...(c.controllerManager?.kubeApiBurst !== undefined
          ? { controllerClientBurst: c.controllerManager.kubeApiBurst }
          : {}),
        ...(spec.limits.podsMax !== undefined ? { podsMax: spec.limits.podsMax } : {}),
      },
      [this],
    )
    this.dns =
      spec.dns.mode === "packets" ? new DnsRuntime(spec, seed, scheduler, this.network, this.controlPlane.store) : null
    const issues: Issue[] = [...this.controlPlane.bootstrapIssues]
    for (const info of this.controlPlane.nodes()) this.addNode(info.name, info.zone, ipv4(info.ip))
    for (const host of spec.externalHosts) this.addExternal(host.name, host.ip, host.httpPorts)
    if (this.dns !== null) {
      const dns = this.dns
      dns.ensureNodeResolver = () => this.addNodeResolver(dns.nodeResolver)
    }
    this.names = {
      store: this.controlPlane.store,
      clusterDomain: c.clusterDomain,
      nodeAddresses: new Map([...this.nodes.values()].map((n) => [n.name, n.net.ip])),
      externalAddresses: new Map([...this.externals.values()].map((h) => [h.name, h.ip])),
    }
    issues.push(...this.controlPlane.apply(spec.manifests))
    if (this.dns !== null) issues.push(...this.controlPlane.apply(this.dns.manifests()))
    if (spec.dns.nodeLocalEnabled) issues.push(...this.startNodeLocalDns())
    const errors = issues.filter((i) => i.severity === "error")
    if (errors.length > 0) throw new ScenarioIssues(errors)
    this.warnings.push(...issues.filter((i) => i.severity === "warning"))
    const lbNodes = [...this.nodes.values()]
    this.loadBalancers = new LoadBalancers(
      scheduler,
      this.network,
      this.clusterNet,
      this.controlPlane.store,
      lbNodes,
      spec.loadBalancer,
      seed,
      (atNs, description) => this.steps.push({ atNs, description }),
      (name, address, node) => this.identity(name, address, node),
    )
    for (const svc of this.controlPlane.store.list("Service"))
      this.loadBalancers.noteService(svc.metadata.namespace ?? "default", svc.metadata.name, svc)
    for (const node of lbNodes)
      node.proxy.syncListener = { onKubeProxySynced: () => this.loadBalancers.onKubeProxySynced(node) }
    for (const node of this.nodes.values()) node.proxy.start(0)
    spec.timeline.forEach((step, index) => scheduler.schedule(step.atNs, this.kindTimeline, index, 0))
    for (const w of this.workloads) scheduler.schedule(w.spec.startNs, this.kindWorkloadStart, w.index, 0)
    this.building = false
    this.loadBalancers.reconcile(0)
  }

  // ------------------------------------------------------------------------------- building

  private addNode(name: string, zone: string, ip: Ipv4): void {
    const net = this.clusterNet.addNode(name, zone, ip)
    const kp = this.spec.kubeProxy
    // kube-proxy's start-up conntrack sysctls on this node (nf_conntrack_max from its CPUs).
    const nodeSpec = this.nodeSpecs.get(name)
    const kernelBuckets = nodeSpec?.conntrack?.buckets ?? this.spec.cluster.conntrack?.buckets
    const sysctls = nodeConntrackSysctls(
      {
        ...kp.conntrack,
        kernelMax: kp.conntrack.max,
        ...(kernelBuckets !== undefined ? { kernelBuckets } : {}),
      },
      nodeSpec?.cpus ?? this.spec.cluster.cpus ?? NODE_CPUS_DEFAULT,
    )
    const filter = new NetfilterStack(net.ns, {
      rng: Rng.stream(this.seed, `node/${name}/netfilter`),
      conntrack: {
        max: sysctls.max,
        buckets: sysctls.buckets,
        timeouts: sysctls.timeouts,
        // The kernel's UDP clash race (netfilter/conntrack.ts): a node's own setting, else the cluster's.
        ...nodeRaceOptions(nodeSpec?.conntrack, this.spec.cluster.conntrack),
        raceRng: Rng.stream(this.seed, `node/${name}/conntrack-race`),
      },
      ruleCostNs: kp.ruleCostNs,
      // A calibration profile's rule and conntrack cost distributions (scenario/profile.ts).
      ...(this.costSamplers !== null
        ? {
            costs: {
              filterRule: this.costSamplers.iptablesFilterRuleNs,
              natRule: this.costSamplers.iptablesNatRuleNs,
              conntrackLookup: this.costSamplers.conntrackLookupNs,
              conntrackNew: this.costSamplers.conntrackNewNs,
              rng: Rng.stream(this.seed, `node/${name}/netfilter/costs`),
            },
          }
        : {}),
      ruleCache: this.ruleCache,
    })
    net.ns.filter = filter
    // With a cost profile, the node's packet processing contends for its CPUs (softirq, NET_RX).
    if (this.costSamplers !== null)
      this.network.setNamespaceCpus(net.ns, nodeSpec?.cpus ?? this.spec.cluster.cpus ?? NODE_CPUS_DEFAULT, {
        netdevMaxBacklog: this.spec.cluster.network.netdevMaxBacklog ?? NETDEV_MAX_BACKLOG_DEFAULT,
        rxRingSize: this.spec.cluster.network.rxRingSize ?? RX_RING_SIZE_DEFAULT,
      })
    // kube-proxy reads its Node's labels (topology zone) from the API: the scenario's node labels.
    const labels = nodeSpec?.labels ?? {}
    const proxyNode = { name, ips: [formatIpv4(ip)], zone, labels }
    const factory = PROXY_BACKENDS[kp.mode]
    // The scenario loader refuses modes without a backend; reaching here without one is a bug.
    if (factory === undefined) throw new Error(`kube-proxy mode ${kp.mode} has no backend`)
    const backend = factory({
      scheduler: this.scheduler,
      node: proxyNode,
      ns: net.ns,
      network: this.network,
      stack: filter,
      spec: kp,
      seed: this.seed,
      serviceCIDRs: [this.spec.cluster.serviceCIDR],
      shared: this.sharedProxy,
    })
    const proxy = new KubeProxyNode(
      this.scheduler,
      this.controlPlane.store,
      proxyNode,
      filter,
      kp,
      backend,
      this.proxyChanges,
    )
    const retryS = kp.syncPeriodNs / 1e9
    proxy.onSyncFailed = (atNs) =>
      this.steps.push({
        atNs,
        description:
          kp.mode === "ipvs"
            ? `kube-proxy on ${name}: iptables-restore failed; the sync's virtual servers, addresses and ipsets stay applied, its iptables rules and cleanup not; a full sync within ${retryS}s`
            : `kube-proxy on ${name}: ${kp.mode === "nftables" ? "nft -f" : "iptables-restore"} failed; nothing applied, a full sync within ${retryS}s`,
      })
    // Same order as `nodes` (a name set again keeps its place there).
    const replaced = this.nodes.get(name)
    const index = replaced === undefined ? this.proxies.length : this.proxies.indexOf(replaced.proxy)
    this.proxies[index] = proxy
    // A new kube-proxy has no run requested: a write must tell it.
    this.wakeProxy(index)
    proxy.runner.onRunRequestTaken = () => this.wakeProxy(index)
    proxy.onSyncRecorded = () => this.syncsEnded++
    if (backend.onObjectsChanged !== undefined) backend.onObjectsTaken = () => this.wakeProxy(index)
    this.nodes.set(name, { name, zone, net, filter, proxy })
  }

  /**
   * The nodes' resolver (dns.mode packets): a host outside the cluster answering the external host
   * names (apps/node-resolver.ts), the nameserver of Default and hostNetwork pods. Not one of
   * `externals`: it is no workload target and no name of its own. Added when the first client's
   * resolv.conf names it, so runs without such a client keep their server indices (and fingerprints).
   */
  private addNodeResolver(address: string): void {
    if (this.nodeResolverAdded) return
    this.nodeResolverAdded = true
    const host = this.clusterNet.addExternalHost(NODE_RESOLVER_HOST, ipv4(address))
    const names = new Map<string, Ipv4>()
    for (const h of this.externals.values()) names.set(h.name.toLowerCase(), h.ip)
    this.apps.addServer(
      new NodeResolverServer(
        this.apps,
        host.ns,
        this.identity(NODE_RESOLVER_HOST, host.ip, ""),
        Rng.stream(this.seed, "external/node-resolver"),
        names,
        UPSTREAM_TTL_S_DEFAULT,
      ),
    )
  }

  private nodeResolverAdded = false

  private addExternal(name: string, ip: string, httpPorts: readonly number[]): void {
    const host = this.clusterNet.addExternalHost(name, ipv4(ip))
    this.externals.set(name, host)
    if (httpPorts.length > 0) {
      const identity = this.identity(name, host.ip, "")
      this.apps.addServer(
        new HttpServer(
          this.apps,
          host.ns,
          identity,
          this.serviceTime(),
          Rng.stream(this.seed, `external/${name}/server`),
          httpPorts,
          GENERIC_RESPONSE_BYTES,
        ),
      )
    }
  }

  private identity(name: string, address: Ipv4, node: string): ServerIdentity {
    const identity: ServerIdentity = { index: this.serverIdentities.length, name, address, node }
    this.serverIdentities.push(identity)
    return identity
  }

  private serviceTime(): ServiceTime {
    return { meanNs: this.spec.server.serviceTimeNs, distribution: this.spec.server.serviceTimeDistribution }
  }

  /** NodeLocal DNSCache: kube-dns-upstream, then node-cache on every node (apps/nodelocal-setup.ts). */
  private startNodeLocalDns(): Issue[] {
    const c = this.spec.cluster
    const { agents, issues } = startNodeLocalDns({
      seed: this.seed,
      address: this.spec.dns.nodeLocalAddress,
      proxyMode: this.spec.kubeProxy.mode,
      clusterDomain: c.clusterDomain,
      upstreamRttNs: 2 * c.network.externalLatencyNs,
      upstreamNames: new Map([...this.externals.values()].map((h) => [h.name.toLowerCase(), h.ip])),
      store: this.controlPlane.store,
      apply: (objects) => this.controlPlane.apply(objects),
      network: this.network,
      host: this.apps,
      identity: (name, address, node) => this.identity(name, address, node),
      scheduler: this.scheduler,
      startAtNs: (node) => this.nodes.get(node)?.proxy.runningSyncEndNs ?? 0,
      nodes: [...this.nodes.values()].map((n) => ({
        name: n.name,
        ns: n.net.ns,
        stack: n.filter,
        cpus: this.nodeSpecs.get(n.name)?.cpus ?? c.cpus ?? NODE_CPUS_DEFAULT,
      })),
    })
    this.nodeLocalDns = agents
    // The loader requires dns.clusterDNS in IPVS mode; a spec changed after loading (compare's
    // modes, tests) gets the same fact as a warning: pods asking the VIP bypass the cache.
    const clusterDns = this.spec.dns.clusterDNS ?? null
    if (
      this.spec.kubeProxy.mode === "ipvs" &&
      this.spec.dns.mode === "packets" &&
      clusterDns !== this.spec.dns.nodeLocalAddress
    )
      issues.push({
        severity: "warning",
        path: ["dns", "clusterDNS"],
        message: `IPVS mode: NodeLocal DNSCache listens on ${this.spec.dns.nodeLocalAddress} only, and pods ask ${clusterDns ?? "the kube-dns VIP"}, which IPVS sends to CoreDNS: the cache is bypassed (set dns.clusterDNS to ${this.spec.dns.nodeLocalAddress})`,
      })
    return issues
  }

  // ------------------------------------------------------------------------------- API watch

  onPodUpdated(pod: Pod): void {
    this.syncPod(pod)
  }

  onPodAdded(pod: Pod): void {
    this.syncPod(pod)
  }

  onPodDeleted(pod: Pod): void {
    const key = podKey(pod)
    const runtime = this.pods.get(key)
    if (runtime === undefined) return
    for (const server of runtime.servers) server.stop()
    runtime.pending = null
    if (runtime.net !== null) {
      this.lazyRuntimes.delete(runtime.net)
      this.clusterNet.removePod(runtime.net)
    }
    this.pods.delete(key)
  }

  onServiceChanged(namespace: string, name: string, service: Service | undefined): void {
    // While building, the watch is seeded from the store once the LoadBalancers exist.
    if (!this.building) this.loadBalancers.noteService(namespace, name, service)
    this.lastServiceWriteNs = this.scheduler.nowNs
    this.notifyProxies(false)
  }

  onDeploymentChanged(namespace: string, name: string, deployment: Deployment | undefined): void {
    // Only a new, deleted or relabelled template changes which Deployments a selector selects.
    const key = `${namespace}/${name}`
    const labels = deployment === undefined ? undefined : canonicalLabels(deployment.spec.template.metadata?.labels)
    if (this.deploymentTemplateLabels.get(key) === labels) return
    if (labels === undefined) this.deploymentTemplateLabels.delete(key)
    else this.deploymentTemplateLabels.set(key, labels)
    this.deploymentsSelectedCache.clear()
  }

  /**
   * The namespace's Deployments whose pod template a Service selector selects, in list order:
   * listed and filtered once per selector until a Deployment is added, deleted or relabelled
   * (a waiting workload asks every 10 ms; listing 10,000 Deployments each time is a scan per check).
   */
  private deploymentsSelected(namespace: string, selector: Readonly<Record<string, string>>): Deployment[] {
    const cacheKey = `${namespace}\u0000${canonicalLabels(selector)}`
    let names = this.deploymentsSelectedCache.get(cacheKey)
    if (names === undefined) {
      names = []
      for (const d of this.controlPlane.store.list("Deployment", namespace))
        if (matchesServiceSelector(selector, d.spec.template.metadata?.labels ?? {})) names.push(d.metadata.name)
      this.deploymentsSelectedCache.set(cacheKey, names)
    }
    const out: Deployment[] = []
    for (const name of names) {
      const d = this.controlPlane.store.get("Deployment", namespace, name)
      if (d !== undefined) out.push(d)
    }
    return out
  }

  private readonly deploymentTemplateLabels = new Map<string, string>()
  private readonly deploymentsSelectedCache = new Map<string, string[]>()

  onEndpointSliceChanged(): void {
    this.notifyProxies(true)
  }

  /**
   * Whether EndpointSlice writes need a kube-proxy sync to be programmed (false in userspace mode,
   * whose load balancer takes Endpoints from the watch: KubeProxyNode.onChange).
   */
  private get endpointWritesSync(): boolean {
    return this.proxies[0]?.backend.endpointWritesSync !== false
  }

  /** The last write a sync must have seen for the nodes' rules to be up to date. */
  private get lastWriteToProgramNs(): number {
    return this.endpointWritesSync ? this.lastServiceChangeNs : this.lastServiceWriteNs
  }

  private notifyProxies(endpointsWrite: boolean): void {
    if (this.building) return
    const nowNs = this.scheduler.nowNs
    this.lastServiceChangeNs = nowNs
    // Every node's kube-proxy sees the write: logged once for all of them (ChangeLog); a write
    // no sync programs (endpoints in userspace mode) is not.
    if (!endpointsWrite || this.endpointWritesSync) this.proxyChanges.push(nowNs)
    // Nodes for which onChange is a no-op (a run already requested) are skipped: same calls, in
    // the same node order, for the others (a write burst of 30,000 slices at 5,000 nodes is 150
    // million calls otherwise, nearly all no-ops). Only the awake ones are visited: a write costs
    // the kube-proxies it tells, not a visit of every node (30,000 writes x 5,000 nodes).
    // In userspace mode a node is a no-op for endpoints writes once its watch handling is
    // scheduled, even with no run requested: those writes have a list of their own.
    const forEndpoints = endpointsWrite && !this.endpointWritesSync
    const awake = forEndpoints ? this.proxiesAwakeForEndpoints : this.proxiesAwake
    const flags = forEndpoints ? this.proxyAwakeForEndpoints : this.proxyAwake
    if (awake.length > 1) awake.sort(compareNumbers)
    const notices = this.proxyNotices
    notices.writes++
    notices.visited += awake.length
    let kept = 0
    for (let k = 0; k < awake.length; k++) {
      const index = awake[k]
      const proxy = this.proxies[index]
      if (!proxy.changeIsNoopFor(endpointsWrite)) {
        notices.told++
        proxy.onChange(nowNs, endpointsWrite)
      }
      if (proxy.changeIsNoopFor(endpointsWrite)) flags[index] = false
      else awake[kept++] = index
    }
    awake.length = kept
    this.loadBalancers.reconcile(nowNs)
  }

  /** The kube-proxy at `index` may act on the next write (see `proxiesAwake`). */
  private wakeProxy(index: number): void {
    if (this.proxies[index].backend.endpointWritesSync === false && this.proxyAwakeForEndpoints[index] !== true) {
      this.proxyAwakeForEndpoints[index] = true
      this.proxiesAwakeForEndpoints.push(index)
    }
    if (this.proxyAwake[index] === true) return
    this.proxyAwake[index] = true
    this.proxiesAwake.push(index)
  }

  /** Creates the pod's network and servers when its containers start; stops them when they exit. */
  private syncPod(pod: Pod): void {
    const key = podKey(pod)
    const namespace = pod.metadata.namespace ?? "default"
    const running = this.controlPlane.isContainerRunning(namespace, pod.metadata.name)
    let runtime = this.pods.get(key)
    if (runtime === undefined && pod.status?.podIP !== undefined && pod.spec.nodeName !== undefined) {
      const node = this.nodes.get(pod.spec.nodeName)
      if (node === undefined) return
      if (pod.spec.hostNetwork === true) {
        // hostNetwork: the containers run in the node's network namespace, with its address.
        runtime = new PodRuntime(key, null, node.net.ns, node.net.ip, node.name)
      } else {
        // A compact record until used (a packet reaching its node's bridge or its host route),
        // but not CoreDNS (its server keeps timers of its own).
        const lazy = this.lazyPods && !podServerPlan(pod.spec.containers).coreDns
        const net = this.clusterNet.addPod(node.net, pod.metadata.name, ipv4(pod.status.podIP), lazy)
        runtime = new PodRuntime(key, net, null, net.ip, node.name)
        if (!net.isBuilt) this.lazyRuntimes.set(net, runtime)
      }
      this.pods.set(key, runtime)
    }
    if (runtime === undefined) return
    if (running && runtime.servers.length === 0 && runtime.pending === null) this.startServers(pod, runtime)
    else if (!running) {
      for (const server of runtime.servers) server.stop()
      if (runtime.pending !== null) runtime.pendingStopped = true
    }
  }

  /** A lazy pod's network was built: its reserved servers start (stopped, if the container stopped). */
  private onPodNetworkBuilt(net: PodNet): void {
    const runtime = this.lazyRuntimes.get(net)
    if (runtime === undefined) return
    this.lazyRuntimes.delete(net)
    const pending = runtime.pending
    if (pending === null) return
    runtime.pending = null
    const servers = this.createServers(pending.pod, runtime, pending.identity, pending.indexFirst)
    if (runtime.pendingStopped) for (const server of servers) server.stop()
  }

  /** The pod's servers, chosen by its images (apps/images.ts). */
  private startServers(pod: Pod, runtime: PodRuntime): void {
    const identity = this.identity(pod.metadata.name, runtime.ip, runtime.node)
    if (runtime.net !== null && !runtime.net.isBuilt) {
      // Not built yet: reserve the servers' indices (the identity is taken above, as at once).
      const count = podServerPlan(pod.spec.containers).count
      if (count > 0) runtime.pending = { pod, identity, indexFirst: this.apps.reserveServers(count, identity) }
      return
    }
    this.createServers(pod, runtime, identity, undefined)
  }

  private createServers(
    pod: Pod,
    runtime: PodRuntime,
    identity: ServerIdentity,
    indexFirst: number | undefined,
  ): Server[] {
    const servers = startPodServers(
      {
        host: this.apps,
        ns: runtime.ns,
        identity,
        serviceTime: this.serviceTime(),
        serviceTimes: {
          pinned: this.spec.server.serviceTimePinned ?? true,
          ...(this.spec.server.byImage !== undefined ? { byImage: this.spec.server.byImage } : {}),
          // Hand-built specs (serviceTimePinned absent) keep unlimited concurrency.
          cpus:
            this.spec.server.cpus ??
            (this.spec.server.serviceTimePinned === undefined
              ? 0
              : (this.nodeSpecs.get(runtime.node)?.cpus ?? this.spec.cluster.cpus ?? NODE_CPUS_DEFAULT)),
        },
        rng: Rng.stream(this.seed, `pod/${runtime.key}/server`),
        dnsRng: () => Rng.stream(this.seed, `pod/${runtime.key}/coredns`),
        coreDns: () => this.coreDnsSetup(runtime.node),
      },
      pod.spec.containers,
      indexFirst,
    )
    runtime.servers.push(...servers)
    return servers
  }

  /**
   * kubeadm's CoreDNS on `node`: the node's CPUs (kubeadm's Deployment sets no CPU limit), the
   * upstream one external round trip away and answering the scenario's external host names.
   */
  private coreDnsSetup(node: string): { params: CoreDnsParams; env: CoreDnsEnvironment } {
    const cpus = this.nodeSpecs.get(node)?.cpus ?? this.spec.cluster.cpus ?? NODE_CPUS_DEFAULT
    const params = coreDnsParams(this.spec.cluster.clusterDomain, cpus, 2 * this.spec.cluster.network.externalLatencyNs)
    const upstreamNames = new Map<string, Ipv4>()
    for (const host of this.externals.values()) upstreamNames.set(host.name.toLowerCase(), host.ip)
    return { params, env: { store: this.controlPlane.store, upstreamNames } }
  }

  // ------------------------------------------------------------------------------- events

  handleEvent(kind: number, a: number, _b: number, nowNs: number): void {
    if (kind === this.kindTimeline) this.runStep(a, nowNs)
    else if (kind === this.kindWorkloadStart) this.startWorkload(this.workloads[a], nowNs)
    else if (kind === this.kindFinishCheck) this.checkFinished()
  }

  private runStep(index: number, nowNs: number): void {
    const step = this.spec.timeline[index]
    const action = step.action
    const cp = this.controlPlane
    let description: string
    let issues: Issue[]
    if (action.kind === "scale") {
      issues = cp.scale(action.namespace, action.target, action.replicas)
      description = `scale ${action.target} --replicas=${action.replicas}`
    } else if (action.kind === "delete") {
      issues = cp.delete(action.namespace, action.target)
      description = `delete ${action.target}`
    } else if (action.kind === "failRestore") {
      issues = []
      this.nodes.get(action.node)?.proxy.failRestores(action.count)
      description = `kube-proxy on ${action.node}: the next ${action.count === 1 ? "iptables-restore fails" : `${action.count} iptables-restore runs fail`}`
    } else if (action.kind === "nodeLocalDns") {
      issues = []
      description = nodeLocalDnsEvent(this.nodeLocalDns, action.node, action.event)
    } else {
      issues = cp.apply(action.objects)
      const names = action.objects.map((o) => `${o.object.kind.toLowerCase()}/${o.object.metadata.name}`)
      // Many objects (sync-at-scale applies hundreds): the count, the first and the last.
      description =
        names.length > APPLY_NAMES_LISTED_MAX
          ? `apply ${names.length} objects: ${names.slice(0, 2).join(", ")}, ..., ${names[names.length - 1]}`
          : `apply ${names.join(", ")}`
    }
    for (const issue of issues) description += ` (${issue.severity}: ${issue.message})`
    this.steps.push({ atNs: nowNs, description })
    this.timelineDone++
    this.scheduleFinishCheck()
  }

  /**
   * A workload starts at its start time once its sources run and its target is served, as a user
   * runs curl after `kubectl get pods` shows Running: every source pod's container is running and,
   * when the target is a Service with a selector, it has a ready endpoint that every node's
   * kube-proxy has programmed. Checked every WORKLOAD_WAIT_STEP_NS; past the scenario duration
   * the workload starts regardless (and its failures show why). With `waitFor: none` only the
   * sources are waited for.
   */
  private workloadReady(spec: WorkloadSpec, nowNs: number): boolean {
    if (nowNs >= this.spec.durationNs) return true
    const from = spec.from
    if (from.kind === "deployment") {
      const deployment = this.controlPlane.store.get("Deployment", from.namespace, from.name)
      if (deployment !== undefined && this.sources(spec).length < (deployment.spec.replicas ?? 1)) return false
    } else if (this.sources(spec).length === 0) return false
    if (spec.waitFor === "none") return true
    // dns.mode packets: CoreDNS serves kube-dns and every kube-proxy has programmed it.
    if (this.dns !== null && !this.dns.ready()) return false
    if (this.dns !== null)
      for (const node of this.nodes.values()) {
        const last = node.proxy.syncs[node.proxy.syncs.length - 1]
        if (last === undefined || last.atNs < this.lastWriteToProgramNs) return false
      }
    const namespace = from.kind === "pod" || from.kind === "deployment" ? from.namespace : "default"
    const resolution = resolveHost(this.names, spec.to.host, spec.to.port, namespace)
    if (resolution !== null && !this.loadBalancers.ready(resolution.address)) return false
    if (resolution === null || resolution.service === null) return true
    const service = this.controlPlane.store.get("Service", resolution.service.namespace, resolution.service.name)
    if (service?.spec.selector === undefined) return true
    // Every pod the Service selects is a ready endpoint (as after `kubectl rollout status`).
    let ready = 0
    for (const slice of this.controlPlane.store.endpointSlicesFor(
      resolution.service.namespace,
      resolution.service.name,
    )) {
      for (const e of slice.endpoints) if (e.conditions?.ready !== false) ready++
    }
    const selector = service.spec.selector
    // The store's label index (same pods as listing the namespace and matching the selector).
    const pods = this.controlPlane.store
      .podsSelectedBy(resolution.service.namespace, selector)
      .filter((pod) => pod.metadata.deletionTimestampNs === undefined).length
    // Pods a Deployment will create but has not yet count too (its controller reacts after a lag).
    let replicas = 0
    for (const d of this.deploymentsSelected(resolution.service.namespace, selector)) replicas += d.spec.replicas ?? 1
    const selected = Math.max(pods, replicas)
    // A Service that selects no pod will get no endpoint: start once kube-proxy has its REJECT.
    if (ready < selected) return false
    for (const node of this.nodes.values()) {
      const last = node.proxy.syncs[node.proxy.syncs.length - 1]
      if (last === undefined || last.atNs < this.lastWriteToProgramNs) return false
    }
    return true
  }

  /**
   * `workloadReady`, without evaluating it again while nothing it reads changed since its last
   * check found the workload not ready. It reads the API store (resourceVersion moves with every
   * write, and the pod runtimes, container states, Deployment selections and the last write to
   * program follow the store's writes, announced synchronously), the nodes' successful syncs
   * (`syncsEnded`), the load balancers' state (`LoadBalancers.version`) and the time only against
   * the scenario's end. A waiting workload is checked every WORKLOAD_WAIT_STEP_NS: in userspace
   * mode every node's first sync lasts hours of simulated time at 10,000 Services, over a million
   * checks per workload, each a dozen store lookups, a name resolution and selector matches.
   * The checks (events) themselves stay, at the same times: the run's fingerprint hashes them.
   */
  private workloadReadyNow(w: WorkloadRuntime, nowNs: number): boolean {
    if (nowNs >= this.spec.durationNs) return true
    // Read before the evaluation: a change made during it moves them past what is kept.
    const storeVersion = this.controlPlane.store.resourceVersion
    const syncsEnded = this.syncsEnded
    const loadBalancersVersion = this.loadBalancers.version
    const unchanged =
      w.waitStoreVersion === storeVersion &&
      w.waitSyncsEnded === syncsEnded &&
      w.waitLoadBalancersVersion === loadBalancersVersion
    if (unchanged && !this.verifyWorkloadWaits) return false
    const ready = this.workloadReady(w.spec, nowNs)
    if (unchanged && ready)
      throw new Error(
        `workload ${w.spec.name}: ready at ${nowNs} ns although nothing its check reads changed since the last check`,
      )
    if (!ready) {
      w.waitStoreVersion = storeVersion
      w.waitSyncsEnded = syncsEnded
      w.waitLoadBalancersVersion = loadBalancersVersion
    }
    return ready
  }

  private startWorkload(w: WorkloadRuntime, nowNs: number): void {
    const spec = w.spec
    if (!this.workloadReadyNow(w, nowNs)) {
      this.scheduler.schedule(nowNs + WORKLOAD_WAIT_STEP_NS, this.kindWorkloadStart, w.index, 0)
      return
    }
    w.started = true
    this.steps.push({ atNs: nowNs, description: `workload ${spec.name} starts` })
    const sources = this.sources(spec)
    const namespace = spec.from.kind === "pod" || spec.from.kind === "deployment" ? spec.from.namespace : "default"
    const resolution = resolveHost(this.names, spec.to.host, spec.to.port, namespace)
    w.service = resolution?.service ?? null
    const stopNs = Math.min(
      this.spec.durationNs,
      spec.durationNs === null ? Number.MAX_SAFE_INTEGER : nowNs + spec.durationNs,
    )
    if (resolution === null && this.dns === null) {
      // Nothing to send to: each request the workload would issue fails as unresolved.
      const perSource = spec.count ?? 0
      if (sources.length === 0)
        for (let i = 0; i < perSource; i++) this.collector.onRequestUnresolved(w.index, null, spec.from.name, nowNs)
      for (const source of sources)
        for (let i = 0; i < perSource; i++) this.collector.onRequestUnresolved(w.index, source.ns, source.name, nowNs)
      this.scheduleFinishCheck()
      return
    }
    sources.forEach((source, i) => {
      const pod =
        spec.from.kind === "pod" || spec.from.kind === "deployment"
          ? this.controlPlane.store.get("Pod", spec.from.namespace, source.name)
          : undefined
      const resolver = this.dns?.resolverFor(pod, source.ns, spec.to.host, w.index, `${source.name}/${i}`) ?? null
      if (resolution === null && resolver === null) {
        // No DNS path for this source (static resolution of a name the table does not know).
        for (let n = 0; n < (spec.count ?? 0); n++)
          this.collector.onRequestUnresolved(w.index, source.ns, source.name, nowNs)
        return
      }
      const config: ClientConfig = {
        workload: w.index,
        arrival: arrivalModel(spec),
        count: spec.count,
        startNs: nowNs,
        stopNs,
        timeoutNs: spec.timeoutNs,
        requestBytes: spec.requestBytes,
        responseBytes: spec.responseBytes,
        dstAddr: resolution?.address ?? 0,
        dstPort: spec.to.port,
        reuse: spec.connection === "keepAlive",
        ...(resolver !== null ? { resolver } : {}),
        ...(spec.to.scheme === "http" ? { http: { host: spec.to.host, path: spec.to.path } } : {}),
      }
      const rng = Rng.stream(this.seed, `workload/${spec.name}/${source.name}/${i}`)
      const client =
        spec.to.scheme === "udp"
          ? new UdpEchoClient(this.apps, source.ns, config, rng)
          : spec.to.scheme === "icmp"
            ? new PingClient(this.apps, source.ns, config, rng)
            : new HttpClient(this.apps, source.ns, config, rng)
      this.apps.addClient(client)
      w.clients.push(client)
      client.start()
    })
    this.scheduleFinishCheck()
  }

  /** A deployment source's last answer and the store state it was read in (see `sources`). */
  private readonly sourcesKept = new Map<
    WorkloadSpec,
    { readonly resourceVersion: number; readonly sources: readonly { name: string; ns: NetNs }[] }
  >()

  private sources(spec: WorkloadSpec): readonly { name: string; ns: NetNs }[] {
    const from = spec.from
    switch (from.kind) {
      case "pod": {
        const runtime = this.pods.get(`${from.namespace}/${from.name}`)
        return runtime === undefined ? [] : [{ name: from.name, ns: runtime.ns }]
      }
      case "deployment": {
        // Which pods run changes only with a store write (the kubelet writes the pod's status as it
        // starts or stops its containers, the runtime follows the pod's writes): a waiting workload
        // checks every 10 ms, and the answer is kept until the store's resourceVersion moves.
        const store = this.controlPlane.store
        const kept = this.sourcesKept.get(spec)
        if (kept !== undefined && kept.resourceVersion === store.resourceVersion) return kept.sources
        const deployment = this.controlPlane.store.get("Deployment", from.namespace, from.name)
        if (deployment === undefined) return []
        const out: { name: string; ns: NetNs }[] = []
        // A matchLabels-only selector (the usual) selects what a Service selector of the same map
        // does: the store's label index finds the pods, in list order, without listing the namespace.
        const selector = deployment.spec.selector
        const indexed =
          selector.matchLabels !== undefined &&
          Object.keys(selector.matchLabels).length > 0 &&
          (selector.matchExpressions ?? []).length === 0
        const candidates = indexed
          ? this.controlPlane.store.podsSelectedBy(from.namespace, selector.matchLabels)
          : this.controlPlane.store.list("Pod", from.namespace)
        for (const pod of candidates) {
          if (!matchesSelector(deployment.spec.selector, pod.metadata.labels ?? {})) continue
          const runtime = this.pods.get(podKey(pod))
          if (runtime !== undefined && this.controlPlane.isContainerRunning(from.namespace, pod.metadata.name))
            out.push({ name: pod.metadata.name, ns: runtime.ns })
        }
        this.sourcesKept.set(spec, { resourceVersion: store.resourceVersion, sources: out })
        return out
      }
      case "node": {
        const node = this.nodes.get(from.name)
        return node === undefined ? [] : [{ name: from.name, ns: node.net.ns }]
      }
      case "external": {
        const host = this.externals.get(from.name)
        return host === undefined ? [] : [{ name: from.name, ns: host.ns }]
      }
    }
  }

  onClientFinished(): void {
    this.scheduleFinishCheck()
  }

  /** Checks, after the current instant's events, whether the run can end early. */
  scheduleFinishCheck(): void {
    this.scheduler.schedule(this.scheduler.nowNs, this.kindFinishCheck, 0, 0)
  }

  private checkFinished(): void {
    if (this.timelineDone < this.spec.timeline.length) return
    for (const w of this.workloads) {
      if (!w.started) return
      for (const client of w.clients) if (!client.finished) return
    }
    this.scheduler.stop()
  }

  /** Endpoints the workload's target Service has now (pod names), for the expected shares. */
  expectedEndpoints(w: WorkloadRuntime): string[] {
    if (w.service === null) return []
    const names = new Set<string>()
    for (const slice of this.controlPlane.store.endpointSlicesFor(w.service.namespace, w.service.name)) {
      for (const endpoint of slice.endpoints) {
        if (endpoint.conditions?.ready === false) continue
        const name = endpoint.targetRef?.name
        if (name !== undefined) names.add(name)
        else {
          const external = [...this.externals.values()].find((h) => formatIpv4(h.ip) === endpoint.addresses[0])
          if (external !== undefined) names.add(external.name)
        }
      }
    }
    return [...names].sort()
  }
}

/** The UDP clash race settings of a node's kernel: its own fields win over the cluster's. */
function nodeRaceOptions(
  node: NodeConntrackSpec | undefined,
  cluster: NodeConntrackSpec | undefined,
): { raceFix?: RaceFix; racePpm?: number } {
  const raceFix = node?.raceFix ?? cluster?.raceFix
  const racePpm = node?.racePpm ?? cluster?.racePpm
  return { ...(raceFix !== undefined ? { raceFix } : {}), ...(racePpm !== undefined ? { racePpm } : {}) }
}

function arrivalModel(spec: WorkloadSpec): ArrivalModel {
  const a = spec.arrival
  switch (a.kind) {
    case "poisson":
      return { kind: "poisson", meanIntervalNs: Math.max(1, Math.round(1e9 / a.ratePerSecond)) }
    case "every":
      return { kind: "every", intervalNs: a.intervalNs }
    case "closedLoop":
      return { kind: "closedLoop", concurrency: a.concurrency }
  }
}

/** Labels as one comparable string (keys sorted). */
function canonicalLabels(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return "{}"
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  )
}

function compareNumbers(a: number, b: number): number {
  return a - b
}

function podKey(pod: Pod): string {
  return `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`
}
