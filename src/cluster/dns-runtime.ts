/**
 * dns.mode packets, the cluster side: the CoreDNS Deployment behind kube-system/kube-dns, each
 * client's stub resolver (by image) reading kubelet's resolv.conf for its pod, and the `dns`
 * statistics of the results document. world.ts calls in at three points (build, workload start,
 * results) so DNS stays out of the runtime's other paths; dns.mode static never creates one.
 *
 * The Deployment is kubeadm's (cmd/kubeadm/app/phases/addons/dns/manifests.go): `coredns` in
 * kube-system, 2 replicas, label k8s-app: kube-dns, ports 53/UDP, 53/TCP, 9153/TCP, dnsPolicy
 * Default. With `cluster.systemServices: false` (scenarios that own their Service addresses) the
 * kube-dns Service is added here, with admission's definition (10th address of the service CIDR).
 */
import { CoreDnsServer } from "../apps/coredns.ts"
import { NodeLocalDnsServer } from "../apps/nodelocal-dns.ts"
import type { Server } from "../apps/server.ts"
import type { ClientResolver, DnsFailure } from "../dns/client-resolver.ts"
import { podResolvConf, renderResolvConf } from "../dns/resolv-conf.ts"
import { parseStubConf } from "../dns/stub/conf.ts"
import { newGlibcResolverState } from "../dns/stub/glibc.ts"
import { imageLibc } from "../dns/stub/images.ts"
import { StubDriver, type DnsClientObserver } from "../dns/stub-driver.ts"
import type { ApiStore } from "../k8s/store.ts"
import type { KubeObject, Pod } from "../k8s/types.ts"
import type { Network } from "../net/network.ts"
import type { NetNs } from "../net/netns.ts"
import { Rng } from "../sim/rng.ts"
import type { Scheduler } from "../sim/scheduler.ts"
import { NameCounter } from "../stats/counters.ts"
import { sortedRecord } from "../stats/document.ts"
import { Histogram } from "../stats/histogram.ts"
import type { DnsClientResults, DnsResults, DnsServerResults } from "../stats/results.ts"
import { rcodeName, typeMnemonic } from "../wire/dns.ts"
import { cidr, cidrAddress, formatIpv4 } from "../wire/ipv4.ts"
import type { ScenarioSpec } from "./spec.ts"

/** Key prefix of a node's NodeLocal DNSCache in `dns.servers` (`node-local-dns/<node>`). */
export const NODE_LOCAL_DNS_RESULTS_PREFIX = "node-local-dns/"

/** The nodes' resolver host (apps/node-resolver.ts) and its default address (docs/scenario.md). */
export const NODE_RESOLVER_HOST = "node-resolver"
export const NODE_RESOLVER_DEFAULT = "203.0.113.53"

/** kubeadm's CoreDNS replica count (manifests.go: `replicas: 2`). */
export const COREDNS_REPLICAS = 2
/** kubeadm's CoreDNS image (v1.30+ pins v1.11.x). */
export const COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.11.3"

class DnsCounts {
  started = 0
  answered = 0
  failed = 0
  readonly failedByReason = new NameCounter()
  sent = 0
  timedOut = 0
  readonly byQtype = new NameCounter()
  readonly byRcode = new NameCounter()
  readonly latency = new Histogram()

  results(): DnsClientResults {
    return {
      lookups: {
        started: this.started,
        answered: this.answered,
        failed: this.failed,
        failedByReason: this.failedByReason.toRecord(),
      },
      queries: {
        sent: this.sent,
        timedOut: this.timedOut,
        byQtype: this.byQtype.toRecord(),
        byRcode: this.byRcode.toRecord(),
      },
      latencyNs: this.latency.summary(),
    }
  }
}

export class DnsRuntime implements DnsClientObserver {
  readonly driver: StubDriver
  private readonly total = new DnsCounts()
  private readonly byWorkload: DnsCounts[]

  constructor(
    private readonly spec: ScenarioSpec,
    private readonly seed: number,
    scheduler: Scheduler,
    network: Network,
    private readonly store: ApiStore,
  ) {
    this.driver = new StubDriver(scheduler, network, this)
    this.byWorkload = spec.workloads.map(() => new DnsCounts())
  }

  /** Objects to apply at t=0: the CoreDNS Deployment (and kube-dns when the control plane has none). */
  manifests(): { object: KubeObject }[] {
    const out: { object: KubeObject }[] = []
    if (this.store.get("Service", "kube-system", "kube-dns") === undefined)
      out.push({
        object: {
          apiVersion: "v1",
          kind: "Service",
          metadata: {
            name: "kube-dns",
            namespace: "kube-system",
            labels: { "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS" },
          },
          spec: {
            type: "ClusterIP",
            clusterIP: formatIpv4(cidrAddress(cidr(this.spec.cluster.serviceCIDR), 9)),
            selector: { "k8s-app": "kube-dns" },
            ports: [
              { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
              { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
              { name: "metrics", port: 9153, protocol: "TCP", targetPort: 9153 },
            ],
          },
        },
      })
    out.push({
      object: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "coredns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
        spec: {
          replicas: COREDNS_REPLICAS,
          selector: { matchLabels: { "k8s-app": "kube-dns" } },
          template: {
            metadata: { labels: { "k8s-app": "kube-dns" } },
            spec: {
              dnsPolicy: "Default",
              containers: [
                {
                  name: "coredns",
                  image: COREDNS_IMAGE,
                  ports: [
                    { containerPort: 53, name: "dns", protocol: "UDP" },
                    { containerPort: 53, name: "dns-tcp", protocol: "TCP" },
                    { containerPort: 9153, name: "metrics", protocol: "TCP" },
                  ],
                },
              ],
            },
          },
        },
      },
    })
    return out
  }

  /** Called before a client's stub names the nodes' resolver (world.ts adds that host once). */
  ensureNodeResolver: () => void = () => {}

  /** The nameserver of the nodes' resolv.conf. */
  get nodeResolver(): string {
    return this.spec.dns.nodeResolver ?? NODE_RESOLVER_DEFAULT
  }

  /**
   * The nodes' /etc/resolv.conf (kubelet --resolv-conf) as kubelet reads it: the node search
   * domains and the node resolver; its options do not matter (kubelet drops them for ClusterFirst,
   * and none is set).
   */
  nodeResolvConf(): string {
    const domains = this.spec.dns.nodeSearchDomains ?? []
    return `${domains.length > 0 ? `search ${domains.join(" ")}\n` : ""}nameserver ${this.nodeResolver}\n`
  }

  /** The kube-dns VIP kubelet writes as `nameserver` (its --cluster-dns). */
  clusterDns(): string | null {
    const configured = this.spec.dns.clusterDNS
    if (configured !== undefined && configured !== null) return configured
    const ip = this.store.get("Service", "kube-system", "kube-dns")?.spec.clusterIP
    return ip === undefined || ip === "" || ip === "None" ? null : ip
  }

  /** True once kube-dns has a ready endpoint (a workload waits for it, as a user waits for CoreDNS). */
  ready(): boolean {
    for (const slice of this.store.endpointSlicesFor("kube-system", "kube-dns"))
      for (const e of slice.endpoints) if (e.conditions?.ready !== false) return true
    return false
  }

  /**
   * The resolver of a client running in `pod` (null = the static table: node and external sources).
   * Pods with dnsPolicy Default, and hostNetwork pods with ClusterFirst, ask the nodes' resolver
   * with the node search domains (kubelet's `Default` configuration).
   */
  resolverFor(pod: Pod | undefined, ns: NetNs, host: string, workload: number, source: string): ClientResolver | null {
    if (pod === undefined) return null
    const namespace = pod.metadata.namespace ?? "default"
    const input = {
      namespace,
      ...(pod.spec.dnsPolicy !== undefined ? { dnsPolicy: pod.spec.dnsPolicy } : {}),
      ...(pod.spec.hostNetwork !== undefined ? { hostNetwork: pod.spec.hostNetwork } : {}),
      ...(pod.spec.dnsConfig !== undefined ? { dnsConfig: pod.spec.dnsConfig } : {}),
    }
    const clusterDns = this.clusterDns()
    const conf = podResolvConf(input, {
      clusterDomain: this.spec.cluster.clusterDomain,
      clusterDNS: clusterDns === null ? [] : [clusterDns],
      nodeResolvConf: this.nodeResolvConf(),
    })
    if (conf.nameservers.includes(this.nodeResolver)) this.ensureNodeResolver()
    const libc = imageLibc(pod.spec.containers[0]?.image ?? "")
    const stub = parseStubConf(libc, renderResolvConf(conf))
    const random = Rng.stream(this.seed, `dns/${workload}/${source}`)
    return this.driver.resolver(ns, stub, host, workload, random, newGlibcResolverState())
  }

  // DnsClientObserver
  onLookupStarted(workload: number): void {
    this.total.started++
    this.byWorkload[workload].started++
  }

  onLookupEnded(workload: number, latencyNs: number, failure: DnsFailure | null): void {
    for (const c of [this.total, this.byWorkload[workload]]) {
      if (failure === null) {
        c.answered++
        c.latency.record(latencyNs)
      } else {
        c.failed++
        c.failedByReason.add(failure)
      }
    }
  }

  onQuerySent(workload: number, qtype: number): void {
    const name = typeMnemonic(qtype)
    for (const c of [this.total, this.byWorkload[workload]]) {
      c.sent++
      c.byQtype.add(name)
    }
  }

  onQueryTimedOut(workload: number): void {
    this.total.timedOut++
    this.byWorkload[workload].timedOut++
  }

  onReply(workload: number, rcode: number): void {
    const name = rcodeName(rcode)
    this.total.byRcode.add(name)
    this.byWorkload[workload].byRcode.add(name)
  }

  workloadResults(workload: number): DnsClientResults {
    return this.byWorkload[workload].results()
  }

  /**
   * The results' `dns` section: totals and the counters of every DNS server that ran: each CoreDNS
   * pod by pod name, and each node's NodeLocal DNSCache as `node-local-dns/<node>` (summed over the
   * node-cache processes the node ran: a crash or stop and start keeps one entry per node).
   * node-cache's Corefile has no `max_concurrent` (dns.md §3.3), so its `refused` stays 0.
   */
  results(servers: readonly Server[]): DnsResults {
    const out: Record<string, DnsServerResults> = {}
    for (const server of servers) {
      let name: string
      let c: DnsServerResults
      if (server instanceof CoreDnsServer) {
        name = server.identity.name
        c = server.counters
      } else if (server instanceof NodeLocalDnsServer) {
        name = `${NODE_LOCAL_DNS_RESULTS_PREFIX}${server.identity.node}`
        c = { ...server.counters, refused: 0 }
      } else continue
      const sum = out[name] ?? {
        received: 0,
        answered: 0,
        cacheHits: 0,
        cacheMisses: 0,
        forwarded: 0,
        refused: 0,
        dropped: 0,
      }
      sum.received += c.received
      sum.answered += c.answered
      sum.cacheHits += c.cacheHits
      sum.cacheMisses += c.cacheMisses
      sum.forwarded += c.forwarded
      sum.refused += c.refused
      sum.dropped += c.dropped
      out[name] = sum
    }
    // Sorted by name as every record of the document (canonical form = raw form).
    return { ...this.total.results(), servers: sortedRecord(out) }
  }
}
