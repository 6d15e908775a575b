/**
 * What sits in front of the nodes for Services of type LoadBalancer and for spec.externalIPs, and
 * kube-proxy's health check servers that external load balancers probe.
 *
 * kube-proxy health check servers (pkg/proxy/healthcheck/service_health.go): on every node, one
 * HTTP server per Service with a healthCheckNodePort (type LoadBalancer, externalTrafficPolicy
 * Local), opened and closed on kube-proxy's syncs (SyncServices) with the count of distinct local
 * ready endpoint IPs of the sync (SyncEndpoints(LocalReadyEndpoints())): 200 with >= 1, else 503.
 *
 * Load balancer modes (scenario `loadBalancer.mode`; only with a `pool`; without one the Service's
 * EXTERNAL-IP stays <pending> and only its NodePort works):
 *
 * - `cloud` (default): a cloud network load balancer in the edge router (GCE target pool / AWS NLB
 *   with instance targets). Connections to ingress-IP:port are DNATed at the edge to
 *   nodeIP:nodePort of one backend node, chosen per connection uniformly at random
 *   (`-m statistic --mode random`, as a 5-tuple hash of random ephemeral ports spreads them), the
 *   client address kept (packets from outside the node subnet return through the edge, whose
 *   conntrack undoes the DNAT). Clients on the node subnet itself are SNATed to the edge address
 *   (their replies would otherwise bypass the load balancer). Backends: every node for
 *   externalTrafficPolicy Cluster; for Local, the nodes whose health check on healthCheckNodePort
 *   passes (HTTP GET /healthz from the edge every `interval`, a reply within `timeout` with status
 *   200 is a success; healthy after `healthyThreshold` successes in a row, unhealthy after
 *   `unhealthyThreshold` failures in a row; a new node starts unhealthy). With no healthy node the
 *   load balancer fails open and uses every node (GCE target pools and AWS NLB do).
 *   Defaults are the Kubernetes GCE provider's (cloud-provider-gcp gce_loadbalancer_external.go:
 *   gceHcCheckIntervalSeconds 8, gceHcTimeoutSeconds 1, gceHcHealthyThreshold 1,
 *   gceHcUnhealthyThreshold 3).
 *   A port without a NodePort (`allocateLoadBalancerNodePorts: false`) is load-balanced straight to
 *   the Service's ready endpoints, podIP:targetPort, uniformly per connection, as the load balancers
 *   that need no NodePorts do (AWS Load Balancer Controller IP targets, GKE container-native NEGs;
 *   KEP-1864): targets follow endpoint readiness, externalTrafficPolicy and the node health checks
 *   play no part; with no ready endpoint the edge drops the traffic (no registered target).
 *   loadBalancerSourceRanges is enforced at the edge (the cloud's firewall rule / security group):
 *   kube-proxy checks it only for traffic to the LB IP itself, not for the NodePorts the LB uses.
 * - `l2`: MetalLB layer-2 mode. Per ingress IP one speaker node answers ARP for it (here: the fabric
 *   delivers the IP to that node's eth0), and kube-proxy's LB-IP rules on that node take the
 *   traffic. Election as metallb speaker/layer2_controller.go ShouldAnnounce: no announcement
 *   without a ready endpoint; candidates are all nodes (Cluster) or the nodes with a ready
 *   endpoint (Local); the node with the lowest sha256(nodeName + "#" + ip) wins. Re-elected on
 *   every Service/EndpointSlice change, at once (gratuitous ARP; memberlist failure detection and
 *   ARP cache timing are not modelled).
 *
 * spec.externalIPs: the cluster admin routes each external IP to a node; modelled as the edge
 * router (and the node subnet) delivering it to the first node by name, whatever the endpoints.
 */
import { createHash } from "node:crypto"
import { HealthCheckServer, healthCheckRequestBytes, type HealthReply } from "../apps/health.ts"
import type { ServerIdentity } from "../apps/observer.ts"
import type { ApiStore } from "../k8s/store.ts"
import type { Service } from "../k8s/types.ts"
import type { ClusterNetwork, NodeNet } from "../net/cni.ts"
import type { NetError } from "../net/errors.ts"
import type { NetInterface } from "../net/netns.ts"
import type { Network } from "../net/network.ts"
import type { Route } from "../net/route.ts"
import type { TcpConnection, TcpConnectionListener } from "../net/tcp.ts"
import { NetfilterStack } from "../netfilter/stack.ts"
import { Rng } from "../sim/rng.ts"
import type { EventHandler, Scheduler } from "../sim/scheduler.ts"
import { NS_PER_MS, NS_PER_S } from "../sim/time.ts"
import { cidrContains, formatCidr, formatIpv4, parseIpv4, type Ipv4 } from "../wire/ipv4.ts"
import { parseSourceRange } from "../proxy/service-port.ts"

export interface LoadBalancerSpec {
  /** Address pool (MetalLB-style ranges or CIDRs); empty = no provider, EXTERNAL-IP stays <pending>. */
  readonly pool: readonly string[]
  /**
   * What announces/forwards pool addresses: "cloud" (default; an edge load balancer DNATs to node
   * NodePorts, health-checking healthCheckNodePort for externalTrafficPolicy Local) or "l2"
   * (MetalLB layer-2: one elected speaker node receives each address). See the comment at the top of this file.
   */
  readonly mode?: "cloud" | "l2"
  /** Cloud health check of healthCheckNodePort; absent fields take the GCE provider defaults. */
  readonly healthCheck?: {
    readonly intervalNs?: number
    readonly timeoutNs?: number
    readonly healthyThreshold?: number
    readonly unhealthyThreshold?: number
  }
}

export type LoadBalancerMode = "cloud" | "l2"

export interface HealthCheckParams {
  readonly intervalNs: number
  readonly timeoutNs: number
  readonly healthyThreshold: number
  readonly unhealthyThreshold: number
}

/** Kubernetes GCE provider defaults (cloud-provider-gcp gce_loadbalancer_external.go). */
export const DEFAULT_HEALTH_CHECK: HealthCheckParams = {
  intervalNs: 8 * NS_PER_S,
  timeoutNs: 1 * NS_PER_S,
  healthyThreshold: 1,
  unhealthyThreshold: 3,
}

export const DEFAULT_LOAD_BALANCER_MODE: LoadBalancerMode = "cloud"

/** Mark the edge sets on load-balanced connections from the node subnet (SNATed in POSTROUTING). */
const EDGE_MASQ_MARK = "0x1"

export interface LbNode {
  readonly name: string
  readonly net: NodeNet
}

/** One health-checked backend: a node of a Service with a healthCheckNodePort. */
class ProbeTarget {
  active = true
  healthy = false
  successes = 0
  failures = 0
  conn: TcpConnection | null = null
  seq = 0
  timeoutHandle = -1
  probesSent = 0
  constructor(
    readonly index: number,
    readonly service: string,
    readonly node: string,
    readonly nodeIp: Ipv4,
    readonly port: number,
  ) {}
}

interface CloudPort {
  readonly protocol: "tcp" | "udp"
  readonly port: number
  /** 0: no NodePort, the edge targets `pods` directly. */
  readonly nodePort: number
  /** Ready endpoints "podIP:port" of this port (sorted), used when nodePort is 0. */
  readonly pods: readonly string[]
}

interface LbService {
  readonly key: string
  readonly vips: readonly Ipv4[]
  readonly externalPolicyLocal: boolean
  readonly healthCheckNodePort: number
  readonly ports: readonly CloudPort[]
  /** spec.loadBalancerSourceRanges as CIDR text; empty = every source. */
  readonly sourceRanges: readonly string[]
}

export class LoadBalancers implements EventHandler, TcpConnectionListener {
  readonly mode: LoadBalancerMode
  readonly healthCheck: HealthCheckParams
  /** Health check servers by node name, then by "namespace/name". */
  readonly healthServers = new Map<string, Map<string, HealthCheckServer>>()
  readonly probes: ProbeTarget[] = []
  private readonly probeByKey = new Map<string, ProbeTarget>()
  private readonly probeByConn = new Map<TcpConnection, ProbeTarget>()
  private services: LbService[] = []
  /**
   * Moves whenever what `ready` reads may have changed (a reconcile, a probe target's health): a
   * waiting workload's kept answer stays valid while it does not (World.workloadReadyNow).
   */
  version = 0
  /**
   * Services this component cares about (LoadBalancer type, externalIPs or a health check port),
   * kept from the watch so a change costs O(such services), not O(all services): at 10,000
   * Services a full list per EndpointSlice change dominated the run.
   */
  private readonly watched = new Map<string, Service>()
  private watchedSorted: Service[] | null = null
  /** Addresses the fabric delivers for us: address -> interface, and edge routes we added. */
  private readonly announced = new Map<Ipv4, NetInterface>()
  private readonly edgeRoutes = new Map<Ipv4, Route>()
  private edgeFilter: NetfilterStack | null = null
  private lastEdgeRules = ""
  private edgeMangleTable = false
  private readonly kindProbe: number
  private readonly kindProbeTimeout: number

  constructor(
    private readonly scheduler: Scheduler,
    private readonly network: Network,
    private readonly clusterNet: ClusterNetwork,
    private readonly store: ApiStore,
    private readonly nodes: readonly LbNode[],
    spec: LoadBalancerSpec,
    private readonly seed: number,
    /** Records what the load balancers did (announcements, health changes) in the run's steps. */
    private readonly record: (atNs: number, description: string) => void,
    /** A server identity for each health check server (name, address, node). */
    private readonly identityFor: (name: string, address: Ipv4, node: string) => ServerIdentity,
  ) {
    this.mode = spec.mode ?? DEFAULT_LOAD_BALANCER_MODE
    const hc = { ...DEFAULT_HEALTH_CHECK, ...(spec.healthCheck ?? {}) }
    // An interval of 0 would probe forever at one instant; GCE accepts 1 s at least.
    this.healthCheck = { ...hc, intervalNs: Math.max(hc.intervalNs, NS_PER_MS) }
    this.kindProbe = scheduler.registerKind("lb/probe", this)
    this.kindProbeTimeout = scheduler.registerKind("lb/probe-timeout", this)
  }

  // ----------------------------------------------------------------------- watch

  /** The Service `namespace/name` was created, updated or (service undefined) deleted. */
  noteService(namespace: string, name: string, service: Service | undefined): void {
    const key = `${namespace}/${name}`
    const relevant =
      service !== undefined &&
      (service.spec.type === "LoadBalancer" ||
        (service.spec.externalIPs ?? []).length > 0 ||
        (service.spec.healthCheckNodePort ?? 0) !== 0)
    if (relevant) this.watched.set(key, service)
    else if (!this.watched.delete(key)) return
    this.watchedSorted = null
  }

  /** The watched Services sorted by namespace/name (the store's listing order). */
  private watchedServices(): readonly Service[] {
    if (this.watchedSorted === null) {
      const keys = [...this.watched.keys()].sort(compare)
      this.watchedSorted = keys.map((k) => this.watched.get(k) as Service)
    }
    return this.watchedSorted
  }

  // ----------------------------------------------------------------------- kube-proxy health

  /** After kube-proxy on `node` synced: SyncServices + SyncEndpoints of its health check server. */
  onKubeProxySynced(node: LbNode): void {
    let servers = this.healthServers.get(node.name)
    if (servers === undefined) {
      servers = new Map()
      this.healthServers.set(node.name, servers)
    }
    const wanted = new Map<string, { namespace: string; name: string; port: number; count: number }>()
    for (const svc of this.watchedServices()) {
      const port = svc.spec.healthCheckNodePort ?? 0
      if (svc.spec.type !== "LoadBalancer" || svc.spec.externalTrafficPolicy !== "Local" || port === 0) continue
      const clusterIP = svc.spec.clusterIP ?? ""
      if (clusterIP === "" || clusterIP === "None") continue
      const namespace = svc.metadata.namespace ?? "default"
      const ips = new Set<string>()
      for (const slice of this.store.endpointSlicesFor(namespace, svc.metadata.name)) {
        for (const endpoint of slice.endpoints) {
          if (endpoint.nodeName !== node.name || endpoint.conditions?.ready === false) continue
          const ip = endpoint.addresses[0]
          if (ip !== undefined) ips.add(ip)
        }
      }
      wanted.set(`${namespace}/${svc.metadata.name}`, { namespace, name: svc.metadata.name, port, count: ips.size })
    }
    for (const [key, server] of servers) {
      const want = wanted.get(key)
      if (want === undefined || want.port !== server.port) {
        server.close()
        servers.delete(key)
      }
    }
    for (const [key, want] of wanted) {
      const server = servers.get(key)
      if (server === undefined)
        servers.set(
          key,
          new HealthCheckServer(
            this.network,
            node.net.ns,
            want.namespace,
            want.name,
            want.port,
            want.count,
            this.identityFor(`kube-proxy@${node.name}`, node.net.ip, node.name),
          ),
        )
      else server.setLocalEndpoints(want.count)
    }
  }

  // ----------------------------------------------------------------------- reconcile

  /** A Service or EndpointSlice changed (or the world was built): update routes, rules, probes. */
  reconcile(nowNs: number): void {
    this.version++
    this.services = this.collectServices()
    const wanted = new Map<Ipv4, NetInterface>()
    const owners = new Map<Ipv4, string>()
    // spec.externalIPs: routed by the admin to the first node by name.
    // The first node by name, found only when some Service has externalIPs (a sort of every node
    // per EndpointSlice change was a cost per change that grew with the cluster).
    let firstNode: LbNode | undefined
    for (const svc of this.watchedServices()) {
      if ((svc.spec.externalIPs ?? []).length === 0) continue
      firstNode = [...this.nodes].sort((a, b) => compare(a.name, b.name))[0]
      break
    }
    if (firstNode !== undefined) {
      for (const svc of this.watchedServices()) {
        for (const text of svc.spec.externalIPs ?? []) {
          const ip = parseIpv4(text)
          if (ip !== undefined && !wanted.has(ip)) {
            wanted.set(ip, firstNode.net.eth0)
            owners.set(ip, firstNode.name)
          }
        }
      }
    }
    if (this.mode === "l2") {
      for (const svc of this.services) {
        const winner = this.electSpeaker(svc)
        for (const ip of svc.vips) {
          const node = winner(ip)
          if (node !== null) {
            wanted.set(ip, node.net.eth0)
            owners.set(ip, node.name)
          }
        }
      }
    } else {
      for (const svc of this.services) {
        for (const ip of svc.vips) {
          wanted.set(ip, this.clusterNet.edgeEth0)
          owners.set(ip, "edge")
        }
      }
      this.reconcileProbes(nowNs)
      this.programEdge()
    }
    this.reconcileAnnouncements(wanted, owners, nowNs)
  }

  private collectServices(): LbService[] {
    const out: LbService[] = []
    for (const svc of this.watchedServices()) {
      if (svc.spec.type !== "LoadBalancer") continue
      const vips: Ipv4[] = []
      for (const ingress of svc.status?.loadBalancer?.ingress ?? []) {
        const ip = ingress.ip === undefined ? undefined : parseIpv4(ingress.ip)
        if (ip !== undefined) vips.push(ip)
      }
      if (vips.length === 0) continue
      const ports: CloudPort[] = []
      for (const p of svc.spec.ports ?? []) {
        const protocol = (p.protocol ?? "TCP") === "UDP" ? "udp" : (p.protocol ?? "TCP") === "TCP" ? "tcp" : null
        if (protocol === null) continue
        const nodePort = p.nodePort ?? 0
        ports.push({
          protocol,
          port: p.port,
          nodePort,
          pods: nodePort === 0 ? this.readyEndpoints(svc, p.name ?? "", p.protocol ?? "TCP") : [],
        })
      }
      out.push({
        key: `${svc.metadata.namespace ?? "default"}/${svc.metadata.name}`,
        vips,
        externalPolicyLocal: svc.spec.externalTrafficPolicy === "Local",
        healthCheckNodePort: svc.spec.healthCheckNodePort ?? 0,
        ports,
        sourceRanges: (svc.spec.loadBalancerSourceRanges ?? []).flatMap((text) => {
          const range = parseSourceRange(text)
          return range === undefined ? [] : [formatCidr(range)]
        }),
      })
    }
    return out.sort((a, b) => compare(a.key, b.key))
  }

  /** Ready endpoints "ip:port" of one service port, from its EndpointSlices, sorted. */
  private readyEndpoints(svc: Service, portName: string, protocol: string): string[] {
    const out = new Set<string>()
    for (const slice of this.store.endpointSlicesFor(svc.metadata.namespace ?? "default", svc.metadata.name)) {
      if (slice.addressType !== "IPv4") continue
      const port = slice.ports?.find((p) => (p.name ?? "") === portName && (p.protocol ?? "TCP") === protocol)?.port
      if (port === undefined) continue
      for (const endpoint of slice.endpoints) {
        const ip = endpoint.addresses[0]
        if (endpoint.conditions?.ready !== false && ip !== undefined) out.add(`${ip}:${port}`)
      }
    }
    return [...out].sort(compare)
  }

  /** MetalLB layer2 ShouldAnnounce: the winning node for an IP, or null (no announcement). */
  private electSpeaker(svc: LbService): (ip: Ipv4) => LbNode | null {
    const [namespace, name] = splitKey(svc.key)
    const withEndpoint = new Set<string>()
    for (const slice of this.store.endpointSlicesFor(namespace, name)) {
      for (const endpoint of slice.endpoints) {
        if (endpoint.conditions?.ready === false || endpoint.nodeName === undefined) continue
        withEndpoint.add(endpoint.nodeName)
      }
    }
    const active = withEndpoint.size > 0
    const candidates = svc.externalPolicyLocal ? this.nodes.filter((n) => withEndpoint.has(n.name)) : [...this.nodes]
    return (ip) => (active ? electL2Speaker(candidates, formatIpv4(ip)) : null)
  }

  private reconcileAnnouncements(wanted: Map<Ipv4, NetInterface>, owners: Map<Ipv4, string>, nowNs: number): void {
    const fabric = this.clusterNet.fabric
    const edge = this.clusterNet.edge
    for (const [ip, iface] of this.announced) {
      if (wanted.get(ip) === iface) continue
      if (fabric.neighbours.get(ip) === iface) fabric.neighbours.delete(ip)
      this.announced.delete(ip)
      const route = this.edgeRoutes.get(ip)
      if (route !== undefined) {
        edge.routes.remove(route.prefix, route.ifIndex)
        this.edgeRoutes.delete(ip)
      }
      if (!wanted.has(ip)) this.record(nowNs, `${formatIpv4(ip)} withdrawn`)
    }
    for (const [ip, iface] of wanted) {
      if (this.announced.get(ip) === iface) continue
      const existing = fabric.neighbours.get(ip)
      if (existing !== undefined) continue // a node, pod or the edge owns the address already
      this.network.addFabricNeighbour(fabric, ip, iface)
      this.announced.set(ip, iface)
      const owner = owners.get(ip) ?? ""
      if (owner !== "edge" && !cidrContains(this.clusterNet.nodeCidr, ip)) {
        this.edgeRoutes.set(
          ip,
          this.network.addRoute(edge, { address: ip, prefixLength: 32, mask: 0xffffffff }, this.clusterNet.edgeEth0),
        )
      }
      this.record(
        nowNs,
        owner === "edge" ? `load balancer ${formatIpv4(ip)} at the edge` : `${formatIpv4(ip)} announced by ${owner}`,
      )
    }
  }

  // ----------------------------------------------------------------------- cloud: edge + probes

  private reconcileProbes(nowNs: number): void {
    const live = new Set<string>()
    for (const svc of this.services) {
      if (!svc.externalPolicyLocal || svc.healthCheckNodePort === 0) continue
      for (const node of this.nodes) {
        const key = `${svc.key}|${node.name}|${svc.healthCheckNodePort}`
        live.add(key)
        if (this.probeByKey.has(key)) continue
        const target = new ProbeTarget(this.probes.length, svc.key, node.name, node.net.ip, svc.healthCheckNodePort)
        this.probes.push(target)
        this.probeByKey.set(key, target)
        this.scheduler.schedule(nowNs, this.kindProbe, target.index, 0)
      }
    }
    for (const [key, target] of this.probeByKey) {
      if (live.has(key)) continue
      target.active = false
      if (target.conn !== null) this.finishProbe(target, false, nowNs)
      this.probeByKey.delete(key)
    }
  }

  /** Backend nodes of a Service (sorted by name): healthy ones for Local, else all; fail open. */
  backends(svc: LbService): LbNode[] {
    if (!svc.externalPolicyLocal || svc.healthCheckNodePort === 0) return [...this.nodes]
    const healthy = this.nodes.filter(
      (n) => this.probeByKey.get(`${svc.key}|${n.name}|${svc.healthCheckNodePort}`)?.healthy === true,
    )
    return healthy.length > 0 ? healthy : [...this.nodes]
  }

  /**
   * The edge's nat table: DNAT of each ingress IP:port to the backends' NodePorts (or, for a port
   * without NodePort, to the ready endpoints); its mangle table drops, before routing, traffic to a
   * port with no target at all and sources outside loadBalancerSourceRanges.
   */
  edgeRules(): string {
    const nodeCidr = formatCidr(this.clusterNet.nodeCidr)
    const chains: string[] = [
      ":PREROUTING ACCEPT [0:0]",
      ":INPUT ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":POSTROUTING ACCEPT [0:0]",
      ":LB-SERVICES - [0:0]",
      ":LB-POSTROUTING - [0:0]",
    ]
    const rules: string[] = ["-A PREROUTING -j LB-SERVICES", "-A POSTROUTING -j LB-POSTROUTING"]
    const drops: string[] = []
    let chainIndex = 0
    for (const svc of this.services) {
      const backends = this.backends(svc).sort((a, b) => compare(a.name, b.name))
      for (const port of svc.ports) {
        const targets =
          port.nodePort !== 0 ? backends.map((node) => `${formatIpv4(node.net.ip)}:${port.nodePort}`) : port.pods
        if (targets.length === 0) {
          for (const vip of svc.vips)
            drops.push(
              `-A LB-FIREWALL -d ${formatIpv4(vip)}/32 -p ${port.protocol} -m comment --comment "${svc.key} loadbalancer has no target" -m ${port.protocol} --dport ${port.port} -j DROP`,
            )
          continue
        }
        const chain = `LB-${chainIndex++}`
        chains.push(`:${chain} - [0:0]`)
        // loadBalancerSourceRanges: the cloud's firewall (GCE firewall rule, AWS security group)
        // admits only those sources; kube-proxy's own check does not cover NodePorts, which the
        // load balancer forwards to, so it is enforced here, before routing (a silent drop).
        for (const vip of svc.vips) {
          rules.push(
            `-A LB-SERVICES -d ${formatIpv4(vip)}/32 -p ${port.protocol} -m comment --comment "${svc.key} loadbalancer" -m ${port.protocol} --dport ${port.port} -j ${chain}`,
          )
          if (svc.sourceRanges.length === 0) continue
          const match = `-d ${formatIpv4(vip)}/32 -p ${port.protocol} -m comment --comment "${svc.key} loadbalancer source ranges" -m ${port.protocol} --dport ${port.port}`
          for (const range of svc.sourceRanges) drops.push(`-A LB-FIREWALL -s ${range} ${match} -j RETURN`)
          drops.push(`-A LB-FIREWALL ${match} -j DROP`)
        }
        rules.push(`-A ${chain} -s ${nodeCidr} -j MARK --set-xmark ${EDGE_MASQ_MARK}/${EDGE_MASQ_MARK}`)
        targets.forEach((target, i) => {
          const left = targets.length - i
          const to = `-j DNAT --to-destination ${target}`
          rules.push(
            left > 1
              ? `-A ${chain} -m statistic --mode random --probability ${(1 / left).toFixed(10)} ${to}`
              : `-A ${chain} ${to}`,
          )
        })
      }
    }
    rules.push(`-A LB-POSTROUTING -m mark --mark ${EDGE_MASQ_MARK}/${EDGE_MASQ_MARK} -j MASQUERADE`)
    // Once written, the mangle table is always restored (emptied when no drop is left); never
    // written while no Service needs it, so other scenarios' packets see the nat table only.
    if (drops.length > 0) this.edgeMangleTable = true
    const mangle = !this.edgeMangleTable
      ? []
      : [
          "*mangle",
          ":PREROUTING ACCEPT [0:0]",
          ":INPUT ACCEPT [0:0]",
          ":FORWARD ACCEPT [0:0]",
          ":OUTPUT ACCEPT [0:0]",
          ":POSTROUTING ACCEPT [0:0]",
          ":LB-FIREWALL - [0:0]",
          "-A PREROUTING -j LB-FIREWALL",
          ...drops,
          "COMMIT",
        ]
    return [...mangle, "*nat", ...chains, ...rules, "COMMIT", ""].join("\n")
  }

  private programEdge(): void {
    if (this.services.length === 0 && this.edgeFilter === null) return
    if (this.edgeFilter === null) {
      this.edgeFilter = new NetfilterStack(this.clusterNet.edge, { rng: Rng.stream(this.seed, "edge/netfilter") })
      this.clusterNet.edge.filter = this.edgeFilter
    }
    const text = this.edgeRules()
    if (text === this.lastEdgeRules) return
    this.edgeFilter.restore(text)
    this.lastEdgeRules = text
  }

  handleEvent(kind: number, a: number, b: number, nowNs: number): void {
    const target = this.probes[a]
    if (kind === this.kindProbe) {
      if (!target.active) return
      this.sendProbe(target, nowNs)
      this.scheduler.schedule(nowNs + this.healthCheck.intervalNs, this.kindProbe, a, 0)
    } else if (kind === this.kindProbeTimeout) {
      target.timeoutHandle = -1
      if (target.conn !== null && target.seq === b) {
        const conn = target.conn
        this.finishProbe(target, false, nowNs)
        conn.abort()
      }
    }
  }

  private sendProbe(target: ProbeTarget, nowNs: number): void {
    if (target.conn !== null) {
      // The previous probe is still open (longer timeout than interval): it counts as failed.
      const conn = target.conn
      this.finishProbe(target, false, nowNs)
      conn.abort()
    }
    target.seq++
    target.probesSent++
    const conn = this.network.tcp.connect(this.clusterNet.edge, target.nodeIp, target.port, this, 0)
    target.conn = conn
    this.probeByConn.set(conn, target)
    target.timeoutHandle = this.scheduler.schedule(
      nowNs + this.healthCheck.timeoutNs,
      this.kindProbeTimeout,
      target.index,
      target.seq,
    )
  }

  private finishProbe(target: ProbeTarget, ok: boolean, nowNs: number): void {
    if (target.conn !== null) this.probeByConn.delete(target.conn)
    target.conn = null
    if (target.timeoutHandle >= 0) this.scheduler.cancel(target.timeoutHandle)
    target.timeoutHandle = -1
    if (!target.active) return
    const before = target.healthy
    if (ok) {
      target.successes++
      target.failures = 0
      if (target.successes >= this.healthCheck.healthyThreshold) target.healthy = true
    } else {
      target.failures++
      target.successes = 0
      if (target.failures >= this.healthCheck.unhealthyThreshold) target.healthy = false
    }
    if (target.healthy !== before) {
      this.version++
      this.record(
        nowNs,
        `load balancer ${target.service}: ${target.node} ${target.healthy ? "healthy" : "unhealthy"} (health check :${target.port})`,
      )
      this.programEdge()
    }
  }

  onConnected(conn: TcpConnection): void {
    const target = this.probeByConn.get(conn)
    if (target === undefined) return
    conn.send(healthCheckRequestBytes(formatIpv4(target.nodeIp), target.port), target.seq, null)
  }

  onMessage(conn: TcpConnection, _bytes: number, _appTag: number, appData: object | null): void {
    const target = this.probeByConn.get(conn)
    if (target === undefined) return
    const reply = appData as HealthReply | null
    this.finishProbe(target, reply !== null && reply.status === 200, this.scheduler.nowNs)
    conn.close()
  }

  onPeerClosed(conn: TcpConnection): void {
    const target = this.probeByConn.get(conn)
    conn.close()
    if (target !== undefined) this.finishProbe(target, false, this.scheduler.nowNs)
  }

  onClosed(conn: TcpConnection, _error: NetError): void {
    const target = this.probeByConn.get(conn)
    if (target !== undefined) this.finishProbe(target, false, this.scheduler.nowNs)
  }

  // ----------------------------------------------------------------------- queries

  /**
   * Whether traffic to `address` is served as a user would check before sending: an ingress IP in
   * cloud mode has a healthy backend (or no health check); in l2 mode it is announced. Other
   * addresses: true.
   */
  ready(address: Ipv4): boolean {
    for (const svc of this.services) {
      if (!svc.vips.includes(address)) continue
      if (this.mode === "l2") return this.announced.has(address)
      if (svc.ports.some((p) => p.nodePort === 0 && p.pods.length === 0)) return false
      if (!svc.externalPolicyLocal || svc.healthCheckNodePort === 0 || svc.ports.every((p) => p.nodePort === 0))
        return true
      return this.nodes.some(
        (n) => this.probeByKey.get(`${svc.key}|${n.name}|${svc.healthCheckNodePort}`)?.healthy === true,
      )
    }
    return true
  }

  /** The node (or "edge") the fabric delivers `address` to, or null. */
  announcer(address: Ipv4): string | null {
    const iface = this.announced.get(address)
    if (iface === undefined) return null
    if (iface === this.clusterNet.edgeEth0) return "edge"
    return this.nodes.find((n) => n.net.eth0 === iface)?.name ?? null
  }

  /** Health state of each probed (service, node): "namespace/name" -> node -> healthy. */
  healthStates(): Record<string, Record<string, boolean>> {
    const out: Record<string, Record<string, boolean>> = {}
    for (const target of this.probeByKey.values()) (out[target.service] ??= {})[target.node] = target.healthy
    return out
  }
}

/** MetalLB layer2: sort candidates by sha256(node + "#" + ip), the first announces. */
export function electL2Speaker<N extends { readonly name: string }>(candidates: readonly N[], ip: string): N | null {
  let best: N | null = null
  let bestHash: Buffer | null = null
  for (const node of candidates) {
    const hash = createHash("sha256").update(`${node.name}#${ip}`, "utf8").digest()
    if (bestHash === null || Buffer.compare(hash, bestHash) < 0) {
      best = node
      bestHash = hash
    }
  }
  return best
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf("/")
  return [key.slice(0, i), key.slice(i + 1)]
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
