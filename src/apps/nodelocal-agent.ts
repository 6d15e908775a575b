/**
 * NodeLocal DNSCache (dns.md §3): the `node-local-dns` DaemonSet's process on each node, as
 * node-cache (kubernetes/dns cmd/node-cache) runs it:
 *   - Init (cache_app.go `Init` -> `setupNetworking` with iptables off): the dummy interface
 *     `nodelocaldns` (main.go `-interfacename`) holding each listen IP as a /32 (pkg/netif
 *     NetifManager: AddDummyDevice then AddrAdd; the link is left down, as kube-ipvs0);
 *   - CoreDNS starts bound to the listen IPs (nodelocal-dns.ts);
 *   - once CoreDNS runs (the pidfile), `setupNetworking` installs the iptables rules (dns/nodelocal/rules.ts);
 *   - SIGTERM: `caddy.OnProcessExit` -> `TeardownNetworking`: the dummy device is deleted (its
 *     addresses with it) and every rule removed, so in iptables mode queries to the kube-dns VIP
 *     take kube-proxy's DNAT to CoreDNS again;
 *   - a crash (SIGKILL, OOM) runs no teardown: rules and addresses stay, queries to the listen IPs
 *     are delivered locally with no socket (ICMP port unreachable / TCP RST) until the pod runs again.
 * Layouts: iptables and nftables modes bind the link-local address and the kube-dns VIP (pods keep
 * `nameserver <VIP>`); IPVS mode binds the link-local address only (kube-ipvs0 owns the VIP) and
 * kubelet's clusterDNS must point at it, which the resolver side reads from the scenario.
 *
 * The cluster-zone upstream is a `kube-system/kube-dns-upstream` Service with kube-dns's selector
 * and ports 53/UDP+TCP (nodelocaldns.yaml), created here with its own ClusterIP; node-cache learns
 * it from KUBE_DNS_UPSTREAM_SERVICE_HOST when it starts.
 *
 * Not modelled: the pod object itself (the process runs in the node's namespace, started when the
 * node's kube-proxy has applied its start-up sync, without a DaemonSet in the API), the 60 s `-syncinterval` re-check of rules (nothing else deletes them
 * here), ebtables (`-setupebtables` is off by default), the health (8080) and metrics (9253)
 * servers (their NOTRACK rules are installed), the restart delay of a crashed pod (the timeline's
 * `start` step says when it runs again).
 */
import type { ServerHost } from "./host.ts"
import type { ServerIdentity } from "./observer.ts"
import type { Server } from "./server.ts"
import type { ApiStore } from "../k8s/store.ts"
import type { ManifestInput } from "../k8s/issues.ts"
import type { Service } from "../k8s/types.ts"
import type { Network } from "../net/network.ts"
import type { NetInterface, NetNs } from "../net/netns.ts"
import type { NetfilterStack } from "../netfilter/stack.ts"
import type { Rng } from "../sim/rng.ts"
import { formatIpv4, ipv4, type Ipv4 } from "../wire/ipv4.ts"
import {
  deleteNodeCacheRules,
  ensureNodeCacheRules,
  nodeCacheRules,
  type NodeCacheRule,
} from "../dns/nodelocal/rules.ts"
import { NodeLocalDnsServer, type NodeLocalDnsParams } from "./nodelocal-dns.ts"

/** main.go `-interfacename` default. */
export const NODE_LOCAL_DNS_INTERFACE = "nodelocaldns"
export const KUBE_DNS_UPSTREAM = "kube-dns-upstream"

/** nodelocaldns.yaml's kube-dns-upstream Service (ClusterIP allocated by the API server). */
export function kubeDnsUpstreamManifest(): ManifestInput {
  return {
    object: {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: KUBE_DNS_UPSTREAM,
        namespace: "kube-system",
        labels: {
          "k8s-app": "kube-dns",
          "kubernetes.io/cluster-service": "true",
          "kubernetes.io/name": "KubeDNSUpstream",
        },
      },
      spec: {
        type: "ClusterIP",
        selector: { "k8s-app": "kube-dns" },
        ports: [
          { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
          { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
        ],
      },
    } as Service,
  }
}

/** `-localip`: link-local first, then the kube-dns VIP unless IPVS mode owns it (dns.md §3.1). */
export function nodeLocalListenIps(address: string, kubeDnsIp: string | null, proxyMode: string): string[] {
  return proxyMode === "ipvs" || kubeDnsIp === null ? [address] : [address, kubeDnsIp]
}

export interface NodeLocalDnsNodeContext {
  readonly node: string
  readonly ns: NetNs
  readonly stack: NetfilterStack
  readonly network: Network
  readonly host: ServerHost & { addServer(server: Server): void }
  readonly identity: () => ServerIdentity
  readonly rng: () => Rng
  readonly params: Omit<NodeLocalDnsParams, "localIps">
  readonly localIps: readonly string[]
}

/** node-cache on one node. */
export class NodeLocalDnsAgent {
  readonly rules: readonly NodeCacheRule[]
  server: NodeLocalDnsServer | null = null
  /** Every server this node ran (one per process start), newest last. */
  readonly servers: NodeLocalDnsServer[] = []
  private iface: NetInterface | null = null

  constructor(private readonly ctx: NodeLocalDnsNodeContext) {
    this.rules = nodeCacheRules(ctx.localIps)
  }

  get node(): string {
    return this.ctx.node
  }

  get running(): boolean {
    return this.server !== null
  }

  /** The pod's container starts: interface, CoreDNS, then the rules (EnsureRule: no duplicates). */
  start(): void {
    if (this.server !== null) return
    const ctx = this.ctx
    // EnsureDummyDevice: reuse the device a crash left behind, else `ip link add` + AddrAdd.
    this.iface =
      ctx.ns.interfaceByName(NODE_LOCAL_DNS_INTERFACE) ?? ctx.network.addDummy(ctx.ns, NODE_LOCAL_DNS_INTERFACE)
    const ips = ctx.localIps.map((ip) => ipv4(ip))
    for (const ip of ips) if (ctx.ns.localInterface(ip) === undefined) ctx.network.addAddress(this.iface, ip, 32)
    const server = new NodeLocalDnsServer(ctx.host, ctx.ns, ctx.identity(), ctx.rng(), { ...ctx.params, localIps: ips })
    ctx.host.addServer(server)
    server.startTimers()
    this.server = server
    this.servers.push(server)
    ensureNodeCacheRules(ctx.stack, this.rules)
  }

  /** SIGTERM: CoreDNS exits, then TeardownNetworking (device and its addresses, then the rules). */
  stop(): void {
    this.server?.stop()
    this.server = null
    const iface = this.iface
    if (iface !== null) for (const ip of [...iface.assignedAddresses]) this.ctx.network.removeAddress(iface, ip)
    deleteNodeCacheRules(this.ctx.stack, this.rules)
  }

  /** Killed: the process is gone, nothing is torn down. */
  crash(): void {
    this.server?.stop()
    this.server = null
  }
}

/** Listen addresses as text (for messages). */
export function describeListenIps(ips: readonly Ipv4[]): string {
  return ips.map(formatIpv4).join(",")
}

/** kube-dns's and kube-dns-upstream's ClusterIPs from the API (null when absent). */
export function clusterIpOf(store: ApiStore, name: string): string | null {
  const svc = store.get("Service", "kube-system", name)
  const ip = svc?.spec.clusterIP
  return ip === undefined || ip === "None" ? null : ip
}
