/**
 * Wiring of NodeLocal DNSCache into a run (called once by cluster/world.ts when
 * `dns.nodeLocal.enabled`): the kube-dns-upstream Service, then node-cache started on every node,
 * and the timeline's nodeLocalDns events.
 */
import { COREDNS_QUERIES_PER_SECOND_PER_CPU, UPSTREAM_TTL_S_DEFAULT } from "./coredns.ts"
import type { ServerHost } from "./host.ts"
import type { ServerIdentity } from "./observer.ts"
import type { Server } from "./server.ts"
import type { K8sIssue } from "../k8s/issues.ts"
import type { ApiStore } from "../k8s/store.ts"
import type { Network } from "../net/network.ts"
import type { NetNs } from "../net/netns.ts"
import type { NetfilterStack } from "../netfilter/stack.ts"
import { Rng } from "../sim/rng.ts"
import type { EventHandler, Scheduler } from "../sim/scheduler.ts"
import { ipv4, type Ipv4 } from "../wire/ipv4.ts"
import {
  clusterIpOf,
  KUBE_DNS_UPSTREAM,
  kubeDnsUpstreamManifest,
  NodeLocalDnsAgent,
  nodeLocalListenIps,
} from "./nodelocal-agent.ts"

export interface NodeLocalDnsSetup {
  readonly seed: number
  readonly address: string
  readonly proxyMode: string
  readonly clusterDomain: string
  readonly upstreamRttNs: number
  readonly upstreamNames: ReadonlyMap<string, Ipv4>
  readonly store: ApiStore
  readonly apply: (objects: readonly ReturnType<typeof kubeDnsUpstreamManifest>[]) => K8sIssue[]
  readonly network: Network
  readonly host: ServerHost & { addServer(server: Server): void }
  readonly identity: (name: string, address: Ipv4, node: string) => ServerIdentity
  readonly scheduler: Scheduler
  /**
   * When node-cache starts on `node` (read at t=0, once every component has started): the end of
   * kube-proxy's start-up sync, as when nodelocaldns.yaml is applied to a running cluster (the
   * documented procedure), so its `-I` rules sit above kube-proxy's jump rules.
   */
  readonly startAtNs: (node: string) => number
  readonly nodes: readonly {
    readonly name: string
    readonly ns: NetNs
    readonly stack: NetfilterStack
    readonly cpus: number
  }[]
}

/** Creates kube-dns-upstream and starts node-cache on every node; returns the agents by node. */
export function startNodeLocalDns(setup: NodeLocalDnsSetup): {
  agents: Map<string, NodeLocalDnsAgent>
  issues: K8sIssue[]
} {
  // A scenario that applies nodelocaldns.yaml's Service itself keeps its own.
  const exists = setup.store.get("Service", "kube-system", KUBE_DNS_UPSTREAM) !== undefined
  const issues = exists ? [] : setup.apply([kubeDnsUpstreamManifest()])
  const agents = new Map<string, NodeLocalDnsAgent>()
  const upstream = clusterIpOf(setup.store, KUBE_DNS_UPSTREAM)
  if (upstream === null) return { agents, issues }
  const localIps = nodeLocalListenIps(setup.address, clusterIpOf(setup.store, "kube-dns"), setup.proxyMode)
  for (const node of setup.nodes) {
    const name = `node-local-dns-${node.name}`
    const agent = new NodeLocalDnsAgent({
      node: node.name,
      ns: node.ns,
      stack: node.stack,
      network: setup.network,
      host: setup.host,
      identity: () => setup.identity(name, ipv4(setup.address), node.name),
      rng: () => Rng.stream(setup.seed, `node/${node.name}/node-local-dns`),
      localIps,
      params: {
        upstreamServiceIp: ipv4(upstream),
        clusterDomain: setup.clusterDomain,
        queriesPerSecondPerCpu: COREDNS_QUERIES_PER_SECOND_PER_CPU,
        cpus: node.cpus,
        upstreamRttNs: setup.upstreamRttNs,
        upstreamTtlS: UPSTREAM_TTL_S_DEFAULT,
        upstreamNames: setup.upstreamNames,
      },
    })
    agents.set(node.name, agent)
  }
  new NodeLocalDnsStarter(setup.scheduler, [...agents.values()], setup.startAtNs)
  return { agents, issues }
}

/** Starts each node's node-cache at its start time (event a = -1: plan, a = i: start agent i). */
class NodeLocalDnsStarter implements EventHandler {
  private readonly kind: number
  constructor(
    private readonly scheduler: Scheduler,
    private readonly agents: readonly NodeLocalDnsAgent[],
    private readonly startAtNs: (node: string) => number,
  ) {
    this.kind = scheduler.registerKind("dns/node-local-dns-start", this)
    scheduler.schedule(scheduler.nowNs, this.kind, -1, 0)
  }

  handleEvent(_kind: number, a: number, _b: number, nowNs: number): void {
    if (a >= 0) return this.agents[a].start()
    this.agents.forEach((agent, i) =>
      this.scheduler.schedule(Math.max(nowNs, this.startAtNs(agent.node)), this.kind, i, 0),
    )
  }
}

/** A timeline nodeLocalDns step; returns its description. */
export function nodeLocalDnsEvent(
  agents: ReadonlyMap<string, NodeLocalDnsAgent>,
  node: string | null,
  event: "stop" | "crash" | "start",
): string {
  const targets = node === null ? [...agents.values()] : [agents.get(node)].filter((a) => a !== undefined)
  for (const agent of targets) {
    if (event === "stop") agent.stop()
    else if (event === "crash") agent.crash()
    else agent.start()
  }
  const where = node === null ? "every node" : node
  switch (event) {
    case "stop":
      return `node-local-dns on ${where}: stopped (SIGTERM): its iptables rules and nodelocaldns addresses removed`
    case "crash":
      return `node-local-dns on ${where}: crashed: its iptables rules and nodelocaldns addresses stay, nothing listens`
    case "start":
      return `node-local-dns on ${where}: started`
  }
}
